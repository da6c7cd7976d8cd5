//! `wormsign scan` end to end through the binary: what `--record` stores
//! for the EICAR test file.

mod common;

use std::path::Path;
use std::process::{Command, Output};

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
