//! `wormsign export`, `report` and `stats` on a database that an older
//! wormsign created: they upgrade a writable file to the current schema,
//! and name the fix when the file is read-only. `wormsign dnsbl` upgrades
//! through the same function before it starts.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo_root, wormsign_bin};
use rusqlite::Connection;
use tempfile::TempDir;

const HOST: &str = "192.0.2.44";

/// Creates a database with schema version 1 (the first migration only)
/// and one recent sighting of [`HOST`].
fn create_version_1(dir: &Path) -> PathBuf {
    let path = dir.join("old.db");
    let sql = fs::read_to_string(repo_root().join("migrations/01-sightings/up.sql"))
        .expect("read the first migration");
    let connection = Connection::open(&path).expect("create the database");
    connection.execute_batch(&sql).expect("apply version 1");
    connection
        .pragma_update(None, "user_version", 1)
        .expect("set the schema version");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    connection
        .execute(
            "INSERT INTO sightings (seen_at, origin_ip, origin_method, family, rule, \
             confidence, size, headers, evidence) \
             VALUES (?1, ?2, 'connect', 'Sober', 'Sober_test', 'high', 1000, \
             'Subject: test\r\n', '{}')",
            rusqlite::params![now - 3600, HOST],
        )
        .expect("insert a sighting");
    path
}

fn schema_version(path: &Path) -> i64 {
    let connection = Connection::open(path).expect("open the database");
    connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("read the schema version")
}

/// The schema version of this build: one per directory under migrations/.
fn latest_version() -> i64 {
    let dirs = fs::read_dir(repo_root().join("migrations")).expect("read migrations/");
    let count = dirs
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("up.sql").is_file())
        .count();
    i64::try_from(count).expect("a small count")
}

fn wormsign(args: &[&str], database: &Path) -> Output {
    Command::new(wormsign_bin())
        .args(args)
        .arg("--database")
        .arg(database)
        .output()
        .expect("run wormsign")
}

fn assert_success(args: &[&str], output: &Output) {
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn export_upgrades_old_schema() {
    let dir = TempDir::new().expect("temporary directory");
    let database = create_version_1(dir.path());
    let args = ["export", "--format", "plain", "--list-documentation-ranges"];
    let output = wormsign(&args, &database);
    assert_success(&args, &output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().any(|line| line == HOST), "{stdout}");
    assert_eq!(schema_version(&database), latest_version());
}

#[test]
fn report_and_stats_upgrade_old_schema() {
    let dir = TempDir::new().expect("temporary directory");
    let database = create_version_1(dir.path());
    let stats = wormsign(&["stats"], &database);
    assert_success(&["stats"], &stats);
    assert_eq!(schema_version(&database), latest_version());

    let database = {
        let other = dir.path().join("second");
        fs::create_dir(&other).expect("create a directory");
        create_version_1(&other)
    };
    let reports = dir.path().join("reports");
    let reports_text = reports.to_str().expect("UTF-8 path");
    let args = ["report", "--format", "arf", "--output", reports_text];
    let output = wormsign(&args, &database);
    assert_success(&args, &output);
    assert_eq!(schema_version(&database), latest_version());
}

#[test]
fn read_only_old_schema_names_fix() {
    let dir = TempDir::new().expect("temporary directory");
    let database = create_version_1(dir.path());
    fs::set_permissions(&database, fs::Permissions::from_mode(0o444)).expect("chmod");
    let output = wormsign(&["export", "--format", "plain"], &database);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("schema version 1"), "{stderr}");
    assert!(stderr.contains("make the file writable"), "{stderr}");
    assert_eq!(schema_version(&database), 1);
}

#[test]
fn dnsbl_upgrades_old_schema() {
    let dir = TempDir::new().expect("temporary directory");
    let database = create_version_1(dir.path());
    let log_path = dir.path().join("dnsbl.log");
    let mut child = Command::new(wormsign_bin())
        .args(["dnsbl", "--listen", "127.0.0.1:0", "--database"])
        .arg(&database)
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(&log_path).expect("create the log file"))
        .spawn()
        .expect("start wormsign dnsbl");
    let started = std::time::Instant::now();
    let mut log = String::new();
    while started.elapsed() < std::time::Duration::from_secs(20) {
        log = fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("responder started") || child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(log.contains("responder started"), "{log}");
    assert_eq!(schema_version(&database), latest_version());
}
