//! End-to-end tests of `wormsign dnsbl`: the real binary on loopback, queried
//! with `dig`, compared with the real rbldnsd serving the `wormsign export
//! --format rbldnsd` files of the same database under the same config
//! (listing policy, return codes per family, per-entry TXT, SOA and NS).

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{free_port, require_tool, wormsign_bin};
use tempfile::TempDir;
use wormsign::dnsbl::name::reversed_labels;
use wormsign::store::{self, Sighting};

const ZONE: &str = "bl.wormsign.test";
const TTL: u32 = 2100;
const NS: [&str; 2] = ["ns1.bl.wormsign.test", "ns2.bl.wormsign.test"];
const RNAME: &str = "hostmaster.example.org";

/// How long a server may take to answer its first query.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A listing expires after this many hours without a sighting.
const EXPIRE_HOURS: i64 = 7 * 24;
/// Hosts that the policy must never publish, each for its own reason.
const EXPIRED: &str = "198.51.100.60";
const DELISTED: &str = "198.51.100.70";
const ALLOWLISTED: &str = "198.51.100.50";
/// Listed with Mydoom, which the config maps to this return code.
const MYDOOM_HOST: &str = "203.0.113.9";
const MYDOOM_CODE: &str = "127.0.0.4";

/// Two days ago at the start of the hour: recent enough for the policy's
/// window and expiry, which count from the real clock.
fn seen() -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    (now - 2 * 86_400) / 3600 * 3600
}

/// Formats Unix seconds as the UTC date the TXT details carry.
fn date(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .expect("valid time")
        .date()
        .to_string()
}

fn sighting(ip: &str, seen_at: i64, family: &str) -> Sighting {
    Sighting {
        seen_at,
        origin_ip: ip.to_string(),
        origin_method: "connect".to_string(),
        family: family.to_string(),
        variant: None,
        rule: format!("{family}_test"),
        confidence: "high".to_string(),
        queue_id: Some("4ABC123".to_string()),
        message_id: None,
        client_ip: Some(ip.to_string()),
        helo: None,
        envelope_from: None,
        size: 1000,
        headers: None,
        evidence: serde_json::json!({}),
    }
}

/// Returns the shared data set: IPv4 and IPv6 hosts, two IPv6 hosts in one /64,
/// and addresses that are never listed (private, loopback, expired,
/// delisted by [`create_database`], allowlisted in [`write_config`]).
fn fixture_sightings() -> Vec<Sighting> {
    let seen = seen();
    vec![
        sighting("192.0.2.1", seen, "Sober"),
        sighting("192.0.2.1", seen + 3600, "Sober"),
        sighting("203.0.113.9", seen, "Sober"),
        sighting("203.0.113.9", seen + 86_400, "Mydoom"),
        sighting("198.51.100.7", seen, "Sober"),
        sighting("10.1.2.3", seen, "Sober"),
        sighting("127.0.0.1", seen, "Sober"),
        sighting("2001:db8::25", seen, "Sober"),
        sighting("2001:db8::26", seen + 86_400, "Mydoom"),
        sighting("2001:db8:1::5", seen, "Sober"),
        sighting(EXPIRED, seen - (EXPIRE_HOURS + 24) * 3600, "Sober"),
        sighting(DELISTED, seen, "Sober"),
        sighting(ALLOWLISTED, seen, "Sober"),
    ]
}

/// Creates a temporary directory with a database of [`fixture_sightings`].
fn fixture_database() -> (TempDir, PathBuf) {
    let dir = TempDir::new().expect("temporary directory");
    let database = create_database(dir.path(), &fixture_sightings());
    (dir, database)
}

/// Creates the database and delists [`DELISTED`] with `wormsign delist`,
/// when `sightings` has it.
fn create_database(dir: &Path, sightings: &[Sighting]) -> PathBuf {
    let path = dir.join("wormsign.db");
    let mut connection = store::open(&path).expect("create the database");
    store::insert_batch(&mut connection, sightings).expect("insert sightings");
    drop(connection);
    if sightings.iter().any(|s| s.origin_ip == DELISTED) {
        let output = Command::new(wormsign_bin())
            .args(["delist", DELISTED, "--reason", "owner cleaned the host"])
            .arg("--database")
            .arg(&path)
            .output()
            .expect("run wormsign delist");
        assert!(
            output.status.success(),
            "delist failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    path
}

/// Writes the config both servers use: the listing policy and the zone
/// settings in [listing] and [export], the responder's address in [dnsbl].
fn write_config(dir: &Path, port: u16) -> PathBuf {
    write_config_polling(dir, port, 100)
}

/// [`write_config`] with the database polled every `poll_interval_ms`.
fn write_config_polling(dir: &Path, port: u16, poll_interval_ms: u64) -> PathBuf {
    write_config_with(dir, port, poll_interval_ms, "")
}

/// [`write_config_polling`] with `extra` lines at the end of [dnsbl].
fn write_config_with(dir: &Path, port: u16, poll_interval_ms: u64, extra: &str) -> PathBuf {
    let path = dir.join(format!("wormsign-{port}.toml"));
    let ns: Vec<String> = NS.iter().map(|name| format!("\"{name}\"")).collect();
    let text = format!(
        "[listing]\nlist_documentation_ranges = true\nexpire_after_hours = {EXPIRE_HOURS}\n\
         allowlist = [\"{ALLOWLISTED}/32\"]\n\n\
         [[listing.return_codes]]\nfamily = \"Mydoom\"\ncode = \"{MYDOOM_CODE}\"\n\n\
         [export]\nzone = \"{ZONE}\"\nttl = {TTL}\nnameservers = [{}]\nhostmaster = \"{RNAME}\"\n\n\
         [dnsbl]\nlisten = \"127.0.0.1:{port}\"\npoll_interval_ms = {poll_interval_ms}\n{extra}",
        ns.join(", ")
    );
    fs::write(&path, text).expect("write the config file");
    path
}

/// A child process killed on drop, with its standard error in a file.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts `wormsign dnsbl` on a free loopback port.
    fn start_wormsign(dir: &Path, database: &Path) -> Server {
        Server::start_wormsign_polling(dir, database, 100)
    }

    /// Starts `wormsign dnsbl` polling the database every
    /// `poll_interval_ms`.
    fn start_wormsign_polling(dir: &Path, database: &Path, poll_interval_ms: u64) -> Server {
        start_on_free_port(|port| Server::spawn_wormsign(dir, database, port, poll_interval_ms))
    }

    fn spawn_wormsign(dir: &Path, database: &Path, port: u16, poll_interval_ms: u64) -> Server {
        Server::spawn_wormsign_with(dir, database, port, poll_interval_ms, "")
    }

    /// Starts `wormsign dnsbl` with `extra` lines in [dnsbl].
    fn start_wormsign_with(dir: &Path, database: &Path, extra: &str) -> Server {
        start_on_free_port(|port| Server::spawn_wormsign_with(dir, database, port, 100, extra))
    }

    fn spawn_wormsign_with(
        dir: &Path,
        database: &Path,
        port: u16,
        poll_interval_ms: u64,
        extra: &str,
    ) -> Server {
        let config = write_config_with(dir, port, poll_interval_ms, extra);
        let log = dir.join("dnsbl.log");
        let child = Command::new(wormsign_bin())
            .arg("--config")
            .arg(&config)
            .args(["dnsbl", "--database"])
            .arg(database)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start wormsign dnsbl");
        Server { child, port, log }
    }

    /// Exports the database with `wormsign export --format rbldnsd` under
    /// the config of [`write_config`] and starts rbldnsd on the files, which
    /// carry the `$SOA` and `$NS` lines.
    fn start_rbldnsd(dir: &Path, database: &Path) -> Server {
        require_tool("rbldnsd");
        let ip4 = dir.join("bl.ip4");
        let ip6 = dir.join("bl.ip6");
        let config = write_config(dir, 0);
        let export = Command::new(wormsign_bin())
            .arg("--config")
            .arg(&config)
            .args(["export", "--format", "rbldnsd", "--database"])
            .arg(database)
            .arg("--output")
            .arg(&ip4)
            .arg("--output6")
            .arg(&ip6)
            .output()
            .expect("run wormsign export");
        assert!(
            export.status.success(),
            "export failed: {}",
            String::from_utf8_lossy(&export.stderr)
        );
        let ip4_text = fs::read_to_string(&ip4).expect("read the IPv4 export");
        assert!(ip4_text.contains("\n$SOA "), "{ip4_text}");
        make_world_readable(dir);
        start_on_free_port(|port| Server::spawn_rbldnsd(dir, &ip4, &ip6, port))
    }

    fn spawn_rbldnsd(dir: &Path, ip4: &Path, ip6: &Path, port: u16) -> Server {
        let log = dir.join("rbldnsd.log");
        // rbldnsd drops root privileges to -u; the files must be readable
        // by that user.
        let child = Command::new("rbldnsd")
            .args(["-n", "-u", "nobody", "-b"])
            .arg(format!("127.0.0.1/{port}"))
            .arg(format!("{ZONE}:ip4set:{}", ip4.display()))
            .arg(format!("{ZONE}:ip6trie:{}", ip6.display()))
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start rbldnsd");
        Server { child, port, log }
    }

    /// Waits until the server returns 127.0.0.2 for the RFC 5782 test
    /// entry. The error is a message with the server's log.
    fn wait_until_answering(mut self) -> Result<Server, String> {
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("server exited with {status}:\n{}", self.log()));
            }
            let answer = self.dig(&format!("2.0.0.127.{ZONE}"), "A", &["+short"]);
            if answer.trim() == "127.0.0.2" {
                return Ok(self);
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "server on port {} did not respond within {START_TIMEOUT:?}:\n{}",
            self.port,
            self.log()
        ))
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs dig against this server only, without recursion.
    fn dig(&self, name: &str, kind: &str, options: &[&str]) -> String {
        let output = Command::new("dig")
            .args(["@127.0.0.1", "-p", &self.port.to_string()])
            .args(["+norec", "+tries=1", "+time=2"])
            .args(options)
            .arg(name)
            .arg(kind)
            .output()
            .expect("run dig");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Returns the parts of a dig answer that both servers must agree on.
    fn answer(&self, name: &str, kind: &str) -> Answer {
        Answer::parse(&self.dig(name, kind, &["+noedns"]))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server with `spawn` on a free port, and on another one when the
/// port was taken between [`free_port`] and the server's bind.
fn start_on_free_port(spawn: impl Fn(u16) -> Server) -> Server {
    const ATTEMPTS: usize = 3;
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        match spawn(free_port()).wait_until_answering() {
            Ok(server) => return server,
            Err(error) if error.contains("in use") => failures.push(error),
            Err(error) => panic!("{error}"),
        }
    }
    panic!(
        "no free port in {ATTEMPTS} attempts:\n{}",
        failures.join("\n")
    );
}

fn make_world_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod directory");
    for entry in fs::read_dir(dir).expect("read directory") {
        let path = entry.expect("directory entry").path();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod file");
    }
}

/// A dig answer reduced to what must match: status, flags and the records
/// of the answer and authority sections, sorted, with SOA serials blanked
/// (rbldnsd takes the serial from the file time).
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: String,
    flags: String,
    answer: Vec<String>,
    authority: Vec<String>,
}

impl Answer {
    fn parse(output: &str) -> Answer {
        let header = output
            .lines()
            .find(|line| line.contains("status:"))
            .unwrap_or_else(|| panic!("no answer from the server:\n{output}"));
        let status = header
            .split("status: ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_default()
            .to_string();
        let flags = output
            .lines()
            .find_map(|line| line.strip_prefix(";; flags: "))
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_default()
            .to_string();
        Answer {
            status,
            flags,
            answer: section(output, ";; ANSWER SECTION:"),
            authority: section(output, ";; AUTHORITY SECTION:"),
        }
    }
}

fn section(output: &str, title: &str) -> Vec<String> {
    let mut records: Vec<String> = output
        .lines()
        .skip_while(|line| *line != title)
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields: Vec<&str> = line.split_whitespace().collect();
            // name ttl class SOA mname rname serial ...
            if fields.get(3) == Some(&"SOA") && fields.len() > 6 {
                fields[6] = "SERIAL";
            }
            fields.join(" ")
        })
        .collect();
    records.sort();
    records
}

fn query_name(ip: &str) -> String {
    let ip: IpAddr = ip.parse().expect("test address");
    format!("{}.{ZONE}", reversed_labels(ip).join("."))
}

#[test]
fn dnsbl_matches_rbldnsd() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    let rbldnsd = Server::start_rbldnsd(dir.path(), &database);
    let wormsign = Server::start_wormsign(dir.path(), &database);

    let mut queries: Vec<(String, &str)> = Vec::new();
    let addresses = [
        // RFC 5782 test entries.
        "127.0.0.2",
        "127.0.0.1",
        "::ffff:7f00:2",
        "::ffff:7f00:1",
        // Listed hosts.
        "192.0.2.1",
        "203.0.113.9",
        "198.51.100.7",
        "2001:db8::25",
        "2001:db8::1:0:0:99",
        "2001:db8:1::5",
        // Never listed, or unknown.
        "192.0.2.2",
        "10.1.2.3",
        "2001:db8:2::1",
        EXPIRED,
        DELISTED,
        ALLOWLISTED,
    ];
    for address in addresses {
        for kind in ["A", "TXT", "AAAA"] {
            queries.push((query_name(address), kind));
        }
    }
    for kind in ["SOA", "NS", "A", "TXT"] {
        queries.push((ZONE.to_string(), kind));
    }
    queries.push((format!("0.127.{ZONE}"), "A"));
    queries.push((format!("www.{ZONE}"), "A"));
    queries.push((format!("8.1.2.0.192.{ZONE}"), "A"));
    queries.push(("2.0.0.127.example.org".to_string(), "A"));

    for (name, kind) in &queries {
        let expected = rbldnsd.answer(name, kind);
        let found = wormsign.answer(name, kind);
        assert_eq!(found, expected, "{name} {kind}");
    }

    // Spot checks, so a fault shared by both servers cannot pass unseen.
    let listed = wormsign.answer(&query_name("127.0.0.2"), "A");
    assert_eq!(listed.status, "NOERROR");
    assert_eq!(listed.answer.len(), 1, "{listed:?}");
    assert!(listed.answer[0].ends_with("A 127.0.0.2"), "{listed:?}");
    let unlisted = wormsign.answer(&query_name("127.0.0.1"), "A");
    assert_eq!(unlisted.status, "NXDOMAIN");
    assert!(unlisted.authority[0].contains(" SOA "), "{unlisted:?}");
    for host in [EXPIRED, DELISTED, ALLOWLISTED] {
        let answer = wormsign.answer(&query_name(host), "A");
        assert_eq!(answer.status, "NXDOMAIN", "{host}: {answer:?}");
    }
    let mydoom = wormsign.answer(&query_name(MYDOOM_HOST), "A");
    assert_eq!(mydoom.answer.len(), 1, "{mydoom:?}");
    assert!(
        mydoom.answer[0].ends_with(&format!("A {MYDOOM_CODE}")),
        "{mydoom:?}"
    );
    let sober = wormsign.answer(&query_name("192.0.2.1"), "A");
    assert!(sober.answer[0].ends_with("A 127.0.0.2"), "{sober:?}");
    let txt = wormsign.answer(&query_name("2001:db8::1:0:0:99"), "TXT");
    assert_eq!(
        txt.answer,
        [format!(
            "{}. {TTL} IN TXT \"Listed by wormsign: worm mail seen from 2001:db8::1:0:0:99 \
             (Mydoom, Sober; last seen {})\"",
            query_name("2001:db8::1:0:0:99"),
            date(seen() + 86_400)
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")]
    );
    let ipv6_test = wormsign.answer(&query_name("::ffff:7f00:2"), "A");
    assert_eq!(ipv6_test.status, "NOERROR");
    let ipv6_unlisted = wormsign.answer(&query_name("::ffff:7f00:1"), "A");
    assert_eq!(ipv6_unlisted.status, "NXDOMAIN");
}

#[test]
fn dnsbl_reloads_when_database_changes() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    let server = Server::start_wormsign(dir.path(), &database);
    let name = query_name("198.51.100.200");
    assert_eq!(server.answer(&name, "A").status, "NXDOMAIN");
    let soa_before = server.dig(ZONE, "SOA", &["+short"]);

    let mut connection = store::open(&database).expect("open the database");
    store::insert_batch(
        &mut connection,
        &[sighting("198.51.100.200", seen(), "Sober")],
    )
    .expect("insert a sighting");

    let started = Instant::now();
    let mut answer = server.answer(&name, "A");
    while answer.status != "NOERROR" && started.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(50));
        answer = server.answer(&name, "A");
    }
    assert_eq!(answer.status, "NOERROR", "{}", server.log());
    assert!(answer.answer[0].ends_with("A 127.0.0.2"), "{answer:?}");
    let soa_after = server.dig(ZONE, "SOA", &["+short"]);
    assert_ne!(
        soa_after, soa_before,
        "the SOA serial must change on reload"
    );
}

#[test]
fn dnsbl_reloads_on_sighup() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    // An hour between polls: within this test only SIGHUP reloads.
    let mut server = Server::start_wormsign_polling(dir.path(), &database, 3_600_000);
    let name = query_name("198.51.100.201");
    assert_eq!(server.answer(&name, "A").status, "NXDOMAIN");

    let mut connection = store::open(&database).expect("open the database");
    store::insert_batch(
        &mut connection,
        &[sighting("198.51.100.201", seen(), "Sober")],
    )
    .expect("insert a sighting");
    drop(connection);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.answer(&name, "A").status,
        "NXDOMAIN",
        "the listing was served before SIGHUP, so this test cannot tell"
    );

    let kill = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let started = Instant::now();
    let mut answer = server.answer(&name, "A");
    while answer.status != "NOERROR" && started.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(50));
        answer = server.answer(&name, "A");
    }

    let status = server.child.try_wait().expect("poll wormsign dnsbl");
    assert!(
        status.is_none(),
        "exited with {status:?}:\n{}",
        server.log()
    );
    assert_eq!(answer.status, "NOERROR", "{}", server.log());
    assert!(answer.answer[0].ends_with("A 127.0.0.2"), "{answer:?}");
    let log = server.log();
    assert!(log.contains("SIGHUP received"), "{log}");
    assert!(log.contains("DNSBL listings reloaded"), "{log}");
    let test_entry = server.dig(&format!("2.0.0.127.{ZONE}"), "A", &["+short"]);
    assert_eq!(test_entry.trim(), "127.0.0.2");
}

#[test]
fn dnsbl_answers_over_tcp_and_with_edns() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    let server = Server::start_wormsign(dir.path(), &database);
    let name = query_name("192.0.2.1");

    let tcp = Answer::parse(&server.dig(&name, "TXT", &["+tcp", "+noedns"]));
    assert_eq!(tcp, server.answer(&name, "TXT"));
    assert_eq!(tcp.answer.len(), 1, "{tcp:?}");

    let with_edns = server.dig(&name, "A", &[]);
    assert!(with_edns.contains("EDNS: version: 0"), "{with_edns}");
    assert!(with_edns.contains("status: NOERROR"), "{with_edns}");
    let bad_version = server.dig(&name, "A", &["+edns=1", "+noednsnegotiation"]);
    assert!(bad_version.contains("status: BADVERS"), "{bad_version}");

    let any = server.answer(&name, "ANY");
    assert_eq!(any.status, "NOERROR");
    assert_eq!(any.answer.len(), 2, "{any:?}");
    assert!(
        any.answer.iter().any(|r| r.contains(" IN A 127.0.0.2")),
        "{any:?}"
    );
    assert!(any.answer.iter().any(|r| r.contains(" IN TXT ")), "{any:?}");
    let apex = server.answer(ZONE, "ANY");
    assert_eq!(apex.answer.len(), 1 + NS.len(), "{apex:?}");
    assert!(
        apex.answer.iter().any(|r| r.contains(" IN SOA ")),
        "{apex:?}"
    );
}

#[test]
fn dnsbl_rejects_bad_config_and_missing_database() {
    let dir = TempDir::new().expect("temporary directory");
    let config = dir.path().join("bad.toml");
    fs::write(&config, "[dnsbl]\nzone = \"bl.example.org\"\nttl = 60\n").expect("write config");
    let output = Command::new(wormsign_bin())
        .arg("--config")
        .arg(&config)
        .arg("dnsbl")
        .output()
        .expect("run wormsign dnsbl");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("ttl in [export]"), "{stderr}");

    fs::write(
        &config,
        "[dnsbl]\nlisten = \"127.0.0.1:0\"\nmax_tcp_connections = 0\n",
    )
    .expect("write config");
    let output = Command::new(wormsign_bin())
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .output()
        .expect("run wormsign config check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("max_tcp_connections"), "{stderr}");
    assert!(stderr.contains("0 is out of range"), "{stderr}");

    fs::write(&config, "[dnsbl]\nmax_tcp_connections = 8\n").expect("write config");
    let output = Command::new(wormsign_bin())
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .output()
        .expect("run wormsign config check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("max_tcp_connections = 8"), "{stdout}");

    let missing = dir.path().join("missing.db");
    let output = Command::new(wormsign_bin())
        .args(["dnsbl", "--listen", "127.0.0.1:0"])
        .arg("--database")
        .arg(&missing)
        .output()
        .expect("run wormsign dnsbl");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.db"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
}

/// Builds a DNS message: header fields, then one question per entry of
/// `questions` (name, type, class).
fn dns_message(flags: u16, question_count: u16, questions: &[(&str, u16, u16)]) -> Vec<u8> {
    let mut message = Vec::new();
    message.extend_from_slice(&0x1234u16.to_be_bytes());
    message.extend_from_slice(&flags.to_be_bytes());
    message.extend_from_slice(&question_count.to_be_bytes());
    message.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    for (name, kind, class) in questions {
        for label in name.split('.') {
            message.push(u8::try_from(label.len()).expect("short label"));
            message.extend_from_slice(label.as_bytes());
        }
        message.push(0);
        message.extend_from_slice(&kind.to_be_bytes());
        message.extend_from_slice(&class.to_be_bytes());
    }
    message
}

/// Sends `message` over UDP and returns the response code, or `None` when
/// no response arrives within 1 s.
fn response_code(port: u16, message: &[u8]) -> Option<u8> {
    let response = udp_query(port, message, Duration::from_secs(1))?;
    assert!(
        response.len() >= 12,
        "short response: {} bytes",
        response.len()
    );
    assert_eq!(&response[..2], &message[..2], "response id");
    Some(response[3] & 0x0f)
}

/// Sends `message` over UDP from a new socket and returns the response, or
/// `None` when none arrives within `timeout`.
fn udp_query(port: u16, message: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket
        .set_read_timeout(Some(timeout))
        .expect("set the read timeout");
    socket
        .send_to(message, ("127.0.0.1", port))
        .expect("send the query");
    let mut buffer = [0u8; 4096];
    let (length, _) = socket.recv_from(&mut buffer).ok()?;
    Some(buffer[..length].to_vec())
}

#[test]
fn dnsbl_survives_malformed_queries() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    let server = Server::start_wormsign(dir.path(), &database);
    let listed = format!("2.0.0.127.{ZONE}");
    const A: u16 = 1;
    const AXFR: u16 = 252;
    const IN: u16 = 1;
    const CH: u16 = 3;
    const NOERROR: u8 = 0;
    const FORMERR: u8 = 1;
    const NOTIMP: u8 = 4;
    const REFUSED: u8 = 5;

    let well_formed = dns_message(0, 1, &[(&listed, A, IN)]);
    assert_eq!(response_code(server.port, &well_formed), Some(NOERROR));

    let cases: [(&str, Vec<u8>, Option<u8>); 7] = [
        ("no question", dns_message(0, 0, &[]), Some(FORMERR)),
        (
            "two questions",
            dns_message(0, 2, &[(&listed, A, IN), (&listed, A, IN)]),
            Some(FORMERR),
        ),
        (
            "opcode STATUS",
            dns_message(2 << 11, 1, &[(&listed, A, IN)]),
            Some(NOTIMP),
        ),
        (
            "class CH",
            dns_message(0, 1, &[(&listed, A, CH)]),
            Some(REFUSED),
        ),
        (
            "zone transfer",
            dns_message(0, 1, &[(ZONE, AXFR, IN)]),
            Some(REFUSED),
        ),
        (
            "question cut short",
            well_formed[..well_formed.len() - 3].to_vec(),
            Some(FORMERR),
        ),
        ("shorter than a header", vec![0x12, 0x34, 0, 0, 0], None),
    ];
    for (case, message, expected) in cases {
        assert_eq!(response_code(server.port, &message), expected, "{case}");
    }

    // A message marked as a response gets no reply, so the server cannot
    // be used to reflect traffic.
    let response = dns_message(0x8000, 1, &[(&listed, A, IN)]);
    assert_eq!(response_code(server.port, &response), None);

    assert_eq!(
        server.dig(&listed, "A", &["+short"]).trim(),
        "127.0.0.2",
        "{}",
        server.log()
    );
}

#[test]
fn dnsbl_follows_replaced_database() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    let server = Server::start_wormsign(dir.path(), &database);
    let old_host = query_name("192.0.2.1");
    let new_host = query_name("198.51.100.201");
    assert_eq!(server.answer(&old_host, "A").status, "NOERROR");

    // Without a database the previous listings stay in service.
    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.clone().into_os_string();
        path.push(suffix);
        let _ = fs::remove_file(&path);
    }
    let started = Instant::now();
    while !server.log().contains("failed to reload DNSBL listings")
        && started.elapsed() < Duration::from_secs(10)
    {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        server.log().contains("failed to reload DNSBL listings"),
        "{}",
        server.log()
    );
    assert_eq!(server.answer(&old_host, "A").status, "NOERROR");

    // A new file at the same path is read without a restart.
    let replacement = TempDir::new().expect("temporary directory");
    let new_database = create_database(
        replacement.path(),
        &[sighting("198.51.100.201", seen(), "Sober")],
    );
    fs::rename(&new_database, &database).expect("move the new database into place");
    let started = Instant::now();
    let mut answer = server.answer(&new_host, "A");
    while answer.status != "NOERROR" && started.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(50));
        answer = server.answer(&new_host, "A");
    }
    assert_eq!(answer.status, "NOERROR", "{}", server.log());
    assert_eq!(server.answer(&old_host, "A").status, "NXDOMAIN");
    assert!(
        server.log().contains("DNSBL database readable again"),
        "{}",
        server.log()
    );
}

#[test]
fn dnsbl_stops_on_sigterm() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    let mut server = Server::start_wormsign(dir.path(), &database);
    let kill = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());

    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait for wormsign") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "wormsign dnsbl did not stop within 10 s:\n{}",
            server.log()
        );
        thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}:\n{}", server.log());
    assert!(
        server.log().contains("wormsign DNSBL responder stopped"),
        "{}",
        server.log()
    );
}

/// Returns the CPU time (user plus system) of process `pid` in clock
/// ticks, from /proc.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat line")
        .1
        .split_whitespace()
        .collect();
    let user: u64 = fields[11].parse().expect("utime");
    let system: u64 = fields[12].parse().expect("stime");
    user + system
}

/// Opens `count` TCP connections to `port` that send nothing, stopping at
/// the first that fails to connect within 500 ms.
fn idle_connections(port: u16, count: usize) -> Vec<TcpStream> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut connections = Vec::new();
    for _ in 0..count {
        match TcpStream::connect_timeout(&address, Duration::from_millis(500)) {
            Ok(stream) => connections.push(stream),
            Err(_) => break,
        }
    }
    connections
}

/// Writes `message` with the 2-byte length that DNS over TCP puts first.
fn send_framed(stream: &mut TcpStream, message: &[u8]) {
    let length = u16::try_from(message.len()).expect("message under 64 KiB");
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(message);
    stream.write_all(&framed).expect("send over TCP");
}

/// Reads one length-prefixed message; `None` when the connection is closed
/// or nothing arrives within the stream's read timeout.
fn read_framed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).ok()?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut message).ok()?;
    Some(message)
}

/// Connects to `port` over TCP with a read timeout of `timeout`.
fn tcp_client(port: u16, timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect over TCP");
    stream
        .set_read_timeout(Some(timeout))
        .expect("set the read timeout");
    stream
}

/// Sends `message` over UDP and returns the whole response.
///
/// # Panics
/// Panics when no response arrives within 2 s.
fn udp_exchange(port: u16, message: &[u8]) -> Vec<u8> {
    udp_query(port, message, Duration::from_secs(2)).expect("a UDP response within 2 s")
}

#[test]
fn dnsbl_tcp_flood_does_not_spin() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    let server = start_on_free_port(|port| {
        let config = write_config_polling(dir.path(), port, 100);
        let log = dir.path().join("dnsbl.log");
        // A low descriptor limit stands in for a flood of many more
        // connections against the usual limit; the default cap of 256
        // connections is above it, so accept() fails with EMFILE.
        let child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
            .arg(wormsign_bin())
            .arg("--config")
            .arg(&config)
            .args(["dnsbl", "--database"])
            .arg(&database)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start wormsign dnsbl");
        Server { child, port, log }
    });

    let connections = idle_connections(server.port, 100);
    thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(server.child.id());
    thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(server.child.id()) - before;
    let open = connections.len();
    drop(connections);

    // 2 s are 200 ticks at the usual 100 Hz; an idle server spends almost none.
    assert!(
        spent < 50,
        "{spent} ticks of CPU in 2 s while {open} connections were open"
    );
    let log = server.log();
    assert_eq!(
        log.matches("failed to accept a TCP connection").count(),
        1,
        "one warning per burst of accept errors:\n{log}"
    );
    assert!(log.contains("open files"), "{log}");

    // Once the flood is gone, TCP clients are served again.
    let listed = format!("2.0.0.127.{ZONE}");
    let started = Instant::now();
    let mut answer = server.dig(&listed, "A", &["+tcp", "+short"]);
    while answer.trim() != "127.0.0.2" && started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(100));
        answer = server.dig(&listed, "A", &["+tcp", "+short"]);
    }
    assert_eq!(answer.trim(), "127.0.0.2", "{}", server.log());
    assert!(
        server.log().contains("accepting TCP connections again"),
        "{}",
        server.log()
    );
}

#[test]
fn dnsbl_tcp_clients_wait_for_a_free_slot() {
    let (dir, database) = fixture_database();
    let server = Server::start_wormsign_with(dir.path(), &database, "max_tcp_connections = 4\n");
    let query = dns_message(0, 1, &[(&format!("2.0.0.127.{ZONE}"), 1, 1)]);

    let mut held = idle_connections(server.port, 4);
    assert_eq!(held.len(), 4);
    // Let the server accept all four before the fifth client comes.
    thread::sleep(Duration::from_millis(300));
    let mut fifth = tcp_client(server.port, Duration::from_secs(1));
    send_framed(&mut fifth, &query);
    let before = cpu_ticks(server.child.id());
    assert_eq!(
        read_framed(&mut fifth),
        None,
        "the fifth client was served while four connections were open"
    );
    let spent = cpu_ticks(server.child.id()) - before;
    assert!(spent < 25, "{spent} ticks of CPU in 1 s at the limit");
    assert!(
        server.log().contains("TCP connection limit reached"),
        "{}",
        server.log()
    );

    // One connection closes and the fifth client gets its answer, as UDP's.
    drop(held.pop());
    fifth
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("set the read timeout");
    let response = read_framed(&mut fifth).expect("an answer once a slot is free");
    assert_eq!(response, udp_exchange(server.port, &query));
}

#[test]
fn dnsbl_tcp_answers_match_udp() {
    require_tool("dig");
    let (dir, database) = fixture_database();
    let server = Server::start_wormsign(dir.path(), &database);
    const A: u16 = 1;
    const NS_TYPE: u16 = 2;
    const SOA: u16 = 6;
    const TXT: u16 = 16;
    const ANY: u16 = 255;
    const IN: u16 = 1;
    let listed = query_name("192.0.2.1");
    let listed6 = query_name("2001:db8::25");
    let unlisted = query_name("192.0.2.99");
    let test_entry = format!("2.0.0.127.{ZONE}");
    let test_entry6 = query_name("::ffff:7f00:2");
    let never = format!("1.0.0.127.{ZONE}");
    let queries: Vec<(&str, u16)> = vec![
        (&listed, A),
        (&listed, TXT),
        (&listed, ANY),
        (&listed6, A),
        (&unlisted, A),
        (ZONE, SOA),
        (ZONE, NS_TYPE),
        (ZONE, ANY),
        (&test_entry, A),
        (&test_entry, TXT),
        (&test_entry6, A),
        (&never, A),
        ("example.org", A),
    ];

    // dig sees the same answer over both transports.
    for (name, kind) in &queries {
        let kind_text = match *kind {
            A => "A",
            NS_TYPE => "NS",
            SOA => "SOA",
            TXT => "TXT",
            _ => "ANY",
        };
        let tcp = Answer::parse(&server.dig(name, kind_text, &["+tcp", "+noedns"]));
        assert_eq!(tcp, server.answer(name, kind_text), "{name} {kind_text}");
    }

    // Byte for byte, with all queries sent at once on one connection.
    let messages: Vec<Vec<u8>> = queries
        .iter()
        .map(|(name, kind)| dns_message(0, 1, &[(name, *kind, IN)]))
        .collect();
    let mut client = tcp_client(server.port, Duration::from_secs(2));
    for message in &messages {
        send_framed(&mut client, message);
    }
    for (message, (name, kind)) in messages.iter().zip(&queries) {
        let tcp = read_framed(&mut client).expect("a TCP answer");
        assert_eq!(tcp, udp_exchange(server.port, message), "{name} {kind}");
    }

    // A message that only has a readable header gets the same FORMERR.
    let well_formed = &messages[0];
    let cut_short = &well_formed[..well_formed.len() - 3];
    send_framed(&mut client, cut_short);
    let tcp = read_framed(&mut client).expect("a FORMERR over TCP");
    assert_eq!(tcp[3] & 0x0f, 1, "FORMERR");
    assert_eq!(tcp, udp_exchange(server.port, cut_short));
}

#[test]
fn dnsbl_tcp_closes_connection_on_bad_framing() {
    let (dir, database) = fixture_database();
    let server = Server::start_wormsign(dir.path(), &database);
    let query = dns_message(0, 1, &[(&format!("2.0.0.127.{ZONE}"), 1, 1)]);

    let bad_framing: [(&str, Vec<u8>); 3] = [
        ("shorter than a header", vec![0, 5, 0x12, 0x34, 0, 0, 0]),
        // hickory's framing reads nothing for a length of 0 until more
        // bytes come (or the idle timeout closes the connection).
        ("length 0", {
            let mut bytes = vec![0, 0];
            bytes.extend_from_slice(&(query.len() as u16).to_be_bytes());
            bytes.extend_from_slice(&query);
            bytes
        }),
        ("length beyond the data", {
            let mut bytes = vec![0xff, 0xff];
            bytes.extend_from_slice(&query);
            bytes
        }),
    ];
    for (case, bytes) in bad_framing {
        let mut client = tcp_client(server.port, Duration::from_secs(15));
        send_framed(&mut client, &query);
        assert!(read_framed(&mut client).is_some(), "{case}: first answer");
        client.write_all(&bytes).expect("send the bad frame");
        if case == "length beyond the data" {
            // The server waits for the rest until the idle timeout.
            client
                .shutdown(std::net::Shutdown::Write)
                .expect("half-close");
        }
        let started = Instant::now();
        let mut rest = Vec::new();
        // A close with unread bytes in the server's buffer is a reset.
        let read = client.read_to_end(&mut rest);
        let closed = match &read {
            Ok(_) => true,
            Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
        };
        assert!(
            closed && rest.is_empty(),
            "{case}: the server must close the connection, got {read:?} {rest:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{case}");
    }

    // The server keeps serving TCP.
    let mut client = tcp_client(server.port, Duration::from_secs(2));
    send_framed(&mut client, &query);
    assert_eq!(
        read_framed(&mut client).expect("an answer"),
        udp_exchange(server.port, &query)
    );
}
