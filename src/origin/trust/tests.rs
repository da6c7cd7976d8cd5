//! Unit tests of the trust walk: origins for typical chains, local
//! submissions, same-host notes and reinjection.

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn postfix(helo: &str, address: &str, with: &str) -> String {
    format!(
        "from {helo} (host.example [{address}]) by mx.example.net (Postfix) with {with} id 4AB12C3D4E; Mon, 1 Jan 2024 10:00:00 +0000"
    )
}

fn walk(
    client: Option<&str>,
    authenticated: bool,
    received: &[String],
    trusted: &[&str],
) -> Option<Origin> {
    let input = TrustInput {
        client_ip: client.map(ip),
        client_authenticated: authenticated,
        received,
        originating: &[],
    };
    find_origin(
        &input,
        &TrustSettings::parse(Some(trusted), None, None).unwrap(),
    )
}

/// Returns (ip, method, hop index) for compact comparisons.
fn summary(origin: Option<Origin>) -> Option<(IpAddr, OriginMethod, Option<usize>)> {
    origin.map(|o| (o.ip, o.method, o.hop))
}

#[test]
fn loopback_client_takes_received_hop() {
    let received = [postfix("client.example", "203.0.113.7", "ESMTP")];
    let origin = walk(Some("127.0.0.1"), false, &received, &[]).unwrap();
    assert_eq!(origin.ip, ip("203.0.113.7"));
    assert_eq!(origin.method, OriginMethod::Received);
    assert_eq!(origin.hop, Some(0));
    assert_eq!(
        origin.relay.unwrap().helo.as_deref(),
        Some("client.example")
    );
}

#[test]
fn untrusted_client_is_connect() {
    let received = [postfix("x", "198.51.100.1", "ESMTP")];
    let origin = walk(Some("203.0.113.50"), false, &received, &["192.0.2.0/24"]);
    assert_eq!(
        summary(origin),
        Some((ip("203.0.113.50"), OriginMethod::Connect, None))
    );
}

#[test]
fn forged_header_below_untrusted_hop_ignored() {
    let received = [
        postfix("attacker.example", "203.0.113.7", "ESMTP"),
        postfix("innocent.example", "198.51.100.99", "ESMTP"),
        postfix("also-forged", "10.9.9.9", "ESMTPA"),
    ];
    let from_loopback = walk(Some("127.0.0.1"), false, &received, &[]);
    assert_eq!(
        summary(from_loopback),
        Some((ip("203.0.113.7"), OriginMethod::Received, Some(0)))
    );
    let untrusted = walk(Some("203.0.113.7"), false, &received, &[]);
    assert_eq!(
        summary(untrusted),
        Some((ip("203.0.113.7"), OriginMethod::Connect, None))
    );
}

#[test]
fn local_submission_on_trusted_host_ends_walk() {
    // A web script on the trusted relay 192.0.2.10 submits through
    // sendmail(1); the forged header below names an innocent host.
    let local_headers = [
        "by relay1.example.org (Postfix, from userid 33) id 4AB12C0DE1; Tue, 22 Nov 2005 10:00:00 +0000 (UTC)",
        "(qmail 10681 invoked by uid 404); 14 Nov 2003 08:05:52 -0000",
        "from mail pickup service by hotmail.com with Microsoft SMTPSVC; Tue, 16 Mar 2004 18:12:31 -0800",
        "from localhost (www-data@localhost) by relay1.example.org (8.17.1/8.17.1/Submit) id 2AMA0001",
    ];
    for local in local_headers {
        assert_no_origin_below(local);
    }
}

#[test]
fn sender_text_never_makes_a_note() {
    let local_headers = [
        "(from www-data@localhost) by relay1.example.org (8.17.1/8.17.1/Submit) id 2AMA0001 for amavisd@victim.example; Tue, 22 Nov 2005 10:00:00 +0000",
        "from www-data by relay1.example.org with local (Exim 4.96) (envelope-from <www-data@relay1.example.org>) id 1abc for qmail-scanner@victim.example; Tue, 22 Nov 2005 10:00:00 +0000",
        "by relay1.example.org (Postfix, from userid 33) id 4AB12C0DE1 for <\"invoked from network\"@victim.example>; Tue, 22 Nov 2005 10:00:00 +0000",
        "from www-data by relay1.example.org with local (Exim 4.96) (envelope-from <\"a with SpamAssassin\"@evil.example>) id 1abc; Tue, 22 Nov 2005 10:00:00 +0000",
        "by relay1.example.org (Postfix, from userid 33) id 4AB12C0DE1; Tue, 22 Nov 2005 10:00:00 +0000 (invoked from network)",
    ];
    for local in local_headers {
        assert!(!is_same_host_note(local), "{local}");
        assert_no_origin_below(local);
    }
}

/// Checks that `local`, written by the trusted relay 192.0.2.10 between
/// its own header and a forged one naming an innocent host, ends the
/// walk with no origin.
fn assert_no_origin_below(local: &str) {
    let received = [
        postfix("relay1.example.org", "192.0.2.10", "ESMTP"),
        local.to_owned(),
        postfix("innocent.example", "198.51.100.99", "SMTP"),
    ];
    let origin = walk(Some("127.0.0.1"), false, &received, &["192.0.2.0/24"]);
    assert_eq!(summary(origin), None, "{local}");
}

#[test]
fn same_host_notes_are_skipped() {
    let notes = [
        "(qmail 87263 invoked from network); 8 Mar 2004 10:00:00 -0000",
        "from localhost by spike.example.org with SpamAssassin (version 3.0.2); Thu, 17 Aug 2006 08:21:10 +1000",
        "from amavis by mx.example.org with scanned-ok (Exim 3.35 #1 (Debian)) id 1FiWc9-0007Du-00",
    ];
    for note in notes {
        let received = [
            note.to_owned(),
            postfix("infected-pc", "198.51.100.66", "SMTP"),
        ];
        let origin = walk(Some("127.0.0.1"), false, &received, &[]);
        assert_eq!(
            summary(origin),
            Some((ip("198.51.100.66"), OriginMethod::Received, Some(1))),
            "{note}"
        );
    }
}

#[test]
fn trusted_relay_chain() {
    let received = [
        postfix("relay2", "192.0.2.20", "ESMTP"),
        postfix("relay1", "192.0.2.10", "ESMTP"),
        "(qmail 10681 invoked from network); 14 Nov 2003 08:05:52 -0000".to_owned(),
        postfix("infected-pc", "198.51.100.66", "SMTP"),
        postfix("forged", "203.0.113.1", "SMTP"),
    ];
    let trusted = ["192.0.2.0/24"];
    let origin = walk(Some("192.0.2.30"), false, &received, &trusted);
    assert_eq!(
        summary(origin),
        Some((ip("198.51.100.66"), OriginMethod::Received, Some(3)))
    );
    let offline = walk(None, false, &received, &trusted);
    assert_eq!(
        summary(offline),
        Some((ip("198.51.100.66"), OriginMethod::Received, Some(3)))
    );
}

#[test]
fn walk_table() {
    let internal = postfix("a", "192.0.2.5", "ESMTP");
    let external = postfix("b", "203.0.113.9", "ESMTP");
    let submitted = postfix("laptop", "198.51.100.23", "ESMTPSA");
    let local_submitted = postfix("localhost", "127.0.0.1", "ESMTPA");
    let mapped = postfix("c", "IPv6:::ffff:203.0.113.77", "ESMTP");
    let trusted = ["192.0.2.0/24"];
    // (client, client authenticated, headers, expected)
    type Case<'a> = (
        Option<&'a str>,
        bool,
        Vec<String>,
        Option<(&'a str, OriginMethod, Option<usize>)>,
    );
    let cases: Vec<Case<'_>> = vec![
        // The chain ends inside the trusted network.
        (Some("127.0.0.1"), false, vec![internal.clone()], None),
        (Some("::1"), false, vec![], None),
        (None, false, vec![], None),
        // Authenticated clients: one outside the trusted networks is the
        // origin, a trusted relay that logs in is read past.
        (
            Some("198.51.100.23"),
            true,
            vec![external.clone()],
            Some(("198.51.100.23", OriginMethod::Connect, None)),
        ),
        (
            Some("192.0.2.5"),
            true,
            vec![external.clone()],
            Some(("203.0.113.9", OriginMethod::Received, Some(0))),
        ),
        (Some("192.0.2.5"), true, vec![], None),
        (Some("127.0.0.1"), true, vec![external.clone()], None),
        (Some("::ffff:127.0.0.1"), true, vec![], None),
        // An authenticated hop from outside the trusted networks ends the walk.
        (
            Some("192.0.2.5"),
            false,
            vec![submitted.clone(), external.clone()],
            Some(("198.51.100.23", OriginMethod::Received, Some(0))),
        ),
        (
            Some("127.0.0.1"),
            false,
            vec![local_submitted, external.clone()],
            None,
        ),
        (
            None,
            false,
            vec![postfix("a", "192.0.2.5", "ESMTPSA"), external.clone()],
            Some(("203.0.113.9", OriginMethod::Received, Some(1))),
        ),
        // IPv4-mapped client and hop addresses are matched as IPv4.
        (
            Some("::ffff:192.0.2.5"),
            false,
            vec![external.clone()],
            Some(("203.0.113.9", OriginMethod::Received, Some(0))),
        ),
        (
            Some("::ffff:203.0.113.1"),
            false,
            vec![],
            Some(("203.0.113.1", OriginMethod::Connect, None)),
        ),
        (
            Some("127.0.0.1"),
            false,
            vec![mapped],
            Some(("203.0.113.77", OriginMethod::Received, Some(0))),
        ),
        // Offline: the newest header's client is the first relay.
        (
            None,
            false,
            vec![external.clone(), internal.clone()],
            Some(("203.0.113.9", OriginMethod::Received, Some(0))),
        ),
        (
            None,
            false,
            vec![internal.clone(), external.clone()],
            Some(("203.0.113.9", OriginMethod::Received, Some(1))),
        ),
    ];
    for (client, authenticated, headers, expected) in cases {
        let origin = walk(client, authenticated, &headers, &trusted);
        let expected = expected.map(|(address, method, hop)| (ip(address), method, hop));
        assert_eq!(
            summary(origin),
            expected,
            "client {client:?}, authenticated {authenticated}, headers {headers:#?}"
        );
    }
}

#[test]
fn reinjection_over_loopback_counts_once() {
    // Postfix -> content filter -> Postfix over loopback, with the
    // milter on the reinjecting smtpd, which shows its own header.
    let received = [
        "from localhost (localhost [127.0.0.1]) by mx.example.net (Postfix) with ESMTP id 2B; Mon, 1 Jan 2024 10:00:02 +0000".to_owned(),
        "from mx.example.net ([127.0.0.1]) by localhost (amavisd-new, port 10024) with ESMTP id x1; Mon, 1 Jan 2024 10:00:01 +0000".to_owned(),
        postfix("worm.example", "203.0.113.7", "ESMTP"),
        postfix("forged.example", "198.51.100.200", "ESMTP"),
    ];
    let origin = walk(Some("127.0.0.1"), false, &received, &[]);
    assert_eq!(
        summary(origin),
        Some((ip("203.0.113.7"), OriginMethod::Received, Some(2)))
    );
}

#[test]
fn own_header_for_trusted_client_counts_once() {
    let received = [
        postfix("relay.example", "192.0.2.10", "ESMTP"),
        postfix("worm.example", "203.0.113.7", "ESMTP"),
    ];
    let origin = walk(Some("192.0.2.10"), false, &received, &["192.0.2.0/24"]);
    assert_eq!(
        summary(origin),
        Some((ip("203.0.113.7"), OriginMethod::Received, Some(1)))
    );
}

#[test]
fn method_names() {
    assert_eq!(OriginMethod::Connect.as_str(), "connect");
    assert_eq!(OriginMethod::Received.as_str(), "received");
    assert_eq!(OriginMethod::Bounce.as_str(), "bounce");
}

fn path_with(received: &[String], originating: &[String], settings: &TrustSettings) -> TrustPath {
    let input = TrustInput {
        received,
        originating,
        ..TrustInput::default()
    };
    trust_path(&input, settings)
}

#[test]
fn originating_ip_only_below_msa() {
    let received = [postfix("webmail", "192.0.2.50", "ESMTP")];
    let originating = ["[198.51.100.44]".to_owned()];

    let with_msa =
        TrustSettings::parse(Some(&["192.0.2.0/24"]), None, Some(&["192.0.2.50"])).unwrap();
    let path = path_with(&received, &originating, &with_msa);
    assert_eq!(path.relays.len(), 2);
    assert_eq!(path.relays[1].source, RelaySource::Originating);
    assert!(path.relays[1].trusted);
    let origin = path.origin.expect("no origin below the MSA");
    assert_eq!(origin.ip, ip("198.51.100.44"));
    assert_eq!(origin.method, OriginMethod::Received);
    assert_eq!(origin.hop, None);

    // Without an MSA, a trusted host could have written the header.
    let no_msa = TrustSettings::parse(Some(&["192.0.2.0/24"]), None, None).unwrap();
    let path = path_with(&received, &originating, &no_msa);
    assert_eq!(path.relays.len(), 2);
    assert!(!path.relays[1].trusted);
    assert_eq!(path.origin, None);
}

#[test]
fn msa_skips_loopback_below_it() {
    let received = [
        postfix("msa", "192.0.2.50", "ESMTP"),
        postfix("localhost", "127.0.0.1", "ESMTP"),
        postfix("customer-pc", "198.51.100.23", "SMTP"),
    ];
    let settings =
        TrustSettings::parse(Some(&["192.0.2.0/24"]), None, Some(&["192.0.2.50"])).unwrap();
    let path = path_with(&received, &[], &settings);
    assert!(path.relays[0].msa);
    let origin = path.origin.expect("no origin");
    assert_eq!(origin.ip, ip("198.51.100.23"));
    assert_eq!(origin.hop, Some(2));
}

#[test]
fn inferred_trust_walks_private_hops() {
    let received = [
        postfix("filter", "10.0.0.5", "ESMTP"),
        postfix("lan-pc", "192.168.1.20", "ESMTP"),
        postfix("infected-pc", "198.51.100.66", "SMTP"),
        postfix("forged", "203.0.113.1", "SMTP"),
    ];
    let path = path_with(&received, &[], &TrustSettings::default());
    let flags: Vec<(bool, bool)> = path
        .relays
        .iter()
        .map(|r| (r.trusted, r.internal))
        .collect();
    assert_eq!(
        flags,
        vec![(true, true), (true, true), (false, false), (false, false)]
    );
    assert_eq!(path.origin.map(|o| o.ip), Some(ip("198.51.100.66")));
}

#[test]
fn relays_listed_past_the_origin() {
    let received = [
        postfix("worm", "203.0.113.7", "SMTP"),
        "by relay1.example.org (Postfix, from userid 33) id 4AB12C0DE1".to_owned(),
        postfix("forged", "10.1.1.1", "SMTP"),
    ];
    let path = path_with(&received, &[], &TrustSettings::default());
    assert_eq!(path.relays.len(), 2);
    assert!(!path.relays[1].trusted);
    assert_eq!(path.origin.map(|o| o.ip), Some(ip("203.0.113.7")));
}
