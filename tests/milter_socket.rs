//! The milter's Unix socket and signals, with the real binary: a second
//! `wormsign run` on a live socket is rejected and the first keeps serving,
//! a stale socket file is replaced, shutdown removes the socket file only
//! while it is still the one the process bound, SIGHUP never stops `run` or
//! `run --null`, and listen errors name the value and the fix.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{repo_root, wormsign_bin};
use tempfile::TempDir;

/// How long a milter may take to start listening, or to exit.
const TIMEOUT: Duration = Duration::from_secs(30);

const CLEAN_MESSAGE: &str = "Received: from mx.example.net (mx.example.net [198.51.100.9])\r\n\
    \tby mail.probe.test with ESMTP id 4ABC123; Mon, 1 Jan 2024 10:00:00 +0000\r\n\
    From: alice@example.net\r\nTo: bob@probe.test\r\nSubject: hello\r\n\
    Message-ID: <socket-test@example.net>\r\n\r\nJust a clean message.\r\n";

/// A directory with the config, database, log files and socket of the
/// milters that one test starts.
struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::Builder::new()
            .prefix("wormsign-socket-")
            .tempdir()
            .expect("create the test directory");
        let corpus = dir.path().join("corpus");
        fs::create_dir(&corpus).expect("create the corpus directory");
        fs::write(corpus.join("clean.eml"), CLEAN_MESSAGE).expect("write the corpus message");
        let config = format!(
            "listen = \"unix:{}\"\ndatabase = \"{}\"\n",
            dir.path().join("m.sock").display(),
            dir.path().join("wormsign.db").display()
        );
        fs::write(dir.path().join("wormsign.toml"), config).expect("write the config file");
        Setup { dir }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("m.sock")
    }

    fn address(&self) -> String {
        format!("unix:{}", self.socket().display())
    }

    /// Starts `wormsign run ARGS` on the shared config, with its output in
    /// `NAME.log`. The process is killed when the returned value drops.
    fn spawn(&self, name: &str, args: &[&str]) -> Process {
        let log = self.dir.path().join(format!("{name}.log"));
        let child = Command::new(wormsign_bin())
            .arg("--config")
            .arg(self.dir.path().join("wormsign.toml"))
            .arg("run")
            .args(args)
            .current_dir(repo_root())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start wormsign run");
        Process { child, log }
    }

    /// Starts a milter and waits until its socket accepts connections.
    fn start(&self, name: &str, args: &[&str]) -> Process {
        let mut process = self.spawn(name, args);
        let deadline = Instant::now() + TIMEOUT;
        while UnixStream::connect(self.socket()).is_err() {
            if let Some(status) = process.child.try_wait().expect("poll the milter") {
                panic!("milter {name} exited with {status}:\n{}", process.log());
            }
            assert!(
                Instant::now() < deadline,
                "milter {name} did not listen on {} within {TIMEOUT:?}:\n{}",
                self.socket().display(),
                process.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
        process
    }

    /// Runs `wormsign bench` with five messages against the socket.
    fn bench(&self) -> Output {
        Command::new(wormsign_bin())
            .args(["bench", "--messages", "5", "--socket", &self.address()])
            .arg("--corpus")
            .arg(self.dir.path().join("corpus"))
            .output()
            .expect("run wormsign bench")
    }

    fn assert_serving(&self, what: &str) {
        let output = self.bench();
        assert!(
            output.status.success(),
            "bench against {what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn socket_inode(&self) -> u64 {
        fs::symlink_metadata(self.socket())
            .expect("the socket file exists")
            .ino()
    }
}

/// A `wormsign` child process with its standard error in a file; killed on
/// drop.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        // std sends only SIGKILL, so this runs kill(1).
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to [`TIMEOUT`] for the process to exit.
    fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the process") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process still runs after {TIMEOUT:?}:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn assert_running(&mut self) {
        let status = self.child.try_wait().expect("poll the process");
        assert!(status.is_none(), "exited with {status:?}:\n{}", self.log());
    }

    /// Waits until the log contains `text`.
    fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in the log within {TIMEOUT:?}:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn second_milter_rejects_live_socket() {
    let setup = Setup::new();
    let _first = setup.start("first", &[]);
    let inode = setup.socket_inode();

    let mut second = setup.spawn("second", &[]);
    let status = second.wait_for_exit();
    assert!(!status.success(), "{status}:\n{}", second.log());
    let log = second.log();
    assert!(log.contains(&setup.address()), "{log}");
    assert!(log.contains("another process is listening"), "{log}");
    assert!(log.contains("choose another listen path"), "{log}");

    assert_eq!(setup.socket_inode(), inode, "the socket file was replaced");
    setup.assert_serving("the first milter");
}

#[test]
fn second_null_milter_rejects_live_socket() {
    let setup = Setup::new();
    let _first = setup.start("first", &["--null"]);

    let mut second = setup.spawn("second", &["--null"]);
    let status = second.wait_for_exit();
    assert!(!status.success(), "{status}:\n{}", second.log());
    assert!(
        second.log().contains("another process is listening"),
        "{}",
        second.log()
    );
    setup.assert_serving("the first null milter");
}

#[test]
fn stale_socket_is_replaced() {
    let setup = Setup::new();
    let mut killed = setup.start("killed", &[]);
    killed.signal("KILL");
    killed.wait_for_exit();
    assert!(setup.socket().exists(), "SIGKILL left no socket file");

    // The new socket may reuse the freed inode number, so the log shows
    // the replacement.
    let mut milter = setup.start("new", &[]);
    assert!(
        milter.log().contains("removing a stale socket file"),
        "{}",
        milter.log()
    );
    setup.assert_serving("the new milter");
    milter.assert_running();
}

#[test]
fn file_that_is_not_a_socket_stays() {
    let setup = Setup::new();
    fs::write(setup.socket(), "keep me").expect("write a regular file");

    let mut milter = setup.spawn("milter", &[]);
    let status = milter.wait_for_exit();
    assert!(!status.success(), "{status}");
    assert!(milter.log().contains("is not a socket"), "{}", milter.log());
    assert_eq!(fs::read_to_string(setup.socket()).unwrap(), "keep me");
}

#[test]
fn sigterm_removes_own_socket() {
    for args in [&[][..], &["--null"][..]] {
        let setup = Setup::new();
        let mut milter = setup.start("milter", args);
        milter.signal("TERM");
        let status = milter.wait_for_exit();
        assert!(status.success(), "{args:?}: {status}:\n{}", milter.log());
        assert!(
            !setup.socket().exists(),
            "{args:?}: the socket file is still there"
        );
    }
}

#[test]
fn sigterm_keeps_replaced_socket() {
    for args in [&[][..], &["--null"][..]] {
        let setup = Setup::new();
        let mut milter = setup.start("milter", args);
        // Another program took the path over, as an older wormsign did.
        fs::remove_file(setup.socket()).expect("remove the milter's socket file");
        let other = UnixListener::bind(setup.socket()).expect("bind the path again");
        let inode = setup.socket_inode();

        milter.signal("TERM");
        let status = milter.wait_for_exit();
        assert!(status.success(), "{args:?}: {status}:\n{}", milter.log());
        assert_eq!(
            setup.socket_inode(),
            inode,
            "{args:?}: the other socket was removed:\n{}",
            milter.log()
        );
        assert!(UnixStream::connect(setup.socket()).is_ok(), "{args:?}");
        drop(other);
    }
}

#[test]
fn sighup_keeps_milter_running() {
    let setup = Setup::new();
    let mut milter = setup.start("milter", &[]);
    milter.signal("HUP");
    milter.wait_for_log("rules reloaded");
    milter.assert_running();
    setup.assert_serving("the milter after SIGHUP");
}

#[test]
fn sighup_keeps_null_milter_running() {
    let setup = Setup::new();
    let mut milter = setup.start("milter", &["--null"]);
    milter.signal("HUP");
    milter.wait_for_log("SIGHUP received");
    milter.assert_running();
    setup.assert_serving("the null milter after SIGHUP");
}

/// Runs `wormsign run --listen ADDRESS` and returns its standard error,
/// asserting that it failed.
fn run_failure(setup: &Setup, address: &str) -> String {
    let mut milter = setup.spawn("failed", &["--listen", address]);
    let status = milter.wait_for_exit();
    assert!(!status.success(), "{address}: {status}");
    milter.log()
}

#[test]
fn missing_socket_directory_is_named() {
    let setup = Setup::new();
    let missing = setup.dir.path().join("nodir");
    let address = format!("unix:{}", missing.join("m.sock").display());
    let error = run_failure(&setup, &address);
    assert!(error.contains(&address), "{error}");
    assert!(
        error.contains(&format!("directory {} does not exist", missing.display())),
        "{error}"
    );
    assert!(error.contains("create it"), "{error}");
    assert!(error.contains("/var/spool/postfix"), "{error}");
}

#[test]
fn listen_port_out_of_range_is_named() {
    let setup = Setup::new();
    let error = run_failure(&setup, "inet:127.0.0.1:99999");
    assert!(error.contains("port 99999 is out of range"), "{error}");
    assert!(error.contains("1-65535"), "{error}");
}
