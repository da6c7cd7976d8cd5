//! Helpers shared by the integration tests: free loopback ports, private Postfix and
//! Sendmail instances started through `tests/mta/*.sh`, a small SMTP client, and the
//! `wormsign` milter as a child process or, in [`milter`], served in-process.
//!
//! Each test binary includes this file with `mod common;` and uses only part of it, hence
//! the `dead_code` allowance.
//!
//! The MTA helpers need root and start real daemons on 127.0.0.1. They panic when that is
//! not possible: a test never skips itself.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod milter;

/// Domain whose mailboxes both MTA scripts deliver locally.
pub const DOMAIN: &str = "probe.test";

/// How long an SMTP client waits for one reply. Covers a milter that scans a large message
/// in a debug build.
const SMTP_REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long [`Milter::start`] waits for the milter to listen.
const MILTER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the polling helpers look again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Root of the repository (the crate's manifest directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of the `wormsign` binary that Cargo built for this test run.
///
/// # Panics
/// Panics when the crate has no `wormsign` binary target.
pub fn wormsign_bin() -> PathBuf {
    // option_env! keeps this file compiling while the binary target does not exist yet.
    match option_env!("CARGO_BIN_EXE_wormsign") {
        Some(path) => PathBuf::from(path),
        None => panic!("the wormsign binary target (src/main.rs) does not exist"),
    }
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// Another process may take it before the caller binds it; the MTA helpers retry with a
/// new port when their daemon fails to start.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Checks that `name` is an executable on `PATH` (or in /usr/sbin or /sbin).
///
/// # Panics
/// Panics when it is missing, saying how to get it. Tests never skip over a missing tool.
pub fn require_tool(name: &str) {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .any(|dir| is_executable(&Path::new(dir).join(name)));
    assert!(
        found,
        "{name} not found: run tests/run-all.sh, which installs it with apt-get"
    );
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Checks that the tests run as root, which starting Postfix and Sendmail needs.
///
/// # Panics
/// Panics when the effective user is not root.
pub fn require_root() {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    // "Uid:\treal\teffective\tsaved\tfs"
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned));
    assert_eq!(
        effective.as_deref(),
        Some("0"),
        "the end-to-end tests start Postfix and Sendmail and must run as root"
    );
}

/// Returns whether some socket listens on 127.0.0.1:`port` (or on 0.0.0.0:`port`), read
/// from /proc/net/tcp. A test connection would open a milter session, which would show up
/// in the milter's log and counters.
pub fn is_listening(port: u16) -> bool {
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let loopback = format!("0100007F:{port:04X}");
    let any = format!("00000000:{port:04X}");
    // Columns: "sl local_address rem_address st ..."; st 0A is LISTEN.
    table.lines().skip(1).any(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        columns.len() > 3 && (columns[1] == loopback || columns[1] == any) && columns[3] == "0A"
    })
}

/// Runs one of the `tests/mta/*.sh` scripts with `env`.
fn run_mta_script(script: &str, command: &str, env: &[(&str, String)]) -> Result<(), String> {
    let path = repo_root().join("tests/mta").join(script);
    let output = Command::new("bash")
        .arg(&path)
        .arg(command)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("failed to run {}: {error}", path.display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{script} {command} failed with {}:\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Starts an MTA through its script, retrying with a new port when the first attempt fails
/// (the port may have been taken since [`free_port`]). Returns the port it listens on.
fn start_mta(script: &str, env_for_port: impl Fn(u16) -> Vec<(&'static str, String)>) -> u16 {
    const ATTEMPTS: usize = 3;
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        let port = free_port();
        match run_mta_script(script, "start", &env_for_port(port)) {
            Ok(()) => return port,
            Err(error) => failures.push(error),
        }
    }
    panic!(
        "{script} failed to start {ATTEMPTS} times:\n{}",
        failures.join("\n")
    );
}

/// Reads the messages in `maildir/new` and `maildir/cur`, ordered by modification time,
/// then file name. Files still
/// being written (`tmp/`, or a `.tmp` suffix as the Sendmail test mailer uses) are left out.
pub fn read_maildir(maildir: &Path) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let finished = path.extension().is_none_or(|extension| extension != "tmp");
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_file() && finished {
                paths.push((meta.modified().ok(), path));
            }
        }
    }
    // Postfix's Maildir names do not sort by time within one second.
    paths.sort();
    paths
        .iter()
        .filter_map(|(_, path)| fs::read(path).ok())
        .collect()
}

/// Polls `maildir` until it contains at least `count` messages and returns them all.
///
/// # Panics
/// Panics after `timeout`, with the messages found and `context` (such as the MTA's log)
/// in the message.
fn wait_for_maildir(
    maildir: &Path,
    count: usize,
    timeout: Duration,
    context: impl Fn() -> String,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    loop {
        let messages = read_maildir(maildir);
        if messages.len() >= count {
            return messages;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {count} message(s) in {}, found {}\n{}",
                maildir.display(),
                messages.len(),
                context()
            );
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// A private Postfix instance on 127.0.0.1, started by `tests/mta/postfix.sh` in a
/// temporary directory and stopped on drop.
///
/// Mail to `<user>@probe.test` for the users alice, bob, carol and postmaster lands in the
/// instance's maildirs. Postfix rejects any other recipient with 550, and outbound mail
/// bounces.
pub struct Postfix {
    dir: TempDir,
    port: u16,
}

impl Postfix {
    /// Starts Postfix with `milter` as `smtpd_milters` (Postfix syntax, such as
    /// `inet:127.0.0.1:7357`; `None` for no milter) and `milter_default_action = accept`.
    ///
    /// # Panics
    /// Panics when not run as root or when Postfix does not start.
    pub fn start(milter: Option<&str>) -> Postfix {
        Postfix::start_with(milter, &[])
    }

    /// Like [`Postfix::start`], with more variables for `postfix.sh`, such as
    /// `("PF_MILTER_DEFAULT", "tempfail")`, `("PF_SASL_USERS", "alice@probe.test:secret")` or
    /// `("PF_EXTRA_MAIN", "...")`.
    ///
    /// # Panics
    /// Panics when not run as root or when Postfix does not start.
    pub fn start_with(milter: Option<&str>, extra_env: &[(&'static str, &str)]) -> Postfix {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("wormsign-postfix-")
            .tempdir()
            .expect("create Postfix instance directory");
        let instance = dir.path().display().to_string();
        let milter = milter.unwrap_or("").to_owned();
        let port = start_mta("postfix.sh", |port| {
            let mut env = vec![
                ("PF_DIR", instance.clone()),
                ("PF_PORT", port.to_string()),
                ("PF_MILTER", milter.clone()),
            ];
            env.extend(
                extra_env
                    .iter()
                    .map(|(key, value)| (*key, value.to_string())),
            );
            env
        });
        Postfix { dir, port }
    }

    /// SMTP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Instance directory (configuration in `etc/`, queue in `spool/`, mail in `mail/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Contents of the Postfix log (`log/maillog`), empty when it does not exist yet.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log/maillog")).unwrap_or_default()
    }

    /// Messages delivered so far to `user`@probe.test, in delivery order.
    pub fn maildir_messages(&self, user: &str) -> Vec<Vec<u8>> {
        read_maildir(&self.dir.path().join("mail").join(user))
    }

    /// Polls until `user`@probe.test has at least `count` messages and returns them all.
    ///
    /// # Panics
    /// Panics after `timeout`, with the Postfix log in the message.
    pub fn wait_for_messages(&self, user: &str, count: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let maildir = self.dir.path().join("mail").join(user);
        wait_for_maildir(&maildir, count, timeout, || {
            format!("Postfix log:\n{}", self.log())
        })
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // Blocks for about 2 s: master exits that long after "postfix stop".
        let env = [("PF_DIR", self.dir.path().display().to_string())];
        if let Err(error) = run_mta_script("postfix.sh", "stop", &env) {
            let _ = std::io::stderr().write_all(error.as_bytes());
        }
    }
}

/// A private Sendmail instance on 127.0.0.1, started by `tests/mta/sendmail.sh` in a
/// temporary directory and stopped on drop. Sendmail writes no log here.
pub struct Sendmail {
    dir: TempDir,
    port: u16,
}

impl Sendmail {
    /// Starts Sendmail with `milter` as its input mail filter (`inet:HOST:PORT` as Postfix
    /// writes it, Sendmail's `inet:PORT@HOST`, or `None` for no milter). When the milter is
    /// unreachable, Sendmail accepts the mail unfiltered.
    ///
    /// # Panics
    /// Panics when not run as root or when Sendmail does not start.
    pub fn start(milter: Option<&str>) -> Sendmail {
        Sendmail::start_with(milter, &[])
    }

    /// Like [`Sendmail::start`], with more variables for `sendmail.sh`, such as
    /// `("SM_MILTER_DEFAULT", "tempfail")`.
    ///
    /// # Panics
    /// Panics when not run as root or when Sendmail does not start.
    pub fn start_with(milter: Option<&str>, extra_env: &[(&'static str, &str)]) -> Sendmail {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("wormsign-sendmail-")
            .tempdir()
            .expect("create Sendmail instance directory");
        let instance = dir.path().display().to_string();
        let milter = milter.unwrap_or("").to_owned();
        let port = start_mta("sendmail.sh", |port| {
            let mut env = vec![
                ("SM_DIR", instance.clone()),
                ("SM_PORT", port.to_string()),
                ("SM_MILTER", milter.clone()),
            ];
            env.extend(
                extra_env
                    .iter()
                    .map(|(key, value)| (*key, value.to_string())),
            );
            env
        });
        Sendmail { dir, port }
    }

    /// SMTP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Instance directory (configuration and queue in `run/`, mail in `mail/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Messages delivered so far to `user`@probe.test, in delivery order.
    pub fn maildir_messages(&self, user: &str) -> Vec<Vec<u8>> {
        read_maildir(&self.dir.path().join("mail").join(user))
    }

    /// Polls until `user`@probe.test has at least `count` messages and returns them all.
    ///
    /// # Panics
    /// Panics after `timeout`, with the daemon's output in the message.
    pub fn wait_for_messages(&self, user: &str, count: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let maildir = self.dir.path().join("mail").join(user);
        wait_for_maildir(&maildir, count, timeout, || {
            let output = fs::read_to_string(self.dir.path().join("run/daemon.out"));
            format!("Sendmail daemon output:\n{}", output.unwrap_or_default())
        })
    }
}

impl Drop for Sendmail {
    fn drop(&mut self) {
        let env = [("SM_DIR", self.dir.path().display().to_string())];
        if let Err(error) = run_mta_script("sendmail.sh", "stop", &env) {
            let _ = std::io::stderr().write_all(error.as_bytes());
        }
    }
}

/// Options of [`smtp_send_with`].
#[derive(Debug, Clone)]
pub struct SmtpOptions<'a> {
    /// Name sent with EHLO.
    pub helo: &'a str,
    /// User name and password for AUTH PLAIN, sent after EHLO.
    pub auth: Option<(&'a str, &'a str)>,
}

impl Default for SmtpOptions<'_> {
    fn default() -> Self {
        SmtpOptions {
            helo: "client.example.org",
            auth: None,
        }
    }
}

/// Sends one message to the SMTP server on 127.0.0.1:`port` with EHLO client.example.org.
/// See [`smtp_send_with`].
///
/// # Errors
/// As [`smtp_send_with`].
pub fn smtp_send(
    port: u16,
    mail_from: &str,
    rcpt_to: &[&str],
    data: &[u8],
) -> Result<String, String> {
    smtp_send_with(port, &SmtpOptions::default(), mail_from, rcpt_to, data)
}

/// Sends one message to the SMTP server on 127.0.0.1:`port`: EHLO, optional AUTH PLAIN,
/// MAIL, one RCPT per recipient, DATA and QUIT. `data` is the message as it would be
/// stored; line endings become CRLF and lines starting with a dot are dot-stuffed.
///
/// Returns the final line of the reply to the message data, such as
/// `250 2.0.0 Ok: queued as 4F3C21A0B5`.
///
/// # Errors
/// Returns the server's reply line (for example `550 5.1.1 <x@probe.test>: Recipient
/// address rejected: ...`, followed by the command it answered in brackets) when any reply
/// is not 2xx or 3xx, or a description of the I/O failure.
pub fn smtp_send_with(
    port: u16,
    options: &SmtpOptions<'_>,
    mail_from: &str,
    rcpt_to: &[&str],
    data: &[u8],
) -> Result<String, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|error| format!("connect to 127.0.0.1:{port} failed: {error}"))?;
    stream
        .set_read_timeout(Some(SMTP_REPLY_TIMEOUT))
        .map_err(|error| error.to_string())?;
    let mut session = SmtpSession {
        reader: BufReader::new(stream.try_clone().map_err(|error| error.to_string())?),
        writer: stream,
    };

    session.expect_reply("greeting")?;
    session.command(&format!("EHLO {}", options.helo))?;
    if let Some((user, password)) = options.auth {
        let token = base64_encode(format!("\0{user}\0{password}").as_bytes());
        // Sent by hand so an error names the command but not the credentials.
        session.send(format!("AUTH PLAIN {token}\r\n").as_bytes())?;
        session.expect_reply("AUTH PLAIN")?;
    }
    session.command(&format!("MAIL FROM:<{mail_from}>"))?;
    for rcpt in rcpt_to {
        session.command(&format!("RCPT TO:<{rcpt}>"))?;
    }
    session.command("DATA")?;
    session.send(&encode_data(data))?;
    let reply = session.expect_reply("end of data")?;
    // The message is queued: a failing QUIT changes nothing about that.
    let _ = session.command("QUIT");
    Ok(reply)
}

struct SmtpSession {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl SmtpSession {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .map_err(|error| format!("write to SMTP server failed: {error}"))
    }

    fn command(&mut self, line: &str) -> Result<String, String> {
        self.send(format!("{line}\r\n").as_bytes())?;
        self.expect_reply(line)
    }

    /// Reads one (possibly multi-line) reply and returns its last line, or that line as the
    /// error when the code is not 2xx or 3xx.
    fn expect_reply(&mut self, answered: &str) -> Result<String, String> {
        loop {
            let mut raw = Vec::new();
            let read = self
                .reader
                .read_until(b'\n', &mut raw)
                .map_err(|error| format!("reading reply to {answered} failed: {error}"))?;
            if read == 0 {
                return Err(format!("connection closed before the reply to {answered}"));
            }
            let line = String::from_utf8_lossy(&raw).trim_end().to_owned();
            // "250-..." continues a multi-line reply; "250 ..." (or a bare "250") ends it.
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            return match line.as_bytes().first() {
                Some(b'2' | b'3') => Ok(line),
                _ => Err(format!("{line} (in reply to {answered})")),
            };
        }
    }
}

/// Turns message bytes into the DATA payload: CRLF line endings, dot-stuffing, and the
/// terminating `.` line.
pub fn encode_data(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 50 + 5);
    if !data.is_empty() {
        let body = data.strip_suffix(b"\n").unwrap_or(data);
        for line in body.split(|&byte| byte == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Standard base64 with padding (RFC 4648), for AUTH PLAIN.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |acc, (i, &byte)| {
            acc | u32::from(byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= chunk.len() {
                let index = (group >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `wormsign run` milter as a child process, with its configuration, database and log in
/// a temporary directory. Killed on drop.
pub struct Milter {
    child: Child,
    dir: TempDir,
    port: u16,
}

impl Milter {
    /// Starts `wormsign run --config FILE` listening on a free port of 127.0.0.1.
    ///
    /// The configuration file contains `listen = "inet:127.0.0.1:PORT"` and `database =
    /// "DIR/wormsign.db"`, followed by `config`, which therefore must not set those two keys
    /// (for example `trusted_networks = ["10.0.0.0/8"]` and `action = "accept"`). The
    /// milter runs in the repository root, so relative paths such as `signatures/` work.
    ///
    /// # Panics
    /// Panics when the binary exits or does not listen within 30 s, with its output.
    pub fn start(config: &str) -> Milter {
        let dir = tempfile::Builder::new()
            .prefix("wormsign-milter-")
            .tempdir()
            .expect("create milter directory");
        let port = free_port();
        let database = dir.path().join("wormsign.db");
        let full_config = format!(
            "listen = \"inet:127.0.0.1:{port}\"\ndatabase = \"{}\"\n{config}\n",
            database.display()
        );
        Milter::start_in(dir, port, &full_config)
    }

    /// Starts the milter with `config` as the whole configuration file. `port` must be the
    /// TCP port that its `listen` key names on 127.0.0.1, since readiness is read from
    /// /proc/net/tcp.
    ///
    /// # Panics
    /// As [`Milter::start`].
    pub fn start_raw(config: &str, port: u16) -> Milter {
        let dir = tempfile::Builder::new()
            .prefix("wormsign-milter-")
            .tempdir()
            .expect("create milter directory");
        Milter::start_in(dir, port, config)
    }

    fn start_in(dir: TempDir, port: u16, config: &str) -> Milter {
        let config_path = dir.path().join("wormsign.toml");
        fs::write(&config_path, config).expect("write milter configuration");
        let log = fs::File::create(dir.path().join("wormsign.log")).expect("create milter log");
        let child = Command::new(wormsign_bin())
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .current_dir(repo_root())
            // The log is a file, so colour escapes would only get in the way of reading it.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("duplicate log file handle"))
            .stderr(log)
            .spawn()
            .expect("start the wormsign binary");
        let mut milter = Milter { child, dir, port };
        milter.wait_until_listening();
        milter
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + MILTER_START_TIMEOUT;
        // Another process may hold the port: the milter's own start line
        // says the listener is ours.
        while !(is_listening(self.port) && self.log().contains("wormsign milter started")) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "wormsign run exited with {status} before listening on port {}:\n{}",
                    self.port,
                    self.log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "wormsign run did not listen on 127.0.0.1:{} within {MILTER_START_TIMEOUT:?}:\n{}",
                    self.port,
                    self.log()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Socket in Postfix's `smtpd_milters` syntax, `inet:127.0.0.1:PORT`, which
    /// [`Postfix::start`] and [`Sendmail::start`] both take.
    pub fn socket(&self) -> String {
        format!("inet:127.0.0.1:{}", self.port)
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Process id of the `wormsign run` child, for sending it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Path of the SQLite database that [`Milter::start`] configured.
    pub fn database(&self) -> PathBuf {
        self.dir.path().join("wormsign.db")
    }

    /// Path of the configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("wormsign.toml")
    }

    /// Everything the milter wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("wormsign.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits up to 10 s for the milter to exit, then kills it.
    /// Returns its exit status, which is success after a clean shutdown.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        // std cannot send SIGTERM, so this runs kill(1) from procps.
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
                _ => {
                    let _ = self.child.kill();
                    return self.child.wait().expect("wait for the killed milter");
                }
            }
        }
    }
}

impl Drop for Milter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One entry of a fixture directory's `expected.json`.
#[derive(Debug, serde::Deserialize)]
pub struct ExpectedVerdict {
    /// File name inside the fixture directory.
    pub file: String,
    /// `infected` or `clean`.
    pub verdict: String,
    pub family: Option<String>,
    pub variant: Option<String>,
    /// Client IP of the newest Received header: the expected origin.
    pub newest_hop_ip: String,
    /// IP of the forged older Received header, never the origin.
    pub forged_ip: String,
    /// Whether the origin gets a sighting and a listing: false for clean
    /// mail and for the EICAR test file, which gets a verdict only.
    pub listed: bool,
}

/// Reads `expected.json` of the fixture directory `dir` (relative to the
/// repository root).
pub fn expected_verdicts(dir: &str) -> Vec<ExpectedVerdict> {
    let path = repo_root().join(dir).join("expected.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}
