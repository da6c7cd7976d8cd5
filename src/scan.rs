//! Offline scan: the milter's analysis over .eml files, mbox files and
//! Maildir folders.
//!
//! [`crate::message_files`] finds the files under each path: Maildirs,
//! and every regular file of any other directory, recursively, except
//! hidden and `.json` files. A file whose first line starts with `From ` is
//! an mbox (mboxrd: `>From ` lines are unescaped); any other file is one
//! message. A path that yields no message at all is reported as an error.
//!
//! Each message is cut at `max_message_bytes`, as the milter does, so a
//! configuration gives the same verdicts offline and online.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::analysis::{self, Envelope, Settings, Verdict};
use crate::message_files::{self, Source};
use crate::scanner::RuleSet;
use crate::store::Sighting;

/// One message's result, in the `--json` output format.
#[derive(Debug, Serialize)]
pub struct ScanReport {
    /// The file, with `#N` appended for the Nth message of an mbox.
    pub path: String,
    pub message_id: Option<String>,
    /// `infected`, `clean` or `error`.
    pub verdict: &'static str,
    pub matches: Vec<ReportMatch>,
    /// The match that decides an infected verdict ([`Verdict::primary`]).
    pub decision: Option<ReportMatch>,
    pub origin: Option<ReportOrigin>,
    pub error: Option<String>,
    /// True when part of the message was not scanned, so that the milter
    /// adds an `X-Wormsign-Scan: incomplete; ...` header. The next three
    /// fields give the reasons.
    pub incomplete: bool,
    /// True when the message was cut at `max_message_bytes`.
    pub truncated: bool,
    /// Anomalies of the MIME walk (parts or members it could not read or
    /// left out), each as `kind path`, e.g. `archive-ratio-exceeded 2!bomb.zip`.
    pub anomalies: Vec<String>,
    /// Scan objects that failed to scan or were left when the scan time
    /// limit ran out, with the reason.
    pub scan_errors: Vec<String>,
    /// Sighting to record with `--record`; not printed.
    #[serde(skip)]
    pub sighting: Option<Sighting>,
    /// The `X-Wormsign-Scan` text (see [`Verdict::incomplete_note`]), shown
    /// at the end of the text line.
    #[serde(skip)]
    pub incomplete_note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportMatch {
    pub rule: String,
    pub family: String,
    pub variant: Option<String>,
    pub confidence: &'static str,
    pub object: String,
}

#[derive(Debug, Serialize)]
pub struct ReportOrigin {
    pub ip: String,
    pub method: &'static str,
}

impl ScanReport {
    fn error(path: String, error: String) -> ScanReport {
        ScanReport {
            path,
            message_id: None,
            verdict: "error",
            matches: Vec::new(),
            decision: None,
            origin: None,
            error: Some(error),
            incomplete: false,
            truncated: false,
            anomalies: Vec::new(),
            scan_errors: Vec::new(),
            sighting: None,
            incomplete_note: None,
        }
    }

    fn from_verdict(path: String, verdict: &Verdict, sighting: Option<Sighting>) -> ScanReport {
        let incomplete_note = verdict.incomplete_note();
        ScanReport {
            path,
            message_id: verdict.message_id.clone(),
            verdict: if verdict.is_infected() {
                "infected"
            } else {
                "clean"
            },
            matches: verdict.matches.iter().map(ReportMatch::from).collect(),
            decision: verdict.primary().map(ReportMatch::from),
            origin: verdict.origin.as_ref().map(|o| ReportOrigin {
                ip: o.ip.to_string(),
                method: o.method.as_str(),
            }),
            error: None,
            incomplete: incomplete_note.is_some(),
            truncated: verdict.truncated,
            anomalies: verdict
                .anomalies
                .iter()
                .map(analysis::anomaly_text)
                .collect(),
            scan_errors: verdict.scan_errors.clone(),
            sighting,
            incomplete_note,
        }
    }

    /// The one-line text form.
    pub fn line(&self) -> String {
        let line = self.verdict_text();
        match &self.incomplete_note {
            Some(note) => format!("{line} [{note}]"),
            None => line,
        }
    }

    fn verdict_text(&self) -> String {
        match (self.verdict, self.matches.first()) {
            ("error", _) => format!(
                "{}: error: {}",
                self.path,
                self.error.as_deref().unwrap_or("unknown")
            ),
            ("infected", _) => {
                let hit = self
                    .decision
                    .as_ref()
                    .expect("an infected verdict has a deciding match");
                let origin = self.origin.as_ref().map_or("unknown", |o| o.ip.as_str());
                format!(
                    "{}: infected {} {} rule={} object={} origin={}",
                    self.path,
                    hit.family,
                    hit.variant.as_deref().unwrap_or("-"),
                    hit.rule,
                    analysis::printable(&hit.object),
                    origin
                )
            }
            (_, Some(low)) => format!("{}: clean (low-confidence match {})", self.path, low.rule),
            _ => format!("{}: clean", self.path),
        }
    }
}

impl From<&crate::scanner::Match> for ReportMatch {
    fn from(m: &crate::scanner::Match) -> ReportMatch {
        ReportMatch {
            rule: m.rule.clone(),
            family: m.family.clone(),
            variant: m.variant.clone(),
            confidence: m.confidence.as_str(),
            object: m.object.clone(),
        }
    }
}

/// Splits an mbox into messages; `>From ` escapes are undone (mboxrd).
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut previous_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if previous_blank && line.starts_with(b"From ") {
            messages.extend(current.take());
            current = Some(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = line == b"\n" || line == b"\r\n";
        let Some(message) = current.as_mut() else {
            continue;
        };
        let unescaped = match line.iter().position(|&b| b != b'>') {
            Some(n) if n > 0 && line[n..].starts_with(b"From ") => &line[1..],
            _ => line,
        };
        message.extend_from_slice(unescaped);
    }
    messages.extend(current);
    // The blank line before each "From " separator belongs to the mbox format.
    for message in &mut messages {
        if message.ends_with(b"\n\n") {
            message.pop();
        } else if message.ends_with(b"\r\n\r\n") {
            message.truncate(message.len() - 2);
        }
    }
    messages
}

fn scan_file(path: &Path, rules: &RuleSet, settings: &Settings) -> Vec<ScanReport> {
    let name = path.display().to_string();
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(error) => return vec![ScanReport::error(name, format!("cannot read: {error}"))],
    };
    if data.starts_with(b"From ") {
        split_mbox(&data)
            .iter()
            .enumerate()
            .map(|(i, message)| scan_message(format!("{name}#{}", i + 1), message, rules, settings))
            .collect()
    } else {
        vec![scan_message(name, &data, rules, settings)]
    }
}

fn scan_message(path: String, raw: &[u8], rules: &RuleSet, settings: &Settings) -> ScanReport {
    let envelope = Envelope::default();
    let limit = usize::try_from(settings.max_message_bytes).unwrap_or(usize::MAX);
    let truncated = raw.len() > limit;
    let raw = &raw[..raw.len().min(limit)];
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analysis::analyse(rules, settings, raw, &envelope, truncated)
    }));
    match outcome {
        Ok(verdict) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let sighting = analysis::sighting(&verdict, &envelope, raw, raw.len() as u64, now);
            ScanReport::from_verdict(path, &verdict, sighting)
        }
        Err(_) => ScanReport::error(path, "analysis panicked".to_string()),
    }
}

/// Scans every message under `paths` on `threads` worker threads and
/// returns the reports in path order.
pub fn scan_paths(
    paths: &[PathBuf],
    rules: &RuleSet,
    settings: &Settings,
    threads: usize,
) -> Vec<ScanReport> {
    let sources = message_files::collect(paths);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Vec<ScanReport>>>> =
        Mutex::new((0..sources.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(source) = sources.get(index) else {
                        break;
                    };
                    let reports = match source {
                        Source::File(path) => scan_file(path, rules, settings),
                        Source::Unreadable(path, error) => {
                            vec![ScanReport::error(path.display().to_string(), error.clone())]
                        }
                        Source::Empty(path) => vec![ScanReport::error(
                            path.display().to_string(),
                            "no message files found in this directory".to_string(),
                        )],
                    };
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(reports);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .flatten()
        .collect()
}

/// Peak resident memory of this process in KiB (`VmHWM` in
/// /proc/self/status), or `None` where that file does not exist.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_is_split_and_unescaped() {
        let mbox = b"From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\n>From here\nbody\n\nFrom b@example.org Mon Jan  1 00:00:00 2024\nSubject: two\n\nx\n";
        let messages = split_mbox(mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], b"Subject: one\n\nFrom here\nbody\n");
        assert_eq!(messages[1], b"Subject: two\n\nx\n");
    }
}
