//! The labelled fixture mails through `wormsign scan --json`: every worm
//! mail is infected with the expected family and variant and its origin is
//! the newest hop; every legitimate mail that talks about the worm is clean.

mod common;

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

fn scan_json(path: &Path) -> serde_json::Value {
    let output = Command::new(common::wormsign_bin())
        .args(["scan", "--json"])
        .arg(path)
        .output()
        .expect("run wormsign scan");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "invalid scan output for {}: {e}\n{stdout}\n{}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The match that decides an infected verdict, as `scan --json` reports it
/// (the same choice the milter records in a sighting).
fn deciding_match(report: &serde_json::Value) -> &serde_json::Value {
    let decision = &report["decision"];
    assert!(decision.is_object(), "no deciding match: {report}");
    let confidence = decision["confidence"].as_str();
    assert!(
        matches!(confidence, Some("high" | "medium")),
        "a {confidence:?} match decided: {report}"
    );
    decision
}

fn check_corpus(dir: &str) -> usize {
    let expected = common::expected_verdicts(dir);
    let dir = common::repo_root().join(dir);
    for case in &expected {
        let report = scan_json(&dir.join(&case.file));
        assert_eq!(
            report["verdict"],
            case.verdict.as_str(),
            "{}: {report}",
            case.file
        );
        assert_eq!(
            report["origin"]["ip"],
            case.newest_hop_ip.as_str(),
            "{}: {report}",
            case.file
        );
        if case.verdict == "infected" {
            let hit = deciding_match(&report);
            assert_eq!(
                hit["family"].as_str(),
                case.family.as_deref(),
                "{}: {report}",
                case.file
            );
            assert_eq!(
                hit["variant"].as_str(),
                case.variant.as_deref(),
                "{}: {report}",
                case.file
            );
        }
    }
    expected.len()
}

#[test]
fn worm_fixtures_detected() {
    assert_eq!(check_corpus("tests/fixtures/e2e"), 4);
}

#[test]
fn legitimate_sober_talk_is_clean() {
    assert!(check_corpus("tests/fixtures/negative") >= 3);
}

fn base64(bytes: &[u8]) -> String {
    common::base64_encode(bytes)
}

#[test]
fn member_in_folder_still_detected() {
    let names = [
        "docs/File-packed_dataInfo.exe",
        "docs\\File-packed_dataInfo.exe",
        "./File-packed_dataInfo.exe",
    ];
    for name in names {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        writer.start_file(name, options).expect("start member");
        writer
            .write_all(b"MZ placeholder, not a program")
            .expect("write member");
        let zip = writer.finish().expect("finish zip").into_inner();
        // A bare zip with a neutral subject: only the member rule can fire.
        let message = format!(
            "Received: from pc.example.net (dsl.example.net [203.0.113.8])\r\n\tby mx.probe.test (Postfix) with ESMTP id 1; Tue, 22 Nov 2005 10:00:00 +0000\r\n\
             From: a@example.net\r\nSubject: files\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: application/zip; name=\"files.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            base64(&zip)
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("folder.eml");
        std::fs::write(&path, message).expect("write message");
        let report = scan_json(&path);
        assert_eq!(report["verdict"], "infected", "{name}: {report}");
        assert_eq!(deciding_match(&report)["variant"], "Y", "{name}: {report}");
    }
}

/// `wormsign scan` agrees with the manifest that `rules test` checks, for
/// every entry that needs no SMTP session: the same verdict, and for worm
/// mail the same family and variant in the deciding match.
#[test]
fn scan_agrees_with_manifest() {
    let root = common::repo_root().join("tests/fixtures");
    let manifest = std::fs::read_to_string(root.join("manifest.jsonl")).expect("read manifest");
    let mut checked = 0;
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line).expect("manifest line");
        let needs_session = ["helo", "mail_from", "rcpt", "client_ip"]
            .iter()
            .any(|key| entry.get(key).is_some());
        if needs_session {
            continue;
        }
        let file = entry["file"].as_str().expect("file");
        let report = scan_json(&root.join(file));
        assert_eq!(report["verdict"], entry["expect"], "{file}: {report}");
        if entry["expect"] == "infected" {
            let decision = deciding_match(&report);
            for key in ["family", "variant"] {
                if let Some(expected) = entry.get(key) {
                    assert_eq!(&decision[key], expected, "{file} {key}: {report}");
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} manifest entries checked");
}
