//! Regression tests for hostile input found by attacking the scanner, each
//! named after the behaviour it pins and built from a minimal input.

mod common;

use std::process::Command;

const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Peak resident memory allowed for `wormsign scan` of one hostile message.
const MAX_PEAK_RSS_KIB: u64 = 256 * 1024;

struct ScanRun {
    verdict: serde_json::Value,
    peak_rss_kib: u64,
}

/// Scans `message` with `wormsign scan --json --stats` and returns the
/// verdict and the process's peak RSS.
fn scan(message: &[u8]) -> ScanRun {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("hostile.eml");
    std::fs::write(&path, message).expect("write message");
    let output = Command::new(common::wormsign_bin())
        .args(["scan", "--json", "--stats"])
        .arg(&path)
        .output()
        .expect("run wormsign scan");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let verdict = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("invalid scan output {stdout:?}: {e}; stderr: {stderr}"));
    let peak_rss_kib = stderr
        .split("peak RSS ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stderr:?}"));
    ScanRun {
        verdict,
        peak_rss_kib,
    }
}

fn message_with_eicar(text: &str) -> Vec<u8> {
    format!(
        "From: a@example.net\r\nSubject: test\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n\
         --b\r\nContent-Type: application/octet-stream; name=\"test.com\"\r\n\r\n{EICAR}\r\n--b--\r\n"
    )
    .into_bytes()
}

#[test]
fn repeated_rule_string_stays_small() {
    // Several rules look for the word "sober"; libyara used to keep one
    // match record per occurrence per rule, about 1 GB for 5 MiB of it.
    let text = "sober ".repeat(5 * 1024 * 1024 / 6);
    let run = scan(&message_with_eicar(&text));
    assert_eq!(run.verdict["verdict"], "infected", "{}", run.verdict);
    assert!(
        run.peak_rss_kib < MAX_PEAK_RSS_KIB,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
}

#[test]
fn forged_hop_below_local_submission_not_origin() {
    // A trusted host's header for local submission names no client: the
    // header below it was written by whoever submitted, so it is not used.
    let message = format!(
        "Received: by relay.example.org (Postfix, from userid 33)\r\n\tid 4AB12C0DE1; Tue, 22 Nov 2005 10:00:00 +0000 (UTC)\r\n\
         Received: from innocent.example (innocent.example [198.51.100.99])\r\n\tby relay.example.org (Postfix) with SMTP id 1; Tue, 22 Nov 2005 09:59:00 +0000\r\n{}",
        String::from_utf8(message_with_eicar("hello")).unwrap()
    );
    let run = scan(message.as_bytes());
    assert_eq!(run.verdict["verdict"], "infected", "{}", run.verdict);
    assert!(run.verdict["origin"].is_null(), "{}", run.verdict);
}

#[test]
fn recipient_comment_not_authentication() {
    // With the newest header written by a relay about a trusted client at
    // 127.0.0.1, a recipient such as "alice+(authenticated)" must not end
    // the walk at that trusted client.
    let message = format!(
        "Received: from localhost (localhost [127.0.0.1])\r\n\tby mx2.probe.test (Postfix) with ESMTP id 2\r\n\tfor <\"alice+(authenticated)\"@probe.test>; Tue, 22 Nov 2005 10:00:01 +0000\r\n\
         Received: from infected.example (dsl.example [203.0.113.77])\r\n\tby mx1.probe.test (Postfix) with ESMTP id 1; Tue, 22 Nov 2005 10:00:00 +0000\r\n{}",
        String::from_utf8(message_with_eicar("hello")).unwrap()
    );
    let run = scan(message.as_bytes());
    assert_eq!(
        run.verdict["origin"]["ip"], "203.0.113.77",
        "{}",
        run.verdict
    );
}

#[test]
fn decorated_transfer_encoding_decoded() {
    let encoded = common::base64_encode(EICAR.as_bytes());
    let values = ["base64 (comment)", "\"base64\"", "base64;", "base64;x=1"];
    for value in values {
        let message = format!(
            "From: a@example.net\r\nSubject: test\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
             --b\r\nContent-Type: application/octet-stream; name=\"test.com\"\r\n\
             Content-Transfer-Encoding: {value}\r\n\r\n{encoded}\r\n--b--\r\n"
        );
        let run = scan(message.as_bytes());
        assert_eq!(
            run.verdict["verdict"], "infected",
            "{value}: {}",
            run.verdict
        );
    }
}
