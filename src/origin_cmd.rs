//! `wormsign origin`: prints the relays of stored messages with their trust
//! flags and the chosen origin, so an admin can check trust settings.
//!
//! A file has no SMTP connection, so, as in SpamAssassin, the client of
//! the newest Received header is the first relay. A file whose first line
//! starts with `From ` is read as an mbox, and its Nth message is reported
//! as `path#N`.
//!
//! The `--json` form prints one object per message and line:
//!
//! ```text
//! {"path": str, "relays": [{"ip", "rdns", "helo", "by", "ident", "envfrom",
//!  "id", "auth", "trusted", "internal", "msa"}], "origin": {"ip", "method"}
//!  | null, "error": str | null}
//! ```
//!
//! Field values are raw (not escaped the way SpamAssassin does), and empty
//! ones are `null`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::origin::{self, ORIGINATING_IP_HEADERS, Relay, TrustInput, TrustSettings, headers};
use crate::scan::split_mbox;

/// One message's relays and origin, in the `--json` output format.
#[derive(Debug, Serialize)]
pub struct OriginReport {
    /// The file, with `#N` appended for the Nth message of an mbox.
    pub path: String,
    pub relays: Vec<RelayReport>,
    pub origin: Option<OriginSummary>,
    /// Reason the file could not be read; `null` when it was read.
    pub error: Option<String>,
}

/// One relay with its trust flags.
#[derive(Debug, Serialize)]
pub struct RelayReport {
    pub ip: String,
    pub rdns: Option<String>,
    pub helo: Option<String>,
    pub by: Option<String>,
    pub ident: Option<String>,
    pub envfrom: Option<String>,
    pub id: Option<String>,
    pub auth: Option<String>,
    pub trusted: bool,
    pub internal: bool,
    pub msa: bool,
}

/// The chosen origin: address and method (`received`, `connect`).
#[derive(Debug, Serialize)]
pub struct OriginSummary {
    pub ip: String,
    pub method: &'static str,
}

/// Parses a `--trusted-networks` style LIST: comma-separated entries,
/// where an empty string is an empty list.
///
/// # Errors
///
/// A message naming the entry when one contains white space, as in
/// SpamAssassin's space-separated `trusted_networks 10/8 192.168/16`, with
/// the list written with commas.
pub fn parse_list(list: &str) -> Result<Vec<String>, String> {
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<String> = list
        .split(',')
        .map(|entry| entry.trim().to_owned())
        .collect();
    if let Some(entry) = entries.iter().find(|e| e.contains(char::is_whitespace)) {
        let words: Vec<&str> = list
            .split([',', ' ', '\t'])
            .filter(|w| !w.is_empty())
            .collect();
        return Err(format!(
            "entry {entry:?} contains white space: separate entries with commas, as in \"{}\"",
            words.join(",")
        ));
    }
    Ok(entries)
}

/// Reports every message in `path`: one for a message file, one per
/// message for an mbox, or one error report when the file cannot be read.
pub fn report_file(path: &Path, settings: &TrustSettings) -> Vec<OriginReport> {
    let name = path.display().to_string();
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(error) => {
            return vec![OriginReport {
                path: name,
                relays: Vec::new(),
                origin: None,
                error: Some(format!("cannot read the file: {error}")),
            }];
        }
    };
    if !data.starts_with(b"From ") {
        return vec![report_message(name, &data, settings)];
    }
    split_mbox(&data)
        .iter()
        .enumerate()
        .map(|(index, raw)| report_message(format!("{name}#{}", index + 1), raw, settings))
        .collect()
}

/// Walks the trust path of one raw message.
pub fn report_message(path: String, raw: &[u8], settings: &TrustSettings) -> OriginReport {
    let received = headers::received(raw);
    let originating = headers::values(raw, &ORIGINATING_IP_HEADERS);
    let input = TrustInput {
        received: &received,
        originating: &originating,
        ..TrustInput::default()
    };
    let path_found = origin::trust_path(&input, settings);
    OriginReport {
        path,
        relays: path_found.relays.iter().map(relay_report).collect(),
        origin: path_found.origin.map(|o| OriginSummary {
            ip: o.ip.to_string(),
            method: o.method.as_str(),
        }),
        error: None,
    }
}

fn relay_report(relay: &Relay) -> RelayReport {
    let field = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let hop = &relay.hop;
    RelayReport {
        ip: relay.ip.to_string(),
        rdns: field(&hop.rdns),
        helo: field(&hop.helo),
        by: field(&hop.by),
        ident: field(&hop.ident),
        envfrom: field(&hop.envfrom),
        id: field(&hop.id),
        auth: field(&hop.auth),
        trusted: relay.trusted,
        internal: relay.internal,
        msa: relay.msa,
    }
}

impl OriginReport {
    /// Renders the report as text: the path, one line per relay, then the origin.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.path);
        if let Some(error) = &self.error {
            let _ = writeln!(out, "  error: {error}");
            return out;
        }
        for (index, relay) in self.relays.iter().enumerate() {
            let flags = [
                if relay.trusted {
                    "trusted"
                } else {
                    "untrusted"
                },
                if relay.internal {
                    "internal"
                } else {
                    "external"
                },
                if relay.msa { "msa" } else { "" },
            ];
            let flags = flags.iter().filter(|f| !f.is_empty()).copied();
            let _ = write!(
                out,
                "  relay {}: {} [{}]",
                index + 1,
                relay.ip,
                flags.collect::<Vec<_>>().join(" ")
            );
            let named = [
                ("rdns", &relay.rdns),
                ("helo", &relay.helo),
                ("by", &relay.by),
                ("ident", &relay.ident),
                ("envfrom", &relay.envfrom),
                ("id", &relay.id),
                ("auth", &relay.auth),
            ];
            for (name, value) in named {
                if let Some(value) = value {
                    let _ = write!(out, " {name}={}", printable(value));
                }
            }
            out.push('\n');
        }
        match &self.origin {
            Some(origin) => {
                let _ = writeln!(out, "  origin: {} ({})", origin.ip, origin.method);
            }
            None => out.push_str("  origin: none\n"),
        }
        out
    }
}

/// Replaces control characters of a header-derived value with `?`, so the
/// text output stays one line per relay.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_list_cases() {
        assert_eq!(parse_list(""), Ok(Vec::<String>::new()));
        assert_eq!(parse_list("  "), Ok(Vec::<String>::new()));
        assert_eq!(
            parse_list("10/8, !10.1.2.3"),
            Ok(vec!["10/8".to_owned(), "!10.1.2.3".to_owned()])
        );
        assert_eq!(
            parse_list("10/8,,1.2/16"),
            Ok(vec!["10/8".to_owned(), String::new(), "1.2/16".to_owned()])
        );
    }

    #[test]
    fn parse_list_rejects_spaces() {
        let error = parse_list("10/8 192.168/16").unwrap_err();
        assert!(error.contains("\"10/8 192.168/16\""), "{error}");
        assert!(error.contains("\"10/8,192.168/16\""), "{error}");

        let error = parse_list("10/8, 1.2/16\t!1.2.3.4").unwrap_err();
        assert!(error.contains("\"10/8,1.2/16,!1.2.3.4\""), "{error}");
    }

    #[test]
    fn report_lists_relays_and_origin() {
        let raw = b"Received: from relay (relay.example [192.0.2.10]) by mx.example (Postfix) with ESMTP id 1A; Mon, 1 Jan 2024 10:00:01 +0000\r\n\
Received: from pc (dsl.example.net [198.51.100.66]) by relay.example (Postfix) with SMTP id 2B; Mon, 1 Jan 2024 10:00:00 +0000\r\n\
Subject: x\r\n\r\nbody\r\n";
        let settings = TrustSettings::parse(Some(&["192.0.2.0/24"]), None, None).unwrap();
        let report = report_message("m.eml".to_owned(), raw, &settings);
        assert_eq!(report.relays.len(), 2);
        assert!(report.relays[0].trusted);
        assert!(!report.relays[1].trusted);
        assert_eq!(report.relays[1].rdns.as_deref(), Some("dsl.example.net"));
        let origin = report.origin.as_ref().unwrap();
        assert_eq!(origin.ip, "198.51.100.66");
        let text = report.text();
        assert!(
            text.contains("relay 2: 198.51.100.66 [untrusted external]"),
            "{text}"
        );
        assert!(text.contains("origin: 198.51.100.66 (received)"), "{text}");
    }
}
