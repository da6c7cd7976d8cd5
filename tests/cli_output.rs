//! Output of the `wormsign` binary to a reader that went away: a closed
//! pipe ends the command quietly with status 141 (128 + SIGPIPE) instead of
//! a panic.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{repo_root, require_tool, wormsign_bin};

/// Status for a closed standard output, as documented in the README.
const BROKEN_PIPE_STATUS: i32 = 141;

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/e2e").join(name)
}

/// Runs wormsign with `args` and its standard output on a pipe whose read
/// end is already closed, so that the first write fails.
fn run_with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("create a pipe");
    drop(reader);
    Command::new(wormsign_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run wormsign")
}

fn assert_quiet_end(args: &[&str], output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(BROKEN_PIPE_STATUS),
        "{args:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
}

#[test]
fn closed_stdout_ends_commands_quietly() {
    let eml = fixture("a-sober-y-fbi.eml");
    let eml = eml.to_str().expect("UTF-8 path");
    let commands: [&[&str]; 4] = [
        &["config", "check"],
        &["origin", eml],
        &["origin", "--json", eml],
        &["scan", eml],
    ];
    for args in commands {
        let output = run_with_closed_stdout(args);
        assert_quiet_end(args, &output);
    }
}

#[test]
fn origin_piped_to_head() {
    require_tool("bash");
    require_tool("head");
    // Enough messages that the output outgrows the pipe buffer (64 KiB on
    // Linux) after head has read its line and exited.
    let eml = fixture("a-sober-y-fbi.eml");
    let files = vec![eml.to_str().expect("UTF-8 path"); 3000];
    let output = Command::new("bash")
        .arg("-c")
        .arg("\"$@\" | head -n 1 >/dev/null; echo \"status=${PIPESTATUS[0]}\"")
        .arg("bash")
        .arg(wormsign_bin())
        .arg("origin")
        .args(&files)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stdout.trim(),
        format!("status={BROKEN_PIPE_STATUS}"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}
