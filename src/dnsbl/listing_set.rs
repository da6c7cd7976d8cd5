//! The listed addresses the responder serves, read from the store and held
//! in memory so that a query never touches SQLite.
//!
//! The set matches what `wormsign export --format rbldnsd` writes, so that
//! this responder and an rbldnsd serving the export give the same answers:
//! IPv4 hosts exactly, IPv6 hosts as their /64, the RFC 5782 test entries
//! 127.0.0.2 and `::ffff:7f00:2` (never 127.0.0.1 or `::ffff:7f00:1`), and
//! a TXT text of the template plus the families and the last-seen date.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rusqlite::Connection;
use time::OffsetDateTime;

use crate::export::is_listable;
use crate::store::{self, Listing, ListingQuery, StoreError};

/// The RFC 5782 IPv4 test entry: always listed.
pub const TEST_LISTED_V4: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The RFC 5782 IPv6 test entry (`::ffff:7f00:2`): always listed.
pub const TEST_LISTED_V6: Ipv6Addr = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 2);

/// Maximum length in bytes of the families and date appended to the TXT
/// template. It is the same limit the rbldnsd export applies, so that both
/// servers return the same TXT.
const MAX_DETAILS: usize = 120;

/// Maximum length in bytes of one DNS character string (RFC 1035, 3.3).
const MAX_TXT: usize = 255;

/// Reads the listings the responder publishes: every listing of the store
/// with at least `min_sightings` sightings whose address is listable.
///
/// # Errors
///
/// [`StoreError::Query`] if the query fails.
// TODO: call the listing policy function (expiry, allowlist, delisting,
// return codes per family) here instead, once it replaces this query.
pub fn load_listed(conn: &Connection, min_sightings: u64) -> Result<Vec<Listing>, StoreError> {
    let query = ListingQuery {
        min_sightings: min_sightings as f64,
        ..ListingQuery::default()
    };
    let mut listings = store::listings(conn, &query)?;
    listings.retain(|listing| canonical_ip(&listing.ip).is_some_and(is_listable));
    Ok(listings)
}

/// The result of [`ListingSet::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// Not listed: the name does not exist.
    NotListed,
    /// Listed. `details` is the text appended to the TXT template in
    /// rbldnsd's escaped form (`$$` for a literal `$`); the test entries
    /// have none.
    Listed { details: Option<&'a str> },
}

/// Listed addresses with the TXT details of each.
///
/// Hosts with the same families and last-seen date share one details
/// string, so that the memory per host stays near the size of a hash map
/// entry: there are few such strings, one per day and family combination.
#[derive(Debug, Default)]
pub struct ListingSet {
    v4: HashMap<Ipv4Addr, Arc<str>>,
    /// Keyed by the upper 64 bits of the address.
    v6: HashMap<u64, Arc<str>>,
}

impl ListingSet {
    /// Builds the set from listings. Addresses that do not parse or are not
    /// listable are left out; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn build(listings: &[Listing]) -> ListingSet {
        let mut interned: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |text: String| -> Arc<str> {
            interned
                .entry(text)
                .or_insert_with_key(|text| Arc::from(text.as_str()))
                .clone()
        };
        let mut v4 = HashMap::new();
        let mut v6: HashMap<u64, (BTreeSet<&str>, i64)> = HashMap::new();
        for listing in listings {
            let Some(ip) = canonical_ip(&listing.ip).filter(|ip| is_listable(*ip)) else {
                continue;
            };
            match ip {
                IpAddr::V4(v4_ip) => {
                    v4.insert(v4_ip, intern(details(&listing.families, listing.last_seen)));
                }
                IpAddr::V6(v6_ip) => {
                    let (families, last_seen) = v6
                        .entry(prefix_64(v6_ip))
                        .or_insert((BTreeSet::new(), i64::MIN));
                    families.extend(listing.families.iter().map(String::as_str));
                    *last_seen = (*last_seen).max(listing.last_seen);
                }
            }
        }
        let v6 = v6
            .into_iter()
            .map(|(prefix, (families, last_seen))| {
                let families: Vec<String> = families.into_iter().map(str::to_string).collect();
                (prefix, intern(details(&families, last_seen)))
            })
            .collect();
        ListingSet { v4, v6 }
    }

    /// Number of listed IPv4 hosts and IPv6 /64 networks, test entries not
    /// counted.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Looks up a queried address. IPv4 queries see the IPv4 hosts only and
    /// IPv6 queries the /64 networks only, as with rbldnsd's `ip4set` and
    /// `ip6trie` data sets.
    pub fn lookup(&self, ip: IpAddr) -> Lookup<'_> {
        let details = match ip {
            IpAddr::V4(TEST_LISTED_V4) | IpAddr::V6(TEST_LISTED_V6) => {
                return Lookup::Listed { details: None };
            }
            IpAddr::V4(v4) => self.v4.get(&v4),
            IpAddr::V6(v6) => self.v6.get(&prefix_64(v6)),
        };
        match details {
            Some(text) => Lookup::Listed {
                details: Some(text),
            },
            None => Lookup::NotListed,
        }
    }
}

/// Returns the TXT text for a listed address: the template, then the details
/// in brackets, with rbldnsd's substitution applied (`$` becomes the queried
/// address, `$$` a literal `$`), cut to 255 bytes.
// NOTE: how rbldnsd shortens a TXT longer than 255 bytes was not checked;
// the template and MAX_DETAILS keep it shorter in practice.
pub fn txt_text(template: &str, details: Option<&str>, ip: IpAddr) -> String {
    let mut line = without_controls(template);
    if let Some(details) = details {
        line.push_str(" (");
        line.push_str(details);
        line.push(')');
    }
    let address = match ip {
        // rbldnsd writes an IPv4-mapped address in dotted form.
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let mut text = String::with_capacity(line.len() + address.len());
    let mut rest = line.as_str();
    while let Some(index) = rest.find('$') {
        text.push_str(&rest[..index]);
        if rest[index + 1..].starts_with('$') {
            text.push('$');
            rest = &rest[index + 2..];
        } else {
            text.push_str(&address);
            rest = &rest[index + 1..];
        }
    }
    text.push_str(rest);
    truncate_at_char(&mut text, MAX_TXT);
    text
}

/// Returns `Sober, Mydoom; last seen 2024-05-01` with controls as spaces
/// and `$` doubled, cut to [`MAX_DETAILS`] bytes without splitting a `$$`.
// TODO: share this with the rbldnsd export, which builds the same text, so
// the two cannot drift apart; tests/dnsbl.rs compares them for now.
fn details(families: &[String], last_seen: i64) -> String {
    let date = OffsetDateTime::from_unix_timestamp(last_seen)
        .ok()
        .and_then(|time| {
            time.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| last_seen.to_string());
    let date: String = date.chars().take(10).collect();
    let text = format!("{}; last seen {date}", families.join(", "));
    let mut text = without_controls(&text).replace('$', "$$");
    if text.len() > MAX_DETAILS {
        truncate_at_char(&mut text, MAX_DETAILS);
        let trailing = text.chars().rev().take_while(|c| *c == '$').count();
        if trailing % 2 == 1 {
            text.pop();
        }
    }
    text
}

fn truncate_at_char(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

fn without_controls(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Parses a stored origin IP, mapping `::ffff:a.b.c.d` to IPv4.
fn canonical_ip(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    })
}

fn prefix_64(ip: Ipv6Addr) -> u64 {
    (u128::from(ip) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn sample() -> ListingSet {
        ListingSet::build(&[
            listing("192.0.2.1", 1_714_564_800, &["Sober"]),
            listing("::ffff:198.51.100.7", 1_714_564_800, &["Sober"]),
            listing("10.1.2.3", 0, &["Sober"]),
            listing("127.0.0.1", 0, &["Sober"]),
            listing("2001:db8::25", 1_714_564_800, &["Sober"]),
            listing("2001:db8::26", 1_714_608_000, &["Mydoom"]),
            listing("fe80::1", 0, &["Sober"]),
            listing("garbage", 0, &["Sober"]),
        ])
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn lookup_table() {
        let set = sample();
        let listed = |text: &str| matches!(set.lookup(ip(text)), Lookup::Listed { .. });
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
            assert_eq!(listed(text), expected, "{text}");
        }
        assert_eq!(set.len(), (2, 1));
    }

    #[test]
    fn lookup_merges_families_per_64() {
        let set = sample();
        assert_eq!(
            set.lookup(ip("2001:db8::1")),
            Lookup::Listed {
                details: Some("Mydoom, Sober; last seen 2024-05-02")
            }
        );
        assert_eq!(
            set.lookup(ip("127.0.0.2")),
            Lookup::Listed { details: None }
        );
    }

    #[test]
    fn build_shares_equal_details() {
        let set = ListingSet::build(&[
            listing("192.0.2.1", 1_714_564_800, &["Sober"]),
            listing("192.0.2.2", 1_714_568_400, &["Sober"]),
            listing("192.0.2.3", 1_714_564_800, &["Mydoom"]),
        ]);
        let details = |text: &str| set.v4[&text.parse::<Ipv4Addr>().unwrap()].clone();
        assert!(Arc::ptr_eq(&details("192.0.2.1"), &details("192.0.2.2")));
        assert!(!Arc::ptr_eq(&details("192.0.2.1"), &details("192.0.2.3")));
    }

    #[test]
    fn txt_text_substitutes_address() {
        let template = "Listed: $ see https://example.org/?ip=$ cost $$5";
        assert_eq!(
            txt_text(template, None, ip("192.0.2.1")),
            "Listed: 192.0.2.1 see https://example.org/?ip=192.0.2.1 cost $5"
        );
        assert_eq!(
            txt_text(
                "at $",
                Some("A$$B; last seen 2024-05-01"),
                ip("::ffff:7f00:2")
            ),
            "at 127.0.0.2 (A$B; last seen 2024-05-01)"
        );
        assert_eq!(
            txt_text("at $", None, ip("2001:db8::1:0:0:25")),
            "at 2001:db8::1:0:0:25"
        );
        assert_eq!(txt_text("a\nb", None, ip("192.0.2.1")), "a b");
    }

    #[test]
    fn txt_text_fits_one_string() {
        let template = "é".repeat(200);
        let text = txt_text(&template, Some("Sober"), ip("192.0.2.1"));
        assert!(text.len() <= MAX_TXT, "{}", text.len());
        assert!(text.starts_with("éé"));
    }

    #[test]
    fn details_escape_and_truncate() {
        assert_eq!(
            details(&["A$B\nC".to_string()], 0),
            "A$$B C; last seen 1970-01-01"
        );
        let families: Vec<String> = (0..40).map(|n| format!("Family{n}$")).collect();
        let text = details(&families, 0);
        assert!(text.len() <= MAX_DETAILS, "{}", text.len());
        let trailing = text.chars().rev().take_while(|c| *c == '$').count();
        assert_eq!(trailing % 2, 0, "{text}");
    }
}
