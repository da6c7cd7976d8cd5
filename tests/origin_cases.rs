//! Runs the Received parser and the trust walk over the SpamAssassin test
//! vectors in `tests/data/` (see `tests/data/README.md` for the schema).
//! Every case must match.

use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::Value;
use wormsign::origin::{
    Hop, OriginMethod, TrustError, TrustInput, TrustSettings, headers, parse_received, trust_path,
};

fn read_cases(name: &str) -> Vec<Value> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let cases: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"))
        })
        .collect();
    assert!(!cases.is_empty(), "{} has no cases", path.display());
    cases
}

/// Applies SpamAssassin's replacement of `[ ] ( ) < > | #`, white space and
/// NUL by `!`, so our raw values compare with its escaped ones.
fn bang_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '[' | ']' | '(' | ')' | '<' | '>' | '|' | '#' | '\0' => '!',
            c if c.is_whitespace() => '!',
            c => c,
        })
        .collect()
}

fn expected_text(expect: &Value, field: &str) -> Option<String> {
    expect[field].as_str().map(str::to_owned)
}

fn actual_text(value: &Option<String>) -> Option<String> {
    value.as_deref().map(bang_escape).filter(|v| !v.is_empty())
}

/// Compares one parsed hop with the expectation and returns the names of
/// the fields that differ, with both values.
fn mismatches(hop: &Hop, expect: &Value) -> Vec<String> {
    let mut differences = Vec::new();
    let expected_ip = expect["ip"]
        .as_str()
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    if hop.ip != expected_ip {
        differences.push(format!("ip: {:?} != {:?}", hop.ip, expected_ip));
    }
    let text_fields = [
        ("rdns", &hop.rdns),
        ("helo", &hop.helo),
        ("by", &hop.by),
        ("ident", &hop.ident),
        ("envfrom", &hop.envfrom),
        ("id", &hop.id),
    ];
    for (field, value) in text_fields {
        let actual = actual_text(value);
        let expected = expected_text(expect, field);
        if actual != expected {
            differences.push(format!("{field}: {actual:?} != {expected:?}"));
        }
    }
    let expected_auth = !expect["auth"].is_null();
    if hop.authenticated != expected_auth {
        differences.push(format!(
            "authenticated: {} != {expected_auth}",
            hop.authenticated
        ));
    }
    differences
}

#[test]
fn received_cases() {
    let cases = read_cases("received-cases.jsonl");
    let mut failures = Vec::new();

    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let header = case["received"].as_str().expect("case without received");
        let hop = parse_received(header);
        let differences = match (case["kind"].as_str(), &hop) {
            (Some("ignored"), None) => Vec::new(),
            (Some("ignored"), Some(hop)) => vec![format!("expected no hop, got {hop:?}")],
            (_, None) => vec!["ip: no hop".to_owned()],
            (_, Some(hop)) => mismatches(hop, &case["expect"]),
        };
        if !differences.is_empty() {
            failures.push(format!("{id}: {}\n    {header}", differences.join("; ")));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {} received cases differ from SpamAssassin:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value.as_array().map(|entries| {
        entries
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect()
    })
}

/// Returns the index of the relay that is the origin by wormsign's rules:
/// the first untrusted relay, or the first relay below an MSA that is not
/// loopback, whichever comes first. SpamAssassin has no origin; below an
/// MSA it trusts every relay, while wormsign takes the client that
/// submitted the message to the MSA.
fn expected_origin(relays: &[Value]) -> Option<usize> {
    let mut below_msa = false;
    for (index, relay) in relays.iter().enumerate() {
        let loopback = relay["ip"]
            .as_str()
            .and_then(|ip| ip.parse::<IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback());
        if (below_msa && !loopback) || relay["trusted"].as_bool() == Some(false) {
            return Some(index);
        }
        below_msa |= relay["msa"].as_bool() == Some(true);
    }
    None
}

fn settings_of(case: &Value) -> Result<TrustSettings, TrustError> {
    let trusted = string_list(&case["trusted_networks"]);
    let internal = string_list(&case["internal_networks"]);
    let msa = string_list(&case["msa_networks"]);
    TrustSettings::parse(trusted.as_deref(), internal.as_deref(), msa.as_deref())
}

/// Checks that settings SpamAssassin's lint rejects are rejected, with a
/// message naming one of the internal or MSA entries.
fn check_lint_error(id: &str, case: &Value) {
    let error = settings_of(case).expect_err(id);
    let message = error.to_string();
    let mut named = string_list(&case["internal_networks"]).unwrap_or_default();
    named.extend(string_list(&case["msa_networks"]).unwrap_or_default());
    assert!(
        named
            .iter()
            .any(|entry| message.contains(&format!("{entry:?}"))),
        "{id}: error does not name an entry: {message}"
    );
}

#[test]
fn trust_path_cases() {
    let cases = read_cases("trust-path-cases.jsonl");
    let mut lint_errors = 0;

    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        if case["expect"]["lint_error"].as_bool() == Some(true) {
            check_lint_error(id, case);
            lint_errors += 1;
            continue;
        }
        let settings = settings_of(case).unwrap_or_else(|e| panic!("{id}: {e}"));
        let received = string_list(&case["received"]).expect("case without received");
        let header_block = case["headers"].as_str().unwrap_or("");
        let names = string_list(&case["originating_ip_headers"]).unwrap_or_default();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let originating = headers::values(header_block.as_bytes(), &names);
        let input = TrustInput {
            received: &received,
            originating: &originating,
            ..TrustInput::default()
        };
        let path = trust_path(&input, &settings);

        let relays = case["expect"]["relays"]
            .as_array()
            .expect("case without relays");
        assert_eq!(path.relays.len(), relays.len(), "{id}: relay count");
        for (index, (actual, expected)) in path.relays.iter().zip(relays).enumerate() {
            let expected_ip: Option<IpAddr> =
                expected["ip"].as_str().and_then(|ip| ip.parse().ok());
            assert_eq!(Some(actual.ip), expected_ip, "{id} relay {index}: ip");
            let flags = (actual.trusted, actual.internal, actual.msa);
            let expected_flags = (
                expected["trusted"].as_bool() == Some(true),
                expected["internal"].as_bool() == Some(true),
                expected["msa"].as_bool() == Some(true),
            );
            assert_eq!(
                flags, expected_flags,
                "{id} relay {index} {}: (trusted, internal, msa)",
                actual.ip
            );
        }

        let expected = expected_origin(relays).map(|index| path.relays[index].ip);
        let actual = path.origin.as_ref().map(|origin| origin.ip);
        assert_eq!(actual, expected, "{id}: origin");
        if let Some(origin) = &path.origin {
            assert_eq!(origin.method, OriginMethod::Received, "{id}: method");
        }
    }

    assert!(lint_errors > 0, "no lint-error scenario was checked");
}
