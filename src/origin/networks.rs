//! Sets of IP prefixes such as `trusted_networks`, and the IP text forms
//! that MTAs write.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are treated as the IPv4
//! address they carry, both in entries and in lookups, because a dual-stack
//! MTA reports IPv4 clients in that form.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

/// An ordered list of CIDR prefixes, each either included or excluded.
///
/// Lookups are first match in list order, as in SpamAssassin's
/// `trusted_networks`: with `!192.0.2.1, 192.0.2.0/24` the host 192.0.2.1 is
/// not in the list, while with `192.0.2.0/24, !192.0.2.1` it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkList {
    entries: Vec<Entry>,
}

/// One prefix of a [`NetworkList`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    network: IpNet,
    /// True for a `!net` entry: a match means "not in the list".
    excluded: bool,
    /// The entry as written, for error messages.
    text: String,
}

impl NetworkList {
    /// Parses entries like `192.0.2.0/24`, `10.1.2.3`, `2001:db8::/32`,
    /// `[2001:db8::1]`, SpamAssassin's shorthand `10/8`, `172.16/12`,
    /// `192.168` (a /16), and exclusions written `!net`.
    ///
    /// Host bits below the prefix are ignored (`192.0.2.7/24` is
    /// 192.0.2.0/24). An IPv4-mapped IPv6 prefix of at least /96 becomes the
    /// IPv4 prefix it covers.
    ///
    /// # Errors
    /// Returns a [`NetworkError`] naming the first entry that is empty, not
    /// an address, or has a prefix length out of range.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, NetworkError> {
        let entries = entries
            .iter()
            .map(|entry| parse_entry(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NetworkList { entries })
    }

    /// Returns true when the first entry that contains `ip` is an included
    /// one. IPv4-mapped IPv6 addresses are looked up as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.entries
            .iter()
            .find(|entry| entry.network.contains(&ip))
            .is_some_and(|entry| !entry.excluded)
    }

    /// Returns true when the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns the included (not `!net`) entries as written, with their
    /// networks.
    pub(crate) fn included(&self) -> impl Iterator<Item = (IpNet, &str)> {
        self.entries
            .iter()
            .filter(|entry| !entry.excluded)
            .map(|entry| (entry.network, entry.text.as_str()))
    }

    /// Returns true when every address of `network` is in the list, with
    /// first-match lookups: an earlier `!net` that overlaps part of
    /// `network` makes the result false.
    pub fn covers(&self, network: IpNet) -> bool {
        let mut pending = vec![network.trunc()];
        for entry in &self.entries {
            let mut rest = Vec::new();
            for range in pending {
                if entry.network.contains(&range) {
                    if entry.excluded {
                        return false;
                    }
                } else if range.contains(&entry.network) {
                    if entry.excluded {
                        return false;
                    }
                    rest.extend(subtract(range, entry.network));
                } else {
                    rest.push(range);
                }
            }
            pending = rest;
            if pending.is_empty() {
                return true;
            }
        }
        false
    }
}

/// Splits `range` minus `inner` (a subnet of it) into prefixes.
fn subtract(range: IpNet, inner: IpNet) -> Vec<IpNet> {
    let mut pieces = Vec::new();
    let mut current = range;
    while current.prefix_len() < inner.prefix_len() {
        let Ok(mut halves) = current.subnets(current.prefix_len() + 1) else {
            break;
        };
        let (Some(low), Some(high)) = (halves.next(), halves.next()) else {
            break;
        };
        if low.contains(&inner) {
            pieces.push(high);
            current = low;
        } else {
            pieces.push(low);
            current = high;
        }
    }
    pieces
}

/// An entry that is not a valid address or prefix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid network {entry:?}: {reason}; write an address or a prefix such as 192.0.2.0/24 or 2001:db8::/32"
)]
pub struct NetworkError {
    /// The entry as written.
    pub entry: String,
    /// Reason the entry is invalid.
    pub reason: String,
}

/// Converts an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) to IPv4 and
/// returns every other address unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Parses an IP address as MTAs write it: bare (`192.0.2.1`, `2001:db8::1`),
/// in brackets (`[192.0.2.1]`), with Postfix's and Sendmail's `IPv6:` prefix
/// (`IPv6:::1`, `[IPv6:2001:db8::1]`) or with a zone id (`fe80::1%9`, which
/// is dropped). IPv4-mapped IPv6 comes back as IPv4. Returns `None` for
/// anything else, ports included.
pub fn parse_ip_text(text: &str) -> Option<IpAddr> {
    let mut text = text.trim();
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        text = inner.trim();
    }
    text = strip_ipv6_tag(text);
    if let Some((address, _zone)) = text.split_once('%') {
        text = address;
    }
    text.parse::<IpAddr>().ok().map(canonical_ip)
}

/// Removes a leading `IPv6:` tag (any case), as in SMTP address literals.
pub(crate) fn strip_ipv6_tag(text: &str) -> &str {
    match text.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("ipv6:") => &text[5..],
        _ => text,
    }
}

fn parse_entry(entry: &str) -> Result<Entry, NetworkError> {
    let invalid = |reason: &str| NetworkError {
        entry: entry.to_owned(),
        reason: reason.to_owned(),
    };

    let text = entry.trim();
    let (excluded, text) = match text.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    if text.is_empty() {
        return Err(invalid("empty entry"));
    }

    let (address_text, prefix_text) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let (address, implied_prefix) =
        parse_network_address(address_text).ok_or_else(|| invalid("not an IP address"))?;
    let max_prefix = match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix = match prefix_text {
        Some(prefix) => prefix
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|&length| length <= max_prefix)
            .ok_or_else(|| invalid(&format!("prefix length must be 0 to {max_prefix}")))?,
        None => implied_prefix,
    };

    let network = canonical_network(address, prefix)
        .ok_or_else(|| invalid(&format!("prefix length must be 0 to {max_prefix}")))?;
    Ok(Entry {
        network,
        excluded,
        text: entry.trim().to_owned(),
    })
}

/// Parses the address part of an entry and returns it with the prefix
/// length that applies when none is written. A full address gets /32 or
/// /128. SpamAssassin's shorthand gets 8 bits per written octet: `10` is
/// 10/8, `172.16` is 172.16/16 and `127.` is 127/8.
fn parse_network_address(text: &str) -> Option<(IpAddr, u8)> {
    let text = text.trim();
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let text = strip_ipv6_tag(text);
    if let Ok(address) = text.parse::<IpAddr>() {
        let full = if address.is_ipv4() { 32 } else { 128 };
        return Some((address, full));
    }

    let digits = text.strip_suffix('.').unwrap_or(text);
    let octets = digits
        .split('.')
        .map(|part| {
            let all_digits = !part.is_empty() && part.len() <= 3;
            let all_digits = all_digits && part.bytes().all(|b| b.is_ascii_digit());
            all_digits.then(|| part.parse::<u8>().ok()).flatten()
        })
        .collect::<Option<Vec<u8>>>()?;
    if octets.is_empty() || octets.len() > 3 {
        return None;
    }
    let mut padded = [0u8; 4];
    padded[..octets.len()].copy_from_slice(&octets);
    let implied = u8::try_from(octets.len() * 8).ok()?;
    Some((IpAddr::V4(Ipv4Addr::from(padded)), implied))
}

/// Builds the network with host bits cleared, turning an IPv4-mapped IPv6
/// prefix of /96 or longer into the IPv4 prefix it covers.
fn canonical_network(address: IpAddr, prefix: u8) -> Option<IpNet> {
    if let IpAddr::V6(v6) = address
        && let Some(v4) = v6.to_ipv4_mapped()
        && prefix >= 96
    {
        return IpNet::new(IpAddr::V4(v4), prefix - 96)
            .ok()
            .map(|net| net.trunc());
    }
    IpNet::new(address, prefix).ok().map(|net| net.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn contains_table() {
        // (entries, address, expected)
        let cases: &[(&[&str], &str, bool)] = &[
            (&["192.0.2.0/24"], "192.0.2.200", true),
            (&["192.0.2.0/24"], "192.0.3.1", false),
            (&["10.1.2.3"], "10.1.2.3", true),
            (&["10.1.2.3"], "10.1.2.4", false),
            (&["2001:db8::/32"], "2001:db8:ffff::1", true),
            (&["2001:db8::/32"], "2001:db9::1", false),
            (&["10/8"], "10.200.0.1", true),
            (&["172.16/12"], "172.31.255.255", true),
            (&["172.16/12"], "172.32.0.1", false),
            (&["192.168"], "192.168.7.7", true),
            (&["127."], "127.0.0.9", true),
            (&["1.2/16", "!1.2/16"], "1.2.3.2", true),
            (&["!1.2.3.4", "1.2/16"], "1.2.3.4", false),
            (&["!1.2.3.4", "1.2/16"], "1.2.3.5", true),
            (&["!1/8", "1/8"], "1.1.1.1", false),
            (&["192.0.2.0/24"], "::ffff:192.0.2.9", true),
            (&["::ffff:192.0.2.0/120"], "192.0.2.9", true),
            (&["[2001:db8::1]"], "2001:db8::1", true),
            (&["192.0.2.77/24"], "192.0.2.1", true),
            (&["0.0.0.0/0"], "203.0.113.1", true),
            (&["0.0.0.0/0"], "2001:db8::1", false),
            (
                &["DEAD:BEEF:0000:0102:0304:0506:0708:0000/108"],
                "dead:beef:0:102:304:506:708:a0b",
                true,
            ),
            (&[], "192.0.2.1", false),
        ];
        for (entries, address, expected) in cases {
            let list = NetworkList::parse(entries).unwrap();
            assert_eq!(
                list.contains(ip(address)),
                *expected,
                "{entries:?} contains {address}"
            );
        }
    }

    #[test]
    fn covers_table() {
        // (entries, network, expected)
        let cases: &[(&[&str], &str, bool)] = &[
            (&["1.1/16"], "1.1.1.0/24", true),
            (&["1.1.1/24"], "1.1.0.0/16", false),
            (&["!1.1.1.1", "1.1/16"], "1.1.1.1/32", false),
            (&["!1.1.1.1", "1.1/16"], "1.1.2.0/24", true),
            (&["!1.1.1.1", "1.1/16"], "1.1.0.0/16", false),
            (&["1.1.0.0/17", "1.1.128.0/17"], "1.1.0.0/16", true),
            (&["1.1.1.1", "!1.1/16"], "1.1.1.1/32", true),
            (&["192.0.2.0/24"], "2001:db8::/32", false),
            (&[], "192.0.2.1/32", false),
        ];
        for (entries, network, expected) in cases {
            let list = NetworkList::parse(entries).unwrap();
            let network: IpNet = network.parse().unwrap();
            assert_eq!(
                list.covers(network),
                *expected,
                "{entries:?} covers {network}"
            );
        }
    }

    #[test]
    fn parse_rejects_bad_entries() {
        let cases = [
            "",
            "!",
            "example.com",
            "192.0.2.0/33",
            "2001:db8::/129",
            "192.0.2.0/",
            "10/x",
            "1.2.3.4.5",
            "256/8",
            "1..2/16",
        ];
        for entry in cases {
            let error = NetworkList::parse(&["192.0.2.0/24", entry]).unwrap_err();
            assert_eq!(error.entry, entry);
            assert!(error.to_string().contains("192.0.2.0/24"), "{error}");
        }
    }

    #[test]
    fn parse_ip_text_table() {
        let cases = [
            ("192.0.2.1", Some("192.0.2.1")),
            (" [192.0.2.1] ", Some("192.0.2.1")),
            ("IPv6:::1", Some("::1")),
            ("[IPv6:2001:db8::1]", Some("2001:db8::1")),
            ("ipv6:2001:db8::1", Some("2001:db8::1")),
            ("fe80::1%9", Some("fe80::1")),
            ("[fe80::1%eth0]", Some("fe80::1")),
            ("::ffff:198.51.100.4", Some("198.51.100.4")),
            ("IPv6:::ffff:127.0.0.1", Some("127.0.0.1")),
            ("192.0.2.1:25", None),
            ("unknown", None),
            ("", None),
            ("[", None),
            ("IPv6", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_ip_text(text), expected.map(ip), "{text:?}");
        }
    }

    #[test]
    fn canonical_ip_maps_ipv4() {
        assert_eq!(canonical_ip(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(canonical_ip(ip("::1")), ip("::1"));
        assert_eq!(canonical_ip(ip("10.0.0.1")), ip("10.0.0.1"));
    }
}
