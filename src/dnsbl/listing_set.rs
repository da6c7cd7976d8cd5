//! The listed addresses the responder serves, taken from the listing
//! policy and held in memory so that a query never touches SQLite.
//!
//! The set contains what `wormsign export --format rbldnsd` writes under the
//! same configuration, so that this responder and an rbldnsd serving the
//! export give the same answers: IPv4 hosts exactly, IPv6 hosts as their
//! /64, each with its own A value and TXT from [`crate::listing::listed`],
//! and the RFC 5782 test entries 127.0.0.2 and `::ffff:7f00:2` with the
//! policy's default A value and TXT (never 127.0.0.1 or `::ffff:7f00:1`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::listing::{self, Listed, Policy, expand_template};
use crate::store::Listing;

/// The RFC 5782 IPv4 test entry: always listed.
pub const TEST_LISTED_V4: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The RFC 5782 IPv6 test entry (`::ffff:7f00:2`): always listed.
pub const TEST_LISTED_V6: Ipv6Addr = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 2);

/// Maximum length in bytes of one DNS character string (RFC 1035, 3.3).
const MAX_TXT: usize = 255;

/// The A value and TXT of one listed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The A value.
    pub return_code: Ipv4Addr,
    /// The TXT in rbldnsd template syntax (`$` is the queried address, `$$`
    /// a literal `$`), shared with every entry that has the same text.
    pub txt: Arc<str>,
}

/// Listed addresses with the A value and TXT of each.
///
/// Hosts with the same TXT share one string, so the memory per host stays
/// near the size of a hash map entry: an address, an A value and a pointer.
/// There are few distinct texts, about one per last-seen day and family
/// combination.
#[derive(Debug)]
pub struct ListingSet {
    v4: HashMap<Ipv4Addr, Entry>,
    /// Keyed by the upper 64 bits of the address.
    v6: HashMap<u64, Entry>,
    /// The answer for the RFC 5782 test entries: the default A value and
    /// TXT, as on the export's test entry lines.
    test_entry: Entry,
}

impl Default for ListingSet {
    fn default() -> Self {
        ListingSet::build(&[], &Policy::default(), false)
    }
}

impl ListingSet {
    /// Builds the set from the listings of [`crate::listing::listed`].
    /// IPv4 networks other than a /32 and IPv6 networks other than a /64
    /// are left out, because the policy never returns them. With `ip4tset`
    /// every IPv4 host gets the default A value and TXT, as in an rbldnsd
    /// `ip4tset` data set answers.
    pub fn build(listed: &[Listed], policy: &Policy, ip4tset: bool) -> ListingSet {
        let mut interned: HashMap<&str, Arc<str>> = HashMap::new();
        let test_entry = Entry {
            return_code: policy.return_code,
            txt: intern(&mut interned, &policy.txt_template),
        };
        let mut v4 = HashMap::new();
        let mut v6 = HashMap::new();
        for entry in listed {
            let (return_code, txt) = match entry.network.addr() {
                IpAddr::V4(_) if ip4tset => (policy.return_code, policy.txt_template.as_str()),
                _ => (entry.return_code, entry.txt.as_str()),
            };
            let value = Entry {
                return_code,
                txt: intern(&mut interned, txt),
            };
            match (entry.network.addr(), entry.network.prefix_len()) {
                (IpAddr::V4(ip), 32) => {
                    v4.insert(ip, value);
                }
                (IpAddr::V6(ip), 64) => {
                    v6.insert(prefix_64(ip), value);
                }
                _ => {}
            }
        }
        ListingSet { v4, v6, test_entry }
    }

    /// Builds the set from the store's listings under `policy`, as
    /// [`ListingSet::build`] on the result of [`crate::listing::listed`]
    /// would, but in chunks. Only one chunk at a time exists as [`Listed`]
    /// values with their own TXT strings, which keeps the peak memory of a
    /// reload near the size of the store's listings.
    pub fn build_from_listings(
        listings: Vec<Listing>,
        policy: &Policy,
        ip4tset: bool,
    ) -> ListingSet {
        const CHUNK: usize = 4096;
        let mut set = ListingSet::build(&[], policy, ip4tset);
        let mut interned: HashMap<Arc<str>, ()> = HashMap::new();
        let mut listings = listings.into_iter();
        loop {
            let chunk: Vec<Listing> = listings.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            let part = ListingSet::build(&listing::apply(chunk, policy), policy, ip4tset);
            for (ip, entry) in part.v4 {
                set.v4.insert(ip, share(&mut interned, entry));
            }
            for (prefix, entry) in part.v6 {
                set.v6.insert(prefix, share(&mut interned, entry));
            }
        }
        set
    }

    /// Number of listed IPv4 hosts and IPv6 /64 networks, test entries not
    /// counted.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Looks up a queried address. IPv4 queries see the IPv4 hosts only and
    /// IPv6 queries the /64 networks only, as with rbldnsd's `ip4set` and
    /// `ip6trie` data sets.
    pub fn lookup(&self, ip: IpAddr) -> Option<&Entry> {
        match ip {
            IpAddr::V4(TEST_LISTED_V4) | IpAddr::V6(TEST_LISTED_V6) => Some(&self.test_entry),
            IpAddr::V4(v4) => self.v4.get(&v4),
            IpAddr::V6(v6) => self.v6.get(&prefix_64(v6)),
        }
    }
}

/// Returns the TXT text of `entry` for a query of `ip`, with rbldnsd's
/// substitution applied (`$` becomes the queried address, `$$` a literal
/// `$`), cut to 255 bytes.
// NOTE: how rbldnsd shortens a TXT longer than 255 bytes was not checked.
// The policy cuts the details to 120 bytes, so only a long template reaches
// that limit.
pub fn txt_text(entry: &Entry, ip: IpAddr) -> String {
    let address = match ip {
        // rbldnsd writes an IPv4-mapped address in dotted form.
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let mut text = expand_template(&entry.txt, &address);
    if text.len() > MAX_TXT {
        let mut end = MAX_TXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Returns `entry` with its TXT replaced by the copy that earlier entries
/// share, so that equal texts from different chunks are stored once.
fn share(interned: &mut HashMap<Arc<str>, ()>, entry: Entry) -> Entry {
    let txt = match interned.get_key_value(&entry.txt) {
        Some((shared, ())) => shared.clone(),
        None => {
            interned.insert(entry.txt.clone(), ());
            entry.txt
        }
    };
    Entry { txt, ..entry }
}

/// Returns the shared copy of `text`, adding one on first use.
fn intern<'a>(interned: &mut HashMap<&'a str, Arc<str>>, text: &'a str) -> Arc<str> {
    interned
        .entry(text)
        .or_insert_with(|| Arc::from(text))
        .clone()
}

fn prefix_64(ip: Ipv6Addr) -> u64 {
    (u128::from(ip) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::ReturnCodeRule;

    fn listing(ip: &str, last_seen: i64, families: &[&str]) -> Listing {
        Listing {
            ip: ip.to_string(),
            first_seen: 0,
            last_seen,
            count: 1,
            score: 1.0,
            confidence: "high".to_string(),
            families: families.iter().map(|f| f.to_string()).collect(),
            variants: Vec::new(),
        }
    }

    fn policy() -> Policy {
        Policy {
            list_documentation_ranges: true,
            return_codes: vec![ReturnCodeRule {
                family: Some("Mydoom".to_string()),
                confidence: None,
                code: Ipv4Addr::new(127, 0, 0, 4),
            }],
            ..Policy::default()
        }
    }

    fn sample(ip4tset: bool) -> ListingSet {
        let policy = policy();
        let listed = listing::apply(
            vec![
                listing("192.0.2.1", 1_714_564_800, &["Sober"]),
                listing("::ffff:198.51.100.7", 1_714_564_800, &["Sober"]),
                listing("192.0.2.9", 1_714_564_800, &["Mydoom"]),
                listing("10.1.2.3", 0, &["Sober"]),
                listing("127.0.0.1", 0, &["Sober"]),
                listing("2001:db8::/64", 1_714_608_000, &["Mydoom", "Sober"]),
                listing("fe80::1", 0, &["Sober"]),
                listing("garbage", 0, &["Sober"]),
            ],
            &policy,
        );
        ListingSet::build(&listed, &policy, ip4tset)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn lookup_table() {
        let set = sample(false);
        let cases = [
            ("127.0.0.2", true),
            ("127.0.0.1", false),
            ("::ffff:7f00:2", true),
            ("::ffff:7f00:1", false),
            ("192.0.2.1", true),
            ("192.0.2.2", false),
            ("198.51.100.7", true),
            ("10.1.2.3", false),
            ("2001:db8::25", true),
            ("2001:db8::ffff:1", true),
            ("2001:db8:0:1::25", false),
            ("fe80::1", false),
        ];
        for (text, expected) in cases {
            assert_eq!(set.lookup(ip(text)).is_some(), expected, "{text}");
        }
        assert_eq!(set.len(), (3, 1));
    }

    #[test]
    fn lookup_returns_policy_code_and_txt() {
        let set = sample(false);
        let mydoom = set.lookup(ip("192.0.2.9")).unwrap();
        assert_eq!(mydoom.return_code, Ipv4Addr::new(127, 0, 0, 4));
        let network = set.lookup(ip("2001:db8::1")).unwrap();
        assert_eq!(network.return_code, Ipv4Addr::new(127, 0, 0, 4));
        assert_eq!(
            txt_text(network, ip("2001:db8::1")),
            "Listed by wormsign: worm mail seen from 2001:db8::1 \
             (Mydoom, Sober; last seen 2024-05-02)"
        );
        let test = set.lookup(ip("127.0.0.2")).unwrap();
        assert_eq!(test.return_code, Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(
            txt_text(test, ip("::ffff:7f00:2")),
            "Listed by wormsign: worm mail seen from 127.0.0.2"
        );
    }

    #[test]
    fn ip4tset_uses_defaults_for_ipv4() {
        let set = sample(true);
        let mydoom = set.lookup(ip("192.0.2.9")).unwrap();
        assert_eq!(mydoom.return_code, Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(&*mydoom.txt, Policy::default().txt_template);
        let network = set.lookup(ip("2001:db8::1")).unwrap();
        assert_eq!(network.return_code, Ipv4Addr::new(127, 0, 0, 4));
    }

    #[test]
    fn build_shares_equal_txt() {
        let policy = policy();
        let listed = listing::apply(
            vec![
                listing("192.0.2.1", 1_714_564_800, &["Sober"]),
                listing("192.0.2.2", 1_714_568_400, &["Sober"]),
                listing("192.0.2.3", 1_714_564_800, &["Mydoom"]),
            ],
            &policy,
        );
        let set = ListingSet::build(&listed, &policy, false);
        let txt = |text: &str| set.lookup(ip(text)).unwrap().txt.clone();
        assert!(Arc::ptr_eq(&txt("192.0.2.1"), &txt("192.0.2.2")));
        assert!(!Arc::ptr_eq(&txt("192.0.2.1"), &txt("192.0.2.3")));
    }

    #[test]
    fn build_from_listings_matches_build() {
        let policy = policy();
        let listings: Vec<Listing> = (0..10_000u32)
            .map(|n| {
                let ip = std::net::Ipv4Addr::from(0xC000_0200 | (n % 256));
                let family = if n % 3 == 0 { "Mydoom" } else { "Sober" };
                listing(&ip.to_string(), 1_714_564_800, &[family])
            })
            .chain([listing("2001:db8::/64", 1_714_608_000, &["Sober"])])
            .collect();
        let whole = ListingSet::build(&listing::apply(listings.clone(), &policy), &policy, false);
        let chunked = ListingSet::build_from_listings(listings, &policy, false);
        assert_eq!(chunked.len(), whole.len());
        for n in 0..=256u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0xC000_0200 | n));
            assert_eq!(chunked.lookup(ip), whole.lookup(ip), "{ip}");
        }
        assert_eq!(
            chunked.lookup(ip("2001:db8::1")),
            whole.lookup(ip("2001:db8::1"))
        );
        let first = chunked.lookup(ip("192.0.2.1")).unwrap().txt.clone();
        let second = chunked.lookup(ip("192.0.2.2")).unwrap().txt.clone();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn txt_text_substitutes_address() {
        let entry = |txt: &str| Entry {
            return_code: TEST_LISTED_V4,
            txt: Arc::from(txt),
        };
        assert_eq!(
            txt_text(
                &entry("Listed: $ see https://example.org/?ip=$ cost $$5"),
                ip("192.0.2.1")
            ),
            "Listed: 192.0.2.1 see https://example.org/?ip=192.0.2.1 cost $5"
        );
        assert_eq!(
            txt_text(&entry("at $"), ip("2001:db8::1:0:0:25")),
            "at 2001:db8::1:0:0:25"
        );
        let long = txt_text(&entry(&"é$".repeat(100)), ip("192.0.2.1"));
        assert!(long.len() <= MAX_TXT, "{}", long.len());
        assert!(long.starts_with("é192.0.2.1é"), "{long}");
    }
}
