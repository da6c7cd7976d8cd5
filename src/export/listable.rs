//! The address filter for exported blocklists.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Entry;
use crate::store::Listing;

/// Returns whether `ip` may be published in a blocklist.
///
/// Rejected: unspecified and "this network" (0.0.0.0/8, `::`), loopback
/// (127.0.0.0/8, `::1`), private (10.0.0.0/8, 172.16.0.0/12,
/// 192.168.0.0/16, `fc00::/7`), shared address space for carrier-grade NAT
/// (100.64.0.0/10), link-local (169.254.0.0/16, `fe80::/10`), multicast
/// (224.0.0.0/4, `ff00::/8`) and reserved including broadcast
/// (240.0.0.0/4). An IPv4-mapped IPv6 address is judged as its IPv4 address.
///
/// The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
/// `2001:db8::/32`) are allowed on purpose, because tests and examples use
/// them. A real sensor never records them as origins.
pub fn is_listable(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_listable_v4(v4),
        IpAddr::V6(v6) => is_listable_v6(v6),
    }
}

fn is_listable_v4(ip: Ipv4Addr) -> bool {
    let [first, second, ..] = ip.octets();
    let this_network = first == 0;
    let shared_cgnat = first == 100 && (second & 0b1100_0000) == 64;
    let reserved = first >= 240;
    !(this_network
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
        || ip.is_multicast())
}

/// Maps an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) to IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Keeps the listings whose address parses and is listable, in their order.
pub(super) fn entries(listings: &[Listing]) -> Vec<Entry<'_>> {
    listings
        .iter()
        .filter_map(|listing| {
            let ip = canonical(listing.ip.trim().parse().ok()?);
            is_listable(ip).then_some(Entry { ip, listing })
        })
        .collect()
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
            ("192.0.2.1", true),
            ("198.51.100.7", true),
            ("203.0.113.9", true),
            ("8.8.8.8", true),
            ("::", false),
            ("::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fe80::1", false),
            ("ff02::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:192.0.2.1", true),
            ("2001:db8::1", true),
            ("2a00:1450::1", true),
        ];
        for (ip, expected) in cases {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(is_listable(parsed), expected, "{ip}");
        }
    }

    #[test]
    fn entries_maps_ipv4_mapped_and_skips_garbage() {
        let listing = |ip: &str| Listing {
            ip: ip.to_string(),
            first_seen: 0,
            last_seen: 0,
            count: 1,
            families: Vec::new(),
            variants: Vec::new(),
        };
        let listings = [
            listing("::ffff:192.0.2.5"),
            listing("garbage"),
            listing("192.168.0.1"),
        ];
        let listable = entries(&listings);
        assert_eq!(listable.len(), 1);
        assert_eq!(listable[0].ip, "192.0.2.5".parse::<IpAddr>().unwrap());
    }
}
