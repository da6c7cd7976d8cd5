//! The DNS exports served by the real tools: rbldnsd loads the exported
//! data sets and `dig` checks the answers, and `named-checkzone` accepts the
//! BIND zone. The database is filled through the library, the export runs
//! through the `wormsign` binary with a config file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wormsign::store::{self, Sighting};

const ZONE: &str = "bl.wormsign.test";
const HOUR: i64 = 3600;

/// A listed IPv4 host with two sightings.
const LISTED: &str = "192.0.2.10";
/// A listed host whose only family maps to its own return code.
const LISTED_OTHER_CODE: &str = "192.0.2.20";
/// Last seen 10 days ago: past the 7-day expiry.
const EXPIRED: &str = "192.0.2.30";
/// Delisted with `wormsign delist` after its sightings.
const DELISTED: &str = "192.0.2.40";
/// In the config's allowlist.
const ALLOWLISTED: &str = "198.51.100.50";
/// In the config's trusted networks.
const TRUSTED: &str = "203.0.113.60";
/// A private address that must never appear.
const PRIVATE: &str = "10.9.8.7";
/// A listed IPv6 host; its /64 is listed.
const LISTED_V6: &str = "2001:db8:5:6::77";

fn sighting(ip: &str, seen_at: i64, family: &str, queue_id: &str) -> Sighting {
    Sighting {
        seen_at,
        origin_ip: ip.to_string(),
        origin_method: "connect".to_string(),
        family: family.to_string(),
        variant: None,
        rule: format!("{family}_attachment"),
        confidence: "high".to_string(),
        queue_id: Some(queue_id.to_string()),
        message_id: Some(format!("<{queue_id}@example.org>")),
        client_ip: Some(ip.to_string()),
        helo: Some("pc.example".to_string()),
        envelope_from: Some("someone@example.com".to_string()),
        size: 1000,
        headers: Some("Subject: test\r\n".to_string()),
        evidence: serde_json::json!({"matches": []}),
    }
}

/// Creates the database and config in `dir` and delists [`DELISTED`].
fn prepare(dir: &Path) -> (PathBuf, PathBuf) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let database = dir.join("wormsign.db");
    let mut conn = store::open(&database).expect("open database");
    let sightings = [
        sighting(LISTED, now - 2 * HOUR, "Sober", "Q1"),
        sighting(LISTED, now - HOUR, "Sober", "Q2"),
        sighting(LISTED_OTHER_CODE, now - HOUR, "Mydoom", "Q3"),
        sighting(EXPIRED, now - 10 * 24 * HOUR, "Sober", "Q4"),
        sighting(DELISTED, now - 3 * HOUR, "Sober", "Q5"),
        sighting(ALLOWLISTED, now - HOUR, "Sober", "Q6"),
        sighting(TRUSTED, now - HOUR, "Sober", "Q7"),
        sighting(PRIVATE, now - HOUR, "Sober", "Q8"),
        sighting(LISTED_V6, now - HOUR, "Sober", "Q9"),
    ];
    store::insert_batch(&mut conn, &sightings).expect("insert sightings");
    drop(conn);

    let config = dir.join("wormsign.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"{database}\"\n\
             trusted_networks = [\"203.0.113.0/24\"]\n\
             [listing]\n\
             allowlist = [\"198.51.100.0/24\"]\n\
             list_documentation_ranges = true\n\
             txt_template = \"Worm mail from $, see https://lookup.example/?ip=$\"\n\
             [[listing.return_codes]]\n\
             family = \"Mydoom\"\n\
             code = \"127.0.0.3\"\n\
             [export]\n\
             zone = \"{ZONE}\"\n\
             nameservers = [\"ns1.example.org\", \"ns2.example.org\"]\n",
            database = database.display()
        ),
    )
    .expect("write config");
    run_ok(wormsign(&config).args(["delist", DELISTED, "--reason", "owner cleaned the PC"]));
    (database, config)
}

fn wormsign(config: &Path) -> Command {
    let mut command = Command::new(common::wormsign_bin());
    command.arg("--config").arg(config);
    command
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("run command");
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
    fn start(ip4set: &Path, ip6trie: &Path) -> Rbldnsd {
        Rbldnsd::start_with("ip4set", ip4set, ip6trie)
    }

    /// Starts rbldnsd with the IPv4 file loaded as data set type `ip4_kind`,
    /// such as `ip4set` or `ip4tset`.
    fn start_with(ip4_kind: &str, ip4: &Path, ip6trie: &Path) -> Rbldnsd {
        common::require_tool("rbldnsd");
        let port = common::free_port();
        // rbldnsd drops root privileges to -u; the files must be readable
        // by that user. `-c 1` checks the files for changes every second.
        let child = Command::new("rbldnsd")
            .args(["-n", "-u", "nobody", "-c", "1", "-b"])
            .arg(format!("127.0.0.1/{port}"))
            .arg(format!("{ZONE}:{ip4_kind}:{}", ip4.display()))
            .arg(format!("{ZONE}:ip6trie:{}", ip6trie.display()))
            .stdout(Stdio::null())
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

    /// Returns dig's status line and short answer for `name` under the zone
    /// (`name` empty for the apex).
    fn query(&self, name: &str, kind: &str) -> (String, String) {
        let fqdn = if name.is_empty() {
            ZONE.to_string()
        } else {
            format!("{name}.{ZONE}")
        };
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
                .arg(&fqdn)
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
        (status, dig(&["+short"]).trim().to_string())
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

/// Returns the 32 nibbles of an IPv6 address, reversed, as a DNSBL query
/// name.
fn nibbles(ip: &str) -> String {
    let value = u128::from(ip.parse::<std::net::Ipv6Addr>().expect("IPv6 address"));
    (0..32)
        .rev()
        .map(|index| format!("{:x}", (value >> (4 * (31 - index))) & 0xf))
        .collect::<Vec<_>>()
        .join(".")
}

#[test]
fn rbldnsd_serves_policy_export() {
    common::require_tool("dig");
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let ip4 = dir.path().join("bl.ip4");
    let ip6 = dir.path().join("bl.ip6");
    run_ok(
        wormsign(&config)
            .args(["export", "--format", "rbldnsd", "--output"])
            .arg(&ip4)
            .arg("--output6")
            .arg(&ip6),
    );
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("make the directory readable for rbldnsd");
    let server = Rbldnsd::start(&ip4, &ip6);

    // RFC 5782 test entries.
    assert_eq!(server.query("2.0.0.127", "A").1, "127.0.0.2");
    assert!(server.query("1.0.0.127", "A").0.contains("NXDOMAIN"));
    let test_v6 = nibbles("::ffff:127.0.0.2");
    assert_eq!(server.query(&test_v6, "A").1, "127.0.0.2");
    let unlisted_v6 = nibbles("::ffff:127.0.0.1");
    assert!(server.query(&unlisted_v6, "A").0.contains("NXDOMAIN"));

    // Listed hosts with their return code and TXT.
    assert_eq!(server.query(&reversed(LISTED), "A").1, "127.0.0.2");
    let (_, txt) = server.query(&reversed(LISTED), "TXT");
    assert!(
        txt.contains(&format!("https://lookup.example/?ip={LISTED}")),
        "TXT {txt}"
    );
    assert!(txt.contains("Sober; last seen"), "TXT {txt}");
    assert_eq!(
        server.query(&reversed(LISTED_OTHER_CODE), "A").1,
        "127.0.0.3"
    );

    // The whole /64 of the IPv6 host answers.
    assert_eq!(server.query(&nibbles(LISTED_V6), "A").1, "127.0.0.2");
    assert_eq!(
        server.query(&nibbles("2001:db8:5:6::1"), "A").1,
        "127.0.0.2"
    );
    assert!(
        server
            .query(&nibbles("2001:db8:5:7::77"), "A")
            .0
            .contains("NXDOMAIN")
    );

    // Nothing for expired, delisted, allowlisted, trusted or private hosts.
    for ip in [EXPIRED, DELISTED, ALLOWLISTED, TRUSTED, PRIVATE] {
        let (status, answer) = server.query(&reversed(ip), "A");
        assert!(status.contains("NXDOMAIN"), "{ip}: {status} {answer}");
    }

    // SOA and NS at the apex come from the $SOA and $NS lines.
    let (_, soa) = server.query("", "SOA");
    assert!(
        soa.starts_with("ns1.example.org. hostmaster.bl.wormsign.test."),
        "SOA {soa}"
    );
    let (_, ns) = server.query("", "NS");
    assert!(ns.contains("ns2.example.org."), "NS {ns}");
}

#[test]
fn rbldnsd_serves_ip4tset_export() {
    common::require_tool("dig");
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let ip4 = dir.path().join("bl.ip4");
    let ip6 = dir.path().join("bl.ip6");
    run_ok(
        wormsign(&config)
            .args(["export", "--format", "rbldnsd", "--ip4tset", "--output"])
            .arg(&ip4)
            .arg("--output6")
            .arg(&ip6),
    );
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("make the directory readable for rbldnsd");
    let server = Rbldnsd::start_with("ip4tset", &ip4, &ip6);

    assert!(server.query("1.0.0.127", "A").0.contains("NXDOMAIN"));
    assert_eq!(server.query(&reversed(LISTED), "A").1, "127.0.0.2");
    // An ip4tset has one A value for all entries.
    assert_eq!(
        server.query(&reversed(LISTED_OTHER_CODE), "A").1,
        "127.0.0.2"
    );
    let (_, txt) = server.query(&reversed(LISTED), "TXT");
    assert!(
        txt.contains(&format!("https://lookup.example/?ip={LISTED}")),
        "TXT {txt}"
    );
    for ip in [EXPIRED, DELISTED, ALLOWLISTED, TRUSTED, PRIVATE] {
        let (status, answer) = server.query(&reversed(ip), "A");
        assert!(status.contains("NXDOMAIN"), "{ip}: {status} {answer}");
    }
}

#[test]
fn bind_zone_passes_named_checkzone() {
    common::require_tool("named-checkzone");
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let zone_file = dir.path().join("bl.zone");
    run_ok(
        wormsign(&config)
            .args(["export", "--format", "bind", "--output"])
            .arg(&zone_file),
    );
    let check = Command::new("named-checkzone")
        .args(["-k", "fail", "-n", "fail"])
        .arg(ZONE)
        .arg(&zone_file)
        .output()
        .expect("run named-checkzone");
    let text = std::fs::read_to_string(&zone_file).expect("read zone");
    assert!(
        check.status.success(),
        "named-checkzone rejected the zone: {}\n{text}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(
        text.contains(&format!("{} IN A 127.0.0.2", reversed(LISTED))),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} IN A 127.0.0.3", reversed(LISTED_OTHER_CODE))),
        "{text}"
    );
    assert!(
        text.contains("*.6.0.0.0.5.0.0.0.8.b.d.0.1.0.0.2 IN A 127.0.0.2"),
        "{text}"
    );
    for ip in [EXPIRED, DELISTED, ALLOWLISTED, TRUSTED, PRIVATE] {
        assert!(!text.contains(&reversed(ip)), "{ip} in zone:\n{text}");
    }
    assert!(!text.contains("1.0.0.127 "), "{text}");
    // The test entry's TXT is the config's template, as rbldnsd and
    // `wormsign dnsbl` answer it.
    assert!(
        text.contains(
            "2.0.0.127 IN TXT \"Worm mail from 127.0.0.2, see https://lookup.example/?ip=127.0.0.2\""
        ),
        "{text}"
    );
}

#[test]
fn ndjson_and_plain_follow_policy() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let plain = run_ok(wormsign(&config).args(["export", "--format", "plain"]));
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines, [LISTED, LISTED_OTHER_CODE, "2001:db8:5:6::/64"]);

    let ndjson = run_ok(wormsign(&config).args(["export", "--format", "ndjson"]));
    let rows: Vec<serde_json::Value> = ndjson
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(rows.len(), 4, "{ndjson}");
    for row in &rows {
        assert!(row["evidence"].is_object(), "{row}");
        assert!(
            row["seen_at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{row}"
        );
    }
    let origins: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["origin_ip"].as_str())
        .collect();
    assert_eq!(origins.iter().filter(|ip| **ip == LISTED).count(), 2);
    assert!(!origins.contains(&DELISTED), "{ndjson}");
}

#[test]
fn export_flags_override_weights_and_allowlist() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let allowed =
        run_ok(wormsign(&config).args(["export", "--format", "plain", "--allow", LISTED]));
    let lines: Vec<&str> = allowed.lines().collect();
    assert_eq!(lines, [LISTED_OTHER_CODE, "2001:db8:5:6::/64"]);

    // Every sighting here has the connect method: weight 0 lists nobody,
    // and half weight leaves only the host seen twice.
    let ignored =
        run_ok(wormsign(&config).args(["export", "--format", "plain", "--weight", "connect=0"]));
    assert_eq!(ignored, "");
    let halved =
        run_ok(wormsign(&config).args(["export", "--format", "plain", "--weight", "connect=0.5"]));
    assert_eq!(halved.lines().collect::<Vec<_>>(), [LISTED]);

    for (flag, value, expected) in [
        ("--weight", "smtp=1", "unknown method \"smtp\""),
        ("--weight", "bounce", "METHOD=WEIGHT"),
        ("--weight", "bounce=-1", "from 0 (ignore) upwards"),
        ("--allow", "192.0.2.0/33", "192.0.2.0/33"),
    ] {
        let output = wormsign(&config)
            .args(["export", "--format", "plain", flag, value])
            .output()
            .expect("run export");
        assert!(!output.status.success(), "{flag} {value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{flag} {value}: {stderr}");
    }
}

#[test]
fn ndjson_can_leave_out_sensor_fields() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let field_values = |ndjson: &str, key: &str| -> Vec<serde_json::Value> {
        ndjson
            .lines()
            .map(|line| {
                let row: serde_json::Value = serde_json::from_str(line).expect("JSON line");
                row[key].clone()
            })
            .collect()
    };
    let full = run_ok(wormsign(&config).args(["export", "--format", "ndjson"]));
    assert!(
        field_values(&full, "helo")
            .iter()
            .all(|v| v == "pc.example"),
        "{full}"
    );

    let bare =
        run_ok(wormsign(&config).args(["export", "--format", "ndjson", "--no-sensor-fields"]));
    assert_eq!(bare.lines().count(), full.lines().count());
    for key in ["client_ip", "helo"] {
        assert!(
            field_values(&bare, key)
                .iter()
                .all(serde_json::Value::is_null),
            "{bare}"
        );
    }

    // The same from the config file.
    let text = std::fs::read_to_string(&config).expect("read config");
    let text = text.replace("[export]\n", "[export]\nndjson_sensor_fields = false\n");
    std::fs::write(&config, text).expect("write config");
    let configured = run_ok(wormsign(&config).args(["export", "--format", "ndjson"]));
    assert_eq!(configured, bare);
}

#[test]
fn export_bind_without_zone_fails_clearly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (database, _config) = prepare(dir.path());
    let output = Command::new(common::wormsign_bin())
        .args(["export", "--format", "bind", "--database"])
        .arg(&database)
        .output()
        .expect("run export");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--zone"), "{stderr}");
}

#[test]
fn running_rbldnsd_sees_reexport() {
    common::require_tool("dig");
    let output_dir = tempfile::tempdir().expect("temporary directory");
    std::fs::set_permissions(
        output_dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("make the directory readable for rbldnsd");
    let ip4 = output_dir.path().join("bl.ip4");
    let ip6 = output_dir.path().join("bl.ip46");
    let milter = common::Milter::start(&format!(
        "[listing]\n\
         list_documentation_ranges = true\n\
         [export]\n\
         interval_secs = 1\n\
         [[export.outputs]]\n\
         format = \"rbldnsd\"\n\
         path = \"{}\"\n",
        ip4.display()
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(ip4.exists() && ip6.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no export within 20 s:\n{}",
            milter.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let server = Rbldnsd::start(&ip4, &ip6);
    let (status, _) = server.query(&reversed(LISTED), "A");
    assert!(
        status.contains("NXDOMAIN"),
        "listed before any sighting: {status}"
    );

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut conn = store::open(&milter.database()).expect("open the milter's database");
    store::insert_batch(
        &mut conn,
        &[
            sighting(LISTED, now, "Sober", "Q1"),
            sighting(LISTED_V6, now, "Sober", "Q2"),
        ],
    )
    .expect("insert");

    // The milter rewrites the files within a second and rbldnsd reloads
    // them within another; allow for a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v4 = server.query(&reversed(LISTED), "A").1;
        let v6 = server.query(&nibbles(LISTED_V6), "A").1;
        if v4 == "127.0.0.2" && v6 == "127.0.0.2" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rbldnsd did not pick up the new listings within 30 s (IPv4 A {v4:?}, IPv6 A {v6:?}):\n{}\n{}",
            std::fs::read_to_string(&ip4).unwrap_or_default(),
            milter.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(milter.log().contains("exported"), "{}", milter.log());
}

#[test]
fn export_rejects_bad_zone_name() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let output = wormsign(&config)
        .args(["export", "--format", "bind", "--zone", "bl example.org"])
        .output()
        .expect("run export");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"bl example.org\""), "{stderr}");
}

#[test]
fn export_rejects_output6_equal_to_output() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let path = dir.path().join("same");
    let other_name = dir.path().join(".").join("same");
    for path6 in [&path, &other_name] {
        let output = wormsign(&config)
            .args(["export", "--format", "rbldnsd", "--output"])
            .arg(&path)
            .arg("--output6")
            .arg(path6)
            .output()
            .expect("run export");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        let expected = format!(
            "--output6 {} is the same file as --output {}",
            path6.display(),
            path.display()
        );
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(!path.exists(), "export wrote {} anyway", path.display());
    }
}

#[test]
fn export_counts_listings_alike_in_every_format() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let cases = [
        ("rbldnsd", "wrote 2 IPv4 listing(s) to "),
        ("bind", "wrote 2 IPv4 and 1 IPv6 listing(s) to "),
        ("plain", "wrote 2 IPv4 and 1 IPv6 listing(s) to "),
        (
            "ndjson",
            "wrote 4 sighting(s) of 2 IPv4 and 1 IPv6 listing(s) to ",
        ),
    ];
    for (format, expected) in cases {
        let path = dir.path().join(format!("out.{format}"));
        let output = wormsign(&config)
            .args(["export", "--format", format, "--zone", ZONE])
            .args(["--nameserver", "ns1.example.org", "--output"])
            .arg(&path)
            .output()
            .expect("run export");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{format}: {stderr}");
        assert!(stderr.contains(expected), "{format}: {stderr}");
    }
    let output = wormsign(&config)
        .args(["export", "--format", "rbldnsd", "--output"])
        .arg(dir.path().join("bl"))
        .output()
        .expect("run export");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("wrote 1 IPv6 listing(s) to "), "{stderr}");
}

#[test]
fn delist_unseen_address_needs_force() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let unseen = "192.0.2.99";

    let refused = wormsign(&config)
        .args(["delist", unseen, "--reason", "typo"])
        .output()
        .expect("run delist");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("192.0.2.99 has no sightings"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(refused.stdout.is_empty());

    let forced = run_ok(wormsign(&config).args(["delist", unseen, "--reason", "typo", "--force"]));
    assert!(forced.starts_with("delisted 192.0.2.99 at 20"), "{forced}");
    assert!(forced.contains("Z; a new sighting"), "{forced}");
}

#[test]
fn delist_prints_rfc3339_time() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, config) = prepare(dir.path());
    let stdout = run_ok(wormsign(&config).args(["delist", LISTED, "--reason", "cleaned"]));
    let time = stdout
        .strip_prefix(&format!("delisted {LISTED} at "))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("unexpected output: {stdout}"));
    let parsed = time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339);
    assert!(parsed.is_ok(), "not RFC 3339: {time:?}");
    assert!(time.ends_with('Z'), "not UTC: {time:?}");
}
