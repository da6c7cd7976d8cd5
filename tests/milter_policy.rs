//! The verdict policy in the milter, over the real protocol: SMTP session
//! facts (HELO, envelope sender, recipient domains) reach the rules, and a
//! mail that only quotes a lure stays clean and creates no sighting.

mod common;

use indymilter_test::Status;

use common::milter::{Harness, verdict_header};

/// The SMTP session of one test message.
struct Session<'a> {
    helo: &'a str,
    mail_from: &'a str,
    rcpt: &'a str,
}

/// Splits a fixture into unfolded header fields and the body.
fn read_fixture(relative: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let path = common::repo_root().join("tests/fixtures").join(relative);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let text = String::from_utf8_lossy(&raw).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").expect("a header block");
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut().expect("a field before a folded line");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').expect("a header field");
            fields.push((name.to_string(), value.trim().to_string()));
        }
    }
    (fields, body.replace('\n', "\r\n").into_bytes())
}

/// Sends one fixture over a new connection and returns the X-Wormsign value.
async fn send(harness: &Harness, fixture: &str, session: &Session<'_>) -> String {
    let mut conn = harness
        .connect("pc.example.net", ([192, 0, 2, 99], 40000))
        .await;
    assert_eq!(conn.helo(session.helo).await.unwrap(), Status::Noreply);
    assert_eq!(
        conn.mail([session.mail_from]).await.unwrap(),
        Status::Noreply
    );
    assert_eq!(conn.rcpt([session.rcpt]).await.unwrap(), Status::Noreply);
    conn.data().await.unwrap();

    let (fields, body) = read_fixture(fixture);
    for (name, value) in &fields {
        conn.header(name.as_str(), value.as_str()).await.unwrap();
    }
    conn.eoh().await.unwrap();
    conn.body(body).await.unwrap();
    let (actions, status) = conn.eom().await.unwrap();
    assert_eq!(status, Status::Continue);
    conn.close().await.unwrap();

    verdict_header(&actions).expect("X-Wormsign header added")
}

#[tokio::test]
async fn helo_fingerprint_reaches_rules() {
    let mut harness = Harness::start("").await;
    let fixture = "corpus/positive/g-helo.eml";
    let sober_g = Session {
        helo: "jdoe.com",
        mail_from: "<jdoe@example.com>",
        rcpt: "<alice@example.de>",
    };
    let verdict = send(&harness, fixture, &sober_g).await;
    assert!(
        verdict.starts_with("infected; family=Sober; variant=G;"),
        "{verdict}"
    );

    let ordinary = Session {
        helo: "mail.example.com",
        ..sober_g
    };
    assert_eq!(send(&harness, fixture, &ordinary).await, "clean");

    harness.stop().await;
    let sightings = harness.sightings();
    assert_eq!(sightings.len(), 1, "{sightings:?}");
    assert_eq!(sightings[0].variant.as_deref(), Some("G"));
    assert_eq!(sightings[0].origin_ip, "192.0.2.99");
    assert_eq!(sightings[0].helo.as_deref(), Some("jdoe.com"));
}

#[tokio::test]
async fn recipient_language_reaches_rules() {
    let mut harness = Harness::start("").await;
    let fixture = "corpus/positive/q-spam-de.eml";
    let german = Session {
        helo: "pc.example.net",
        mail_from: "<k.meier@example.org>",
        rcpt: "<alice@example.de>",
    };
    let verdict = send(&harness, fixture, &german).await;
    assert!(
        verdict.starts_with("infected; family=Sober; variant=Q;"),
        "{verdict}"
    );

    let english = Session {
        rcpt: "<bob@example.com>",
        ..german
    };
    assert_eq!(send(&harness, fixture, &english).await, "clean");

    harness.stop().await;
    assert_eq!(harness.sightings().len(), 1);
}

#[tokio::test]
async fn quoted_lure_creates_no_sighting() {
    let mut harness = Harness::start("").await;
    let session = Session {
        helo: "mail.example.org",
        mail_from: "<it-sicherheit@example.org>",
        rcpt: "<alice@example.de>",
    };
    // Each of these matches a low-confidence rule only.
    for fixture in [
        "corpus/negative/advisory-bka-de.eml",
        "corpus/negative/lure-bodies-en.eml",
        "corpus/negative/q-report-de.eml",
        "corpus/negative/gateway-footer-de.eml",
    ] {
        assert_eq!(
            send(&harness, fixture, &session).await,
            "clean",
            "{fixture}"
        );
    }

    harness.stop().await;
    assert!(harness.sightings().is_empty());
}
