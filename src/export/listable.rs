//! The address filter for published blocklists.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Returns whether `ip` may be published in a blocklist, with the
/// documentation ranges rejected. See [`is_listable_with`].
pub fn is_listable(ip: IpAddr) -> bool {
    is_listable_with(ip, false)
}

/// Returns whether `ip` may be published in a blocklist.
///
/// Rejected: unspecified and "this network" (0.0.0.0/8, `::`), loopback
/// (127.0.0.0/8, `::1`), private (10.0.0.0/8, 172.16.0.0/12,
/// 192.168.0.0/16, `fc00::/7`), shared address space for carrier-grade NAT
/// (100.64.0.0/10), link-local (169.254.0.0/16, `fe80::/10`), multicast
/// (224.0.0.0/4, `ff00::/8`), IETF protocol assignments (192.0.0.0/24),
/// benchmarking (198.18.0.0/15), discard-only (`100::/64`) and reserved
/// including broadcast (240.0.0.0/4). An IPv4-mapped IPv6 address is judged
/// as its IPv4 address.
///
/// The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
/// `2001:db8::/32`, `3fff::/20`) are rejected unless `documentation` is
/// true, which tests and examples that use them set. A real sensor never
/// records them as origins.
pub fn is_listable_with(ip: IpAddr, documentation: bool) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_listable_v4(v4) && (documentation || !is_documentation_v4(v4)),
        IpAddr::V6(v6) => is_listable_v6(v6) && (documentation || !is_documentation_v6(v6)),
    }
}

fn is_documentation_v4(ip: Ipv4Addr) -> bool {
    matches!(
        ip.octets(),
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]
    )
}

fn is_documentation_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // 2001:db8::/32 and 3fff::/20.
    (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x3fff && segments[1] < 0x1000)
}

fn is_listable_v4(ip: Ipv4Addr) -> bool {
    let [first, second, third, _] = ip.octets();
    let this_network = first == 0;
    let shared_cgnat = first == 100 && (second & 0b1100_0000) == 64;
    let protocol_assignments = first == 192 && second == 0 && third == 0;
    let benchmarking = first == 198 && (second & 0b1111_1110) == 18;
    let reserved = first >= 240;
    !(this_network
        || protocol_assignments
        || benchmarking
        || ip.is_loopback()
        || ip.is_private()
        || shared_cgnat
        || ip.is_link_local()
        || ip.is_multicast()
        || reserved)
}

fn is_listable_v6(ip: Ipv6Addr) -> bool {
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || ip.is_multicast()
        || (ip.segments()[..4] == [0x100, 0, 0, 0]))
}

/// Maps an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) to IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_listable_table() {
        let cases = [
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("127.0.0.1", false),
            ("127.0.0.2", false),
            ("10.0.0.1", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("100.128.0.1", true),
            ("100.63.255.255", true),
            ("169.254.1.1", false),
            ("224.0.0.1", false),
            ("239.255.255.255", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            ("192.0.0.9", false),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("198.20.0.1", true),
            ("192.0.2.1", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("8.8.8.8", true),
            ("::", false),
            ("::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fe80::1", false),
            ("ff02::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:192.0.2.1", false),
            ("::ffff:8.8.4.4", true),
            ("2001:db8::1", false),
            ("3fff::1", false),
            ("100::1", false),
            ("2a00:1450::1", true),
        ];
        for (ip, expected) in cases {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(is_listable(parsed), expected, "{ip}");
        }
    }

    #[test]
    fn documentation_ranges_behind_option() {
        for ip in [
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "2001:db8::1",
            "3fff::1",
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert!(!is_listable_with(parsed, false), "{ip}");
            assert!(is_listable_with(parsed, true), "{ip}");
        }
        let private: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(!is_listable_with(private, true));
    }
}
