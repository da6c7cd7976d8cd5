//! `wormsign bench` end to end: the generator against a real `wormsign run`
//! over TCP and against the null milter (`wormsign run --null`) over a Unix
//! socket, on the end-to-end fixtures and on part of the SpamAssassin corpus.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Milter, repo_root, wormsign_bin};

/// The null milter as a child process on a Unix socket; killed on drop.
struct NullMilter {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl NullMilter {
    fn start() -> NullMilter {
        let dir = tempfile::tempdir().expect("create null milter directory");
        let socket = dir.path().join("null.sock");
        let child = Command::new(wormsign_bin())
            .args(["run", "--null", "--listen"])
            .arg(format!("unix:{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wormsign run --null");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "null milter did not create {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        NullMilter {
            child,
            socket,
            _dir: dir,
        }
    }

    fn address(&self) -> String {
        format!("unix:{}", self.socket.display())
    }
}

impl Drop for NullMilter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench(socket: &str, corpus: &Path, extra: &[&str]) -> Output {
    Command::new(wormsign_bin())
        .args(["bench", "--json", "--socket", socket, "--corpus"])
        .arg(corpus)
        .args(extra)
        .output()
        .expect("run wormsign bench")
}

/// Parses the single JSON object and checks its exact shape.
fn report(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8(output.stdout.clone()).expect("bench output is UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "expected one JSON line, got {stdout:?}");
    let value: serde_json::Value = serde_json::from_str(lines[0]).expect("valid JSON");

    let keys: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "errors",
            "latency_ms",
            "messages",
            "msgs_per_sec",
            "replies",
            "seconds"
        ]
    );

    for key in ["p50", "p95", "p99", "max"] {
        assert!(
            value["latency_ms"][key].is_f64(),
            "latency_ms.{key}: {value}"
        );
    }
    for key in ["accept", "reject", "tempfail", "discard", "quarantine"] {
        assert!(value["replies"][key].is_u64(), "replies.{key}: {value}");
    }
    assert!(value["messages"].is_u64());
    assert!(value["errors"].is_u64());
    assert!(value["seconds"].is_f64());
    assert!(value["msgs_per_sec"].is_f64());
    value
}

/// Copies the e2e fixtures (three infected, one clean) to a folder of their
/// own, without expected.json.
fn fixture_corpus() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create corpus directory");
    let source = repo_root().join("tests/fixtures/e2e");
    for entry in std::fs::read_dir(&source).expect("read fixtures") {
        let path = entry.expect("fixture entry").path();
        if path.extension().is_some_and(|e| e == "eml") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

#[test]
fn wormsign_rejects_infected_fixtures() {
    let milter = Milter::start("action = \"reject\"");
    let corpus = fixture_corpus();
    let output = bench(
        &milter.socket(),
        corpus.path(),
        &["--messages", "20", "--concurrency", "3"],
    );
    let value = report(&output);
    assert!(output.status.success(), "{value}\n{}", milter.log());
    assert_eq!(value["messages"], 20);
    assert_eq!(value["errors"], 0);
    // Messages 0..20 cycle through the four fixtures in name order: a, b
    // and d are infected, c is clean.
    assert_eq!(value["replies"]["reject"], 15, "{value}");
    assert_eq!(value["replies"]["accept"], 5, "{value}");
    assert!(value["latency_ms"]["max"].as_f64().unwrap() > 0.0);
    // Message 0 (a-sober-y-fbi.eml) is infected; its detection is logged
    // with the queue id the generator sent in the `i` macro.
    assert!(milter.log().contains("B000000000"), "{}", milter.log());
}

#[test]
fn wormsign_quarantine_is_counted() {
    let milter = Milter::start("action = \"quarantine\"");
    let corpus = fixture_corpus();
    let output = bench(&milter.socket(), corpus.path(), &["--reply-every-stage"]);
    let value = report(&output);
    assert_eq!(value["messages"], 4);
    assert_eq!(value["replies"]["quarantine"], 3, "{value}");
    assert_eq!(value["replies"]["accept"], 1, "{value}");
}

#[test]
fn null_milter_accepts_sa_corpus() {
    let corpus = std::env::var("WORMSIGN_SA_CORPUS").unwrap_or_else(|_| {
        panic!(
            "WORMSIGN_SA_CORPUS is not set: run tests/run-all.sh, or fetch the corpus with \
             tests/corpus/fetch-spamassassin.sh DIR and set WORMSIGN_SA_CORPUS=DIR"
        )
    });
    let folder = Path::new(&corpus).join("easy-ham-1");
    let null = NullMilter::start();
    for extra in [&[][..], &["--reply-every-stage"][..]] {
        let mut args = vec!["--messages", "300", "--concurrency", "8"];
        args.extend_from_slice(extra);
        let output = bench(&null.address(), &folder, &args);
        let value = report(&output);
        assert!(output.status.success(), "{extra:?}: {value}");
        assert_eq!(value["messages"], 300, "{extra:?}");
        assert_eq!(value["replies"]["accept"], 300, "{extra:?}: {value}");
        assert_eq!(value["errors"], 0, "{extra:?}");
    }
}

#[test]
fn mbox_corpus_is_split() {
    let corpus = fixture_corpus();
    let mut mbox = Vec::new();
    for name in ["a-sober-y-fbi.eml", "c-clean-zip.eml"] {
        mbox.extend_from_slice(b"From sender@example.net Thu Dec  3 10:00:00 2026\n");
        mbox.extend_from_slice(&std::fs::read(corpus.path().join(name)).unwrap());
        mbox.extend_from_slice(b"\n");
    }
    let path = corpus.path().join("two.mbox");
    std::fs::write(&path, mbox).unwrap();
    let null = NullMilter::start();
    let value = report(&bench(&null.address(), &path, &[]));
    assert_eq!(value["messages"], 2);
    assert_eq!(value["replies"]["accept"], 2);
}

/// Files named as in SpamAssassin's own tarball have no extension; the npm
/// package adds a `.json` copy beside each `.txt`. Both layouts are read
/// as `wormsign scan` reads them.
#[test]
fn extensionless_corpus_is_read() {
    let corpus = tempfile::tempdir().unwrap();
    let message = std::fs::read(repo_root().join("tests/fixtures/e2e/c-clean-zip.eml")).unwrap();
    std::fs::write(
        corpus.path().join("00001.7848dde101aa985090474a91ec93fcf0"),
        &message,
    )
    .unwrap();
    std::fs::write(corpus.path().join("00002.abc.txt"), &message).unwrap();
    std::fs::write(corpus.path().join("00002.abc.json"), "{\"text\": \"copy\"}").unwrap();

    let null = NullMilter::start();
    let output = bench(&null.address(), corpus.path(), &[]);
    let value = report(&output);
    assert!(output.status.success(), "{value}");
    assert_eq!(value["messages"], 2, "{value}");
    assert_eq!(value["replies"]["accept"], 2, "{value}");

    let scan = Command::new(wormsign_bin())
        .args(["scan"])
        .arg(corpus.path())
        .output()
        .expect("run wormsign scan");
    let lines = String::from_utf8_lossy(&scan.stdout).lines().count();
    assert_eq!(lines, 2, "scan reads the same two files");
}

#[test]
fn closed_socket_counts_errors() {
    let dir = tempfile::tempdir().unwrap();
    let socket = format!("unix:{}", dir.path().join("nobody.sock").display());
    let corpus = fixture_corpus();
    let output = bench(&socket, corpus.path(), &["--messages", "5"]);
    let value = report(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(value["messages"], 5);
    assert_eq!(value["errors"], 5);
    assert_eq!(value["replies"]["accept"], 0);
}

#[test]
fn invalid_socket_is_rejected() {
    let corpus = fixture_corpus();
    let output = bench("tcp:127.0.0.1:1", corpus.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("inet:HOST:PORT"), "{stderr}");
}
