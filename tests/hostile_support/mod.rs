//! Helpers shared by the hostile-input tests: a rule set of two test rules,
//! message builders, and runs of the `wormsign scan` binary that report the
//! process's own peak RSS.
//!
//! The rules are written here rather than taken from `signatures/`, so the
//! tests pin what the MIME walk and archive expansion deliver to the
//! scanner, whatever the shipped signatures look for.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use wormsign::analysis::{self, Envelope, Settings, Verdict};
use wormsign::scanner::RuleSet;

/// Marker that [`PAYLOAD_RULE`] finds in any part or archive member.
pub const PAYLOAD: &str = "WORMSIGN-HOSTILE-PAYLOAD";

/// File name that [`NAME_RULE`] matches, with or without a directory.
pub const PAYLOAD_NAME: &str = "payload-name.pif";

/// Rule name of the content rule.
pub const PAYLOAD_RULE: &str = "Hostile_Test_Payload";

/// Rule name of the file name rule.
pub const NAME_RULE: &str = "Hostile_Test_Name";

/// Peak resident memory allowed for `wormsign scan` of one hostile message.
pub const MAX_PEAK_RSS_KIB: u64 = 256 * 1024;

const RULES: &str = r#"
rule Hostile_Test_Payload
{
    meta:
        family = "Hostile-Test"
        variant = "payload"
        confidence = "high"
        description = "Test marker in a decoded part or archive member"
        reference = "tests/hostile_support/mod.rs"
    strings:
        $marker = "WORMSIGN-HOSTILE-PAYLOAD"
    condition:
        object_kind != "message" and $marker
}

rule Hostile_Test_Name
{
    meta:
        family = "Hostile-Test"
        variant = "name"
        confidence = "high"
        description = "Test file name of a part or archive member"
        reference = "tests/hostile_support/mod.rs"
    condition:
        file_name matches /(^|[\/\\])payload-name\.pif$/i
}
"#;

/// Writes the two test rules into `dir`.
pub fn write_rules(dir: &Path) {
    std::fs::write(dir.join("hostile.yar"), RULES).expect("write test rules");
}

/// Analyses `raw` as the milter would, with the test rules and default limits.
pub fn analyse(raw: &[u8]) -> Verdict {
    analyse_with(raw, &Settings::default())
}

/// Analyses `raw` with the test rules and `settings`.
pub fn analyse_with(raw: &[u8], settings: &Settings) -> Verdict {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_rules(dir.path());
    let rules = RuleSet::load(Some(dir.path())).expect("test rules compile");
    analysis::analyse(&rules, settings, raw, &Envelope::default(), false)
}

/// Returns whether `rule` matched the object at path `object`.
pub fn matched(verdict: &Verdict, rule: &str, object: &str) -> bool {
    verdict
        .matches
        .iter()
        .any(|m| m.rule == rule && m.object == object)
}

/// Returns whether `rule` matched any object.
pub fn matched_anywhere(verdict: &Verdict, rule: &str) -> bool {
    verdict.matches.iter().any(|m| m.rule == rule)
}

/// Returns whether the verdict records an anomaly of kind `kind` (such as
/// `bad-encoding`) at a path that starts with `path_prefix`.
pub fn has_anomaly(verdict: &Verdict, kind: &str, path_prefix: &str) -> bool {
    verdict
        .anomalies
        .iter()
        .any(|a| a.kind.as_str() == kind && a.path.starts_with(path_prefix))
}

/// Asserts that `rule` matched `object`, with the verdict in the failure message.
#[track_caller]
pub fn assert_matched(verdict: &Verdict, rule: &str, object: &str) {
    assert!(matched(verdict, rule, object), "{}", describe(verdict));
}

/// Asserts that `rule` matched any object, with the verdict in the failure message.
#[track_caller]
pub fn assert_matched_anywhere(verdict: &Verdict, rule: &str) {
    assert!(matched_anywhere(verdict, rule), "{}", describe(verdict));
}

/// Asserts that the verdict records an anomaly of kind `kind` at a path that starts with
/// `path_prefix`, with the verdict in the failure message.
#[track_caller]
pub fn assert_anomaly(verdict: &Verdict, kind: &str, path_prefix: &str) {
    assert!(
        has_anomaly(verdict, kind, path_prefix),
        "{}",
        describe(verdict)
    );
}

/// Formats the matches and anomalies of a verdict for an assertion message.
pub fn describe(verdict: &Verdict) -> String {
    let matches: Vec<String> = verdict
        .matches
        .iter()
        .map(|m| format!("{}@{}", m.rule, m.object))
        .collect();
    format!(
        "matches {matches:?}; note {:?}; {} object(s)",
        verdict.incomplete_note(),
        verdict.objects
    )
}

/// Encodes `data` as padded base64 (RFC 4648) in lines of 76 characters.
pub fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() / 3 * 4 + data.len() / 57 * 2 + 4);
    for (index, chunk) in data.chunks(3).enumerate() {
        if index > 0 && index % 19 == 0 {
            out.push_str("\r\n");
        }
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(group >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Builds a multipart/mixed message with a text part and one base64 attachment.
pub fn message_with_attachment(name: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "From: a@example.net\r\nTo: b@example.org\r\nSubject: hostile test\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
         --outer\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n\
         --outer\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--outer--\r\n",
        base64_lines(data)
    )
    .into_bytes()
}

/// One run of `wormsign scan --stats` on one message.
pub struct ScanRun {
    /// The one-line text verdict, with the `[incomplete; ...]` note when
    /// something was not scanned.
    pub line: String,
    /// Peak RSS of the scan process (VmHWM), in KiB.
    pub peak_rss_kib: u64,
}

/// Runs the built `wormsign scan --stats` on `message` with the test rules
/// and returns its verdict line and peak RSS.
///
/// # Panics
/// Panics when the binary fails or prints no verdict or peak RSS.
pub fn scan_binary(message: &[u8]) -> ScanRun {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_rules(dir.path());
    let config = dir.path().join("wormsign.toml");
    std::fs::write(
        &config,
        format!(
            "signatures = \"{}\"\ndatabase = \"{}\"\n",
            dir.path().display(),
            dir.path().join("wormsign.db").display()
        ),
    )
    .expect("write config");
    let path = dir.path().join("hostile.eml");
    std::fs::write(&path, message).expect("write message");
    dump_for_benchmark(message);

    let output = Command::new(wormsign_bin())
        .arg("--config")
        .arg(&config)
        .args(["scan", "--stats"])
        .arg(&path)
        .output()
        .expect("run wormsign scan");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Exit status 1 means that a message was infected, 2 that a message
    // could not be analysed; a crash has no exit status.
    assert!(
        matches!(output.status.code(), Some(0..=2)),
        "wormsign scan failed with {}: {stdout} {stderr}",
        output.status
    );
    let peak_rss_kib = stderr
        .split("peak RSS ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stderr:?}"));
    ScanRun {
        line: stdout.trim().to_string(),
        peak_rss_kib,
    }
}

/// Copies `message` to `$WORMSIGN_HOSTILE_DUMP/TEST.eml` when that variable
/// is set, so the benchmark in docs/benchmarks.md can time a release build
/// on the same inputs.
fn dump_for_benchmark(message: &[u8]) {
    let Some(dir) = std::env::var_os("WORMSIGN_HOSTILE_DUMP") else {
        return;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .replace("::", "-");
    let path = Path::new(&dir).join(format!("{test}.eml"));
    std::fs::create_dir_all(&dir).expect("create dump directory");
    std::fs::write(&path, message).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Asserts that the run stayed under [`MAX_PEAK_RSS_KIB`].
pub fn assert_small(run: &ScanRun) {
    assert!(
        run.peak_rss_kib < MAX_PEAK_RSS_KIB,
        "peak RSS {} KiB is over {} KiB: {}",
        run.peak_rss_kib,
        MAX_PEAK_RSS_KIB,
        run.line
    );
}

/// Path of the `wormsign` binary that Cargo built for this test run.
pub fn wormsign_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_wormsign"))
}
