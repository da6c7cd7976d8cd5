//! `wormsign origin` through the built binary: the JSON shape, the trust
//! flags from --trusted-networks, --internal-networks and --msa-networks,
//! and the errors for bad lists and unreadable files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A two-tier site. The front MX 192.0.2.25 relays to the filtering host
/// that runs wormsign. The worm came from 198.51.100.66, and the header
/// below it is forged.
const TWO_TIER: &str = "Received: from mx1.example.org (mx1.example.org [192.0.2.25])\r\n\
\tby filter.example.org (Postfix) with ESMTP id 1A2B3C; Mon, 1 Jan 2024 10:00:02 +0000\r\n\
Received: from infected-pc (dsl-66.example.net [198.51.100.66])\r\n\
\tby mx1.example.org (Postfix) with SMTP id 9Z8Y; Mon, 1 Jan 2024 10:00:01 +0000\r\n\
Received: from forged.example (innocent.example [203.0.113.200]) by infected-pc; Mon, 1 Jan 2024 10:00:00 +0000\r\n\
Subject: Ihr Passwort\r\n\
\r\n\
body\r\n";

/// An ISP's outbound relay: a customer authenticated to the MSA
/// 192.0.2.50, which relays to the outbound host.
const ISP_OUTBOUND: &str = "Received: from msa.isp.example (msa.isp.example [192.0.2.50])\r\n\
\tby out.isp.example (Postfix) with ESMTP id 5E6F; Mon, 1 Jan 2024 10:00:02 +0000\r\n\
Received: from customer-pc (dyn-23.isp.example [198.51.100.23])\r\n\
\tby msa.isp.example (Postfix) with ESMTP id 7G8H; Mon, 1 Jan 2024 10:00:01 +0000\r\n\
Subject: x\r\n\
\r\n\
body\r\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn wormsign(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wormsign"))
        .arg("origin")
        .args(args)
        .env_remove("WORMSIGN_CONFIG")
        .output()
        .expect("wormsign did not start")
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

#[test]
fn json_shape_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "two-tier.eml", TWO_TIER);
    let output = wormsign(&[
        file.to_str().unwrap(),
        "--trusted-networks",
        "192.0.2.0/24",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let reports = json_lines(&output);
    assert_eq!(reports.len(), 1);
    let report = &reports[0];

    let keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{report}");
    for key in ["path", "relays", "origin", "error"] {
        assert!(report.get(key).is_some(), "missing {key} in {report}");
    }
    assert_eq!(report["path"], file.to_str().unwrap());
    assert_eq!(report["error"], Value::Null);

    let relay_keys = [
        "ip", "rdns", "helo", "by", "ident", "envfrom", "id", "auth", "trusted", "internal", "msa",
    ];
    let relays = report["relays"].as_array().unwrap();
    assert_eq!(relays.len(), 3, "{report}");
    for relay in relays {
        assert_eq!(
            relay.as_object().unwrap().len(),
            relay_keys.len(),
            "{relay}"
        );
        for key in relay_keys {
            assert!(relay.get(key).is_some(), "missing {key} in {relay}");
        }
    }
    assert_eq!(relays[0]["ip"], "192.0.2.25");
    assert_eq!(relays[0]["rdns"], "mx1.example.org");
    assert_eq!(relays[0]["by"], "filter.example.org");
    assert_eq!(relays[0]["id"], "1A2B3C");
    assert_eq!(relays[0]["ident"], Value::Null);
    assert_eq!(relays[0]["auth"], Value::Null);
    assert_eq!(relays[0]["trusted"], true);
    assert_eq!(relays[0]["internal"], true);
    assert_eq!(relays[0]["msa"], false);
    assert_eq!(relays[1]["ip"], "198.51.100.66");
    assert_eq!(relays[1]["trusted"], false);
    assert_eq!(relays[2]["ip"], "203.0.113.200");

    assert_eq!(report["origin"]["ip"], "198.51.100.66");
    assert_eq!(report["origin"]["method"], "received");
    assert_eq!(report["origin"].as_object().unwrap().len(), 2);
}

#[test]
fn raw_values_are_not_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let header = "Received: from [192.0.2.99] (unknown [198.51.100.7]) by mx.example.org (Postfix) with SMTP id 4C; Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n";
    let file = write(dir.path(), "literal.eml", header);
    let output = wormsign(&[file.to_str().unwrap(), "--json"]);
    let reports = json_lines(&output);
    let relay = &reports[0]["relays"][0];
    assert_eq!(relay["helo"], "[192.0.2.99]");
    assert_eq!(relay["rdns"], Value::Null);
}

#[test]
fn absent_flags_infer_trust() {
    let dir = tempfile::tempdir().unwrap();
    let private_first = "Received: from filter (filter [10.0.0.5]) by mx.example.org (Postfix) with ESMTP id 1; Mon, 1 Jan 2024 10:00:01 +0000\r\n\
Received: from pc (dsl.example.net [198.51.100.66]) by filter (Postfix) with SMTP id 2; Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n";
    let file = write(dir.path(), "private.eml", private_first);

    let inferred = json_lines(&wormsign(&[file.to_str().unwrap(), "--json"]));
    assert_eq!(inferred[0]["relays"][0]["trusted"], true);
    assert_eq!(inferred[0]["origin"]["ip"], "198.51.100.66");

    // Configured but empty: only loopback is trusted.
    let empty = json_lines(&wormsign(&[
        file.to_str().unwrap(),
        "--trusted-networks",
        "",
        "--json",
    ]));
    assert_eq!(empty[0]["relays"][0]["trusted"], false);
    assert_eq!(empty[0]["origin"]["ip"], "10.0.0.5");
}

#[test]
fn msa_relay_gives_submitting_client() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "isp.eml", ISP_OUTBOUND);
    let output = wormsign(&[
        file.to_str().unwrap(),
        "--trusted-networks",
        "192.0.2.0/24",
        "--msa-networks",
        "192.0.2.50",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let reports = json_lines(&output);
    let relays = reports[0]["relays"].as_array().unwrap();
    assert_eq!(relays[0]["msa"], true);
    assert_eq!(relays[1]["trusted"], true);
    assert_eq!(reports[0]["origin"]["ip"], "198.51.100.23");
}

#[test]
fn text_output_lists_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "two-tier.eml", TWO_TIER);
    let output = wormsign(&[file.to_str().unwrap(), "--trusted-networks", "192.0.2.0/24"]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("relay 1: 192.0.2.25 [trusted internal]"),
        "{text}"
    );
    assert!(
        text.contains("relay 2: 198.51.100.66 [untrusted external]"),
        "{text}"
    );
    assert!(text.contains("origin: 198.51.100.66 (received)"), "{text}");
}

#[test]
fn lint_error_names_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "two-tier.eml", TWO_TIER);
    let output = wormsign(&[
        file.to_str().unwrap(),
        "--trusted-networks",
        "192.0.2.0/24",
        "--internal-networks",
        "192.0.2.0/24, 198.51.100.0/24",
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"198.51.100.0/24\""), "{stderr}");
    assert!(stderr.contains("internal"), "{stderr}");

    let bad = wormsign(&[file.to_str().unwrap(), "--trusted-networks", "10/x"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("10/x"));
}

/// SpamAssassin's local.cf separates entries with spaces, but the flags
/// take commas, and the error shows the list written with them.
#[test]
fn space_separated_list_says_commas() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "two-tier.eml", TWO_TIER);
    for flag in [
        "--trusted-networks",
        "--internal-networks",
        "--msa-networks",
    ] {
        let output = wormsign(&[file.to_str().unwrap(), flag, "10/8 192.168/16"]);
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("invalid {flag}")), "{stderr}");
        assert!(stderr.contains("\"10/8,192.168/16\""), "{stderr}");
    }
}

#[test]
fn unreadable_file_is_an_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.eml");
    let output = wormsign(&[missing.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let reports = json_lines(&output);
    assert_eq!(reports.len(), 1);
    assert!(
        reports[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );
    assert_eq!(reports[0]["origin"], Value::Null);
    assert_eq!(reports[0]["relays"], Value::Array(Vec::new()));
}

#[test]
fn mbox_reports_each_message() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = format!(
        "From a@example.org Mon Jan  1 10:00:00 2024\n{}\nFrom b@example.org Mon Jan  1 10:00:00 2024\n{}\n",
        TWO_TIER.replace("\r\n", "\n"),
        ISP_OUTBOUND.replace("\r\n", "\n")
    );
    let file = write(dir.path(), "box.mbox", &mbox);
    let output = wormsign(&[file.to_str().unwrap(), "--json"]);
    let reports = json_lines(&output);
    assert_eq!(reports.len(), 2, "{output:?}");
    let first = reports[0]["path"].as_str().unwrap();
    assert!(first.ends_with("box.mbox#1"), "{first}");
}
