//! Attacks on the origin: hostile Received headers, forged trust evidence
//! and fake bounces that try to get an innocent host listed, hide the
//! infected one, or stall the parser. Each test carries a minimal input in
//! documentation address ranges and is named after the behaviour it pins.

use std::net::IpAddr;

use wormsign::origin::{Origin, OriginMethod, bounce, parse_received};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// 200,000 unclosed `<` used to rescan the rest of the value from each of
/// them, which took minutes; the parse must finish and still find the relay.
#[test]
fn unclosed_angle_brackets_parse_quickly() {
    let padding = "< ".repeat(200_000);
    let header = format!(
        "from x (dsl-7.example.net [198.51.100.7]) {padding}by mx.example.org; Mon, 1 Jan 2024 10:00:00 +0000"
    );
    let hop = parse_received(&header).expect("no hop");
    assert_eq!(hop.ip, Some(ip("198.51.100.7")));

    let quoted = format!("from x (dsl-7.example.net [198.51.100.7]) {padding}\" >");
    let hop = parse_received(&quoted).expect("no hop");
    assert_eq!(hop.ip, Some(ip("198.51.100.7")));
}

/// Exim 3 writes the client's HELO argument in a comment before the
/// address it recorded; an address given as HELO must not become the relay.
#[test]
fn exim3_address_helo_never_relay() {
    let headers = [
        "from dsl.example.net (198.51.100.9) [203.0.113.66] by mx.example.org with smtp (Exim 3.36 #1) id 1; Mon, 1 Jan 2024 10:00:00 +0000",
        "from dsl.example.net ([198.51.100.9]) [203.0.113.66.1234] by mx.example.org with smtp (Exim 3.36 #1) id 2; Mon, 1 Jan 2024 10:00:00 +0000",
    ];
    for header in headers {
        let hop = parse_received(header).expect(header);
        assert_eq!(hop.ip, Some(ip("203.0.113.66")), "{header}");
        assert_eq!(hop.rdns.as_deref(), Some("dsl.example.net"), "{header}");
    }
}

/// A HELO argument with a space, kept by the MTA, must not give the
/// relay address from its second word.
#[test]
fn address_after_helo_verb_never_relay() {
    let header = "from dsl.example.net (HELO x 198.51.100.9) (203.0.113.66) by mx.example.org with SMTP; Mon, 1 Jan 2024 10:00:00 +0000";
    let hop = parse_received(header).expect("no hop");
    assert_eq!(hop.ip, Some(ip("203.0.113.66")));
}

/// Builds a DSN sent by `bouncer_ip` that carries `original` as
/// `message/rfc822` in its second part.
fn dsn(bouncer_ip: &str, original: &str) -> String {
    format!(
        "Received: from mx.bouncer.example (mx.bouncer.example [{bouncer_ip}]) by mx.example.org (Postfix) with ESMTP id 3C; Tue, 22 Nov 2005 10:05:00 +0000\r\n\
         From: MAILER-DAEMON@bouncer.example\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B{bouncer_ip}\"\r\n\
         \r\n\
         --B{bouncer_ip}\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         Your message could not be delivered.\r\n\
         --B{bouncer_ip}\r\n\
         Content-Type: message/rfc822\r\n\
         \r\n\
         {original}\r\n\
         --B{bouncer_ip}--\r\n"
    )
}

/// The worm's own message: sent from 203.0.113.7 to the first bouncer.
const WORM_ORIGINAL: &str = "Received: from infected-pc (dsl-7.example.net [203.0.113.7]) by mx.bouncer1.example (Postfix) with SMTP id 1A; Tue, 22 Nov 2005 10:00:00 +0000\r\n\
     From: victim@example.org\r\n\
     Subject: Ihr Passwort\r\n\
     \r\n\
     worm body\r\n";

fn connect_origin(text: &str) -> Option<Origin> {
    Some(Origin {
        ip: ip(text),
        method: OriginMethod::Connect,
        hop: None,
        relay: None,
    })
}

/// A bounce of a bounce: the first bouncer (192.0.2.41) sent the DSN that
/// the second one bounced. The origin is the worm's sender, not the
/// innocent first bouncer.
#[test]
fn nested_bounce_names_innermost_sender() {
    let inner = dsn("192.0.2.41", WORM_ORIGINAL);
    let raw = dsn("192.0.2.42", &inner);

    let mut origin = connect_origin("192.0.2.42");
    bounce::apply(&mut origin, Some("2.2"), raw.as_bytes());
    let origin = origin.expect("no origin");
    assert_eq!(origin.ip, ip("203.0.113.7"));
    assert_eq!(origin.method, OriginMethod::Bounce);
}

/// An infected host that wraps the worm in a DSN of its own, whose
/// "original" names an innocent host, gets that host listed and hides
/// itself. Anyone can send a message that looks like a bounce, and the
/// bounce module documents that it trusts the embedded chain.
#[test]
#[ignore = "design: a forged DSN replaces the connect origin; needs a policy decision"]
fn forged_dsn_keeps_sender_origin() {
    let forged = "Received: from innocent.example (innocent.example [198.51.100.9]) by mx.bouncer.example (Postfix) with SMTP id 1A; Tue, 22 Nov 2005 10:00:00 +0000\r\n\
         From: victim@example.org\r\n\
         Subject: Ihr Passwort\r\n\
         \r\n\
         worm body\r\n";
    let raw = dsn("203.0.113.66", forged);

    let mut origin = connect_origin("203.0.113.66");
    bounce::apply(&mut origin, Some("2"), raw.as_bytes());
    assert_eq!(origin.map(|o| o.ip), Some(ip("203.0.113.66")));
}

/// A genuine bounce from a site whose own relays use public addresses:
/// with inferred trust the site's front MX, which relayed the original
/// internally, becomes the origin instead of the worm's sender.
#[test]
#[ignore = "design: the bouncing site's chain is walked with inferred trust"]
fn bounce_with_public_internal_relay_names_sender() {
    let original = "Received: from mx1.victim.example (mx1.victim.example [192.0.2.30]) by store.victim.example (Postfix) with ESMTP id 9Z; Tue, 22 Nov 2005 10:00:05 +0000\r\n\
         Received: from infected-pc (dsl-7.example.net [203.0.113.7]) by mx1.victim.example (Postfix) with SMTP id 1A; Tue, 22 Nov 2005 10:00:00 +0000\r\n\
         From: victim@example.org\r\n\
         Subject: Ihr Passwort\r\n\
         \r\n\
         worm body\r\n";
    let raw = dsn("192.0.2.30", original);

    let mut origin = connect_origin("192.0.2.30");
    bounce::apply(&mut origin, Some("2"), raw.as_bytes());
    assert_eq!(origin.map(|o| o.ip), Some(ip("203.0.113.7")));
}
