use super::*;
use crate::listing::policy::details;
use crate::store::tests::sample;
use crate::store::{delist, insert_batch, open};

/// 2024-05-02T00:00:00Z
const NOW: i64 = 1_714_608_000;
const HOUR: i64 = 3600;

fn database(sightings: &[crate::store::Sighting]) -> (tempfile::TempDir, Connection) {
    let directory = tempfile::tempdir().unwrap();
    let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
    insert_batch(&mut conn, sightings).unwrap();
    (directory, conn)
}

fn test_policy() -> Policy {
    Policy {
        list_documentation_ranges: true,
        ..Policy::default()
    }
}

fn keys(listed: &[Listed]) -> Vec<String> {
    listed.iter().map(|l| l.network.to_string()).collect()
}

#[test]
fn listed_applies_window_and_expiry() {
    let (_dir, conn) = database(&[
        sample("192.0.2.1", NOW - HOUR, "Sober", "Q1"),
        // Silent for 8 days: expired under the 7-day default.
        sample("192.0.2.2", NOW - 8 * 24 * HOUR, "Sober", "Q2"),
        // Older than the 30-day window: not counted at all.
        sample("192.0.2.3", NOW - 31 * 24 * HOUR, "Sober", "Q3"),
    ]);
    let listed = listed(&conn, &test_policy(), NOW).unwrap();
    assert_eq!(keys(&listed), ["192.0.2.1/32"]);
}

#[test]
fn listed_groups_ipv6_per_64() {
    let (_dir, conn) = database(&[
        sample("2001:db8:1:2::10", NOW - HOUR, "Sober", "Q1"),
        sample("2001:db8:1:2:ffff::1", NOW - 2 * HOUR, "Mydoom", "Q2"),
        sample("2001:db8:1:3::1", NOW - HOUR, "Sober", "Q3"),
    ]);
    let policy = Policy {
        min_sightings: 2.0,
        ..test_policy()
    };
    let listed = listed(&conn, &policy, NOW).unwrap();
    assert_eq!(keys(&listed), ["2001:db8:1:2::/64"]);
    assert_eq!(listed[0].listing.count, 2);
    assert_eq!(listed[0].listing.families, ["Mydoom", "Sober"]);
    assert!(listed[0].contains("2001:db8:1:2::beef".parse().unwrap()));
}

#[test]
fn listed_weighs_origin_methods() {
    let mut bounce = sample("192.0.2.5", NOW - HOUR, "Sober", "Q1");
    bounce.origin_method = "bounce".to_string();
    let mut second_bounce = bounce.clone();
    second_bounce.queue_id = Some("Q2".to_string());
    let (_dir, conn) = database(&[
        bounce.clone(),
        sample("192.0.2.6", NOW - HOUR, "Sober", "Q3"),
        bounce,
        second_bounce,
    ]);
    let policy = Policy {
        min_sightings: 1.5,
        ..test_policy()
    };
    // Three bounces at 0.5 reach 1.5; one direct sighting does not.
    assert_eq!(
        keys(&listed(&conn, &policy, NOW).unwrap()),
        ["192.0.2.5/32"]
    );
    let ignore_bounces = Policy {
        weights: crate::store::MethodWeights {
            bounce: 0.0,
            ..policy.weights
        },
        min_sightings: 1.0,
        ..test_policy()
    };
    assert_eq!(
        keys(&listed(&conn, &ignore_bounces, NOW).unwrap()),
        ["192.0.2.6/32"]
    );
}

#[test]
fn listed_never_lists_protected_networks() {
    let (_dir, conn) = database(&[
        sample("127.0.0.1", NOW - HOUR, "Sober", "Q1"),
        sample("10.1.2.3", NOW - HOUR, "Sober", "Q2"),
        sample("198.51.100.20", NOW - HOUR, "Sober", "Q3"),
        sample("203.0.113.7", NOW - HOUR, "Sober", "Q4"),
        sample("192.0.2.9", NOW - HOUR, "Sober", "Q5"),
        sample("fd00::1", NOW - HOUR, "Sober", "Q6"),
        sample("8.8.8.8", NOW - HOUR, "Sober", "Q7"),
    ]);
    let raw = RawListing {
        allowlist: Some(vec!["198.51.100.0/24".to_string()]),
        list_documentation_ranges: Some(true),
        ..RawListing::default()
    };
    let policy = Policy::from_raw(raw, &["203.0.113.0/28".to_string()]).unwrap();
    assert_eq!(
        keys(&listed(&conn, &policy, NOW).unwrap()),
        ["8.8.8.8/32", "192.0.2.9/32"]
    );
    // Without the explicit option the documentation ranges stay unlisted.
    assert_eq!(
        keys(&listed(&conn, &Policy::default(), NOW).unwrap()),
        ["8.8.8.8/32"]
    );
}

#[test]
fn delisting_holds_until_new_sighting() {
    let (_dir, mut conn) = database(&[sample("192.0.2.1", NOW - 2 * HOUR, "Sober", "Q1")]);
    let record = delist(&conn, "192.0.2.1".parse().unwrap(), "cleaned", NOW - HOUR).unwrap();
    assert_eq!(record.reason.as_deref(), Some("cleaned"));
    assert!(listed(&conn, &test_policy(), NOW).unwrap().is_empty());
    let stored = crate::store::delistings(&conn).unwrap();
    assert_eq!(stored, [record]);

    insert_batch(&mut conn, &[sample("192.0.2.1", NOW - 60, "Sober", "Q2")]).unwrap();
    let listed = listed(&conn, &test_policy(), NOW).unwrap();
    assert_eq!(keys(&listed), ["192.0.2.1/32"]);
    assert_eq!(
        listed[0].listing.count, 1,
        "sightings before the delisting do not count"
    );
}

#[test]
fn delisting_ipv6_covers_its_64() {
    let (_dir, conn) = database(&[sample("2001:db8::5", NOW - 2 * HOUR, "Sober", "Q1")]);
    let record = delist(
        &conn,
        "2001:db8::ffff".parse().unwrap(),
        "owner request",
        NOW - HOUR,
    )
    .unwrap();
    assert_eq!(record.ip, "2001:db8::/64");
    assert!(listed(&conn, &test_policy(), NOW).unwrap().is_empty());
}

#[test]
fn return_code_rules_first_match() {
    let raw = RawListing {
        return_codes: Some(vec![
            policy::RawReturnCode {
                family: None,
                confidence: Some("low".to_string()),
                code: "127.0.0.3".to_string(),
            },
            policy::RawReturnCode {
                family: Some("Mydoom".to_string()),
                confidence: None,
                code: "127.0.0.4".to_string(),
            },
        ]),
        ..RawListing::default()
    };
    let policy = Policy::from_raw(raw, &[]).unwrap();
    let mut low = sample("192.0.2.1", NOW, "Sober", "Q1");
    low.confidence = "low".to_string();
    let mut low_ip = low.clone();
    low_ip.origin_ip = "192.0.2.2".to_string();
    low_ip.family = "Mydoom".to_string();
    let mut high_mydoom = sample("192.0.2.3", NOW, "Mydoom", "Q3");
    high_mydoom.confidence = "high".to_string();
    let (_dir, conn) = database(&[low, high_mydoom, sample("192.0.2.4", NOW, "Sober", "Q4")]);
    let policy = Policy {
        list_documentation_ranges: true,
        ..policy
    };
    let codes: Vec<String> = listed(&conn, &policy, NOW)
        .unwrap()
        .iter()
        .map(|l| l.return_code.to_string())
        .collect();
    assert_eq!(codes, ["127.0.0.3", "127.0.0.4", "127.0.0.2"]);
}

#[test]
fn return_code_family_ignores_case() {
    let raw = RawListing {
        list_documentation_ranges: Some(true),
        return_codes: Some(vec![policy::RawReturnCode {
            family: Some("sober".to_string()),
            confidence: Some("high".to_string()),
            code: "127.0.0.3".to_string(),
        }]),
        ..RawListing::default()
    };
    let policy = Policy::from_raw(raw, &[]).unwrap();
    let mut sober = sample("192.0.2.1", NOW, "Sober", "Q1");
    sober.confidence = "high".to_string();
    let (_dir, conn) = database(&[sober]);
    let listings = listed(&conn, &policy, NOW).unwrap();
    assert_eq!(listings.len(), 1);
    assert_eq!(listings[0].return_code.to_string(), "127.0.0.3");
}

#[test]
fn unknown_families_listed_once() {
    let family = |name: &str| policy::RawReturnCode {
        family: Some(name.to_string()),
        confidence: None,
        code: "127.0.0.3".to_string(),
    };
    let raw = RawListing {
        return_codes: Some(vec![family("SOBER"), family("Sobre"), family("Sobre")]),
        ..RawListing::default()
    };
    let policy = Policy::from_raw(raw, &[]).unwrap();
    let known = ["EICAR-Test-File".to_string(), "Sober".to_string()];
    assert_eq!(policy.unknown_families(&known), ["Sobre"]);
}

#[test]
fn policy_rejects_bad_values() {
    let return_code = |family: Option<&str>, confidence: Option<&str>| RawListing {
        return_codes: Some(vec![
            policy::RawReturnCode {
                family: None,
                confidence: Some("low".to_string()),
                code: "127.0.0.3".to_string(),
            },
            policy::RawReturnCode {
                family: family.map(str::to_string),
                confidence: confidence.map(str::to_string),
                code: "127.0.0.4".to_string(),
            },
        ]),
        ..RawListing::default()
    };
    let cases: [(RawListing, &str); 8] = [
        (return_code(None, Some("hgh")), "return_codes[1].confidence"),
        (
            return_code(None, Some("HIGH")),
            "return_codes[1].confidence",
        ),
        (return_code(Some(" "), None), "return_codes[1].family"),
        (
            RawListing {
                min_sightings: Some(0.0),
                ..RawListing::default()
            },
            "min_sightings",
        ),
        (
            RawListing {
                allowlist: Some(vec!["300.1.2.3".to_string()]),
                ..RawListing::default()
            },
            "allowlist",
        ),
        (
            RawListing {
                return_code: Some("127.0.0.1".to_string()),
                ..RawListing::default()
            },
            "return_code",
        ),
        (
            RawListing {
                return_code: Some("10.0.0.2".to_string()),
                ..RawListing::default()
            },
            "return_code",
        ),
        (
            RawListing {
                return_codes: Some(vec![policy::RawReturnCode {
                    family: None,
                    confidence: None,
                    code: "10.0.0.2".to_string(),
                }]),
                ..RawListing::default()
            },
            "return_codes[0].code",
        ),
    ];
    for (raw, key) in cases {
        let (found, message) = Policy::from_raw(raw, &[]).unwrap_err();
        assert_eq!(found, key, "{message}");
    }
}

#[test]
fn txt_expands_address_and_dollars() {
    assert_eq!(
        expand_template("see https://x/?ip=$ ($$5)", "192.0.2.1"),
        "see https://x/?ip=192.0.2.1 ($5)"
    );
}

#[test]
fn details_escape_dollar_and_controls() {
    let families = ["A$B\nC".to_string()];
    assert_eq!(details(&families, 0), "A$$B C; last seen 1970-01-01");
}

#[test]
fn details_truncate_long_family_lists() {
    let families: Vec<String> = (0..40).map(|n| format!("Family{n}$")).collect();
    let text = details(&families, 0);
    assert!(text.len() <= 120, "{}", text.len());
    let trailing_dollars = text.chars().rev().take_while(|c| *c == '$').count();
    assert_eq!(trailing_dollars % 2, 0, "{text}");
}

#[test]
fn trusted_shorthand_never_listed() {
    let policy = Policy::from_raw(
        RawListing {
            list_documentation_ranges: Some(true),
            ..RawListing::default()
        },
        &["198.51/16".to_string()],
    )
    .unwrap();
    assert!(!policy.may_publish("198.51.100.7/32".parse().unwrap()));
    assert!(policy.may_publish("192.0.2.7/32".parse().unwrap()));
}
