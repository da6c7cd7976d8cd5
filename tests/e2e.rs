//! End to end: real Postfix and Sendmail on loopback with `wormsign run`
//! attached, the fixture mails sent over SMTP, and the verdicts read back
//! from the delivered maildir files, the SQLite database and the export.
//!
//! Each fixture's newest Received header is the one a front MX would write
//! when relaying to the test MTA over loopback; below it is a forged older
//! header. The test MTA's own client is 127.0.0.1 (trusted), so the origin
//! must be the client of the newest header, never the forged one and never
//! loopback.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{DOMAIN, ExpectedVerdict, Milter, Postfix, Sendmail, smtp_send, wormsign_bin};

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

struct Fixture {
    expected: ExpectedVerdict,
    data: Vec<u8>,
    message_id: String,
}

fn fixtures() -> Vec<Fixture> {
    let dir = common::repo_root().join("tests/fixtures/e2e");
    let expected = common::expected_verdicts("tests/fixtures/e2e");
    assert_eq!(expected.len(), 4, "the e2e corpus has mails (a) to (d)");
    expected
        .into_iter()
        .map(|expected| {
            let data = std::fs::read(dir.join(&expected.file)).expect("read fixture");
            let message_id = header_value(&data, "Message-ID")
                .unwrap_or_else(|| panic!("{} has no Message-ID", expected.file));
            Fixture {
                expected,
                data,
                message_id,
            }
        })
        .collect()
}

/// First value of header `name` in the header block of `message`, unfolded.
fn header_value(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let mut found: Option<String> = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(value) = found.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((field, value)) = line.split_once(':')
            && field.eq_ignore_ascii_case(name)
        {
            found = Some(value.trim().to_string());
        }
    }
    found
}

fn all_header_values(message: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(message);
    let header_block = text
        .split("\n\n")
        .next()
        .unwrap_or("")
        .replace("\r\n", "\n");
    header_block
        .split('\n')
        .filter_map(|line| line.split_once(':'))
        .filter(|(field, _)| field.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_string())
        .collect()
}

fn send_all(port: u16, fixtures: &[Fixture]) {
    let recipient = format!("alice@{DOMAIN}");
    for fixture in fixtures {
        smtp_send(port, "sender@example.net", &[&recipient], &fixture.data)
            .unwrap_or_else(|e| panic!("sending {} failed: {e}", fixture.expected.file));
    }
}

/// Checks the X-Wormsign header of each delivered message against its fixture.
fn check_headers(delivered: &[Vec<u8>], fixtures: &[Fixture], milter_log: &str) {
    assert_eq!(delivered.len(), fixtures.len(), "milter log:\n{milter_log}");
    for fixture in fixtures {
        let message = delivered
            .iter()
            .find(|m| header_value(m, "Message-ID").as_deref() == Some(&fixture.message_id))
            .unwrap_or_else(|| panic!("{} was not delivered", fixture.expected.file));
        let verdicts = all_header_values(message, "X-Wormsign");
        assert_eq!(
            verdicts.len(),
            1,
            "{}: X-Wormsign headers {verdicts:?}\nmilter log:\n{milter_log}",
            fixture.expected.file
        );
        let verdict = &verdicts[0];
        let expected = &fixture.expected;
        if expected.verdict == "clean" {
            assert_eq!(verdict, "clean", "{}", expected.file);
            continue;
        }
        let family = expected
            .family
            .as_deref()
            .expect("infected fixture has a family");
        let variant = expected.variant.as_deref().unwrap_or("unknown");
        let prefix = format!("infected; family={family}; variant={variant}; rule=");
        assert!(verdict.starts_with(&prefix), "{}: {verdict}", expected.file);
        assert!(
            verdict.ends_with(&format!("; origin={}", expected.newest_hop_ip)),
            "{}: {verdict}",
            expected.file
        );
    }
}

#[derive(Debug)]
struct Row {
    origin_ip: String,
    origin_method: String,
    family: String,
    variant: Option<String>,
    message_id: Option<String>,
    queue_id: Option<String>,
}

fn sightings(database: &Path) -> Vec<Row> {
    let connection = rusqlite::Connection::open(database).expect("open sightings database");
    let mut statement = connection
        .prepare(
            "SELECT origin_ip, origin_method, family, variant, message_id, queue_id FROM sightings",
        )
        .expect("prepare query");
    statement
        .query_map([], |row| {
            Ok(Row {
                origin_ip: row.get(0)?,
                origin_method: row.get(1)?,
                family: row.get(2)?,
                variant: row.get(3)?,
                message_id: row.get(4)?,
                queue_id: row.get(5)?,
            })
        })
        .expect("query sightings")
        .collect::<Result<_, _>>()
        .expect("read sightings")
}

fn check_sightings(database: &Path, fixtures: &[Fixture]) {
    let rows = sightings(database);
    let listed: Vec<&Fixture> = fixtures.iter().filter(|f| f.expected.listed).collect();
    // The EICAR fixture is infected but records no sighting.
    assert_eq!(rows.len(), 2, "sightings: {rows:?}");
    assert_eq!(rows.len(), listed.len(), "sightings: {rows:?}");
    for fixture in &listed {
        let expected = &fixture.expected;
        let row = rows
            .iter()
            .find(|r| {
                r.message_id.as_deref().map(|id| format!("<{id}>"))
                    == Some(fixture.message_id.clone())
            })
            .unwrap_or_else(|| panic!("no sighting for {}: {rows:?}", expected.file));
        assert_eq!(row.origin_ip, expected.newest_hop_ip, "{}", expected.file);
        assert_ne!(row.origin_ip, expected.forged_ip, "{}", expected.file);
        assert_ne!(row.origin_ip, "127.0.0.1", "{}", expected.file);
        assert_eq!(row.origin_method, "received", "{}", expected.file);
        assert_eq!(
            Some(&row.family),
            expected.family.as_ref(),
            "{}",
            expected.file
        );
        assert_eq!(row.variant, expected.variant, "{}", expected.file);
        assert!(
            row.queue_id.as_deref().is_some_and(|id| !id.is_empty()),
            "{}: queue id missing: {row:?}",
            expected.file
        );
    }
}

fn check_rbldnsd_export(database: &Path, fixtures: &[Fixture]) {
    let output = Command::new(wormsign_bin())
        .args([
            "export",
            "--format",
            "rbldnsd",
            "--list-documentation-ranges",
        ])
        .arg("--database")
        .arg(database)
        .output()
        .expect("run wormsign export");
    assert!(
        output.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("export is UTF-8");
    let entries: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with(['#', '$', ':']) && !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for fixture in fixtures {
        let ip = fixture.expected.newest_hop_ip.as_str();
        if fixture.expected.listed {
            assert!(entries.contains(ip), "{ip} missing from export:\n{text}");
        } else {
            assert!(
                !entries.contains(ip),
                "{ip} of {} listed:\n{text}",
                fixture.expected.file
            );
        }
        assert!(
            !entries.contains(fixture.expected.forged_ip.as_str()),
            "{text}"
        );
    }
    assert!(
        entries.contains("127.0.0.2"),
        "RFC 5782 test entry missing:\n{text}"
    );
    assert!(
        !entries.contains("127.0.0.1"),
        "127.0.0.1 must never be listed:\n{text}"
    );
}

#[test]
fn postfix_scans_records_and_exports() {
    let fixtures = fixtures();
    let mut milter = Milter::start("action = \"accept\"");
    let postfix = Postfix::start(Some(&milter.socket()));

    send_all(postfix.port(), &fixtures);
    let delivered = postfix.wait_for_messages("alice", fixtures.len(), DELIVERY_TIMEOUT);
    check_headers(&delivered, &fixtures, &milter.log());

    // Stopping drains the writer task, so every sighting is committed.
    let status = milter.stop();
    assert!(status.success(), "milter exit {status}:\n{}", milter.log());
    check_sightings(&milter.database(), &fixtures);
    check_rbldnsd_export(&milter.database(), &fixtures);

    let log = milter.log();
    assert!(log.contains("worm detected"), "{log}");
    assert!(log.contains("origin_ip=203.0.113.7"), "{log}");
}

#[test]
fn sendmail_gives_same_verdicts() {
    let fixtures = fixtures();
    let mut milter = Milter::start("action = \"accept\"");
    let sendmail = Sendmail::start(Some(&milter.socket()));

    send_all(sendmail.port(), &fixtures);
    let delivered = sendmail.wait_for_messages("alice", fixtures.len(), DELIVERY_TIMEOUT);
    check_headers(&delivered, &fixtures, &milter.log());

    let status = milter.stop();
    assert!(status.success(), "milter exit {status}:\n{}", milter.log());
    check_sightings(&milter.database(), &fixtures);
    check_rbldnsd_export(&milter.database(), &fixtures);
}

#[test]
fn postfix_delivers_when_milter_stopped() {
    let fixtures = fixtures();
    let mut milter = Milter::start("");
    let socket = milter.socket();
    let status = milter.stop();
    assert!(status.success(), "milter exit {status}:\n{}", milter.log());

    let postfix = Postfix::start(Some(&socket));
    send_all(postfix.port(), &fixtures);
    let delivered = postfix.wait_for_messages("alice", fixtures.len(), DELIVERY_TIMEOUT);
    for message in &delivered {
        assert!(all_header_values(message, "X-Wormsign").is_empty());
    }
    assert!(
        postfix.log().contains("connect to Milter service"),
        "Postfix should log the unreachable milter:\n{}",
        postfix.log()
    );
}

#[test]
fn reject_action_refuses_infected_mail() {
    let fixtures = fixtures();
    let milter = Milter::start("action = \"reject\"");
    let postfix = Postfix::start(Some(&milter.socket()));
    let recipient = format!("alice@{DOMAIN}");

    for fixture in &fixtures {
        let result = smtp_send(
            postfix.port(),
            "sender@example.net",
            &[&recipient],
            &fixture.data,
        );
        if fixture.expected.verdict == "infected" {
            let error = result.expect_err("infected mail must be rejected");
            assert!(
                error.starts_with("550 5.7.1"),
                "{}: {error}",
                fixture.expected.file
            );
            assert!(error.contains("rule"), "{}: {error}", fixture.expected.file);
        } else {
            result.unwrap_or_else(|e| panic!("{}: {e}", fixture.expected.file));
        }
    }
    let delivered = postfix.wait_for_messages("alice", 1, DELIVERY_TIMEOUT);
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        all_header_values(&delivered[0], "X-Wormsign"),
        vec!["clean".to_string()]
    );
}

#[test]
fn quarantine_action_holds_infected_mail() {
    let fixtures = fixtures();
    let milter = Milter::start("action = \"quarantine\"");
    let postfix = Postfix::start(Some(&milter.socket()));

    send_all(postfix.port(), &fixtures);
    let delivered = postfix.wait_for_messages("alice", 1, DELIVERY_TIMEOUT);
    // Give the queue manager time to deliver anything it wrongly released.
    std::thread::sleep(Duration::from_secs(2));
    let delivered_now = postfix.maildir_messages("alice");
    assert_eq!(delivered.len(), 1, "only the clean mail is delivered");
    assert_eq!(delivered_now.len(), 1, "only the clean mail is delivered");

    let hold = postfix.dir().join("spool/hold");
    let held = std::fs::read_dir(&hold)
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(held, 3, "three infected mails in {}", hold.display());
}

#[test]
fn forged_verdict_header_is_replaced() {
    let fixtures = fixtures();
    let milter = Milter::start("");
    let postfix = Postfix::start(Some(&milter.socket()));
    let infected = fixtures
        .iter()
        .find(|f| f.expected.file.starts_with("a-"))
        .expect("fixture a");
    let mut forged = b"X-Wormsign: clean\r\n".to_vec();
    forged.extend_from_slice(&infected.data);

    let recipient = format!("alice@{DOMAIN}");
    smtp_send(postfix.port(), "sender@example.net", &[&recipient], &forged).expect("send");
    let delivered = postfix.wait_for_messages("alice", 1, DELIVERY_TIMEOUT);
    let verdicts = all_header_values(&delivered[0], "X-Wormsign");
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    assert!(verdicts[0].starts_with("infected;"), "{verdicts:?}");
}

/// Runs a command and returns its stdout, panicking with its stderr on failure.
fn run_ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A private rbldnsd on 127.0.0.1, killed on drop.
struct Rbldnsd {
    child: std::process::Child,
    port: u16,
}

impl Rbldnsd {
    fn start(zone: &str, ip4set: &Path, ip6trie: &Path) -> Rbldnsd {
        common::require_tool("rbldnsd");
        let port = common::free_port();
        // rbldnsd refuses to run as root and drops to -u; the data files
        // must be readable by that user.
        let child = Command::new("rbldnsd")
            .args(["-n", "-u", "nobody", "-b"])
            .arg(format!("127.0.0.1/{port}"))
            .arg(format!("{zone}:ip4set:{}", ip4set.display()))
            .arg(format!("{zone}:ip6trie:{}", ip6trie.display()))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start rbldnsd");
        let server = Rbldnsd { child, port };
        for _ in 0..100 {
            if server.query("2.0.0.127", "A").1.contains("127.0.0.2") {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("rbldnsd on port {port} did not answer for 2.0.0.127");
    }

    /// Returns dig's status line and short answers for `name` under the
    /// test zone; both are empty when the server did not answer.
    fn query(&self, name: &str, kind: &str) -> (String, String) {
        let dig = |extra: &[&str]| {
            let output = Command::new("dig")
                .args([
                    "@127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "+tries=1",
                    "+time=2",
                ])
                .args(extra)
                .arg(format!("{name}.bl.wormsign.test"))
                .arg(kind)
                .output()
                .expect("run dig");
            String::from_utf8_lossy(&output.stdout).into_owned()
        };
        let full = dig(&[]);
        let status = full
            .lines()
            .find(|l| l.contains("status:"))
            .unwrap_or("")
            .to_string();
        (status, dig(&["+short"]))
    }
}

impl Drop for Rbldnsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reversed(ip: &str) -> String {
    ip.split('.').rev().collect::<Vec<_>>().join(".")
}

#[test]
fn rbldnsd_serves_export() {
    common::require_tool("dig");
    let fixtures = fixtures();
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("wormsign.db");
    let fixture_dir = common::repo_root().join("tests/fixtures/e2e");

    // Offline there is no SMTP client: the newest Received header's client
    // is the first relay, the same origin the milter finds behind loopback.
    let scan = Command::new(wormsign_bin())
        .args(["scan", "--record", "--database"])
        .arg(&database)
        .arg(&fixture_dir)
        .output()
        .expect("run wormsign scan");
    assert_eq!(scan.status.code(), Some(1), "infected messages give exit 1");

    let ip4 = dir.path().join("bl.ip4");
    run_ok(
        Command::new(wormsign_bin())
            .args([
                "export",
                "--format",
                "rbldnsd",
                "--list-documentation-ranges",
            ])
            .arg("--database")
            .arg(&database)
            .arg("--output")
            .arg(&ip4),
    );
    let ip6 = dir.path().join("bl.ip46");
    assert!(ip6.exists(), "IPv6 data set written beside the IPv4 one");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("make the directory readable for rbldnsd");

    let server = Rbldnsd::start("bl.wormsign.test", &ip4, &ip6);
    let (status, answer) = server.query("2.0.0.127", "A");
    assert!(status.contains("NOERROR"), "{status}");
    assert_eq!(answer.trim(), "127.0.0.2");
    let (status, _) = server.query("1.0.0.127", "A");
    assert!(status.contains("NXDOMAIN"), "{status}");

    for fixture in &fixtures {
        let name = reversed(&fixture.expected.newest_hop_ip);
        let (status, answer) = server.query(&name, "A");
        if fixture.expected.listed {
            assert_eq!(
                answer.trim(),
                "127.0.0.2",
                "{}: {status}",
                fixture.expected.file
            );
            let (_, txt) = server.query(&name, "TXT");
            assert!(
                txt.contains(&fixture.expected.newest_hop_ip),
                "{}: TXT {txt}",
                fixture.expected.file
            );
        } else {
            assert!(
                status.contains("NXDOMAIN"),
                "{}: {status}",
                fixture.expected.file
            );
        }
        let (status, _) = server.query(&reversed(&fixture.expected.forged_ip), "A");
        assert!(status.contains("NXDOMAIN"), "forged IP listed: {status}");
    }
}
