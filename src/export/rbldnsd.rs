//! rbldnsd data sets, as described in rbldnsd(8).
//!
//! rbldnsd takes one data set type per file, so IPv4 and IPv6 listings go to
//! two files served as one zone:
//!
//! ```text
//! rbldnsd -b 127.0.0.1/53 bl.example.org:ip4set:wormsign.rbldnsd \
//!     bl.example.org:ip6trie:wormsign.rbldnsd6
//! ```
//!
//! IPv4 file (`ip4set`): comment lines start with `#`. `$TTL` sets the TTL
//! of DNS responses. A line starting with `:` sets the default A value and TXT template
//! (`:127.0.0.2:Listed ... $`, where rbldnsd replaces `$` with the queried
//! address); then one address per line, optionally followed by its own
//! `:A:TXT` value.
//!
//! IPv6 file (`ip6trie`): the same syntax with CIDR entries. Each listed
//! IPv6 host is published as its /64, because one host usually owns the
//! whole /64 and can change addresses within it at will. `ip6trie` is used
//! rather than `ip6tset`, because `ip6tset` takes only /64 entries and the
//! RFC 5782 test entry `::ffff:127.0.0.2` would list all of `::/64`,
//! including every IPv4-mapped address.
//!
//! Both files contain the RFC 5782 test entry (127.0.0.2, and
//! `::ffff:127.0.0.2` for IPv6) and never 127.0.0.1. Neither has `$SOA` or
//! `$NS` lines, which name the zone. rbldnsd takes them from the first file
//! of a data set that has them, so list a small file with them first, e.g.
//! `bl.example.org:ip4set:soa-ns,wormsign.rbldnsd`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

use super::{Entry, ExportOptions, rfc3339};
use crate::store::Listing;

/// Maximum length in bytes of the per-entry details appended to the TXT
/// template, so the expanded TXT stays well under the 255-byte limit of one
/// DNS character string.
// NOTE: rbldnsd's handling of a TXT longer than 255 bytes was not checked.
const MAX_DETAILS: usize = 120;

/// Renders the IPv4 entries as an rbldnsd `ip4set` data set.
pub(super) fn render_ip4(entries: &[Entry<'_>], options: &ExportOptions, now: i64) -> String {
    let listed: Vec<&Entry<'_>> = entries.iter().filter(|entry| entry.ip.is_ipv4()).collect();
    let mut out = header("ip4set", "IPv4 addresses", listed.len(), options, now);
    out.push_str("# RFC 5782 test entry; the loopback address itself stays unlisted.\n");
    out.push_str("127.0.0.2\n");
    for entry in listed {
        push_entry(
            &mut out,
            &entry.ip.to_string(),
            &entry.listing.families,
            entry.listing.last_seen,
            options,
        );
    }
    out
}

/// Renders the IPv6 listings of `listings` as an rbldnsd `ip6trie` data
/// set, one /64 entry per network with at least one listable host.
/// `now` (Unix seconds) is written as the generation time.
///
/// Serve it beside the `ip4set` file from [`super::render`] with
/// `zone:ip6trie:FILE`; the module documentation shows the command line.
pub fn render_rbldnsd_ip6(listings: &[Listing], options: &ExportOptions, now: i64) -> String {
    let networks = group_by_64(&super::listable::entries(listings));
    let mut out = header("ip6trie", "IPv6 /64 networks", networks.len(), options, now);
    out.push_str("# RFC 5782 test entry; the loopback address itself stays unlisted.\n");
    out.push_str("::ffff:7f00:2/128\n");
    for (prefix, (families, last_seen)) in networks {
        let network = format!("{}/64", Ipv6Addr::from(u128::from(prefix) << 64));
        let families: Vec<String> = families.into_iter().collect();
        push_entry(&mut out, &network, &families, last_seen, options);
    }
    out
}

/// Merges the IPv6 entries per /64: the families of all hosts, and the
/// latest last-seen time.
fn group_by_64(entries: &[Entry<'_>]) -> BTreeMap<u64, (BTreeSet<String>, i64)> {
    let mut networks: BTreeMap<u64, (BTreeSet<String>, i64)> = BTreeMap::new();
    for entry in entries {
        let IpAddr::V6(v6) = entry.ip else {
            continue;
        };
        // The upper 64 bits of the address are the /64 prefix.
        let prefix = (u128::from(v6) >> 64) as u64;
        let (families, last_seen) = networks
            .entry(prefix)
            .or_insert((BTreeSet::new(), i64::MIN));
        families.extend(entry.listing.families.iter().cloned());
        *last_seen = (*last_seen).max(entry.listing.last_seen);
    }
    networks
}

fn header(
    kind: &str,
    description: &str,
    count: usize,
    options: &ExportOptions,
    now: i64,
) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "# wormsign blocklist: {description} seen sending worm mail.\n\
         # Generated {generated}; entries: {count}.\n\
         # rbldnsd {kind} data set; serve it with the other address family's file:\n\
         #   rbldnsd ... bl.example.org:ip4set:FILE bl.example.org:ip6trie:FILE6\n\
         $TTL {ttl}\n\
         :{a}:{txt}\n",
        generated = rfc3339(now),
        ttl = options.rbldnsd_ttl,
        a = options.rbldnsd_a_value,
        txt = without_controls(&options.rbldnsd_txt_template),
    );
    out
}

/// Appends one entry line, with its own TXT if details are enabled.
fn push_entry(
    out: &mut String,
    entry: &str,
    families: &[String],
    last_seen: i64,
    options: &ExportOptions,
) {
    out.push_str(entry);
    if options.rbldnsd_entry_details {
        let details = details(families, last_seen);
        // `:A:TXT` form, so a TXT starting with `:` or `=` is not misread.
        let _ = write!(
            out,
            " :{}:{} ({})",
            options.rbldnsd_a_value,
            without_controls(&options.rbldnsd_txt_template),
            details
        );
    }
    out.push('\n');
}

/// Returns `Sober, Mydoom; last seen 2024-05-01`, with `$` doubled so
/// rbldnsd prints it literally, shortened to [`MAX_DETAILS`] bytes.
fn details(families: &[String], last_seen: i64) -> String {
    let date: String = rfc3339(last_seen).chars().take(10).collect();
    let families = families.join(", ");
    let mut text = without_controls(&format!("{families}; last seen {date}")).replace('$', "$$");
    if text.len() > MAX_DETAILS {
        let mut end = MAX_DETAILS;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        // Do not leave half of a `$$` pair at the end.
        if text.ends_with('$') && text.chars().rev().take_while(|c| *c == '$').count() % 2 == 1 {
            text.pop();
        }
    }
    text
}

/// Replaces control characters, which would break the line-based format,
/// with spaces.
fn without_controls(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample_listings;
    use super::super::{ExportOptions, Format, render};
    use super::*;

    /// 2024-05-02T00:00:00Z
    const NOW: i64 = 1_714_608_000;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn ip4set_matches_expected_text() {
        let options = ExportOptions {
            rbldnsd_entry_details: false,
            ..ExportOptions::default()
        };
        let out = render(Format::Rbldnsd, &sample_listings(), &options, NOW);
        let body: Vec<&str> = lines(&out)
            .into_iter()
            .filter(|line| !line.starts_with('#'))
            .collect();
        assert_eq!(
            body,
            [
                "$TTL 2100",
                ":127.0.0.2:Listed by wormsign: worm mail seen from $",
                "127.0.0.2",
                "192.0.2.1",
                "203.0.113.9",
            ]
        );
        assert!(
            out.contains("# Generated 2024-05-02T00:00:00Z; entries: 2.\n"),
            "{out}"
        );
    }

    #[test]
    fn ip4set_has_test_entry_not_loopback_one() {
        let out = render(
            Format::Rbldnsd,
            &sample_listings(),
            &ExportOptions::default(),
            NOW,
        );
        assert!(lines(&out).contains(&"127.0.0.2"), "{out}");
        assert!(!out.contains("127.0.0.1"), "{out}");
        assert!(!out.contains("10.1.2.3"), "{out}");
        assert!(!out.contains("2001:db8"), "{out}");
    }

    #[test]
    fn ip4set_entry_details_name_families() {
        let out = render(
            Format::Rbldnsd,
            &sample_listings(),
            &ExportOptions::default(),
            NOW,
        );
        assert!(
            lines(&out).contains(
                &"192.0.2.1 :127.0.0.2:Listed by wormsign: worm mail seen from $ \
                  (Sober; last seen 2024-05-01)"
            ),
            "{out}"
        );
    }

    #[test]
    fn ip6trie_groups_by_64() {
        let mut listings = sample_listings();
        listings.push(Listing {
            ip: "2001:db8::26".to_string(),
            first_seen: 0,
            last_seen: NOW,
            count: 1,
            families: vec!["Mydoom".to_string()],
            variants: Vec::new(),
        });
        let out = render_rbldnsd_ip6(&listings, &ExportOptions::default(), NOW);
        let body: Vec<&str> = lines(&out)
            .into_iter()
            .filter(|line| !line.starts_with('#'))
            .collect();
        assert_eq!(
            body,
            [
                "$TTL 2100",
                ":127.0.0.2:Listed by wormsign: worm mail seen from $",
                "::ffff:7f00:2/128",
                "2001:db8::/64 :127.0.0.2:Listed by wormsign: worm mail seen from $ \
                 (Mydoom, Sober; last seen 2024-05-02)",
            ]
        );
        assert!(!out.contains("7f00:1"), "{out}");
    }

    #[test]
    fn details_escape_dollar_and_controls() {
        let families = ["A$B\nC".to_string()];
        assert_eq!(details(&families, 0), "A$$B C; last seen 1970-01-01");
    }

    #[test]
    fn details_truncate_long_family_lists() {
        let families: Vec<String> = (0..40).map(|n| format!("Family{n}$")).collect();
        let text = details(&families, 0);
        assert!(text.len() <= MAX_DETAILS, "{}", text.len());
        let trailing_dollars = text.chars().rev().take_while(|c| *c == '$').count();
        assert_eq!(trailing_dollars % 2, 0, "{text}");
    }

    #[test]
    fn template_controls_become_spaces() {
        let options = ExportOptions {
            rbldnsd_txt_template: "line\nbreak $".to_string(),
            ..ExportOptions::default()
        };
        let out = render(Format::Rbldnsd, &[], &options, NOW);
        assert!(lines(&out).contains(&":127.0.0.2:line break $"), "{out}");
    }
}
