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
    assert_eq!(
        message.subject(),
        Some("Worm-infected hosts in 192.0.2.0/24 (2 hosts, 3 message(s), Sober)")
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
    assert!(human.contains("from 2 hosts in 192.0.2.0/24"), "{human}");
    assert!(
        human.contains("The feedback report below covers 192.0.2.11 only."),
        "{human}"
    );
    let host_row = |ip: &str| {
        human
            .lines()
            .find(|line| line.starts_with(&format!("{ip} ")))
            .unwrap_or_else(|| panic!("no host row for {ip}: {human}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    let row = host_row("192.0.2.10");
    assert_eq!(row[1], "2", "messages of 192.0.2.10: {row:?}");
    assert_eq!(row[4], "Sober_P_zip", "{row:?}");
    assert_ne!(row[2], row[3], "first and last seen differ: {row:?}");
    assert_eq!(host_row("192.0.2.11")[1], "1", "{human}");

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
    assert_eq!(
        field(&report, "Incidents"),
        Some("1"),
        "Incidents counts the Source-IP host's messages only: {report}"
    );
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

/// Runs `wormsign report` with `config` and the extra `args`, and returns
/// the names of the report files written.
fn report_files(dir: &Path, config: &Path, args: &[&str]) -> Vec<String> {
    let reports = dir.join("reports");
    let _ = std::fs::remove_dir_all(&reports);
    let mut all = vec![
        "report",
        "--output",
        reports.to_str().expect("UTF-8 path"),
        "--from",
        "abuse-reports@example.org",
    ];
    all.extend_from_slice(args);
    run_ok(&all, config);
    let mut names: Vec<String> = std::fs::read_dir(&reports)
        .expect("read report directory")
        .map(|entry| {
            let entry = entry.expect("directory entry");
            entry.file_name().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names
}

fn insert(database: &Path, sightings: &[Sighting]) {
    let mut conn = store::open(database).expect("open database");
    store::insert_batch(&mut conn, sightings).expect("insert sightings");
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn report_skips_delisted_hosts() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (database, config) = prepare(dir.path());
    insert(&database, &[sighting("2001:db8:5::7", now() - HOUR, "Q6")]);
    assert_eq!(
        report_files(dir.path(), &config, &[]),
        [
            "arf-192.0.2.10_32.eml",
            "arf-192.0.2.11_32.eml",
            "arf-2001_db8_5__7_128.eml"
        ]
    );

    run_ok(&["delist", "192.0.2.10", "--reason", "cleaned"], &config);
    // Another address of the same /64 delists the whole /64.
    run_ok(&["delist", "2001:db8:5::1", "--reason", "cleaned"], &config);
    assert_eq!(
        report_files(dir.path(), &config, &["--since", "30d"]),
        ["arf-192.0.2.11_32.eml"]
    );
}

#[test]
fn report_lists_host_again_after_new_sighting() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (database, config) = prepare(dir.path());
    run_ok(&["delist", "192.0.2.10", "--reason", "cleaned"], &config);
    // Delistings are stored in whole seconds, so a sighting two seconds
    // from now is after the delisting.
    insert(&database, &[sighting("192.0.2.10", now() + 2, "Q7")]);

    let files = report_files(dir.path(), &config, &[]);
    assert_eq!(files, ["arf-192.0.2.10_32.eml", "arf-192.0.2.11_32.eml"]);
    let bytes =
        std::fs::read(dir.path().join("reports/arf-192.0.2.10_32.eml")).expect("read report");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("\r\nIncidents: 1\r\n"),
        "only the sighting after the delisting counts: {text}"
    );
    assert!(text.contains("received 1 message(s)"), "{text}");
}

#[test]
fn report_needs_min_sightings() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (database, config) = prepare(dir.path());
    std::fs::write(
        &config,
        format!(
            "database = \"{}\"\n[listing]\nlist_documentation_ranges = true\nmin_sightings = 2\n",
            database.display()
        ),
    )
    .expect("write config");
    assert_eq!(
        report_files(dir.path(), &config, &[]),
        ["arf-192.0.2.10_32.eml"],
        "192.0.2.11 has one sighting, below min_sightings"
    );
    let plain = run_ok(&["export", "--format", "plain"], &config);
    assert_eq!(plain.trim(), "192.0.2.10", "export lists the same host");
}

#[test]
fn report_skips_expired_listing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (database, config) = prepare(dir.path());
    // Inside the 30-day window, but past the 168-hour expiry.
    insert(
        &database,
        &[sighting("203.0.113.20", now() - 200 * HOUR, "Q8")],
    );
    let files = report_files(dir.path(), &config, &[]);
    assert_eq!(files, ["arf-192.0.2.10_32.eml", "arf-192.0.2.11_32.eml"]);
}

#[test]
fn report_names_zone_and_lookup_url() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (database, config) = prepare(dir.path());
    std::fs::write(
        &config,
        format!(
            "database = \"{}\"\n[listing]\nlist_documentation_ranges = true\n\
             txt_template = \"Worm host $, see https://bl.example.org/lookup?ip=$\"\n\
             txt_details = false\n[export]\nzone = \"bl.example.org\"\n",
            database.display()
        ),
    )
    .expect("write config");
    report_files(dir.path(), &config, &[]);
    let bytes =
        std::fs::read(dir.path().join("reports/arf-192.0.2.10_32.eml")).expect("read report");
    let message = MessageParser::default().parse(&bytes).expect("parse ARF");
    let human = String::from_utf8_lossy(message.parts[1].contents()).into_owned();
    assert!(
        human.contains("listed in the DNSBL zone bl.example.org"),
        "{human}"
    );
    assert!(
        human.contains("dig +short 10.2.0.192.bl.example.org A"),
        "{human}"
    );
    assert!(
        human.contains("Worm host 192.0.2.10, see https://bl.example.org/lookup?ip=192.0.2.10"),
        "{human}"
    );
}

#[test]
fn report_names_dnsbl_zone_without_export_zone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (database, config) = prepare(dir.path());
    std::fs::write(
        &config,
        format!(
            "database = \"{}\"\n[listing]\nlist_documentation_ranges = true\n\
             [dnsbl]\nzone = \"dnsbl.example.net\"\n",
            database.display()
        ),
    )
    .expect("write config");
    report_files(dir.path(), &config, &[]);
    let bytes =
        std::fs::read(dir.path().join("reports/arf-192.0.2.10_32.eml")).expect("read report");
    let message = MessageParser::default().parse(&bytes).expect("parse ARF");
    let human = String::from_utf8_lossy(message.parts[1].contents()).into_owned();
    assert!(
        human.contains("dig +short 10.2.0.192.dnsbl.example.net A"),
        "{human}"
    );
}

#[test]
fn report_text_columns_line_up() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    report_files(dir.path(), &config, &[]);
    let bytes =
        std::fs::read(dir.path().join("reports/arf-192.0.2.10_32.eml")).expect("read report");
    let message = MessageParser::default().parse(&bytes).expect("parse ARF");
    let human = String::from_utf8_lossy(message.parts[1].contents()).into_owned();
    let header = human
        .lines()
        .find(|line| line.starts_with("Time (UTC)"))
        .unwrap_or_else(|| panic!("no table header: {human}"));
    let rows: Vec<&str> = human
        .lines()
        .filter(|line| line.contains("Sober_P_zip (connect)"))
        .collect();
    assert_eq!(rows.len(), 2, "{human}");
    for column in ["Origin IP", "Family/variant", "Rule (origin found via)"] {
        let start = header.find(column).expect("column in header");
        for row in &rows {
            assert!(
                row[..start].ends_with("  ") && !row[start..].starts_with(' '),
                "{column:?} starts at {start} in the header but not in {row:?}"
            );
        }
    }
    assert!(
        rows[0].starts_with(&format!("{} ", &rows[0][..20])) && rows[0][..20].ends_with('Z'),
        "RFC 3339 UTC time: {:?}",
        rows[0]
    );
}

#[test]
fn report_rejects_invalid_from() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    for (flag, value) in [("--from", "not an address"), ("--to", "abuse")] {
        let output = Command::new(common::wormsign_bin())
            .arg("--config")
            .arg(&config)
            .args(["report", flag, value, "--output"])
            .arg(dir.path().join("r"))
            .output()
            .expect("run wormsign");
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("invalid {flag} \"{value}\"")),
            "{stderr}"
        );
        assert!(
            !dir.path().join("r").exists(),
            "no report written for {flag}"
        );
    }
}
