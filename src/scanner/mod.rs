//! YARA rules: loading (with per-file errors), compilation and the scan of
//! one scan object.
//!
//! Rules see each scan object's decoded bytes plus external variables that
//! describe the object, the message and the SMTP session (see
//! [`EXTERNALS`]). A rule set is compiled once and shared read-only by all
//! workers; a scanner is created per scan, which costs microseconds.

mod rules;
mod session;

use std::fmt;

pub use rules::{RuleFileError, RuleSet, RulesError, check_dir};
pub use session::{helo_matches_sober_g, recipient_language};

/// The external variables every rule can use, all strings unless noted.
///
/// Per object: `file_name`, `content_type` (lower-case `type/subtype`),
/// `object_path` (`message`, `2`, `2.1!File.exe`), `object_kind`
/// (`message`, `part`, `archive_member`). Per message: `subject`,
/// `from_domain`, `attachment_names` (newline-separated), `has_executable`
/// and `has_zip` (booleans). Per SMTP session (empty offline): `helo`,
/// `envelope_from`, `recipient_domains` (space-separated), and two values
/// computed from them: `recipient_language` (`de`, `en` or empty, see
/// [`recipient_language`]) and the boolean `helo_matches_sober_g` (see
/// [`helo_matches_sober_g`]).
pub const EXTERNALS: &[&str] = &[
    "file_name",
    "content_type",
    "object_path",
    "object_kind",
    "subject",
    "from_domain",
    "attachment_names",
    "helo",
    "envelope_from",
    "recipient_domains",
    "recipient_language",
];

/// Boolean external variables.
pub const BOOL_EXTERNALS: &[&str] = &["has_executable", "has_zip", "helo_matches_sober_g"];

/// How sure a rule is. Only `Medium` and `High` make a message infected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    /// Parses the value of a rule's `confidence` meta.
    pub fn parse(text: &str) -> Option<Confidence> {
        match text {
            "low" => Some(Confidence::Low),
            "medium" => Some(Confidence::Medium),
            "high" => Some(Confidence::High),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// True when a match of this confidence alone makes a message infected.
    pub fn is_actionable(self) -> bool {
        self >= Confidence::Medium
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule that matched one scan object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Match {
    pub rule: String,
    pub family: String,
    pub variant: Option<String>,
    pub confidence: Confidence,
    /// Path of the scan object that matched.
    pub object: String,
    /// True for a test signature such as EICAR (rule meta `test_file =
    /// true`): the match gives a verdict but never a sighting.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test_file: bool,
}

/// Picks the match that decides a message's verdict, or `None` for a clean
/// message. A worm match, medium or high, beats a test-file match, so a
/// message that also carries EICAR still records its worm. Then the match
/// of maximum confidence wins, then one that names a variant (so a sighting
/// carries the variant when any rule knew it), then the first in scan order.
/// A low-confidence match never decides, so it never creates a sighting.
pub fn deciding_match(matches: &[Match]) -> Option<&Match> {
    let rank = |m: &Match| (!m.test_file, m.confidence, m.variant.is_some());
    let mut best: Option<&Match> = None;
    for candidate in matches.iter().filter(|m| m.confidence.is_actionable()) {
        if best.is_none_or(|b| rank(candidate) > rank(b)) {
            best = Some(candidate);
        }
    }
    best
}

/// The per-message and per-session values of the external variables.
#[derive(Debug, Clone, Default)]
pub struct MessageContext {
    pub subject: String,
    pub from_domain: String,
    pub attachment_names: String,
    pub has_executable: bool,
    pub has_zip: bool,
    pub helo: String,
    pub envelope_from: String,
    pub recipient_domains: String,
    pub recipient_language: String,
    pub helo_matches_sober_g: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(rule: &str, confidence: Confidence, variant: Option<&str>) -> Match {
        Match {
            rule: rule.to_string(),
            family: "Sober".to_string(),
            variant: variant.map(str::to_string),
            confidence,
            object: "message".to_string(),
            test_file: false,
        }
    }

    #[test]
    fn deciding_match_order() {
        let low_only = [hit("a", Confidence::Low, Some("Y"))];
        assert!(deciding_match(&low_only).is_none());

        let matches = [
            hit("low", Confidence::Low, Some("Q")),
            hit("medium", Confidence::Medium, Some("Y")),
            hit("generic", Confidence::High, None),
            hit("first_high", Confidence::High, Some("W")),
            hit("second_high", Confidence::High, Some("Z")),
        ];
        assert_eq!(deciding_match(&matches).unwrap().rule, "first_high");
        assert_eq!(deciding_match(&matches[..3]).unwrap().rule, "generic");
        assert_eq!(deciding_match(&matches[..2]).unwrap().rule, "medium");
    }

    #[test]
    fn deciding_match_prefers_worm_to_test_file() {
        let eicar = Match {
            test_file: true,
            ..hit("eicar", Confidence::High, None)
        };
        let worm = hit("worm", Confidence::Medium, None);
        let both = [eicar.clone(), worm];
        assert_eq!(deciding_match(&both).unwrap().rule, "worm");
        let alone = [eicar];
        assert_eq!(deciding_match(&alone).unwrap().rule, "eicar");
    }
}
