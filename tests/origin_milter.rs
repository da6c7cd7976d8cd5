//! Origin handling over the real milter protocol, driven by indymilter-test
//! as an MTA would: Postfix's `{client_addr}` macro with its `IPv6:` tag,
//! and the MTA's own Received header for the connection counted once.

use std::path::Path;
use std::sync::Arc;

use indymilter_test::{EomAction, MacroStage, Status, TestConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use wormsign::config::Config;
use wormsign::milter::{self, Shared};
use wormsign::scanner::RuleSet;
use wormsign::store;

/// A stand-in for the Sober.C attachment `terror-list.com`: a few bytes
/// starting with `MZ`, not a program. The EICAR test file would give the
/// same verdict but no sighting.
const SOBER_C: &[u8] = b"MZ\x90\x00 stand-in for the Sober.C executable";

/// A milter served in-process on a Unix socket in a temporary directory.
struct Harness {
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().expect("temporary directory");
        let text = format!(
            "listen = \"unix:{}\"\ndatabase = \"{}\"\n",
            dir.path().join("milter.sock").display(),
            dir.path().join("wormsign.db").display()
        );
        let config = Config::parse(&text, Path::new("test.toml")).expect("valid config");
        let rules = RuleSet::load(config.signatures.as_deref()).expect("rules compile");
        let listener = milter::bind(&config.listen, config.socket_mode)
            .await
            .expect("bind unix socket");
        let (sightings, writer) =
            store::spawn_writer(config.database.clone(), config.spool_path(), 64);
        let shared = Arc::new(Shared::new(config, rules, sightings));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            milter::run(listener, shared, async {
                let _ = stopped.await;
            })
            .await
            .expect("milter runs");
            writer.shutdown().await;
        });
        Harness {
            dir,
            stop: Some(stop),
            server: Some(server),
        }
    }

    async fn open(&self) -> TestConnection {
        TestConnection::configure()
            .open_unix(self.dir.path().join("milter.sock"))
            .await
            .expect("open milter connection")
    }

    /// Stops the milter and returns every sighting it committed.
    async fn stop(mut self) -> Vec<store::Sighting> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("milter task");
        }
        let connection = store::open(&self.dir.path().join("wormsign.db")).expect("open database");
        store::sightings(&connection, 100).expect("read sightings")
    }
}

/// Sends one message with a Sober.C attachment below `received` headers
/// (newest first) and returns the X-Wormsign header value.
async fn send_worm(conn: &mut TestConnection, received: &[&str]) -> String {
    conn.macros(MacroStage::Mail, [("i", "QIDORIGIN")])
        .await
        .unwrap();
    assert_eq!(
        conn.mail(["<a@example.net>"]).await.unwrap(),
        Status::Noreply
    );
    assert_eq!(
        conn.rcpt(["<b@example.org>"]).await.unwrap(),
        Status::Noreply
    );
    conn.data().await.unwrap();

    for value in received {
        conn.header("Received", *value).await.unwrap();
    }
    conn.header("Subject", "hello").await.unwrap();
    conn.header("Content-Type", "multipart/mixed; boundary=\"b1\"")
        .await
        .unwrap();
    conn.eoh().await.unwrap();

    let mut body =
        b"--b1\r\nContent-Type: application/octet-stream; name=\"terror-list.com\"\r\n\r\n"
            .to_vec();
    body.extend_from_slice(SOBER_C);
    body.extend_from_slice(b"\r\n--b1--\r\n");
    conn.body(body).await.unwrap();

    let (actions, _) = conn.eom().await.unwrap();
    actions
        .actions
        .iter()
        .find_map(|action| match action {
            EomAction::AddHeader { name, value } if name.to_bytes() == b"X-Wormsign" => {
                Some(value.to_string_lossy().trim().to_string())
            }
            _ => None,
        })
        .expect("no X-Wormsign header")
}

#[tokio::test]
async fn client_addr_ipv6_tag_stripped() {
    let harness = Harness::start().await;
    let mut conn = harness.open().await;
    // No socket address: the milter falls back to Postfix's {client_addr},
    // which carries the IPv6: tag and here an IPv4-mapped address.
    conn.macros(
        MacroStage::Connect,
        [("{client_addr}", "IPv6:::ffff:203.0.113.9")],
    )
    .await
    .unwrap();
    let status = conn
        .connect("dsl.example.net", indymilter_test::SocketInfo::Unknown)
        .await
        .unwrap();
    assert_eq!(status, Status::Noreply);
    let verdict = send_worm(&mut conn, &[]).await;
    assert!(verdict.ends_with("origin=203.0.113.9"), "{verdict}");
    conn.close().await.unwrap();

    let sightings = harness.stop().await;
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].origin_ip, "203.0.113.9");
    assert_eq!(sightings[0].origin_method, "connect");
}

#[tokio::test]
async fn own_received_header_counted_once() {
    let harness = Harness::start().await;
    let mut conn = harness.open().await;
    conn.connect("localhost", ([127, 0, 0, 1], 40000))
        .await
        .unwrap();
    let received = [
        "from localhost (localhost [127.0.0.1]) by mx1.example.org (Postfix) with ESMTP id QIDORIGIN",
        "from pc.example.net (dsl.example.net [203.0.113.50]) by mx1.example.org (Postfix) with ESMTP id 1A2B3C",
        "from forged.example (innocent.example [198.51.100.200]) by pc.example.net",
    ];
    let verdict = send_worm(&mut conn, &received).await;
    assert!(verdict.ends_with("origin=203.0.113.50"), "{verdict}");
    conn.close().await.unwrap();

    let sightings = harness.stop().await;
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].origin_ip, "203.0.113.50");
    assert_eq!(sightings[0].origin_method, "received");
    assert_eq!(sightings[0].evidence["origin_hop"], 1);
}

/// Forty 60 KB Received headers full of unclosed `<` used to keep the
/// analysis busy past the scan time limit; the verdict and the connect
/// origin must come back as for any other infected message.
#[tokio::test]
async fn hostile_received_headers_keep_verdict() {
    let harness = Harness::start().await;
    let mut conn = harness.open().await;
    conn.connect("dsl.example.net", ([203, 0, 113, 66], 40000))
        .await
        .unwrap();
    let hostile = format!("from x (y [198.51.100.9]) {}by z", "< ".repeat(30_000));
    let received = vec![hostile.as_str(); 40];
    let verdict = send_worm(&mut conn, &received).await;
    assert!(verdict.ends_with("origin=203.0.113.66"), "{verdict}");
    conn.close().await.unwrap();

    let sightings = harness.stop().await;
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].origin_ip, "203.0.113.66");
    assert_eq!(sightings[0].origin_method, "connect");
}
