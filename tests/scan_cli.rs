//! `wormsign scan` end to end through the binary: what `--record` stores
//! for the EICAR test file, and the `--json` fields of an incomplete scan.

mod common;

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::{Command, Output};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use common::{repo_root, wormsign_bin};

fn run(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(wormsign_bin())
        .args(args)
        .args(paths)
        .output()
        .expect("run wormsign")
}

/// Records `fixture` from the e2e corpus into `database` and returns the
/// plain export of the database, one listed address per line.
fn record_and_export(database: &Path, fixture: &str) -> String {
    let eml = repo_root().join("tests/fixtures/e2e").join(fixture);
    let scan = run(&["scan", "--record", "--database"], &[database, &eml]);
    assert_eq!(
        scan.status.code(),
        Some(1),
        "{fixture} is infected: {}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let export = run(
        &[
            "export",
            "--format",
            "plain",
            "--list-documentation-ranges",
            "--database",
        ],
        &[database],
    );
    assert!(
        export.status.success(),
        "export: {}",
        String::from_utf8_lossy(&export.stderr)
    );
    String::from_utf8(export.stdout).expect("export is UTF-8")
}

#[test]
fn eicar_record_lists_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("wormsign.db");

    // The EICAR fixture's origin is 203.0.113.99.
    let eicar = Command::new(wormsign_bin())
        .args(["scan", "--json"])
        .arg(repo_root().join("tests/fixtures/e2e/d-eicar-zip.eml"))
        .output()
        .expect("run wormsign scan");
    let report: serde_json::Value = serde_json::from_slice(&eicar.stdout).expect("one JSON object");
    assert_eq!(report["verdict"], "infected", "{report}");
    assert_eq!(report["decision"]["rule"], "EICAR_Test_File", "{report}");
    assert_eq!(report["origin"]["ip"], "203.0.113.99", "{report}");

    let listed = record_and_export(&database, "d-eicar-zip.eml");
    assert_eq!(listed.trim(), "", "EICAR sender listed");

    let listed = record_and_export(&database, "a-sober-y-fbi.eml");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines, vec!["203.0.113.7"], "Sober origin not listed");
}

fn message_with_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        writer.start_file(*name, options).expect("start zip member");
        writer.write_all(data).expect("write zip member");
    }
    let archive = writer.finish().expect("finish zip").into_inner();
    let mut raw = b"From: a@example.net\r\nSubject: zip\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n\
        --b\r\nContent-Type: application/zip; name=\"a.zip\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(common::base64_encode(&archive).as_bytes());
    raw.extend_from_slice(b"\r\n--b--\r\n");
    raw
}

/// Scans `raw` with `wormsign --config CONFIG scan --json` and returns the
/// one report.
fn scan_json(raw: &[u8], config: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temporary directory");
    let eml = dir.path().join("message.eml");
    std::fs::write(&eml, raw).expect("write message");
    let toml = dir.path().join("wormsign.toml");
    std::fs::write(&toml, config).expect("write config");
    let output = Command::new(wormsign_bin())
        .arg("--config")
        .arg(&toml)
        .args(["scan", "--json"])
        .arg(&eml)
        .output()
        .expect("run wormsign scan");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid scan output: {e}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn json_reports_incomplete_scan() {
    let zeros = vec![0u8; 1024 * 1024];
    let bomb = message_with_zip(&[("zeros.bin", &zeros)]);
    let report = scan_json(&bomb, "");
    assert_eq!(report["incomplete"], true, "{report}");
    assert_eq!(report["truncated"], false, "{report}");
    let anomalies = report["anomalies"].as_array().expect("anomalies array");
    assert_eq!(anomalies.len(), 1, "{report}");
    let anomaly = anomalies[0].as_str().unwrap();
    assert!(
        anomaly.starts_with("archive-ratio-exceeded ") && anomaly.ends_with("!zeros.bin"),
        "{report}"
    );
    assert_eq!(report["scan_errors"], serde_json::json!([]), "{report}");

    let small = message_with_zip(&[("notes.txt", b"meeting at ten")]);
    let report = scan_json(&small, "max_message_bytes = 200\n");
    assert_eq!(report["incomplete"], true, "{report}");
    assert_eq!(report["truncated"], true, "{report}");
}

#[test]
fn json_reports_complete_scan() {
    let raw = message_with_zip(&[("notes.txt", b"meeting at ten")]);
    let report = scan_json(&raw, "");
    assert_eq!(report["verdict"], "clean", "{report}");
    assert_eq!(report["incomplete"], false, "{report}");
    assert_eq!(report["truncated"], false, "{report}");
    assert_eq!(report["anomalies"], serde_json::json!([]), "{report}");
    assert_eq!(report["scan_errors"], serde_json::json!([]), "{report}");
}
