//! `wormsign rules check` and `wormsign rules test` as a user runs them:
//! the bundled labelled corpus passes, broken rule files are named with
//! their line, and misses and false positives fail the run.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn wormsign(args: &[&str]) -> Output {
    Command::new(common::wormsign_bin())
        .args(args)
        .current_dir(common::repo_root())
        .output()
        .expect("run wormsign")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Reads the counts of the table row with this label.
fn row(table: &str, label: &str) -> Vec<usize> {
    let line = table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(label))
        .unwrap_or_else(|| panic!("no row {label} in:\n{table}"));
    line.split_whitespace()
        .skip(1)
        .map(|n| n.parse().expect("a count"))
        .collect()
}

const MANIFEST: &str = "tests/fixtures/manifest.jsonl";

/// Every campaign with a positive fixture; a variant letter missing from
/// the table means a campaign lost its fixtures.
const VARIANTS: &[&str] = &[
    "A", "C", "D", "F", "G", "I", "K", "M", "P", "Q", "R", "W", "Z", "Y", "AA",
];

#[test]
fn bundled_corpus_passes() {
    let output = wormsign(&["rules", "test", "signatures", "--manifest", MANIFEST]);
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{table}");
    for variant in VARIANTS {
        let counts = row(&table, variant);
        assert!(counts[0] >= 1, "{variant}: no fixture\n{table}");
        assert_eq!(counts[1], counts[0], "{variant}: detected\n{table}");
        assert_eq!(counts[2], 0, "{variant}: missed\n{table}");
        assert_eq!(counts[3], 0, "{variant}: false positives\n{table}");
    }
    let clean = row(&table, "clean");
    assert!(clean[0] >= 15, "negative set too small\n{table}");
    assert_eq!(clean[1], clean[0], "clean mails found clean\n{table}");
    assert_eq!(clean[3], 0, "false positives\n{table}");
}

#[test]
fn embedded_rules_pass_too() {
    let output = wormsign(&["rules", "test", "-", "--manifest", MANIFEST]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn negatives_have_both_languages() {
    let manifest = std::fs::read_to_string(common::repo_root().join(MANIFEST)).unwrap();
    let clean: Vec<&str> = manifest
        .lines()
        .filter(|line| line.contains("\"expect\": \"clean\""))
        .collect();
    assert!(
        clean.iter().any(|line| line.contains("-de")),
        "no German negative"
    );
    assert!(
        clean.iter().any(|line| line.contains("-en")),
        "no English negative"
    );
}

/// Writes a manifest into `dir` that points at bundled fixtures.
fn write_manifest(dir: &Path, lines: &[String]) -> String {
    let path = dir.join("manifest.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path.display().to_string()
}

fn fixture(relative: &str) -> String {
    common::repo_root()
        .join("tests/fixtures")
        .join(relative)
        .display()
        .to_string()
}

#[test]
fn wrong_variant_is_missed() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(
        dir.path(),
        &[format!(
            r#"{{"file": "{}", "expect": "infected", "variant": "Q"}}"#,
            fixture("corpus/positive/y-cia.eml")
        )],
    );
    let output = wormsign(&["rules", "test", "signatures", "--manifest", &manifest]);
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{table}");
    assert_eq!(row(&table, "Q"), vec![1, 0, 1, 0], "{table}");
    assert!(table.contains("MISSED"), "{table}");
    assert!(table.contains("Sober/Y"), "{table}");
}

#[test]
fn flagged_clean_mail_is_false_positive() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(
        dir.path(),
        &[
            format!(
                r#"{{"file": "{}", "expect": "clean"}}"#,
                fixture("corpus/positive/q-spam-en.eml")
            ),
            format!(
                r#"{{"file": "{}", "expect": "clean"}}"#,
                fixture("corpus/negative/q-digest-en.eml")
            ),
        ],
    );
    let output = wormsign(&["rules", "test", "signatures", "--manifest", &manifest]);
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{table}");
    assert_eq!(row(&table, "Q"), vec![0, 0, 0, 1], "{table}");
    assert_eq!(row(&table, "clean"), vec![2, 1, 0, 1], "{table}");
    assert!(table.contains("FALSE POSITIVE"), "{table}");
}

#[test]
fn session_facts_change_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let g = fixture("corpus/positive/g-helo.eml");
    let manifest = write_manifest(
        dir.path(),
        &[
            format!(
                r#"{{"file": "{g}", "expect": "infected", "variant": "G", "helo": "jdoe.com", "mail_from": "jdoe@example.com"}}"#
            ),
            format!(r#"{{"file": "{g}", "expect": "clean"}}"#),
        ],
    );
    let output = wormsign(&["rules", "test", "signatures", "--manifest", &manifest]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn bad_manifest_line_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(
        dir.path(),
        &[
            r#"{"file": "a.eml", "expect": "clean"}"#.to_string(),
            r#"{"file": "b.eml", "expect": "perhaps"}"#.to_string(),
        ],
    );
    let output = wormsign(&["rules", "test", "signatures", "--manifest", &manifest]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("manifest.jsonl:2"), "{stderr}");
}

#[test]
fn missing_message_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(
        dir.path(),
        &[r#"{"file": "nowhere.eml", "expect": "clean"}"#.to_string()],
    );
    let output = wormsign(&["rules", "test", "signatures", "--manifest", &manifest]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nowhere.eml"), "{stderr}");
}

#[test]
fn rules_check_names_broken_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::repo_root().join("signatures/sober.yar"),
        dir.path().join("sober.yar"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("local.yar"),
        "rule local_ok {\n  meta:\n    family = \"X\"\n    confidence = \"low\"\n  condition:\n    true\n}\n\nrule local_broken {\n  condition:\n    helo_matches_sober_h\n}\n",
    )
    .unwrap();
    let dir_arg = dir.path().display().to_string();
    let output = wormsign(&["rules", "check", &dir_arg]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("local.yar:11:"), "{out}");
    assert!(out.contains("helo_matches_sober_h"), "{out}");
    assert!(!out.contains("sober.yar:"), "{out}");

    let good = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::repo_root().join("signatures/sober.yar"),
        good.path().join("sober.yar"),
    )
    .unwrap();
    let good_arg = good.path().display().to_string();
    let output = wormsign(&["rules", "check", &good_arg]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn help_states_exit_codes() {
    let output = wormsign(&["rules", "test", "--help"]);
    let help = stdout(&output);
    assert!(help.contains("1 when any is"), "{help}");
    assert!(help.contains("false positive"), "{help}");
}
