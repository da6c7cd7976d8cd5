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
