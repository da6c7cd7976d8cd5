//! `wormsign report --format arf` and `wormsign stats` through the binary.
//! The ARF messages are parsed with mail-parser, as a receiving abuse desk's
//! tools would, and must carry every field RFC 5965 requires.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use wormsign::store::{self, Sighting};

const HOUR: i64 = 3600;
const HEADERS: &str = "Received: from pc (pc.example [192.0.2.10])\r\n\tby mx.example.org; Thu, 2 May 2024 00:00:00 +0000\r\n\
Subject: Ihr Passwort\r\nFrom: service@example.com\r\nMessage-ID: <worm1@pc.example>\r\n";

fn sighting(ip: &str, seen_at: i64, queue_id: &str) -> Sighting {
    Sighting {
        seen_at,
        origin_ip: ip.to_string(),
        origin_method: "connect".to_string(),
        family: "Sober".to_string(),
        variant: Some("P".to_string()),
        rule: "Sober_P_zip".to_string(),
        confidence: "high".to_string(),
        queue_id: Some(queue_id.to_string()),
        message_id: Some("<worm1@pc.example>".to_string()),
        client_ip: Some(ip.to_string()),
        helo: Some("pc".to_string()),
        envelope_from: Some("service@example.com".to_string()),
        size: 1000,
        headers: Some(HEADERS.to_string()),
        evidence: serde_json::json!({"matches": []}),
    }
}

fn prepare(dir: &Path) -> (PathBuf, PathBuf) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let database = dir.join("wormsign.db");
    let mut conn = store::open(&database).expect("open database");
    store::insert_batch(
        &mut conn,
        &[
            sighting("192.0.2.10", now - 2 * HOUR, "Q1"),
            sighting("192.0.2.10", now - HOUR, "Q2"),
            sighting("192.0.2.11", now - HOUR, "Q3"),
            sighting("10.0.0.5", now - HOUR, "Q4"),
        ],
    )
    .expect("insert sightings");
    let config = dir.join("wormsign.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"{}\"\n[listing]\nlist_documentation_ranges = true\n",
            database.display()
        ),
    )
    .expect("write config");
    (database, config)
}

fn run_ok(args: &[&str], config: &Path) -> String {
    let output = Command::new(common::wormsign_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run wormsign");
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Returns the value of `name` in a header block such as the body of the
/// `message/feedback-report` part.
fn field<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[test]
fn arf_reports_parse_with_required_fields() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let reports = dir.path().join("reports");
    let reports_arg = reports.to_str().expect("UTF-8 path");
    run_ok(
        &[
            "report",
            "--format",
            "arf",
            "--since",
            "1d",
            "--group-by",
            "net24",
            "--output",
            reports_arg,
            "--from",
            "abuse-reports@example.org",
            "--to",
            "abuse@example.net",
        ],
        &config,
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&reports)
        .expect("read report directory")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    assert_eq!(
        files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        ["arf-192.0.2.0_24.eml"],
        "one report for the /24, none for the private address"
    );

    let bytes = std::fs::read(&files[0]).expect("read report");
    let message = MessageParser::default().parse(&bytes).expect("parse ARF");
    let content_type = message.content_type().expect("Content-Type");
    assert_eq!(content_type.ctype(), "multipart");
    assert_eq!(content_type.subtype(), Some("report"));
    assert_eq!(
        content_type.attribute("report-type"),
        Some("feedback-report")
    );
    assert_eq!(
        message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("abuse-reports@example.org")
    );
    assert!(message.date().is_some(), "Date header");
    assert!(
        message
            .subject()
            .is_some_and(|s| s.contains("192.0.2.0/24"))
    );

    // Part 0 is the multipart itself; then text, feedback report, headers.
    let parts = &message.parts;
    assert_eq!(
        parts.len(),
        4,
        "{:#?}",
        parts.iter().map(|p| p.content_type()).collect::<Vec<_>>()
    );
    let kind = |index: usize| {
        let ct = parts[index].content_type().expect("part Content-Type");
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
    };
    assert_eq!(kind(1), "text/plain");
    assert_eq!(kind(2), "message/feedback-report");
    assert_eq!(kind(3), "text/rfc822-headers");

    let human = String::from_utf8_lossy(parts[1].contents());
    assert!(
        human.contains("3 message(s) infected with Sober"),
        "{human}"
    );
    assert!(human.contains("192.0.2.11"), "{human}");
    assert!(human.contains("Sober_P_zip"), "{human}");
    assert!(human.contains("To clean it up"), "{human}");

    let report = match &parts[2].body {
        PartType::Text(text) => text.to_string(),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        other => panic!("unexpected feedback-report body: {other:?}"),
    };
    assert_eq!(field(&report, "Feedback-Type"), Some("virus"), "{report}");
    assert_eq!(field(&report, "Version"), Some("1"), "{report}");
    assert!(field(&report, "User-Agent").is_some_and(|v| v.starts_with("wormsign/")));
    assert_eq!(field(&report, "Source-IP"), Some("192.0.2.11"), "{report}");
    assert!(
        field(&report, "Arrival-Date").is_some_and(|v| v.ends_with("+0000")),
        "{report}"
    );
    assert_eq!(field(&report, "Incidents"), Some("3"), "{report}");
    assert_eq!(
        field(&report, "X-Wormsign-Rule"),
        Some("Sober_P_zip"),
        "{report}"
    );

    let headers = String::from_utf8_lossy(parts[3].contents());
    assert!(headers.contains("Subject: Ihr Passwort"), "{headers}");
    assert!(
        headers.contains("Message-ID: <worm1@pc.example>"),
        "{headers}"
    );
}

#[test]
fn report_rejects_unknown_group() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let output = Command::new(common::wormsign_bin())
        .arg("--config")
        .arg(&config)
        .args(["report", "--group-by", "asn", "--output"])
        .arg(dir.path().join("r"))
        .output()
        .expect("run wormsign");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"asn\""), "{stderr}");
}

#[test]
fn stats_prints_table() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let text = run_ok(&["stats"], &config);
    assert!(
        text.contains("Listed hosts:  2 (IPv4 2, IPv6 /64 0)"),
        "{text}"
    );
    assert!(text.contains("Sightings:     4 stored"), "{text}");
    assert!(text.contains("Sober.P"), "{text}");
    assert!(text.contains("192.0.2.0/24"), "{text}");
    assert!(text.contains("Export freshness:"), "{text}");
}

/// Writes worm mails with hostile header blocks (placeholder `MZ`
/// attachments, as in the positive corpus), records them with `scan
/// --record` and returns the ARF report written for `origin`.
fn report_for_hostile_mail(dir: &Path, mails: &[(&str, Vec<u8>)], origin: &str) -> Vec<u8> {
    let database = dir.join("wormsign.db");
    let config = dir.join("wormsign.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"{}\"\n[listing]\nlist_documentation_ranges = true\n",
            database.display()
        ),
    )
    .expect("write config");
    let mail_dir = dir.join("mail");
    std::fs::create_dir(&mail_dir).expect("create mail directory");
    for (name, bytes) in mails {
        std::fs::write(mail_dir.join(name), bytes).expect("write mail");
    }
    let output = Command::new(common::wormsign_bin())
        .arg("--config")
        .arg(&config)
        .args(["scan", "--record"])
        .arg(&mail_dir)
        .output()
        .expect("run wormsign scan");
    assert_eq!(
        output.status.code(),
        Some(1),
        "every mail must be infected: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let reports = dir.join("reports");
    run_ok(
        &[
            "report",
            "--format",
            "arf",
            "--output",
            reports.to_str().expect("UTF-8 path"),
        ],
        &config,
    );
    std::fs::read(reports.join(format!("arf-{origin}_32.eml"))).expect("read report")
}

fn odin_worm_mail() -> Vec<u8> {
    let path = common::repo_root().join("tests/fixtures/corpus/positive/a-odin-worm.eml");
    std::fs::read(path).expect("read positive fixture")
}

/// Returns the body of the `text/rfc822-headers` part of an ARF message.
fn rfc822_headers_part(report: &[u8]) -> String {
    let message = MessageParser::default().parse(report).expect("parse ARF");
    assert_eq!(message.parts.len(), 4, "multipart plus three parts");
    let part = &message.parts[3];
    let content_type = part.content_type().expect("part Content-Type");
    assert_eq!(content_type.subtype(), Some("rfc822-headers"));
    String::from_utf8_lossy(part.contents()).into_owned()
}

#[test]
fn arf_bare_cr_mail_attaches_headers_only() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let bare_cr: Vec<u8> = odin_worm_mail()
        .into_iter()
        .map(|b| if b == b'\n' { b'\r' } else { b })
        .collect();
    let report = report_for_hostile_mail(dir.path(), &[("bare-cr.eml", bare_cr)], "203.0.113.10");

    let headers = rfc822_headers_part(&report);
    assert!(
        headers.contains("X-Mailer: Safety_Mail Server"),
        "{headers}"
    );
    assert!(
        !headers.contains("TVog"),
        "the base64 attachment must stay out of the report: {headers}"
    );
    assert!(!headers.contains("Hallo,"), "{headers}");
    assert!(!report.contains(&0), "no NUL in the report");
    for line in report.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(
            !line.contains(&b'\r'),
            "bare CR: {:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn arf_hostile_headers_stay_well_formed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mail = odin_worm_mail();
    let split = mail
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("blank line");
    let mut hostile = mail[..split].to_vec();
    hostile.extend_from_slice(b"\nX-Long: ");
    hostile.extend_from_slice(&b"A".repeat(5000));
    hostile.extend_from_slice(
        b"\nX-Bin: \xff\xfe\x00nul\rcr\nX-Trap: --=_wormsign_\nFrom bad line\nX-After: body",
    );
    hostile.extend_from_slice(&mail[split..]);
    let report = report_for_hostile_mail(dir.path(), &[("hostile.eml", hostile)], "203.0.113.10");

    for line in report.split(|&b| b == b'\n') {
        assert!(line.len() <= 1000, "line of {} octets", line.len());
    }
    assert!(!report.contains(&0), "no NUL in the report");
    let headers = rfc822_headers_part(&report);
    assert_eq!(
        headers.matches('A').count() - mail[..split].iter().filter(|&&b| b == b'A').count(),
        5000,
        "the long field is folded, not cut"
    );
    assert!(headers.contains("X-Bin: "), "{headers}");
    assert!(
        !headers.contains("From bad line"),
        "the part carries header fields only: {headers}"
    );
    assert!(!headers.contains("X-After"), "{headers}");
}
