//! Attacks on the origin: hostile Received headers, forged trust evidence
//! and fake bounces that try to get an innocent host listed, hide the
//! infected one, or stall the parser. Each test carries a minimal input in
//! documentation address ranges and is named after the behaviour it pins.

use std::net::IpAddr;

use wormsign::origin::parse_received;

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
