//! Regression tests for Received and trust-path cases where mature parsers
//! are known to give the wrong relay. Each test carries a minimal input in
//! documentation address ranges and is named after the behaviour it pins.

use std::net::IpAddr;

use wormsign::origin::{
    OriginMethod, RelaySource, TrustInput, TrustSettings, find_origin, parse_ip_text,
    parse_received, trust_path,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn relay_ip(header: &str) -> Option<IpAddr> {
    parse_received(header).and_then(|hop| hop.ip)
}

fn trusted(entries: &[&str]) -> TrustSettings {
    TrustSettings::parse(Some(entries), None, None).unwrap()
}

#[test]
fn mapped_private_helo_loses_to_bracketed_public_address() {
    let headers = [
        "from ::ffff:192.168.1.10 (dsl-7.example.net [198.51.100.7]) by mx.example.org (Postfix) with ESMTP id 1A; Mon, 1 Jan 2024 10:00:00 +0000",
        "from [::ffff:10.0.0.5] (unknown [198.51.100.7]) by mx.example.org (Postfix) with SMTP id 1B; Mon, 1 Jan 2024 10:00:00 +0000",
        "from [IPv6:::ffff:172.16.0.9] (dsl-7.example.net [198.51.100.7]) by mx.example.org (8.17.1/8.17.1) with ESMTP id 1C; Mon, 1 Jan 2024 10:00:00 +0000",
    ];
    for header in headers {
        assert_eq!(relay_ip(header), Some(ip("198.51.100.7")), "{header}");
    }
}

#[test]
fn forged_literal_helo_never_relay() {
    let headers = [
        "from dsl-7.example.net ([198.51.100.7] helo=[203.0.113.222]) by mx.example.org with esmtp (Exim 4.96) id 1abc-0001; Mon, 1 Jan 2024 10:00:00 +0000",
        "from [203.0.113.222] (dsl-7.example.net [198.51.100.7]) by mx.example.org (Postfix) with SMTP id 1D; Mon, 1 Jan 2024 10:00:00 +0000",
        "from [198.51.100.7] (helo=[203.0.113.222]) by mx.example.org with smtp (Exim 4.96) id 1abc-0002; Mon, 1 Jan 2024 10:00:00 +0000",
    ];
    for header in headers {
        let hop = parse_received(header).expect(header);
        assert_eq!(hop.ip, Some(ip("198.51.100.7")), "{header}");
        assert_eq!(hop.helo.as_deref(), Some("[203.0.113.222]"), "{header}");
    }
}

#[test]
fn exim_bracketed_ip_with_helo_and_ident() {
    let header = "from [198.51.100.7] (helo=worm.example ident=joe) by mx.example.org with smtp (Exim 4.96) (envelope-from <x@example.net>) id 1abc-0003; Mon, 1 Jan 2024 10:00:00 +0000";
    let hop = parse_received(header).expect("no hop");
    assert_eq!(hop.ip, Some(ip("198.51.100.7")));
    assert_eq!(hop.helo.as_deref(), Some("worm.example"));
    assert_eq!(hop.ident.as_deref(), Some("joe"));
    assert_eq!(hop.envfrom.as_deref(), Some("x@example.net"));
}

#[test]
fn exchange_zone_id_with_stray_bracket() {
    let header = "from EXCH01.corp.example.org (fe80::1%9]) by EXCH02.corp.example.org ([fe80::2%9]) with Microsoft SMTP Server (TLS) id 15.1.2507.39; Mon, 1 Jan 2024 10:00:00 +0000";
    let hop = parse_received(header);
    assert_eq!(
        hop.as_ref().and_then(|h| h.ip),
        Some(ip("fe80::1")),
        "{hop:?}"
    );
    let doubled = "from EXCH01.corp.example.org ([fe80::1%9]]) by EXCH02.corp.example.org ([fe80::2%9]) with Microsoft SMTP Server id 15.1.2507.39; Mon, 1 Jan 2024 10:00:00 +0000";
    assert_eq!(relay_ip(doubled), Some(ip("fe80::1")));
}

#[test]
fn ipv6_tag_stripped_and_mapped_ipv4_normalised() {
    let cases = [
        (
            "from mail.example.net (mail.example.net [IPv6:2001:db8::25]) by mx.example.org (Postfix) with ESMTP id 1E; Mon, 1 Jan 2024 10:00:00 +0000",
            "2001:db8::25",
        ),
        (
            "from mail.example.net (mail.example.net [IPv6:::ffff:198.51.100.7]) by mx.example.org (Postfix) with ESMTP id 1F; Mon, 1 Jan 2024 10:00:00 +0000",
            "198.51.100.7",
        ),
        (
            "from mail.example.net (mail.example.net [::ffff:198.51.100.7]) by mx.example.org (8.17.1/8.17.1) with ESMTP id 1G; Mon, 1 Jan 2024 10:00:00 +0000",
            "198.51.100.7",
        ),
    ];
    for (header, expected) in cases {
        let found = relay_ip(header).expect(header);
        assert_eq!(found, ip(expected), "{header}");
        assert_eq!(found.is_ipv4(), ip(expected).is_ipv4(), "{header}");
    }
}

#[test]
fn client_addr_macro_forms_normalised() {
    // Postfix's {client_addr} carries the IPv6: tag for IPv6 clients.
    let cases = [
        ("IPv6:2001:db8::25", "2001:db8::25"),
        ("IPv6:::ffff:198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("198.51.100.7", "198.51.100.7"),
    ];
    for (value, expected) in cases {
        assert_eq!(parse_ip_text(value), Some(ip(expected)), "{value}");
    }
    // A mapped client address is matched against IPv4 trusted networks.
    let input = TrustInput {
        client_ip: parse_ip_text("IPv6:::ffff:192.0.2.25"),
        ..TrustInput::default()
    };
    assert_eq!(find_origin(&input, &trusted(&["192.0.2.0/24"])), None);
}

#[test]
fn exchange_build_number_never_ip() {
    let with_address = "from EXCH01.corp.example.org (192.0.2.10) by EXCH02.corp.example.org (192.0.2.11) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.1.2507.39; Mon, 1 Jan 2024 10:00:00 +0000";
    let hop = parse_received(with_address).expect("no hop");
    assert_eq!(hop.ip, Some(ip("192.0.2.10")));
    assert_eq!(hop.id.as_deref(), Some("15.1.2507.39"));

    let without_address = "from EXCH01.corp.example.org by EXCH02.corp.example.org with mapi id 15.1.2507.39; Mon, 1 Jan 2024 10:00:00 +0000";
    assert_eq!(relay_ip(without_address), None);
}

#[test]
fn reinjected_hop_counted_once() {
    // A content filter hands the message back over loopback, and the
    // reinjecting smtpd shows the milter its own header for that hop.
    let received = [
        "from localhost (localhost [127.0.0.1]) by mx.example.org (Postfix) with ESMTP id 2B; Mon, 1 Jan 2024 10:00:02 +0000".to_owned(),
        "from mx.example.org ([127.0.0.1]) by localhost (amavisd-new, port 10024) with ESMTP id x1; Mon, 1 Jan 2024 10:00:01 +0000".to_owned(),
        "from worm.example (dsl-7.example.net [198.51.100.7]) by mx.example.org (Postfix) with SMTP id 1A; Mon, 1 Jan 2024 10:00:00 +0000".to_owned(),
    ];
    let input = TrustInput {
        client_ip: Some(ip("127.0.0.1")),
        received: &received,
        ..TrustInput::default()
    };
    let path = trust_path(&input, &trusted(&[]));
    assert_eq!(path.relays.len(), 3, "{:#?}", path.relays);
    assert_eq!(path.relays[0].source, RelaySource::Connect);
    assert_eq!(path.relays[1].source, RelaySource::Received(1));
    let origin = path.origin.expect("no origin");
    assert_eq!(origin.ip, ip("198.51.100.7"));
    assert_eq!(origin.hop, Some(2));

    // An untrusted client and the MTA's own header for it: one relay.
    let own = [received[2].clone()];
    let input = TrustInput {
        client_ip: Some(ip("198.51.100.7")),
        received: &own,
        ..TrustInput::default()
    };
    let path = trust_path(&input, &trusted(&[]));
    assert_eq!(path.relays.len(), 1, "{:#?}", path.relays);
    assert_eq!(path.relays[0].hop.helo.as_deref(), Some("worm.example"));
    assert_eq!(
        path.origin.map(|o| (o.ip, o.method)),
        Some((ip("198.51.100.7"), OriginMethod::Connect))
    );
}

#[test]
fn authenticated_submission_ends_walk() {
    // An ISP runs wormsign on its outbound relay and trusts its own
    // servers, not its customer range (customer PCs do not write honest
    // Received headers); an infected customer PC logs in and submits the
    // worm.
    let isp = trusted(&["192.0.2.0/24"]);
    let forged = ["from forged.example (innocent.example [203.0.113.200]) by customer-pc; Mon, 1 Jan 2024 10:00:00 +0000".to_owned()];
    let input = TrustInput {
        client_ip: Some(ip("198.51.100.23")),
        client_authenticated: true,
        received: &forged,
        ..TrustInput::default()
    };
    let origin = find_origin(&input, &isp).expect("no origin");
    assert_eq!(origin.ip, ip("198.51.100.23"));
    assert_eq!(origin.method, OriginMethod::Connect);

    // The same submission seen one hop later, in the MSA's header.
    let received = [
        "from msa.isp.example (msa.isp.example [192.0.2.50]) by out.isp.example (Postfix) with ESMTP id 5E; Mon, 1 Jan 2024 10:00:02 +0000".to_owned(),
        "from customer-pc (dyn-23.isp.example [198.51.100.23]) by msa.isp.example (Postfix) with ESMTPSA id 7G; Mon, 1 Jan 2024 10:00:01 +0000".to_owned(),
        forged[0].clone(),
    ];
    let input = TrustInput {
        client_ip: Some(ip("192.0.2.50")),
        received: &received,
        ..TrustInput::default()
    };
    let origin = find_origin(&input, &isp).expect("no origin");
    assert_eq!(origin.ip, ip("198.51.100.23"));
    assert_eq!(origin.method, OriginMethod::Received);
    assert_eq!(origin.hop, Some(1));
}

#[test]
fn webmail_on_msa_gives_originating_ip() {
    // Webmail on the MSA 192.0.2.50 logs in to the MSA's own Postfix over
    // loopback and records the user's address in X-Originating-IP.
    let isp = TrustSettings::parse(Some(&["192.0.2.0/24"]), None, Some(&["192.0.2.50"])).unwrap();
    let received = [
        "from msa.isp.example (msa.isp.example [192.0.2.50]) by out.isp.example (Postfix) with ESMTP id 5E; Mon, 1 Jan 2024 10:00:02 +0000".to_owned(),
        "from localhost (localhost [127.0.0.1]) by msa.isp.example (Postfix) with ESMTPSA id 7G; Mon, 1 Jan 2024 10:00:01 +0000".to_owned(),
    ];
    let originating = ["[203.0.113.44]".to_owned()];
    let input = TrustInput {
        client_ip: Some(ip("192.0.2.50")),
        received: &received,
        originating: &originating,
        ..TrustInput::default()
    };
    let path = trust_path(&input, &isp);
    let origin = path.origin.expect("no origin");
    assert_eq!(origin.ip, ip("203.0.113.44"));
    assert_eq!(origin.method, OriginMethod::Received);
    assert_eq!(path.relays[2].source, RelaySource::Originating);

    // Without the MSA in front, an authenticated loopback hop is a local
    // program of the wormsign host: nothing below it is read.
    let local = [received[1].clone()];
    let input = TrustInput {
        client_ip: Some(ip("127.0.0.1")),
        client_authenticated: true,
        received: &local,
        originating: &originating,
    };
    assert_eq!(find_origin(&input, &isp), None);
}
