use super::*;

/// Expected fields of one parsed hop; `None` fields must be absent.
struct Expected {
    ip: &'static str,
    rdns: Option<&'static str>,
    helo: Option<&'static str>,
    by: Option<&'static str>,
    id: Option<&'static str>,
    authenticated: bool,
}

const fn hop(
    ip: &'static str,
    rdns: Option<&'static str>,
    helo: Option<&'static str>,
    by: Option<&'static str>,
    id: Option<&'static str>,
    authenticated: bool,
) -> Expected {
    Expected {
        ip,
        rdns,
        helo,
        by,
        id,
        authenticated,
    }
}

const PARSED: &[(&str, Expected)] = &[
    // Postfix.
    (
        "from mail.example.org (mail.example.org [192.0.2.25]) by mx.example.net (Postfix) with ESMTPS id 4T2Xyz1AbC for <user@example.net>; Mon,  1 Jan 2024 10:00:00 +0000 (UTC)",
        hop(
            "192.0.2.25",
            Some("mail.example.org"),
            Some("mail.example.org"),
            Some("mx.example.net"),
            Some("4T2Xyz1AbC"),
            false,
        ),
    ),
    (
        "from WORMPC (unknown [198.51.100.7]) by mx.example.net (Postfix) with SMTP id 7BACDC372 for <a@example.net>; Fri, 14 Nov 2003 09:05:49 +0100 (CET)",
        hop(
            "198.51.100.7",
            None,
            Some("WORMPC"),
            Some("mx.example.net"),
            Some("7BACDC372"),
            false,
        ),
    ),
    (
        "from laptop (host.example.org [IPv6:2001:db8::25]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)) (No client certificate requested) by mx.example.net (Postfix) with ESMTPSA id C986F284EE for <jm@example.net>; Sat, 16 Oct 2004 21:30:02 +0000 (UTC)",
        hop(
            "2001:db8::25",
            Some("host.example.org"),
            Some("laptop"),
            Some("mx.example.net"),
            Some("C986F284EE"),
            true,
        ),
    ),
    (
        "from bar.example.org (bar.example.org [192.0.2.8]) (using TLSv1 with cipher DHE-RSA-AES256-SHA (256/256 bits)) (Client did not present a certificate) (Authenticated sender: user.example) by foo.example.net (Postfix) with ESMTP id 44A8959ED6B0 for <r@example.com>; Fri, 30 Jun 2006 08:02:00 +0100 (BST)",
        hop(
            "192.0.2.8",
            Some("bar.example.org"),
            Some("bar.example.org"),
            Some("foo.example.net"),
            Some("44A8959ED6B0"),
            true,
        ),
    ),
    (
        "from dual.example (dual.example [IPv6:::ffff:198.51.100.4]) by mx.example.net (Postfix) with ESMTP id 1A2B3C",
        hop(
            "198.51.100.4",
            Some("dual.example"),
            Some("dual.example"),
            Some("mx.example.net"),
            Some("1A2B3C"),
            false,
        ),
    ),
    // A forged IP-literal HELO never becomes the relay IP.
    (
        "from [203.0.113.222] (client.example [198.51.100.4]) by mx.example.net (Postfix) with ESMTP id 9F8E7D; Mon, 1 Jan 2024 10:00:00 +0000",
        hop(
            "198.51.100.4",
            Some("client.example"),
            Some("[203.0.113.222]"),
            Some("mx.example.net"),
            Some("9F8E7D"),
            false,
        ),
    ),
    // A HELO full of delimiters or equal to a keyword is read whole.
    (
        "from x)(y[203.0.113.6];(by (client.example [198.51.100.4]) by mx.example.net (Postfix) with ESMTP id 9F8E7D; Mon, 1 Jan 2024 10:00:00 +0000",
        hop(
            "198.51.100.4",
            Some("client.example"),
            Some("x)(y[203.0.113.6];(by"),
            Some("mx.example.net"),
            Some("9F8E7D"),
            false,
        ),
    ),
    (
        "from (a (unknown [198.51.100.4]) by mx.example.net (Postfix) with ESMTP id 9F8E7D",
        hop(
            "198.51.100.4",
            None,
            Some("(a"),
            Some("mx.example.net"),
            Some("9F8E7D"),
            false,
        ),
    ),
    (
        "from (x[203.0.113.6]) (client.example [198.51.100.4]) by mx.example.net (Postfix) with ESMTP id 9F8E7D",
        hop(
            "198.51.100.4",
            Some("client.example"),
            Some("(x[203.0.113.6])"),
            Some("mx.example.net"),
            Some("9F8E7D"),
            false,
        ),
    ),
    (
        "from by (unknown [198.51.100.4]) by mx.example.net (Postfix) with ESMTP id 9F8E7D",
        hop(
            "198.51.100.4",
            None,
            Some("by"),
            Some("mx.example.net"),
            Some("9F8E7D"),
            false,
        ),
    ),
    // Sendmail.
    (
        "from bigass1.example.com (ns1.example.com [66.199.2.5]) by fiat.example.edu (8.12.10/8.12.10) with ESMTP id i06MBJ6U020255 for <broot@example.edu>; Tue, 6 Jan 2004 16:11:19 -0600",
        hop(
            "66.199.2.5",
            Some("ns1.example.com"),
            Some("bigass1.example.com"),
            Some("fiat.example.edu"),
            Some("i06MBJ6U020255"),
            false,
        ),
    ),
    (
        "from Amazon.com ([66.0.37.1]) by bi-staff1.example.edu (8.12.8/8.12.8) with SMTP id k1SCIR87017358; Tue, 28 Feb 2006 06:18:27 -0600",
        hop(
            "66.0.37.1",
            None,
            Some("Amazon.com"),
            Some("bi-staff1.example.edu"),
            Some("k1SCIR87017358"),
            false,
        ),
    ),
    (
        "from mx56.example.us (56.rev.example.com [64.119.196.56] (may be forged)) by mail.example.com (8.13.1/8.13.1) with ESMTP id i8FJcSRZ007847 for <o@example.com>; Wed, 15 Sep 2004 21:38:31 +0200",
        hop(
            "64.119.196.56",
            Some("56.rev.example.com"),
            Some("mx56.example.us"),
            Some("mail.example.com"),
            Some("i8FJcSRZ007847"),
            false,
        ),
    ),
    (
        "from MARISELA (dsl.example.mx [189.149.70.163] (may be forged)) (authenticated bits=0) by mail.example.com.mx (8.13.8/8.13.8) with ESMTP id kB3G26P6019032 for <r@example.org>; Sun, 3 Dec 2006 10:02:16 -0600 (CST)",
        hop(
            "189.149.70.163",
            Some("dsl.example.mx"),
            Some("MARISELA"),
            Some("mail.example.com.mx"),
            Some("kB3G26P6019032"),
            true,
        ),
    ),
    (
        "from relay.example (joe@host.example.org [192.0.2.44]) by mail.example.com (8.15.2/8.15.2) with ESMTP id 0A1B2C3D",
        hop(
            "192.0.2.44",
            Some("host.example.org"),
            Some("relay.example"),
            Some("mail.example.com"),
            Some("0A1B2C3D"),
            false,
        ),
    ),
    // Exim.
    (
        "from dsl.example.net ([66.92.76.133] helo=pendaran.example.net) by mx1.example.net with esmtp (TLSv1:AES256-SHA:256) (Exim 4.41) id 1CIlfc-0003Pa-8W for list@example.net; Sat, 16 Oct 2004 03:20:18 -0700",
        hop(
            "66.92.76.133",
            Some("dsl.example.net"),
            Some("pendaran.example.net"),
            Some("mx1.example.net"),
            Some("1CIlfc-0003Pa-8W"),
            false,
        ),
    ),
    (
        "from [203.0.113.5]:54321 (helo=wormpc ident=joe) by mx.example.net with esmtp (Exim 4.96) id 1rABCD-000EFG-12; Mon, 01 Jan 2024 10:00:00 +0000",
        hop(
            "203.0.113.5",
            None,
            Some("wormpc"),
            Some("mx.example.net"),
            Some("1rABCD-000EFG-12"),
            false,
        ),
    ),
    (
        "from gilmore.example.be ([158.64.60.71]:41234) by castlerea.example.net with esmtp (Exim 4.41) id 1CIusZ-00049K-45; Sat, 16 Oct 2004 21:10:16 +0100",
        hop(
            "158.64.60.71",
            Some("gilmore.example.be"),
            Some("gilmore.example.be"),
            Some("castlerea.example.net"),
            Some("1CIusZ-00049K-45"),
            false,
        ),
    ),
    (
        "from host.example.org ([198.51.100.9] helo=[192.168.0.2]) by smtp.example.net with esmtpsa (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@example.org>) id 1rXYZ-000ABC-7Q for b@example.net; Mon, 01 Jan 2024 10:00:00 +0000",
        hop(
            "198.51.100.9",
            Some("host.example.org"),
            Some("[192.168.0.2]"),
            Some("smtp.example.net"),
            Some("1rXYZ-000ABC-7Q"),
            true,
        ),
    ),
    // Exchange and Microsoft 365: the id is a version number, never an IP.
    (
        "from EX01.corp.example (10.1.1.1) by EX02.corp.example (10.1.1.2) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.1.2507.39; Mon, 1 Jan 2024 10:00:00 +0000",
        hop(
            "10.1.1.1",
            Some("EX01.corp.example"),
            Some("EX01.corp.example"),
            Some("EX02.corp.example"),
            Some("15.1.2507.39"),
            false,
        ),
    ),
    // An address as HELO argument is no reverse DNS name of another address.
    (
        "from 198.51.100.9 (203.0.113.66) by mx.example.org with Microsoft SMTPSVC(6.0.3790.4675); Mon, 1 Jan 2024 10:00:00 +0000",
        hop(
            "203.0.113.66",
            None,
            Some("198.51.100.9"),
            Some("mx.example.org"),
            None,
            false,
        ),
    ),
    (
        "from 203.0.113.66 (203.0.113.66) by mx.example.org with SMTP; Mon, 1 Jan 2024 10:00:00 +0000",
        hop(
            "203.0.113.66",
            Some("203.0.113.66"),
            Some("203.0.113.66"),
            Some("mx.example.org"),
            None,
            false,
        ),
    ),
    (
        "from EX01.corp.example ([fe80::1%9]]) by EX02.corp.example ([fe80::2%9]) with mapi id 15.1.2507.39; Mon, 1 Jan 2024 10:00:00 +0000",
        hop(
            "fe80::1",
            None,
            Some("EX01.corp.example"),
            Some("EX02.corp.example"),
            Some("15.1.2507.39"),
            false,
        ),
    ),
    (
        "from mail.example.com (203.0.113.5) by BN8NAM11FT012.mail.protection.outlook.com (10.13.177.93) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7000.12 via Frontend Transport; Mon, 1 Jan 2024 10:00:00 +0000",
        hop(
            "203.0.113.5",
            Some("mail.example.com"),
            Some("mail.example.com"),
            Some("BN8NAM11FT012.mail.protection.outlook.com"),
            Some("15.20.7000.12"),
            false,
        ),
    ),
    (
        "from DM6PR01MB1234.namprd01.prod.outlook.com (2603:10b6:5:1::10) by SN6PR01MB5678.namprd01.prod.outlook.com (2603:10b6:805:2::20) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7000.12; Mon, 1 Jan 2024 10:00:00 +0000",
        hop(
            "2603:10b6:5:1::10",
            Some("DM6PR01MB1234.namprd01.prod.outlook.com"),
            Some("DM6PR01MB1234.namprd01.prod.outlook.com"),
            Some("SN6PR01MB5678.namprd01.prod.outlook.com"),
            Some("15.20.7000.12"),
            false,
        ),
    ),
    // Gmail.
    (
        "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id a640c23a62f3a-a2.1.2024.01.01.10.00.00 for <user@example.net> (Google Transport Security); Mon, 01 Jan 2024 10:00:00 -0800 (PST)",
        hop(
            "209.85.220.41",
            Some("mail-sor-f41.google.com."),
            Some("mail-sor-f41.google.com"),
            Some("mx.google.com"),
            Some("a640c23a62f3a-a2.1.2024.01.01.10.00.00"),
            false,
        ),
    ),
    (
        "from [192.168.1.10] (host-5.example.net. [203.0.113.5]) by smtp.gmail.com with ESMTPSA id x1sm123.2024.01.01.10.00.00 for <b@example.net> (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256); Mon, 01 Jan 2024 10:00:00 -0800 (PST)",
        hop(
            "203.0.113.5",
            Some("host-5.example.net."),
            Some("[192.168.1.10]"),
            Some("smtp.gmail.com"),
            Some("x1sm123.2024.01.01.10.00.00"),
            true,
        ),
    ),
    // qmail.
    (
        "from unknown (HELO wormpc) (user@213.199.4.210) by mail.example.net with ESMTPA; 1 Nov 2003 07:05:19 -0000",
        hop(
            "213.199.4.210",
            None,
            Some("wormpc"),
            Some("mail.example.net"),
            None,
            true,
        ),
    ),
    (
        "from sender.example (::1) by receiver.example with SMTP; 10 Nov 2005 00:00:30 -0000",
        hop(
            "::1",
            Some("sender.example"),
            Some("sender.example"),
            Some("receiver.example"),
            None,
            false,
        ),
    ),
    // Courier.
    (
        "from a1200 ([::ffff:24.83.2.4]) (AUTH: LOGIN mitch@example.com) by bigass1.example.com with esmtp; Tue, 06 Jan 2004 23:56:09 +0000",
        hop(
            "24.83.2.4",
            None,
            Some("a1200"),
            Some("bigass1.example.com"),
            None,
            true,
        ),
    ),
];

/// Headers that carry no relay IP.
const IGNORED: &[&str] = &[
    "(qmail 10681 invoked by uid 404); 14 Nov 2003 08:05:52 -0000",
    "(qmail 87263 invoked from network[83.70.48.2/host.example.net]); 8 Mar 2004 23:59:05 -0000",
    "from mail pickup service by hotmail.com with Microsoft SMTPSVC; Tue, 16 Mar 2004 18:12:31 -0800",
    "from localhost [127.0.0.1] by localhost with IMAP (fetchmail-6.2.4) for z@localhost (single-drop); Mon, 08 Mar 2004 16:13:23 -0800 (PST)",
    "from localhost (wwwwww@localhost) by rigel.example.edu (8.9.3p2/8.9.3) with ESMTP id QAA13555 for <z@example.org>; Mon, 8 Mar 2004 16:07:35 -0800 (PST)",
    "from amavis by forumakad.example with scanned-ok (Exim 3.35 #1 (Debian)) id 1FiWc9-0007Du-00; Tue, 23 May 2006 15:07:57 +0200",
    "from EX01 by EX02.corp.example with mapi id 15.1.2507.39; Mon, 1 Jan 2024 10:00:00 +0000",
    "by 2002:a05:6a10:a0c6:b0:4f1:0:0 with SMTP id abc123; Mon, 1 Jan 2024 10:00:00 -0800 (PST)",
    "by mx.example.net (Postfix, from userid 1000) id 3F2A1B; Mon, 1 Jan 2024 10:00:00 +0000",
    "",
    "from",
    "from (",
];

#[test]
fn parsed_table() {
    for (header, expected) in PARSED {
        let hop = parse_received(header).unwrap_or_else(|| panic!("no hop from {header:?}"));
        assert_eq!(
            hop.ip,
            Some(expected.ip.parse().unwrap()),
            "ip of {header:?}"
        );
        assert_eq!(hop.rdns.as_deref(), expected.rdns, "rdns of {header:?}");
        assert_eq!(hop.helo.as_deref(), expected.helo, "helo of {header:?}");
        assert_eq!(hop.by.as_deref(), expected.by, "by of {header:?}");
        assert_eq!(hop.id.as_deref(), expected.id, "id of {header:?}");
        assert_eq!(
            hop.authenticated, expected.authenticated,
            "authenticated of {header:?}"
        );
        assert_eq!(
            hop.auth.is_some(),
            hop.authenticated,
            "auth label of {header:?}"
        );
    }
}

#[test]
fn ignored_table() {
    for header in IGNORED {
        assert_eq!(parse_received(header), None, "{header:?}");
    }
}

/// Parses the table header that contains `fragment`.
fn parse_table_header(fragment: &str) -> Hop {
    let (header, _) = PARSED
        .iter()
        .find(|(header, _)| header.contains(fragment))
        .unwrap_or_else(|| panic!("no table header contains {fragment:?}"));
    parse_received(header).unwrap()
}

#[test]
fn extra_fields() {
    let exim = parse_table_header("esmtpsa (TLS1.3)");
    assert_eq!(exim.envfrom.as_deref(), Some("a@example.org"));
    assert_eq!(exim.with.as_deref(), Some("esmtpsa"));
    assert_eq!(exim.auth.as_deref(), Some("esmtpsa"));

    let ident = parse_table_header("(helo=wormpc ident=joe)");
    assert_eq!(ident.ident.as_deref(), Some("joe"));

    let sendmail = parse_table_header("(joe@host.example.org");
    assert_eq!(sendmail.ident.as_deref(), Some("joe"));

    let courier = parse_table_header("(AUTH: LOGIN");
    assert_eq!(courier.auth.as_deref(), Some("LOGIN"));

    let after_date = "from a (b [192.0.2.1]) by c (Postfix) with ESMTP id D; Sat, 16 Oct 2004 21:30:02 +0000 (UTC) (envelope-from x@example.org)";
    assert_eq!(
        parse_received(after_date).unwrap().envfrom.as_deref(),
        Some("x@example.org")
    );
}

/// A small xorshift generator, so the test needs no extra crate and every
/// run uses the same inputs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[test]
fn hostile_input_never_panics() {
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);

    // Every prefix of every table header, cut at char boundaries.
    for header in PARSED
        .iter()
        .map(|(h, _)| *h)
        .chain(IGNORED.iter().copied())
    {
        for (cut, _) in header.char_indices() {
            let _ = parse_received(&header[..cut]);
            let _ = parse_received(&header[cut..]);
        }
    }

    // Random bytes, made valid UTF-8 the way a caller would.
    for _ in 0..2000 {
        let length = random.below(200);
        let bytes: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
        let _ = parse_received(&String::from_utf8_lossy(&bytes));
    }

    // A narrowed alphabet that hits the delimiters and keywords often.
    const PIECES: &[&str] = &[
        "from ",
        "by ",
        "with ",
        "id ",
        "for ",
        "via ",
        "(",
        ")",
        "[",
        "]",
        ";",
        " ",
        "HELO ",
        "helo=",
        "ident=",
        "@",
        ":",
        ".",
        "1",
        "192.0.2.1",
        "::ffff:",
        "IPv6:",
        "%",
        "ESMTPA ",
        "authenticated ",
        "AUTH: ",
        "account ",
        "envelope-from ",
        "<",
        ">",
        ",",
        "\"",
        "é",
        "\t",
        "claiming to be ",
        "unknown ",
        "(Exim 4.96)",
    ];
    for _ in 0..20_000 {
        let count = random.below(24);
        let text: String = (0..count)
            .map(|_| PIECES[random.below(PIECES.len())])
            .collect();
        let _ = parse_received(&text);
    }

    // Deep nesting and long input stay linear and do not overflow the stack.
    let deep = format!(
        "from a {}[192.0.2.1]{} by b",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let _ = parse_received(&deep);
    let unclosed = format!("from a ({}", "[".repeat(100_000));
    let _ = parse_received(&unclosed);
}

#[test]
fn recipient_text_never_authenticates() {
    // Postfix keeps a quoted local part in the `for` clause, so the sender
    // chooses this text.
    let recipients = [
        r#"<"alice+(via HTTP)"@probe.test>"#,
        r#"<"alice+(authenticated)"@probe.test>"#,
        r#"<"alice (AUTH: LOGIN x)"@probe.test>"#,
        r#"<"alice (account x)"@probe.test>"#,
        r#"<"a with ESMTPA via HTTP"@probe.test>"#,
    ];
    for recipient in recipients {
        let header = format!(
            "from mx1.example.org (mx1.example.org [192.0.2.10]) by mx2.probe.test (Postfix) \
             with ESMTP id 4AB12C0DE1 for {recipient}; Tue, 22 Nov 2005 10:00:00 +0000 (UTC)"
        );
        let hop = parse_received(&header).unwrap_or_else(|| panic!("no hop from {header}"));
        assert_eq!(hop.ip, Some("192.0.2.10".parse().unwrap()), "{header}");
        assert!(!hop.authenticated, "{header}");
        assert_eq!(hop.with.as_deref(), Some("ESMTP"), "{header}");
    }
}

#[test]
fn address_text_never_authenticates() {
    // Exim copies the envelope sender into a comment; a quoted local part
    // must not close that comment and open one of its own.
    let senders = [
        r#"<"x)(authenticated bits=0)("@evil.example>"#,
        r#"<"x) (AUTH: LOGIN y) ("@evil.example>"#,
        r#"<x)(account y)(@evil.example>"#,
    ];
    for sender in senders {
        let header = format!(
            "from relay2.example.org ([192.0.2.20] helo=relay2.example.org) by relay.example.org \
             with esmtp (Exim 4.96) (envelope-from {sender}) id 1abc-0001; Tue, 22 Nov 2005 10:00:00 +0000"
        );
        let hop = parse_received(&header).unwrap_or_else(|| panic!("no hop from {header}"));
        assert_eq!(hop.ip, Some("192.0.2.20".parse().unwrap()), "{header}");
        assert!(!hop.authenticated, "{header}");
    }
}
