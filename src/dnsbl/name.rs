//! Query names under a DNSBL zone (RFC 5782, sections 2.1 and 2.4): an
//! IPv4 address as its four octets in reverse order (`2.0.0.127.zone` for
//! 127.0.0.2), an IPv6 address as its 32 nibbles in reverse order.
//!
//! Pure and synchronous: the labels come in as bytes, the address goes out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The meaning of a query name below the zone apex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryName {
    /// The zone apex itself.
    Apex,
    /// An address in reversed form.
    Address(IpAddr),
    /// Any other name inside the zone; it does not exist.
    Other,
}

/// Parses the labels to the left of the zone apex, leftmost first, as
/// they appear in the query name.
///
/// IPv4 octets are decimal with at most three digits, and leading zeros
/// are accepted (`002.0.0.127`), as rbldnsd accepts them. IPv6 nibbles are
/// single hex digits of either case.
pub fn parse_labels(labels: &[&[u8]]) -> QueryName {
    match labels.len() {
        0 => QueryName::Apex,
        4 => parse_ipv4(labels).map_or(QueryName::Other, |ip| QueryName::Address(ip.into())),
        32 => parse_ipv6(labels).map_or(QueryName::Other, |ip| QueryName::Address(ip.into())),
        _ => QueryName::Other,
    }
}

fn parse_ipv4(labels: &[&[u8]]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    // The first label is the last octet.
    for (octet, label) in octets.iter_mut().rev().zip(labels) {
        *octet = parse_octet(label)?;
    }
    Some(Ipv4Addr::from(octets))
}

fn parse_octet(label: &[u8]) -> Option<u8> {
    if label.is_empty() || label.len() > 3 || !label.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = label
        .iter()
        .fold(0u16, |value, digit| value * 10 + u16::from(digit - b'0'));
    u8::try_from(value).ok()
}

fn parse_ipv6(labels: &[&[u8]]) -> Option<Ipv6Addr> {
    let mut value = 0u128;
    // The first label is the lowest nibble, so read from the last label.
    for label in labels.iter().rev() {
        let [digit] = label else {
            return None;
        };
        let nibble = char::from(*digit).to_digit(16)?;
        value = (value << 4) | u128::from(nibble);
    }
    Some(Ipv6Addr::from(value))
}

/// Returns the labels that name `ip` under a DNSBL zone, leftmost first, as
/// text: the inverse of [`parse_labels`].
pub fn reversed_labels(ip: IpAddr) -> Vec<String> {
    match ip {
        IpAddr::V4(v4) => v4.octets().iter().rev().map(u8::to_string).collect(),
        IpAddr::V6(v6) => (0..32)
            .map(|index| format!("{:x}", (u128::from(v6) >> (4 * index)) & 0xf))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> QueryName {
        let labels: Vec<&[u8]> = if name.is_empty() {
            Vec::new()
        } else {
            name.split('.').map(str::as_bytes).collect()
        };
        parse_labels(&labels)
    }

    fn address(text: &str) -> QueryName {
        QueryName::Address(text.parse().unwrap())
    }

    #[test]
    fn parse_labels_table() {
        let nibbles_test_entry = "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0";
        let nibbles_upper = "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2";
        let cases = [
            ("", QueryName::Apex),
            ("2.0.0.127", address("127.0.0.2")),
            ("1.2.0.192", address("192.0.2.1")),
            ("002.0.0.127", address("127.0.0.2")),
            ("255.255.255.255", address("255.255.255.255")),
            ("256.0.0.127", QueryName::Other),
            ("+2.0.0.127", QueryName::Other),
            ("0002.0.0.127", QueryName::Other),
            ("2..0.127", QueryName::Other),
            ("0.0.127", QueryName::Other),
            ("1.2.0.0.127", QueryName::Other),
            ("a.b.c.d", QueryName::Other),
            ("www", QueryName::Other),
            (nibbles_test_entry, address("::ffff:7f00:2")),
            (nibbles_upper, address("2001:db8::25")),
        ];
        for (name, expected) in cases {
            assert_eq!(parse(name), expected, "{name:?}");
        }
    }

    #[test]
    fn parse_labels_rejects_bad_nibbles() {
        let mut labels: Vec<&[u8]> = vec![b"0"; 32];
        labels[5] = b"g";
        assert_eq!(parse_labels(&labels), QueryName::Other);
        labels[5] = b"10";
        assert_eq!(parse_labels(&labels), QueryName::Other);
        labels[5] = b"";
        assert_eq!(parse_labels(&labels), QueryName::Other);
    }

    #[test]
    fn reversed_labels_round_trip() {
        for text in [
            "127.0.0.2",
            "192.0.2.1",
            "::ffff:7f00:2",
            "2001:db8::25",
            "::",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            let labels = reversed_labels(ip);
            let bytes: Vec<&[u8]> = labels.iter().map(|label| label.as_bytes()).collect();
            assert_eq!(parse_labels(&bytes), QueryName::Address(ip), "{text}");
        }
        assert_eq!(
            reversed_labels("192.0.2.1".parse().unwrap()).join("."),
            "1.2.0.192"
        );
    }
}
