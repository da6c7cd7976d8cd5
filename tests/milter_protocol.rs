//! The milter over the real protocol on a Unix socket, driven by
//! indymilter-test as an MTA would: replies, header actions, message state
//! between messages, the body limit and sightings in SQLite.

mod common;

use indymilter_test::{EomAction, MacroStage, Status, TestConnection};

use common::milter::{Harness, verdict_header};

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Opens a milter connection from client.example.net at 127.0.0.1.
async fn connect_client(harness: &Harness) -> TestConnection {
    harness
        .connect("client.example.net", ([127, 0, 0, 1], 40000))
        .await
}

/// A Sober.C attachment: a bare file that starts with `MZ`, named as the
/// worm named it. Not a program.
const SOBER_C_NAME: &str = "terror-list.com";
const SOBER_C_DATA: &[u8] = b"MZ\x90\x00 stand-in for the Sober.C executable";

/// Builds a message with one zip-less attachment named `test.com` holding `attachment`.
fn message(subject: &str, attachment: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    message_named(subject, "test.com", attachment)
}

/// Builds a message with one zip-less attachment `file_name` holding `attachment`.
fn message_named(
    subject: &str,
    file_name: &str,
    attachment: &[u8],
) -> (Vec<(String, String)>, Vec<u8>) {
    let headers = vec![
        (
            "Received".to_string(),
            "from pc.example.net (dsl.example.net [203.0.113.50]) by mx1.example.org (Postfix) with ESMTP id 1A2B3C".to_string(),
        ),
        ("From".to_string(), "a@example.net".to_string()),
        ("Subject".to_string(), subject.to_string()),
        ("Message-ID".to_string(), format!("<{subject}@example.net>")),
        ("MIME-Version".to_string(), "1.0".to_string()),
        (
            "Content-Type".to_string(),
            "multipart/mixed; boundary=\"b1\"".to_string(),
        ),
    ];
    let mut body = format!("--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\nContent-Type: application/octet-stream; name=\"{file_name}\"\r\n\r\n").into_bytes();
    body.extend_from_slice(attachment);
    body.extend_from_slice(b"\r\n--b1--\r\n");
    (headers, body)
}

/// Sends one message through MAIL ... EOM and returns the end-of-message reply.
async fn send(
    conn: &mut TestConnection,
    headers: &[(String, String)],
    body: &[u8],
) -> (indymilter_test::EomActions, Status) {
    send_with_macros(conn, &[("i", "QID1")], headers, body).await
}

/// Like [`send`], with the macros the MTA sends at MAIL.
async fn send_with_macros(
    conn: &mut TestConnection,
    mail_macros: &[(&str, &str)],
    headers: &[(String, String)],
    body: &[u8],
) -> (indymilter_test::EomActions, Status) {
    conn.macros(MacroStage::Mail, mail_macros.iter().copied())
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
    for (name, value) in headers {
        conn.header(name.as_str(), value.as_str()).await.unwrap();
    }
    conn.eoh().await.unwrap();
    for chunk in body.chunks(65535) {
        let status = conn.body(chunk.to_vec()).await.unwrap();
        if status == Status::Skip {
            break;
        }
    }
    conn.eom().await.unwrap()
}

#[tokio::test]
async fn infected_mail_gets_header_and_sighting() {
    let mut harness = Harness::start("").await;
    let mut conn = connect_client(&harness).await;
    let (headers, body) = message_named("sober", SOBER_C_NAME, SOBER_C_DATA);

    let (actions, status) = send(&mut conn, &headers, &body).await;
    assert_eq!(status, Status::Continue);
    let verdict = verdict_header(&actions).expect("X-Wormsign header added");
    assert!(
        verdict.starts_with("infected; family=Sober; variant=C;"),
        "{verdict}"
    );
    assert!(verdict.ends_with("origin=203.0.113.50"), "{verdict}");
    conn.close().await.unwrap();

    harness.stop().await;
    let sightings = harness.sightings();
    assert_eq!(sightings.len(), 1, "{sightings:?}");
    assert_eq!(sightings[0].origin_ip, "203.0.113.50");
    assert_eq!(sightings[0].origin_method, "received");
    assert_eq!(sightings[0].queue_id.as_deref(), Some("QID1"));
    assert_eq!(sightings[0].client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(sightings[0].envelope_from.as_deref(), Some("a@example.net"));
}

#[tokio::test]
async fn eicar_gets_verdict_but_no_sighting() {
    let mut harness = Harness::start("action = \"reject\"").await;
    let mut conn = connect_client(&harness).await;
    let (headers, body) = message("eicar", EICAR);

    let (_, status) = send(&mut conn, &headers, &body).await;
    assert!(matches!(status, Status::Reject { .. }), "{status:?}");
    conn.close().await.unwrap();

    harness.stop().await;
    let sightings = harness.sightings();
    assert!(sightings.is_empty(), "{sightings:?}");
}

#[tokio::test]
async fn abort_resets_message_state() {
    let mut harness = Harness::start("").await;
    let mut conn = connect_client(&harness).await;
    let (infected_headers, infected_body) = message("eicar", EICAR);

    conn.mail(["<a@example.net>"]).await.unwrap();
    conn.rcpt(["<b@example.org>"]).await.unwrap();
    for (name, value) in &infected_headers {
        conn.header(name.as_str(), value.as_str()).await.unwrap();
    }
    conn.eoh().await.unwrap();
    conn.body(infected_body).await.unwrap();
    conn.abort().await.unwrap();

    let (clean_headers, clean_body) = message("clean", b"just text");
    let (actions, _) = send(&mut conn, &clean_headers, &clean_body).await;
    assert_eq!(verdict_header(&actions).as_deref(), Some("clean"));
    conn.close().await.unwrap();

    harness.stop().await;
    assert!(harness.sightings().is_empty());
}

#[tokio::test]
async fn second_message_on_connection_is_scanned_fresh() {
    let mut harness = Harness::start("").await;
    let mut conn = connect_client(&harness).await;
    let (infected_headers, infected_body) = message("eicar", EICAR);
    let (clean_headers, clean_body) = message("clean", b"just text");

    let (first, _) = send(&mut conn, &infected_headers, &infected_body).await;
    let (second, _) = send(&mut conn, &clean_headers, &clean_body).await;
    assert!(verdict_header(&first).unwrap().starts_with("infected;"));
    assert_eq!(verdict_header(&second).as_deref(), Some("clean"));
    conn.close().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn reject_action_replies_550_with_rule() {
    let mut harness = Harness::start("action = \"reject\"").await;
    let mut conn = connect_client(&harness).await;
    let (headers, body) = message("eicar", EICAR);

    let (_, status) = send(&mut conn, &headers, &body).await;
    let Status::Reject {
        message: Some(text),
    } = status
    else {
        panic!("expected a reject with text, got {status:?}");
    };
    let text = text.to_string_lossy();
    assert!(text.starts_with("550 5.7.1"), "{text}");
    assert!(text.contains("EICAR_Test_File"), "{text}");
    conn.close().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn quarantine_and_discard_actions() {
    let mut harness = Harness::start("action = \"quarantine\"").await;
    let mut conn = connect_client(&harness).await;
    let (headers, body) = message("eicar", EICAR);
    let (actions, status) = send(&mut conn, &headers, &body).await;
    assert_eq!(status, Status::Continue);
    assert!(
        actions
            .actions
            .iter()
            .any(|a| matches!(a, EomAction::Quarantine { .. })),
        "{actions:?}"
    );
    conn.close().await.unwrap();
    harness.stop().await;

    let mut harness = Harness::start("action = \"discard\"").await;
    let mut conn = connect_client(&harness).await;
    let (_, status) = send(&mut conn, &headers, &body).await;
    assert_eq!(status, Status::Discard);
    conn.close().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn incoming_verdict_header_is_deleted() {
    let mut harness = Harness::start("").await;
    let mut conn = connect_client(&harness).await;
    let (mut headers, body) = message("eicar", EICAR);
    headers.insert(0, ("X-Wormsign".to_string(), "clean".to_string()));
    headers.push(("x-wormsign".to_string(), "clean".to_string()));

    let (actions, _) = send(&mut conn, &headers, &body).await;
    let deleted: Vec<i32> = actions
        .actions
        .iter()
        .filter_map(|a| match a {
            EomAction::DeleteHeader { name, index } if name.to_bytes() == b"X-Wormsign" => {
                Some(*index)
            }
            _ => None,
        })
        .collect();
    assert_eq!(deleted, vec![2, 1]);
    assert!(verdict_header(&actions).unwrap().starts_with("infected;"));
    conn.close().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn body_past_limit_is_skipped_and_truncated() {
    let mut harness = Harness::start("max_message_bytes = 2048").await;
    let mut conn = connect_client(&harness).await;
    let (headers, _) = message("big", b"");
    conn.mail(["<a@example.net>"]).await.unwrap();
    conn.rcpt(["<b@example.org>"]).await.unwrap();
    for (name, value) in &headers {
        conn.header(name.as_str(), value.as_str()).await.unwrap();
    }
    conn.eoh().await.unwrap();
    assert_eq!(conn.body(vec![b'a'; 1000]).await.unwrap(), Status::Continue);
    assert_eq!(conn.body(vec![b'a'; 4000]).await.unwrap(), Status::Skip);
    let (actions, status) = conn.eom().await.unwrap();
    assert_eq!(status, Status::Continue);
    assert_eq!(verdict_header(&actions).as_deref(), Some("clean"));
    let note = actions.actions.iter().find_map(|action| match action {
        EomAction::AddHeader { name, value } if name.to_bytes() == b"X-Wormsign-Scan" => {
            Some(value.to_string_lossy().into_owned())
        }
        _ => None,
    });
    // The body sent is plain `a` bytes under a multipart Content-Type, so
    // the walk also reports that it found no boundary.
    assert_eq!(
        note.as_deref(),
        Some("incomplete; truncated at the scan limit; bad-boundary 1")
    );
    conn.close().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn authenticated_client_is_origin() {
    let mut harness = Harness::start("trusted_networks = [\"192.0.2.0/24\"]").await;
    let mut conn = harness.open().await;
    conn.connect("laptop.example.net", ([198, 51, 100, 9], 50000))
        .await
        .unwrap();
    let (headers, body) = message_named("sober", SOBER_C_NAME, SOBER_C_DATA);
    let macros = [("i", "QID2"), ("{auth_authen}", "bob")];
    let (actions, _) = send_with_macros(&mut conn, &macros, &headers, &body).await;
    let verdict = verdict_header(&actions).unwrap();
    assert!(verdict.ends_with("origin=198.51.100.9"), "{verdict}");
    conn.close().await.unwrap();

    harness.stop().await;
    let sightings = harness.sightings();
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].origin_method, "connect");
}

/// A rule that cannot finish within any time limit on the message object,
/// next to a normal EICAR rule.
const SLOW_RULES: &str = r#"
rule Test_Slow_Loop {
  meta:
    family = "Test"
    confidence = "low"
  condition:
    object_kind == "message" and
    for all i in (0..filesize - 1) : (
      for all j in (0..filesize - 1) : (
        for all k in (0..filesize - 1) : (
          for all m in (0..filesize - 1) : ( uint8(i) + uint8(j) + uint8(k) + uint8(m) != 2000 )
        )
      )
    )
}
"#;

#[tokio::test]
async fn scan_time_limit_accepts_with_note() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("slow.yar"), SLOW_RULES).unwrap();
    let config = format!(
        "scan_timeout_secs = 1\nsignatures = \"{}\"",
        rules.path().display()
    );
    let mut harness = Harness::start(&config).await;
    let mut conn = connect_client(&harness).await;
    let (headers, body) = message("slow", EICAR);

    let (actions, status) = send(&mut conn, &headers, &body).await;
    assert_eq!(status, Status::Continue);
    assert_eq!(verdict_header(&actions).as_deref(), Some("clean"));
    let note = actions
        .actions
        .iter()
        .find_map(|action| match action {
            EomAction::AddHeader { name, value } if name.to_bytes() == b"X-Wormsign-Scan" => {
                Some(value.to_string_lossy().into_owned())
            }
            _ => None,
        })
        .expect("X-Wormsign-Scan header");
    assert!(note.starts_with("incomplete;"), "{note}");
    assert!(note.contains("scan error"), "{note}");
    conn.close().await.unwrap();
    harness.stop().await;
}

/// A user who forwards worm mail as a `message/rfc822` attachment is not
/// the infected host: the message keeps its verdict and action, and no
/// sighting names the forwarder (or anyone in the forwarded headers).
#[tokio::test]
async fn forwarded_worm_gets_verdict_without_sighting() {
    let (mut headers, _) = message("fwd", b"");
    headers[0].1 = "from alice-pc (alice-pc.example.org [198.51.100.20]) by mx1.example.org (Postfix) with ESMTPSA id 7C1D".to_string();
    let mut body = b"--b1\r\nContent-Type: text/plain\r\n\r\nplease check\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\n".to_vec();
    body.extend_from_slice(b"Received: from pc.example.net (dsl.example.net [203.0.113.50]) by mx.example.com (Postfix) with ESMTP id 9Z\r\n");
    body.extend_from_slice(b"From: worm@example.com\r\nSubject: eicar\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n");
    body.extend_from_slice(
        b"--b2\r\nContent-Type: application/octet-stream; name=\"test.com\"\r\n\r\n",
    );
    body.extend_from_slice(EICAR);
    body.extend_from_slice(b"\r\n--b2--\r\n\r\n--b1--\r\n");

    let mut harness = Harness::start("").await;
    let mut conn = connect_client(&harness).await;
    let (actions, status) = send(&mut conn, &headers, &body).await;
    assert_eq!(status, Status::Continue);
    let verdict = verdict_header(&actions).expect("X-Wormsign header added");
    assert!(verdict.starts_with("infected; "), "{verdict}");
    assert!(verdict.ends_with("origin=unknown"), "{verdict}");
    conn.close().await.unwrap();
    harness.stop().await;
    let sightings = harness.sightings();
    assert!(sightings.is_empty(), "{sightings:?}");

    let mut harness = Harness::start("action = \"reject\"").await;
    let mut conn = connect_client(&harness).await;
    let (_, status) = send(&mut conn, &headers, &body).await;
    assert!(matches!(status, Status::Reject { .. }), "{status:?}");
    conn.close().await.unwrap();
    harness.stop().await;
    let sightings = harness.sightings();
    assert!(sightings.is_empty(), "{sightings:?}");
}
