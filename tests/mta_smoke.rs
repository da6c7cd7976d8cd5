//! Smoke tests of the test infrastructure itself: the MTA scripts start, accept mail over
//! SMTP on loopback and deliver it to the maildirs, with no milter and with a milter that
//! is down (fail-open). They need no wormsign binary, so a failure here points at the
//! environment, not at the milter.

mod common;

use std::time::Duration;

use common::{DOMAIN, Postfix, Sendmail, base64_encode, encode_data, free_port};

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A short message with a dot-led line, so delivery also checks dot-stuffing.
fn smoke_message(subject: &str) -> Vec<u8> {
    format!(
        "From: sender@client.example.org\nTo: alice@{DOMAIN}\nSubject: {subject}\n\
         Message-ID: <{subject}@client.example.org>\n\nhello\n.leading dot\n"
    )
    .into_bytes()
}

/// Asserts that the one delivered message carries the subject and the body unstuffed.
fn assert_delivered(messages: &[Vec<u8>], subject: &str) {
    assert_eq!(messages.len(), 1, "expected exactly one delivered message");
    let text = String::from_utf8_lossy(&messages[0]);
    assert!(text.contains(&format!("Subject: {subject}")), "{text}");
    assert!(
        text.contains("\n.leading dot\n"),
        "dot-stuffing not undone: {text}"
    );
}

/// Returns a loopback port with nothing listening on it, as the socket of a milter that is
/// down.
fn closed_milter_socket() -> String {
    let port = free_port();
    assert!(!common::is_listening(port));
    format!("inet:127.0.0.1:{port}")
}

#[test]
fn postfix_delivers_without_milter() {
    let postfix = Postfix::start(None);
    let recipient = format!("alice@{DOMAIN}");
    let data = smoke_message("no-milter");

    let reply = common::smtp_send(
        postfix.port(),
        "sender@client.example.org",
        &[&recipient],
        &data,
    )
    .expect("SMTP transaction");

    assert!(reply.starts_with("250"), "{reply}");
    let messages = postfix.wait_for_messages("alice", 1, DELIVERY_TIMEOUT);
    assert_delivered(&messages, "no-milter");
}

#[test]
fn postfix_fails_open_when_milter_down() {
    let postfix = Postfix::start(Some(&closed_milter_socket()));
    let recipient = format!("alice@{DOMAIN}");
    let data = smoke_message("milter-down");

    let reply = common::smtp_send(
        postfix.port(),
        "sender@client.example.org",
        &[&recipient],
        &data,
    )
    .expect("SMTP transaction");

    assert!(reply.starts_with("250"), "{reply}");
    let messages = postfix.wait_for_messages("alice", 1, DELIVERY_TIMEOUT);
    assert_delivered(&messages, "milter-down");
    assert!(
        postfix.log().contains("Connection refused"),
        "Postfix did not try the milter:\n{}",
        postfix.log()
    );
}

#[test]
fn postfix_rejects_unknown_recipient() {
    let postfix = Postfix::start(None);
    let recipient = format!("nobody-here@{DOMAIN}");

    let error = common::smtp_send(
        postfix.port(),
        "sender@client.example.org",
        &[&recipient],
        &smoke_message("unknown"),
    )
    .expect_err("RCPT to an unknown user must fail");

    assert!(error.starts_with("550"), "{error}");
    assert!(error.contains("RCPT TO"), "{error}");
}

#[test]
fn postfix_tempfails_when_configured() {
    let postfix = Postfix::start_with(
        Some(&closed_milter_socket()),
        &[("PF_MILTER_DEFAULT", "tempfail")],
    );
    let recipient = format!("alice@{DOMAIN}");

    let error = common::smtp_send(
        postfix.port(),
        "sender@client.example.org",
        &[&recipient],
        &smoke_message("tempfail"),
    )
    .expect_err("a down milter with tempfail must refuse the mail");

    assert!(error.starts_with("451"), "{error}");
}

#[test]
fn sendmail_fails_open_when_milter_down() {
    let sendmail = Sendmail::start(Some(&closed_milter_socket()));
    let recipient = format!("alice@{DOMAIN}");
    let data = smoke_message("sendmail-milter-down");

    let reply = common::smtp_send(
        sendmail.port(),
        "sender@client.example.org",
        &[&recipient],
        &data,
    )
    .expect("SMTP transaction");

    assert!(reply.starts_with("250"), "{reply}");
    let messages = sendmail.wait_for_messages("alice", 1, DELIVERY_TIMEOUT);
    assert_delivered(&messages, "sendmail-milter-down");
}

#[test]
fn encode_data_normalises_and_stuffs() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\n", b"a\r\n.\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\nb", b"a\r\nb\r\n.\r\n"),
        (b".\n..x\nok\n", b"..\r\n...x\r\nok\r\n.\r\n"),
        (b"\n\n", b"\r\n\r\n.\r\n"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            encode_data(input),
            expected.to_vec(),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn base64_encode_matches_rfc4648_vectors() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (input, expected) in cases {
        assert_eq!(base64_encode(input.as_bytes()), expected, "input {input:?}");
    }
}
