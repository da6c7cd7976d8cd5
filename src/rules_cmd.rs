//! `wormsign rules test`: runs a rule set over a labelled corpus of mail
//! files and counts, per variant, what was expected, detected and missed,
//! and which legitimate mails were flagged.
//!
//! The manifest is JSON lines, one object per message, with paths relative
//! to the manifest's folder:
//!
//! ```text
//! {"file": "positive/sober-y-fbi.eml", "expect": "infected", "family": "Sober", "variant": "Y"}
//! {"file": "positive/sober-g-helo.eml", "expect": "infected", "variant": "G",
//!  "helo": "jdoe.com", "mail_from": "jdoe@example.com", "rcpt": ["alice@example.de"]}
//! {"file": "negative/advisory-en.eml", "expect": "clean"}
//! ```
//!
//! `expect` is `infected` or `clean`. `family` and `variant` are optional;
//! when given, the deciding match (the one a sighting would record) must
//! carry them. `helo`, `mail_from`, `rcpt` and `client_ip` stand in for
//! the SMTP session the milter would have seen. Blank lines are skipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analysis::{self, Envelope, Settings, Verdict};
use crate::scanner::RuleSet;

/// Expected verdict of a manifest line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    Infected,
    Clean,
}

/// One manifest line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub file: PathBuf,
    pub expect: Expectation,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub helo: Option<String>,
    #[serde(default)]
    pub mail_from: Option<String>,
    #[serde(default)]
    pub rcpt: Vec<String>,
    #[serde(default)]
    pub client_ip: Option<IpAddr>,
    /// Free text for the reader of the manifest; not used.
    #[serde(default)]
    pub note: Option<String>,
}

impl ManifestEntry {
    fn envelope(&self) -> Envelope {
        Envelope {
            client_ip: self.client_ip,
            helo: self.helo.clone(),
            envelope_from: self.mail_from.clone(),
            recipients: self.rcpt.clone(),
            ..Envelope::default()
        }
    }

    /// Table row of an expected worm mail: the variant, else the family.
    fn label(&self) -> String {
        self.variant
            .clone()
            .or_else(|| self.family.clone())
            .unwrap_or_else(|| "(any)".to_string())
    }
}

/// A manifest or corpus that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("cannot read manifest {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: invalid manifest line: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}:{line}: cannot read message {file}")]
    Message {
        path: PathBuf,
        line: usize,
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no entries: add one JSON object per line")]
    Empty { path: PathBuf },
}

/// Reads a manifest, with the line number of each entry.
///
/// # Errors
/// The file cannot be read, a line is not a valid entry, or there is none.
pub fn read_manifest(path: &Path) -> Result<Vec<(usize, ManifestEntry)>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry = serde_json::from_str(line).map_err(|e| ManifestError::Line {
            path: path.to_path_buf(),
            line: index + 1,
            message: e.to_string(),
        })?;
        entries.push((index + 1, entry));
    }
    if entries.is_empty() {
        return Err(ManifestError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(entries)
}

/// Counts of one table row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub expected: usize,
    pub detected: usize,
    pub missed: usize,
    pub false_positives: usize,
}

/// The result of one corpus run.
#[derive(Debug, Default)]
pub struct Report {
    /// Worm mails per expected variant. A clean mail that is flagged counts
    /// as a false positive in the row of the variant that fired.
    pub variants: BTreeMap<String, Row>,
    /// Legitimate mails: `detected` counts those found clean.
    pub clean: Row,
    /// One line per missed message or false positive.
    pub failures: Vec<String>,
}

impl Report {
    /// True when nothing was missed and nothing clean was flagged.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Renders the table and the failure lines that `rules test` prints.
    pub fn render(&self) -> String {
        let width = self
            .variants
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max(7);
        let row_line = |label: &str, row: &Row| {
            format!(
                "{label:<width$} {:>8} {:>8} {:>8} {:>9}\n",
                row.expected, row.detected, row.missed, row.false_positives
            )
        };

        let mut out = format!(
            "{:<width$} {:>8} {:>8} {:>8} {:>9}\n",
            "variant", "expected", "detected", "missed", "false_pos"
        );

        let mut total = Row::default();
        let rows = self
            .variants
            .iter()
            .map(|(label, row)| (label.as_str(), row))
            .chain(std::iter::once(("clean", &self.clean)));
        for (label, row) in rows {
            out.push_str(&row_line(label, row));
            total.expected += row.expected;
            total.detected += row.detected;
            total.missed += row.missed;
        }

        // Each false positive is counted in its variant's row and in the
        // clean row; the total counts it once.
        total.false_positives = self.clean.false_positives;
        out.push_str(&row_line("total", &total));

        for failure in &self.failures {
            let _ = writeln!(out, "{failure}");
        }
        out
    }
}

/// Runs every manifest entry through the same analysis as the milter and
/// `wormsign scan`, with the entry's session facts.
///
/// # Errors
/// The manifest or a message file it names cannot be read.
pub fn run(rules: &RuleSet, settings: &Settings, manifest: &Path) -> Result<Report, ManifestError> {
    let entries = read_manifest(manifest)?;
    let base = manifest.parent().unwrap_or(Path::new("."));
    let mut report = Report::default();
    for (line, entry) in entries {
        let path = base.join(&entry.file);
        let raw = std::fs::read(&path).map_err(|source| ManifestError::Message {
            path: manifest.to_path_buf(),
            line,
            file: path.clone(),
            source,
        })?;
        let outcome = analyse(rules, settings, &raw, &entry.envelope());
        tally(&mut report, &entry, &outcome);
    }
    Ok(report)
}

/// Analyses one message as the milter does; `None` means the analysis panicked.
fn analyse(
    rules: &RuleSet,
    settings: &Settings,
    raw: &[u8],
    envelope: &Envelope,
) -> Option<Verdict> {
    // Cut where the milter and `scan` cut, so all three agree.
    let limit = usize::try_from(settings.max_message_bytes).unwrap_or(usize::MAX);
    let truncated = raw.len() > limit;
    let raw = &raw[..raw.len().min(limit)];
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analysis::analyse(rules, settings, raw, envelope, truncated)
    }))
    .ok()
}

fn describe(verdict: &Verdict) -> String {
    match verdict.primary() {
        Some(hit) => format!(
            "{}/{} (rule {})",
            hit.family,
            hit.variant.as_deref().unwrap_or("-"),
            hit.rule
        ),
        None => "clean".to_string(),
    }
}

fn tally(report: &mut Report, entry: &ManifestEntry, verdict: &Option<Verdict>) {
    let file = entry.file.display();
    let Some(verdict) = verdict else {
        let row = match entry.expect {
            Expectation::Infected => report.variants.entry(entry.label()).or_default(),
            Expectation::Clean => &mut report.clean,
        };
        row.expected += 1;
        row.missed += 1;
        report
            .failures
            .push(format!("ERROR {file}: analysis panicked"));
        return;
    };
    let hit = verdict.primary();
    match entry.expect {
        Expectation::Infected => {
            let row = report.variants.entry(entry.label()).or_default();
            row.expected += 1;
            let right = hit.is_some_and(|hit| {
                entry.family.as_ref().is_none_or(|f| *f == hit.family)
                    && entry
                        .variant
                        .as_ref()
                        .is_none_or(|v| Some(v) == hit.variant.as_ref())
            });
            if right {
                row.detected += 1;
            } else {
                row.missed += 1;
                report.failures.push(format!(
                    "MISSED {file}: expected {}/{}, got {}",
                    entry.family.as_deref().unwrap_or("*"),
                    entry.variant.as_deref().unwrap_or("*"),
                    describe(verdict)
                ));
            }
        }
        Expectation::Clean => {
            report.clean.expected += 1;
            match hit {
                None => report.clean.detected += 1,
                Some(hit) => {
                    report.clean.false_positives += 1;
                    let label = hit.variant.clone().unwrap_or_else(|| hit.family.clone());
                    report.variants.entry(label).or_default().false_positives += 1;
                    report
                        .failures
                        .push(format!("FALSE POSITIVE {file}: {}", describe(verdict)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_line_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.jsonl");
        std::fs::write(
            &path,
            "{\"file\": \"a.eml\", \"expect\": \"clean\"}\n\n{\"file\": \"b.eml\", \"expect\": \"maybe\"}\n",
        )
        .unwrap();
        let error = read_manifest(&path).unwrap_err().to_string();
        assert!(error.contains(":3:"), "{error}");
        assert!(error.contains("maybe"), "{error}");
    }

    #[test]
    fn manifest_rejects_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.jsonl");
        std::fs::write(
            &path,
            "{\"file\": \"a.eml\", \"expect\": \"clean\", \"varaint\": \"Y\"}\n",
        )
        .unwrap();
        let error = read_manifest(&path).unwrap_err().to_string();
        assert!(error.contains("varaint"), "{error}");
    }

    #[test]
    fn empty_manifest_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.jsonl");
        std::fs::write(&path, "\n\n").unwrap();
        assert!(matches!(
            read_manifest(&path),
            Err(ManifestError::Empty { .. })
        ));
    }
}
