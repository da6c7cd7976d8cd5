//! One abuse report as an RFC 5965 message: `multipart/report;
//! report-type=feedback-report` with three parts.
//!
//! 1. `text/plain`: what was seen (time, origin, family and rule of each
//!    sighting, and with `--group-by net24` also each host of the network),
//!    the DNSBL zone that lists the host, and how to clean it up.
//! 2. `message/feedback-report`: `Feedback-Type: virus`, `User-Agent`,
//!    `Version: 1`, `Source-IP`, `Arrival-Date`, `Incidents`,
//!    `Original-Mail-From`, and the extension fields `X-Wormsign-Rule` and
//!    `X-Wormsign-Family` naming the rule and family of the attached
//!    message. RFC 5965 allows one `Source-IP`, so a report on a network
//!    names the host whose headers are attached, and `Incidents` counts
//!    that host's messages only.
//! 3. `text/rfc822-headers`: the original header block of one sighting.
//!
//! Lines end in CRLF, as RFC 5322 requires.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use super::text::{count_of, human_text, one_line};
use super::{GroupBy, Report};

/// Maximum length of a line in octets, CRLF not counted (RFC 5322, section
/// 2.1.1).
const MAX_LINE_OCTETS: usize = 998;

/// Header settings of the report messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The `From` address, e.g. `abuse-reports@example.org`. Its domain
    /// also ends the `Message-ID`.
    pub from: String,
    /// The `To` address, or `None` to leave the header out for the operator
    /// to fill in.
    // TODO: look up the network's abuse contact (RDAP or abuse-c in whois)
    // so each report can be addressed on its own.
    pub to: Option<String>,
    /// The DNSBL zone that publishes the listings (`zone` in `[export]`),
    /// named in the readable part so the recipient can check the listing.
    pub zone: Option<String>,
}

/// Checks that `value`, the value of the command-line flag `flag`, is a
/// plain RFC 5322 addr-spec, `local@domain`: no display name, spaces or
/// control characters, and neither part empty.
///
/// # Errors
///
/// A message naming the flag, the value and the expected form.
pub fn check_address(flag: &str, value: &str) -> Result<(), String> {
    let invalid = |reason: &str| {
        Err(format!(
            "invalid {flag} {value:?}: {reason}; write a mailbox address such as \
             abuse-reports@example.org, without a display name or angle brackets"
        ))
    };
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("it contains a space or control character");
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return invalid("the @ is missing");
    };
    if local.is_empty() || domain.is_empty() {
        return invalid("the part before or after the @ is empty");
    }
    let special = |c: char| "()<>[]:;,\\\"@".contains(c);
    let domain_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && !label.chars().any(special));
    if local.chars().any(special) || !domain_ok {
        return invalid("it is not of the form local@domain");
    }
    Ok(())
}

/// Returns the domain of `address` for the `Message-ID`, or
/// `wormsign.invalid` when it has none.
fn message_id_domain(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => one_line(domain).replace(['<', '>', ' '], ""),
        _ => "wormsign.invalid".to_string(),
    }
}

/// Renders `report` as an RFC 5965 message created at `now` (Unix seconds).
pub fn render(report: &Report, envelope: &Envelope, now: i64) -> String {
    let representative = report.representative();
    let families = families(report);
    let incidents = report.source_sightings().len();
    // The attached headers come from the sender, so the boundary is
    // lengthened until no part contains it.
    let headers = header_lines(representative.headers.as_deref().unwrap_or(""));
    let human = human_text(report, &families, envelope.zone.as_deref());
    let mut boundary = format!(
        "=_wormsign_{now}_{}",
        report.file_name().trim_end_matches(".eml")
    );
    while headers.iter().any(|text| text.contains(&boundary)) || human.contains(&boundary) {
        boundary.push('_');
    }
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push_str("\r\n");
    };
    line(&format!("From: {}", one_line(&envelope.from)));
    if let Some(to) = &envelope.to {
        line(&format!("To: {}", one_line(to)));
    }
    line(&format!("Subject: {}", subject(report, &families)));
    line(&format!("Date: {}", rfc5322_date(now)));
    line(&format!(
        "Message-ID: <wormsign.arf.{now}.{}@{}>",
        report.file_name().trim_end_matches(".eml"),
        message_id_domain(&envelope.from)
    ));
    line("MIME-Version: 1.0");
    line(&format!(
        "Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"{boundary}\""
    ));
    line("");
    line("This is an abuse report in the Abuse Reporting Format (RFC 5965).");
    line("");

    line(&format!("--{boundary}"));
    line("Content-Type: text/plain; charset=utf-8");
    line("Content-Transfer-Encoding: 8bit");
    line("");
    for text in human.lines() {
        line(text);
    }
    line("");

    line(&format!("--{boundary}"));
    line("Content-Type: message/feedback-report");
    line("");
    line("Feedback-Type: virus");
    line(&format!(
        "User-Agent: wormsign/{}",
        env!("CARGO_PKG_VERSION")
    ));
    line("Version: 1");
    line(&format!(
        "Source-IP: {}",
        one_line(&representative.origin_ip)
    ));
    line(&format!(
        "Arrival-Date: {}",
        rfc5322_date(representative.seen_at)
    ));
    line(&format!("Incidents: {incidents}"));
    if let Some(from) = &representative.envelope_from {
        // The sender chose this address, and SMTP servers accept paths
        // longer than the 998-octet line limit.
        let from = one_line(from);
        let from = cut(&from, MAX_LINE_OCTETS - "Original-Mail-From: <>".len());
        line(&format!("Original-Mail-From: <{from}>"));
    }
    line(&format!(
        "X-Wormsign-Rule: {}",
        one_line(&representative.rule)
    ));
    line(&format!(
        "X-Wormsign-Family: {}",
        one_line(&representative.family)
    ));
    line("");

    line(&format!("--{boundary}"));
    line("Content-Type: text/rfc822-headers");
    line("");
    for text in &headers {
        line(text);
    }
    line("");
    line(&format!("--{boundary}--"));
    out
}

/// Returns the Subject: the host and its messages, or for a network its
/// number of hosts, such as `Worm-infected hosts in 198.51.100.0/24 (3
/// hosts, 5 message(s), Sober)`.
fn subject(report: &Report, families: &str) -> String {
    let messages = report.sightings.len();
    match report.group_by {
        GroupBy::Ip => format!(
            "Worm-infected host at {}: {messages} message(s) ({families})",
            report.network
        ),
        GroupBy::Net24 => {
            let hosts = count_of(report.hosts().len(), "host");
            format!(
                "Worm-infected hosts in {} ({hosts}, {messages} message(s), {families})",
                report.network
            )
        }
    }
}

/// Returns the distinct families of the report, sorted and joined.
fn families(report: &Report) -> String {
    let mut names: Vec<&str> = report.sightings.iter().map(|s| s.family.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    one_line(&names.join(", "))
}

/// Formats Unix seconds as an RFC 5322 date, `Thu, 02 May 2024 00:00:00 +0000`.
fn rfc5322_date(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|time| time.format(&Rfc2822).ok())
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".to_string())
}

/// Returns the lines of a stored header block as the `text/rfc822-headers`
/// part carries them: the header fields only, control characters other
/// than tab as spaces, and lines longer than RFC 5322's 998 octets folded.
///
/// The stored block comes from the sender's message, and rows written
/// before the header block was cut at the first non-header line may still
/// contain body lines, so the block is cut here again.
fn header_lines(headers: &str) -> Vec<String> {
    let block = &headers[..crate::analysis::header_block_len(headers.as_bytes())];
    let mut lines = Vec::new();
    for raw_line in block.lines() {
        if raw_line.is_empty() {
            break;
        }
        let clean: String = raw_line
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        let mut rest = clean.as_str();
        let mut limit = MAX_LINE_OCTETS;
        loop {
            let head = cut(rest, limit);
            let tail = &rest[head.len()..];
            lines.push(if limit == MAX_LINE_OCTETS {
                head.to_string()
            } else {
                format!(" {head}")
            });
            // A continuation line starts with a space, which counts toward
            // the limit. Unfolding keeps that space, so the folded value
            // reads with one extra space.
            limit = MAX_LINE_OCTETS - 1;
            if tail.is_empty() || head.is_empty() {
                break;
            }
            rest = tail;
        }
    }
    lines
}

/// Returns the longest prefix of `text` of at most `max` bytes that ends
/// on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample;

    #[test]
    fn arf_fields_and_parts() {
        let mut forged = sample("192.0.2.1", 1_714_608_000, "Sober", "Q1");
        forged.rule = "Sober\r\nBcc: victim@example.org".to_string();
        let report = Report {
            network: "192.0.2.1/32".parse().unwrap(),
            group_by: GroupBy::Ip,
            sightings: vec![forged],
            listings: Vec::new(),
        };
        let envelope = Envelope {
            from: "abuse-reports@example.org".to_string(),
            to: Some("abuse@example.net".to_string()),
            zone: None,
        };
        let text = render(&report, &envelope, 1_714_608_100);
        assert!(text.contains("Feedback-Type: virus\r\n"), "{text}");
        assert!(text.contains("Source-IP: 192.0.2.1\r\n"), "{text}");
        assert!(
            text.contains("Arrival-Date: Thu, 02 May 2024 00:00:00 +0000\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/rfc822-headers\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: Ihr Passwort\r\n"), "{text}");
        assert!(
            text.contains("X-Wormsign-Rule: Sober  Bcc: victim@example.org\r\n"),
            "a CRLF in the rule must not start a new header: {text}"
        );
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert!(
            text.contains("@example.org>\r\n"),
            "the Message-ID ends in the From domain: {text}"
        );
    }

    #[test]
    fn check_address_cases() {
        for valid in [
            "abuse@example.org",
            "a.b+arf@mail.example.net",
            "x@localhost",
        ] {
            assert_eq!(check_address("--from", valid), Ok(()), "{valid}");
        }
        for invalid in [
            "not an address",
            "abuse",
            "@example.org",
            "abuse@",
            "Abuse Desk <abuse@example.org>",
            "<abuse@example.org>",
            "abuse@example.org\r\nBcc: x@example.net",
            "abuse@example..org",
            "a,b@example.org",
        ] {
            let error = check_address("--from", invalid).unwrap_err();
            assert!(error.contains(&format!("{invalid:?}")), "{error}");
            assert!(error.contains("abuse-reports@example.org"), "{error}");
        }
    }

    #[test]
    fn header_lines_fold_clean_and_cut() {
        let long = format!("X-Long: {}", "é".repeat(600));
        let stored = format!("A: 1\0x\rz\r\n\tnext\r\n{long}\r\nbody line\r\nB: 2\r\n");
        let lines = header_lines(&stored);
        assert_eq!(lines[0], "A: 1 x z");
        assert_eq!(lines[1], "\tnext");
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[2].len() <= MAX_LINE_OCTETS, "{}", lines[2].len());
        assert!(lines[3].len() <= MAX_LINE_OCTETS, "{}", lines[3].len());
        assert!(lines[3].starts_with(' '), "{:?}", lines[3]);
        assert_eq!(format!("{}{}", lines[2], &lines[3][1..]), long);
    }

    #[test]
    fn arf_boundary_avoids_header_text() {
        let mut sighting = sample("192.0.2.1", 0, "Sober", "Q1");
        sighting.headers = Some("X-Trap: --=_wormsign_5_arf-192.0.2.1_32\r\n".to_string());
        let report = Report {
            network: "192.0.2.1/32".parse().unwrap(),
            group_by: GroupBy::Ip,
            sightings: vec![sighting],
            listings: Vec::new(),
        };
        let envelope = Envelope {
            from: "a@example.org".to_string(),
            to: None,
            zone: None,
        };
        let text = render(&report, &envelope, 5);
        assert!(
            text.contains("boundary=\"=_wormsign_5_arf-192.0.2.1_32_\""),
            "{text}"
        );
        assert!(!text.contains("\r\nTo:"), "{text}");
    }
}
