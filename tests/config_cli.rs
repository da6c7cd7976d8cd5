//! `wormsign config check` and `wormsign run` on invalid configurations:
//! errors go to standard error and name the key, its line and the fix, and
//! an export output that cannot work is rejected before the milter starts.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Milter, free_port, wormsign_bin};

fn run_with_config(dir: &Path, config: &str, args: &[&str]) -> Output {
    let path = dir.join("wormsign.toml");
    std::fs::write(&path, config).expect("write config");
    Command::new(wormsign_bin())
        .arg("--config")
        .arg(&path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run wormsign")
}

/// An output of each kind that failed only at run time before: a BIND zone
/// without zone and name servers, and a file in a missing directory.
fn bad_outputs(dir: &Path) -> [(String, String); 2] {
    let database = dir.join("wormsign.db");
    let header = format!(
        "listen = \"inet:127.0.0.1:{}\"\ndatabase = \"{}\"\n[export]\ninterval_secs = 1\n",
        free_port(),
        database.display()
    );
    let bind = format!(
        "{header}[[export.outputs]]\nformat = \"bind\"\npath = \"{}\"\n",
        dir.join("bl.zone").display()
    );
    let missing = dir.join("nodir");
    let plain = format!(
        "{header}[[export.outputs]]\nformat = \"plain\"\npath = \"{}\"\n",
        missing.join("x.txt").display()
    );
    [
        (
            bind,
            "line 6: export.outputs[0].format: \"bind\" needs a zone name and at least one name server"
                .to_string(),
        ),
        (
            plain,
            format!(
                "line 7: export.outputs[0].path: the directory {} of {} does not exist: create it",
                missing.display(),
                missing.join("x.txt").display()
            ),
        ),
    ]
}

#[test]
fn config_check_rejects_unusable_outputs() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (config, expected) in bad_outputs(dir.path()) {
        let output = run_with_config(dir.path(), &config, &["config", "check"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{config}\n{stderr}");
        assert!(stderr.contains(&expected), "{config}\n{stderr}");
        assert!(
            output.stdout.is_empty(),
            "error on stdout: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn run_rejects_unusable_outputs_at_start() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (config, expected) in bad_outputs(dir.path()) {
        let output = run_with_config(dir.path(), &config, &["run"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{config}\n{stderr}");
        assert!(stderr.contains(&expected), "{config}\n{stderr}");
        assert!(!stderr.contains("milter started"), "{stderr}");
    }
}

#[test]
fn config_check_valid_goes_to_stdout() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = run_with_config(dir.path(), "action = \"reject\"\n", &["config", "check"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains(": valid;"), "{stdout}");
    assert!(stdout.contains("action = \"reject\""), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn config_check_errors_name_key() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cases = [
        (
            "max_message_bytes = -1\n",
            "line 1: max_message_bytes: invalid value -1: expected a whole number of bytes, 1 or more",
        ),
        (
            "\nscan_timeout_secs = \"10\"\n",
            "line 2: scan_timeout_secs: invalid value \"10\" (a quoted string): expected a whole number of seconds, from 1 to 600",
        ),
        (
            "list_documentation_ranges = true\n",
            "line 1: unknown key `list_documentation_ranges` at the top level: this key belongs under [listing]",
        ),
    ];
    for (config, expected) in cases {
        let output = run_with_config(dir.path(), config, &["config", "check"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{config}\n{stderr}");
        assert!(stderr.contains(expected), "{config}\n{stderr}");
        assert!(output.stdout.is_empty(), "{config}");
    }
}

#[test]
fn start_log_uses_config_syntax() {
    let inferred = Milter::start("action = \"accept\"");
    let log = inferred.log();
    assert!(log.contains("action=accept"), "{log}");
    assert!(log.contains("trusted_networks=inferred"), "{log}");

    let empty = Milter::start("trusted_networks = []\naction = \"reject\"");
    let log = empty.log();
    assert!(log.contains("action=reject"), "{log}");
    assert!(log.contains("trusted_networks=[]"), "{log}");
}

#[test]
fn repeated_export_failure_logged_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output_dir = dir.path().join("out");
    std::fs::create_dir(&output_dir).expect("create the output directory");
    let path = output_dir.join("bl.txt");
    let milter = Milter::start(&format!(
        "[export]\ninterval_secs = 1\n[[export.outputs]]\nformat = \"plain\"\npath = \"{}\"\n",
        path.display()
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no export:\n{}", milter.log());
        std::thread::sleep(Duration::from_millis(100));
    }

    // The directory goes away while the milter runs: every round fails.
    std::fs::remove_dir_all(&output_dir).expect("remove the output directory");
    let failures = || milter.log().matches("periodic export failed").count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while failures() == 0 {
        assert!(Instant::now() < deadline, "no failure:\n{}", milter.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Four more rounds of the same failure.
    std::thread::sleep(Duration::from_millis(4500));
    let log = milter.log();
    assert_eq!(failures(), 1, "{log}");
    assert!(log.contains("does not exist: create it"), "{log}");

    std::fs::create_dir(&output_dir).expect("create the output directory again");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !milter.log().contains("periodic export works again") {
        assert!(Instant::now() < deadline, "no recovery:\n{}", milter.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(path.exists());
}

/// Returns a config with two `[[listing.return_codes]]` entries, the second
/// one `entry` (lines 7 and on).
fn return_codes_config(entry: &str) -> String {
    format!(
        "[listing]\nreturn_code = \"127.0.0.2\"\n[[listing.return_codes]]\nconfidence = \"low\"\n\
         code = \"127.0.0.4\"\n[[listing.return_codes]]\n{entry}\ncode = \"127.0.0.3\"\n"
    )
}

#[test]
fn config_check_rejects_bad_confidence() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for value in ["hgh", "HIGH", ""] {
        let config = return_codes_config(&format!("confidence = \"{value}\""));
        let output = run_with_config(dir.path(), &config, &["config", "check"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{config}\n{stderr}");
        let expected = format!(
            "line 7: listing.return_codes[1].confidence: invalid confidence \"{value}\": use \"high\", \"medium\" or \"low\""
        );
        assert!(stderr.contains(&expected), "{config}\n{stderr}");
    }
}

#[test]
fn config_check_warns_unknown_family() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = return_codes_config("family = \"Sobre\"");
    let output = run_with_config(dir.path(), &config, &["config", "check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "warning: listing.return_codes: family \"Sobre\" is not the family of any rule"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("known families: EICAR-Test-File, Sober"),
        "{stderr}"
    );

    let config = return_codes_config("family = \"sober\"");
    let output = run_with_config(dir.path(), &config, &["config", "check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn run_warns_unknown_family() {
    let milter = Milter::start(&return_codes_config("family = \"Sobre\""));
    let log = milter.log();
    assert!(log.contains("family \"Sobre\" is not the family"), "{log}");
    assert!(
        log.contains("known families: EICAR-Test-File, Sober"),
        "{log}"
    );
}
