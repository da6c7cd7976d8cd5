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
//! IPv4 file (`ip4set`): comment lines start with `#`. `$SOA` and `$NS`
//! give the zone's SOA and NS records and are written when name servers are
//! configured. rbldnsd takes them from the first data set that has them, so
//! both files carry the same lines. `$TTL` sets the TTL of DNS responses. A
//! line starting with `:` sets the default A value and TXT template
//! (`:127.0.0.2:Listed ... $`, where rbldnsd replaces `$` with the queried
//! address); then one address per line, followed by its own `:A:TXT` value
//! when it has a return code or TXT of its own.
//!
//! IPv6 file (`ip6trie`): the same syntax with CIDR entries, one /64 per
//! listing. `ip6trie` is used rather than `ip6tset`, because `ip6tset` takes
//! only /64 entries and the RFC 5782 test entry `::ffff:127.0.0.2` would
//! list all of `::/64`, including the test address `::ffff:127.0.0.1` that
//! must stay unlisted.
//!
//! Both files contain the RFC 5782 test entry (127.0.0.2, and
//! `::ffff:127.0.0.2` for IPv6) and never 127.0.0.1.
//!
//! With [`ExportOptions::ip4tset`] the IPv4 file is an `ip4tset` instead:
//! the same header, then bare addresses, all answered with the default A
//! value and TXT.

use std::fmt::Write as _;

use super::{ExportOptions, network_text, rfc3339};
use crate::listing::Listed;

/// Renders the IPv4 listings as an rbldnsd `ip4set` (or `ip4tset`) data set.
pub(super) fn render_ip4(listed: &[Listed], options: &ExportOptions, now: i64) -> String {
    let entries: Vec<&Listed> = listed
        .iter()
        .filter(|entry| entry.network.addr().is_ipv4())
        .collect();
    let kind = if options.ip4tset { "ip4tset" } else { "ip4set" };
    let mut out = header(kind, "IPv4 addresses", entries.len(), options, now);
    out.push_str("# RFC 5782 test entry; the loopback address itself stays unlisted.\n");
    out.push_str("127.0.0.2\n");
    for entry in entries {
        if options.ip4tset {
            out.push_str(&network_text(entry));
            out.push('\n');
        } else {
            push_entry(&mut out, entry, options);
        }
    }
    out
}

/// Renders the IPv6 listings of `listed` as an rbldnsd `ip6trie` data set,
/// one /64 entry per listing. `now` (Unix seconds) is written as the
/// generation time and SOA serial.
///
/// Serve it beside the `ip4set` file from [`super::render`] with
/// `zone:ip6trie:FILE`; the module documentation shows the command line.
pub fn render_rbldnsd_ip6(listed: &[Listed], options: &ExportOptions, now: i64) -> String {
    let entries: Vec<&Listed> = listed
        .iter()
        .filter(|entry| entry.network.addr().is_ipv6())
        .collect();
    let mut out = header("ip6trie", "IPv6 /64 networks", entries.len(), options, now);
    out.push_str("# RFC 5782 test entry; the loopback address itself stays unlisted.\n");
    out.push_str("::ffff:7f00:2/128\n");
    for entry in entries {
        push_entry(&mut out, entry, options);
    }
    out
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
         #   rbldnsd ... bl.example.org:{ip4_kind}:FILE bl.example.org:ip6trie:FILE6\n",
        generated = rfc3339(now),
        ip4_kind = if options.ip4tset { "ip4tset" } else { "ip4set" },
    );
    if let Some(first) = options.nameservers.first() {
        let _ = writeln!(
            out,
            "$SOA {ttl} {first} {hostmaster} {serial} {refresh} {retry} {expire} {minimum}",
            ttl = options.ttl,
            hostmaster = options.hostmaster(),
            serial = options.serial(now),
            refresh = options.refresh,
            retry = options.retry,
            expire = options.expire,
            minimum = options.minimum,
        );
        let _ = writeln!(out, "$NS {} {}", options.ttl, options.nameservers.join(" "));
    }
    let _ = write!(
        out,
        "$TTL {ttl}\n:{a}:{txt}\n",
        ttl = options.ttl,
        a = options.return_code,
        txt = options.txt_template,
    );
    out
}

/// Appends one entry line, with its own `:A:TXT` value when it differs from
/// the default line. The `:A:TXT` form keeps a TXT that starts with `:` or
/// `=` from being misread.
fn push_entry(out: &mut String, entry: &Listed, options: &ExportOptions) {
    out.push_str(&network_text(entry));
    if entry.return_code != options.return_code || entry.txt != options.txt_template {
        let _ = write!(out, " :{}:{}", entry.return_code, entry.txt);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::super::tests::{sample_listings, sample_listings_with, sample_policy};
    use super::super::{ExportOptions, Format, render};
    use super::*;
    use crate::listing::{Policy, ReturnCodeRule};

    /// 2024-05-02T00:00:00Z
    const NOW: i64 = 1_714_608_000;

    fn body(text: &str) -> Vec<&str> {
        text.lines().filter(|line| !line.starts_with('#')).collect()
    }

    #[test]
    fn ip4set_matches_expected_text() {
        let policy = Policy {
            txt_details: false,
            ..sample_policy()
        };
        let options = ExportOptions::for_policy(&policy);
        let out = render(
            Format::Rbldnsd,
            &sample_listings_with(&policy),
            &options,
            NOW,
        )
        .unwrap();
        assert_eq!(
            body(&out),
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
        let options = ExportOptions::for_policy(&sample_policy());
        let out = render(Format::Rbldnsd, &sample_listings(), &options, NOW).unwrap();
        assert!(body(&out).contains(&"127.0.0.2"), "{out}");
        assert!(!out.contains("127.0.0.1"), "{out}");
        assert!(!out.contains("10.1.2.3"), "{out}");
        assert!(!out.contains("2001:db8"), "{out}");
    }

    #[test]
    fn ip4set_entry_details_name_families() {
        let options = ExportOptions::for_policy(&sample_policy());
        let out = render(Format::Rbldnsd, &sample_listings(), &options, NOW).unwrap();
        assert!(
            body(&out).contains(
                &"192.0.2.1 :127.0.0.2:Listed by wormsign: worm mail seen from $ \
                  (Sober; last seen 2024-05-01)"
            ),
            "{out}"
        );
    }

    #[test]
    fn ip4set_soa_ns_and_return_codes() {
        let policy = Policy {
            txt_details: false,
            return_codes: vec![ReturnCodeRule {
                family: Some("Sober,\"X\"".to_string()),
                confidence: None,
                code: "127.0.0.4".parse().unwrap(),
            }],
            ..sample_policy()
        };
        let options = ExportOptions {
            zone: Some("bl.example.org".to_string()),
            nameservers: vec!["ns1.example.org".to_string(), "ns2.example.org".to_string()],
            ..ExportOptions::for_policy(&policy)
        };
        let out = render(
            Format::Rbldnsd,
            &sample_listings_with(&policy),
            &options,
            NOW,
        )
        .unwrap();
        let lines = body(&out);
        assert_eq!(
            lines[0],
            "$SOA 2100 ns1.example.org hostmaster.bl.example.org 1714608000 3600 600 604800 300"
        );
        assert_eq!(lines[1], "$NS 2100 ns1.example.org ns2.example.org");
        assert!(lines.contains(&"192.0.2.1"), "{out}");
        assert!(
            lines.contains(&"203.0.113.9 :127.0.0.4:Listed by wormsign: worm mail seen from $"),
            "{out}"
        );
    }

    #[test]
    fn ip4tset_has_bare_addresses() {
        let options = ExportOptions {
            ip4tset: true,
            ..ExportOptions::for_policy(&sample_policy())
        };
        let out = render(Format::Rbldnsd, &sample_listings(), &options, NOW).unwrap();
        assert_eq!(
            body(&out),
            [
                "$TTL 2100",
                ":127.0.0.2:Listed by wormsign: worm mail seen from $",
                "127.0.0.2",
                "192.0.2.1",
                "203.0.113.9",
            ]
        );
        assert!(out.contains("rbldnsd ip4tset data set"), "{out}");
    }

    #[test]
    fn ip6trie_lists_networks() {
        let options = ExportOptions::for_policy(&sample_policy());
        let out = render_rbldnsd_ip6(&sample_listings(), &options, NOW);
        assert_eq!(
            body(&out),
            [
                "$TTL 2100",
                ":127.0.0.2:Listed by wormsign: worm mail seen from $",
                "::ffff:7f00:2/128",
                "2001:db8::/64 :127.0.0.2:Listed by wormsign: worm mail seen from $ \
                 (Sober; last seen 2024-05-01)",
            ]
        );
        assert!(!out.contains("7f00:1"), "{out}");
    }

    #[test]
    fn template_controls_become_spaces() {
        let policy = Policy::from_raw(
            crate::listing::RawListing {
                txt_template: Some("line\nbreak $".to_string()),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
        let options = ExportOptions::for_policy(&policy);
        let out = render(Format::Rbldnsd, &[], &options, NOW).unwrap();
        assert!(body(&out).contains(&":127.0.0.2:line break $"), "{out}");
    }
}
