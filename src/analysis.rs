//! One message to one [`Verdict`]: MIME walk, YARA scan of every scan
//! object, and the trust path to the origin.
//!
//! The milter and `wormsign scan` both call [`analyse`], so the same policy
//! applies online and offline. It is synchronous and CPU-bound: the milter
//! runs it on the blocking pool.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use mail_parser::{HeaderName, MessageParser};

use crate::mime::{self, Anomaly, Limits, ScanObject};
use crate::origin::{self, Origin, TrustInput, TrustSettings};
use crate::scanner::{self, Match, MessageContext, RuleSet};
use crate::store::Sighting;

/// SMTP session data of the message: client, HELO, envelope, macros.
/// All empty offline.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// Client IP from the connect callback.
    pub client_ip: Option<IpAddr>,
    pub client_name: Option<String>,
    pub helo: Option<String>,
    pub envelope_from: Option<String>,
    pub recipients: Vec<String>,
    /// The MTA's queue id (macro `i`).
    pub queue_id: Option<String>,
    /// SASL login name (`{auth_authen}`), set when the client authenticated.
    pub auth_authen: Option<String>,
}

/// Settings of one analysis, taken from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    pub trust: TrustSettings,
    /// Bytes of a message that are scanned; the milter keeps no more than
    /// this, and the offline scan cuts each message at the same point.
    pub max_message_bytes: u64,
    /// Time budget for scanning one message. Objects left when it runs out
    /// are not scanned, and the verdict records that.
    pub scan_timeout: Duration,
}

impl Settings {
    /// The analysis settings of a validated configuration.
    pub fn from_config(config: &crate::config::Config) -> Settings {
        Settings {
            limits: config.limits.clone(),
            trust: config.trust.clone(),
            max_message_bytes: config.max_message_bytes,
            scan_timeout: config.scan_timeout,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            trust: TrustSettings::default(),
            max_message_bytes: 10 * 1024 * 1024,
            scan_timeout: Duration::from_secs(10),
        }
    }
}

/// The outcome for one message.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Every rule match, low confidence included.
    pub matches: Vec<Match>,
    /// What the walk could not read or chose not to read.
    pub anomalies: Vec<Anomaly>,
    /// Scan objects that failed to scan, with libyara's message.
    pub scan_errors: Vec<String>,
    pub origin: Option<Origin>,
    /// True when the body was cut at the scan limit.
    pub truncated: bool,
    pub message_id: Option<String>,
    pub subject: Option<String>,
    /// Number of scan objects looked at.
    pub objects: usize,
}

impl Verdict {
    /// The match that decides the verdict (see [`scanner::deciding_match`]).
    /// `None` means the message is clean.
    pub fn primary(&self) -> Option<&Match> {
        scanner::deciding_match(&self.matches)
    }

    /// True when a medium or high confidence rule matched.
    pub fn is_infected(&self) -> bool {
        self.primary().is_some()
    }

    /// Builds the `X-Wormsign-Scan` header text that lists what was not
    /// scanned, or returns `None` when the whole message was. Lists at most
    /// a few anomalies, with object paths made safe for a header line.
    pub fn incomplete_note(&self) -> Option<String> {
        const MAX_LISTED: usize = 5;
        let mut notes = Vec::new();
        if self.truncated {
            notes.push("truncated at the scan limit".to_string());
        }
        for anomaly in self.anomalies.iter().take(MAX_LISTED) {
            notes.push(anomaly_text(anomaly));
        }
        if self.anomalies.len() > MAX_LISTED {
            notes.push(format!("{} more", self.anomalies.len() - MAX_LISTED));
        }
        if !self.scan_errors.is_empty() {
            notes.push(format!("{} scan error(s)", self.scan_errors.len()));
        }
        (!notes.is_empty()).then(|| format!("incomplete; {}", notes.join("; ")))
    }

    /// The `X-Wormsign` header value.
    pub fn header_value(&self) -> String {
        match self.primary() {
            None => "clean".to_string(),
            Some(hit) => {
                let origin = self
                    .origin
                    .as_ref()
                    .map_or_else(|| "unknown".to_string(), |o| o.ip.to_string());
                format!(
                    "infected; family={}; variant={}; rule={}; origin={}",
                    hit.family,
                    hit.variant.as_deref().unwrap_or("unknown"),
                    hit.rule,
                    origin
                )
            }
        }
    }
}

/// Analyses one raw message (header block, blank line, body).
///
/// Returns a verdict for any input: what could not be read is recorded in
/// the verdict's anomalies and scan errors. `truncated` means that the
/// caller cut the body at its scan limit. mail-parser has debug assertions
/// that a hostile message might trip, so callers still guard against a
/// panic (the milter through its blocking task, `scan` with catch_unwind).
pub fn analyse(
    rules: &RuleSet,
    settings: &Settings,
    raw: &[u8],
    envelope: &Envelope,
    truncated: bool,
) -> Verdict {
    // The walk repairs bare CR line endings and cuts an oversized structure
    // itself, and reports both.
    let repaired = mime::normalize_line_endings(raw);
    let header_source = repaired.as_deref().unwrap_or(raw);
    let header_end = mime::structure_end(header_source, &settings.limits);
    let headers = HeaderInfo::read(&header_source[..header_end]);
    let deadline = Instant::now() + settings.scan_timeout;
    let walk = mime::walk(raw, &settings.limits);
    let context = message_context(&headers, &walk.objects, envelope);

    let mut verdict = Verdict {
        anomalies: walk.anomalies,
        truncated,
        message_id: headers.message_id,
        subject: headers.subject,
        objects: walk.objects.len(),
        ..Verdict::default()
    };
    for (index, object) in walk.objects.iter().enumerate() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            verdict.scan_errors.push(format!(
                "scan time limit of {} s reached at object {}: {} object(s) not scanned",
                settings.scan_timeout.as_secs(),
                object.path,
                walk.objects.len() - index
            ));
            break;
        }
        // libyara takes whole seconds; round up so a short remainder still scans.
        let timeout_secs = i32::try_from(remaining.as_secs() + 1).unwrap_or(i32::MAX);
        match rules.scan(object, &context, timeout_secs) {
            Ok(hits) => verdict.matches.extend(hits),
            Err(error) => verdict
                .scan_errors
                .push(format!("{}: {error}", object.path)),
        }
    }

    let input = TrustInput {
        client_ip: envelope.client_ip,
        client_authenticated: envelope.auth_authen.is_some(),
        received: &headers.received,
        originating: &headers.originating,
    };
    verdict.origin = origin::find_origin(&input, &settings.trust);
    let primary_object = verdict.primary().map(|hit| hit.object.clone());
    let embedded_messages: Vec<&str> = walk
        .objects
        .iter()
        .filter(|o| o.kind == mime::ObjectKind::Message && o.path != "message")
        .map(|o| o.path.as_str())
        .collect();
    origin::bounce::apply_embedded(
        &mut verdict.origin,
        primary_object.as_deref(),
        raw,
        &embedded_messages,
    );
    verdict
}

/// Builds the sighting for an infected verdict, with `seen_at` in Unix
/// seconds. Returns `None` for a clean message and for a test file such as
/// EICAR, because anyone can send one and its sender must not be listed.
/// Also `None` when no untrusted origin was found: a trusted relay is never
/// listed, and a match inside forwarded mail has no origin.
pub fn sighting(
    verdict: &Verdict,
    envelope: &Envelope,
    raw: &[u8],
    size: u64,
    seen_at: i64,
) -> Option<Sighting> {
    let hit = verdict.primary().filter(|hit| !hit.test_file)?;
    let origin = verdict.origin.as_ref()?;
    // A message with bare CR line endings has no LF to end its header
    // block, so without the repair the whole message, attachment
    // included, would be stored and attached to abuse reports.
    let repaired = mime::normalize_line_endings(raw);
    let header_source = repaired.as_deref().unwrap_or(raw);
    let header_end = header_block_len(header_source);
    let evidence = serde_json::json!({
        "matches": verdict.matches,
        "anomalies": verdict.anomalies.iter().take(MAX_EVIDENCE_ANOMALIES).map(anomaly_text).collect::<Vec<_>>(),
        "anomaly_count": verdict.anomalies.len(),
        "truncated": verdict.truncated,
        "origin_hop": origin.hop,
        "subject": verdict.subject,
    });
    Some(Sighting {
        seen_at,
        origin_ip: origin.ip.to_string(),
        origin_method: origin.method.as_str().to_string(),
        family: hit.family.clone(),
        variant: hit.variant.clone(),
        rule: hit.rule.clone(),
        confidence: hit.confidence.as_str().to_string(),
        queue_id: envelope.queue_id.clone(),
        message_id: verdict.message_id.clone(),
        client_ip: envelope.client_ip.map(|ip| ip.to_string()),
        helo: envelope.helo.clone(),
        envelope_from: envelope.envelope_from.clone(),
        size,
        headers: Some(String::from_utf8_lossy(&header_source[..header_end]).into_owned()),
        evidence,
    })
}

/// Length of the header block: up to and including the empty line, or up
/// to the first line that is neither a header field nor a continuation
/// line, where a broken message's body begins.
pub(crate) fn header_block_len(raw: &[u8]) -> usize {
    let mut offset = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            return offset + line.len();
        }
        if !is_header_line(line) {
            return offset;
        }
        offset += line.len();
    }
    raw.len()
}

/// Returns whether `line` is a header field (a name of printable ASCII
/// without `:`, optional blanks, then `:`) or the continuation of one (it
/// starts with a space or tab).
pub(crate) fn is_header_line(line: &[u8]) -> bool {
    if line.starts_with(b" ") || line.starts_with(b"\t") {
        return true;
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic())
}

/// Anomalies kept in a sighting's evidence; the count is kept in full.
const MAX_EVIDENCE_ANOMALIES: usize = 20;

/// Maximum length, in characters, of an object path written into a header,
/// log line or evidence.
const MAX_PATH_CHARS: usize = 80;

/// Makes a sender-chosen text (an archive member name inside an object
/// path) safe for a header, a log line or JSON evidence: control
/// characters become `?` and the text is cut at [`MAX_PATH_CHARS`].
pub fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_PATH_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > MAX_PATH_CHARS {
        out.push_str("...");
    }
    out
}

/// One anomaly as `kind path`, e.g. `archive-ratio-exceeded 2!bomb.zip`.
pub fn anomaly_text(anomaly: &Anomaly) -> String {
    format!("{} {}", anomaly.kind.as_str(), printable(&anomaly.path))
}

/// File name extensions that Windows runs directly.
const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "exe", "pif", "scr", "com", "bat", "cmd", "cpl", "vbs", "js", "hta",
];

fn is_executable(object: &ScanObject) -> bool {
    let by_name = object
        .file_name
        .as_deref()
        .and_then(|name| name.trim_end().rsplit_once('.'))
        .is_some_and(|(_, ext)| {
            EXECUTABLE_EXTENSIONS
                .iter()
                .any(|known| ext.eq_ignore_ascii_case(known))
        });
    by_name || (object.kind != mime::ObjectKind::Message && object.data.starts_with(b"MZ"))
}

fn message_context(
    headers: &HeaderInfo,
    objects: &[ScanObject],
    envelope: &Envelope,
) -> MessageContext {
    let attachment_names: Vec<&str> = objects
        .iter()
        .filter_map(|o| o.file_name.as_deref())
        .collect();
    let recipient_domains: Vec<String> = envelope
        .recipients
        .iter()
        .filter_map(|r| address_domain(r))
        .collect();
    let helo = envelope.helo.clone().unwrap_or_default();
    let envelope_from = envelope.envelope_from.clone().unwrap_or_default();
    MessageContext {
        helo_matches_sober_g: scanner::helo_matches_sober_g(&helo, &envelope_from),
        recipient_language: scanner::recipient_language(
            recipient_domains.iter().map(String::as_str),
        )
        .to_string(),
        subject: headers.subject.clone().unwrap_or_default(),
        from_domain: headers.from_domain.clone().unwrap_or_default(),
        attachment_names: attachment_names.join("\n"),
        has_executable: objects.iter().any(is_executable),
        // TODO: a zip behind a self-extractor stub is expanded by the walk
        // but does not set has_zip, which looks at offset 0 only.
        has_zip: objects.iter().any(|o| o.data.starts_with(b"PK\x03\x04")),
        helo,
        envelope_from,
        recipient_domains: recipient_domains.join(" "),
    }
}

/// Lower-case domain of an address such as `<alice@Example.ORG>`.
fn address_domain(address: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (_, domain) = address.rsplit_once('@')?;
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

/// The top-level header fields analysis needs.
#[derive(Debug, Default)]
struct HeaderInfo {
    /// Received values, newest first, unfolded.
    received: Vec<String>,
    /// Originating-IP header values (X-Originating-IP and the like).
    originating: Vec<String>,
    subject: Option<String>,
    message_id: Option<String>,
    from_domain: Option<String>,
}

impl HeaderInfo {
    fn read(raw: &[u8]) -> HeaderInfo {
        let mut info = HeaderInfo {
            received: received_headers(raw),
            originating: origin::headers::values(raw, &origin::ORIGINATING_IP_HEADERS),
            ..HeaderInfo::default()
        };
        // Only these three fields are read, so the others (Received above
        // all) are not parsed.
        let parser = MessageParser::new()
            .header_text(HeaderName::Subject)
            .header_id(HeaderName::MessageId)
            .header_address(HeaderName::From)
            .default_header_ignore();
        if let Some(message) = parser.parse_headers(raw) {
            info.subject = message.subject().map(str::to_string);
            info.message_id = message.message_id().map(str::to_string);
            info.from_domain = message
                .from()
                .and_then(|from| from.first())
                .and_then(|addr| addr.address())
                .and_then(address_domain);
        }
        info
    }
}

/// Every top-level Received header value, newest first, unfolded.
///
/// Read from the raw bytes rather than from mail-parser, which drops
/// header fields that are not valid UTF-8.
pub fn received_headers(raw: &[u8]) -> Vec<String> {
    let mut values = Vec::new();
    let mut current: Option<String> = None;
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(value) = current.as_mut() {
                value.push(' ');
                value.push_str(text.trim());
            }
            continue;
        }
        values.extend(current.take());
        if let Some((name, value)) = text.split_once(':')
            && name.trim().eq_ignore_ascii_case("received")
        {
            current = Some(value.trim().to_string());
        }
    }
    values.extend(current);
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_and_cuts() {
        assert_eq!(printable("2!a.exe\r\nX-Evil: 1"), "2!a.exe??X-Evil: 1");
        let long = "x".repeat(200);
        assert_eq!(
            printable(&long),
            format!("{}...", "x".repeat(MAX_PATH_CHARS))
        );
    }

    #[test]
    fn incomplete_note_is_one_safe_line() {
        let verdict = Verdict {
            anomalies: vec![Anomaly {
                path: "1!a.exe\r\nX-Wormsign: infected".to_string(),
                kind: crate::mime::AnomalyKind::ArchiveDamaged,
            }],
            ..Verdict::default()
        };
        let note = verdict.incomplete_note().unwrap();
        assert_eq!(
            note,
            "incomplete; archive-damaged 1!a.exe??X-Wormsign: infected"
        );
        assert!(!note.chars().any(char::is_control));
    }

    #[test]
    fn header_block_len_cases() {
        let cases: [(&[u8], usize); 6] = [
            (b"A: 1\r\n\tfolded\r\n\r\nbody\r\n", 17),
            (b"A: 1\nB : 2\n\nbody\n", 12),
            (b"A: 1\r\nTVogd29ybXNpZ24=\r\n", 6),
            (b"A: 1\r\nFrom bad line\r\nB: 2\r\n\r\n", 6),
            (b"A: 1\r\nno blank line", 6),
            (b"A: 1\r\nB: 2", 10),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                header_block_len(raw),
                expected,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn received_headers_unfolds_in_order() {
        let raw = b"Received: from a (a [192.0.2.1])\r\n\tby b; date\r\nSubject: x\r\nreceived: from c\r\n\r\nReceived: body\r\n";
        let values = received_headers(raw);
        assert_eq!(values, vec!["from a (a [192.0.2.1]) by b; date", "from c"]);
    }

    #[test]
    fn received_headers_reads_invalid_utf8() {
        let raw = b"Received: from \xff\xfe (x [192.0.2.1])\n\n";
        let values = received_headers(raw);
        assert_eq!(values.len(), 1);
        assert!(values[0].contains("[192.0.2.1]"));
    }

    #[test]
    fn address_domain_cases() {
        let cases = [
            ("<alice@Example.ORG>", Some("example.org")),
            ("bob@mail.example.de", Some("mail.example.de")),
            ("postmaster", None),
            ("<a@>", None),
        ];
        for (input, expected) in cases {
            assert_eq!(address_domain(input).as_deref(), expected, "{input}");
        }
    }
}
