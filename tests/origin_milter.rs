//! Origin handling over the real milter protocol, driven by indymilter-test
//! as an MTA would: Postfix's `{client_addr}` macro with its `IPv6:` tag,
//! and the MTA's own Received header for the connection counted once.

mod common;

use indymilter_test::{MacroStage, Status, TestConnection};

use common::milter::{Harness, verdict_header};

/// A stand-in for the Sober.C attachment `terror-list.com`: a few bytes
/// starting with `MZ`, not a program. The EICAR test file would give the
/// same verdict but no sighting.
const SOBER_C: &[u8] = b"MZ\x90\x00 stand-in for the Sober.C executable";

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
    verdict_header(&actions).expect("no X-Wormsign header")
}

#[tokio::test]
async fn client_addr_ipv6_tag_stripped() {
    let mut harness = Harness::start("").await;
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

    harness.stop().await;
    let sightings = harness.sightings();
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].origin_ip, "203.0.113.9");
    assert_eq!(sightings[0].origin_method, "connect");
}

#[tokio::test]
async fn own_received_header_counted_once() {
    let mut harness = Harness::start("").await;
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

    harness.stop().await;
    let sightings = harness.sightings();
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
    let mut harness = Harness::start("").await;
    let mut conn = harness.open().await;
    conn.connect("dsl.example.net", ([203, 0, 113, 66], 40000))
        .await
        .unwrap();
    let hostile = format!("from x (y [198.51.100.9]) {}by z", "< ".repeat(30_000));
    let received = vec![hostile.as_str(); 40];
    let verdict = send_worm(&mut conn, &received).await;
    assert!(verdict.ends_with("origin=203.0.113.66"), "{verdict}");
    conn.close().await.unwrap();

    harness.stop().await;
    let sightings = harness.sightings();
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].origin_ip, "203.0.113.66");
    assert_eq!(sightings[0].origin_method, "connect");
}
