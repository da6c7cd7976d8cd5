//! A BIND zone file (RFC 1035 master file format) for the DNSBL zone.
//!
//! ```text
//! $ORIGIN bl.example.org.
//! $TTL 2100
//! @ IN SOA ns1.example.org. hostmaster.bl.example.org. ( 1714608000 3600 600 604800 300 )
//! @ IN NS ns1.example.org.
//! 2.0.0.127 IN A 127.0.0.2
//! 2.0.0.127 IN TXT "Listed by wormsign: worm mail seen from 127.0.0.2"
//! 1.2.0.192 IN A 127.0.0.2
//! 1.2.0.192 IN TXT "Listed by wormsign: worm mail seen from 192.0.2.1 (...)"
//! *.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 IN A 127.0.0.2
//! ```
//!
//! IPv4 hosts get their reversed address. An IPv6 /64 gets a wildcard under
//! its 16 nibbles, which matches every address in the network. The TXT of
//! a wildcard names the /64, because a zone file cannot insert the queried
//! address the way rbldnsd's `$` does. The RFC 5782 test entries are
//! 127.0.0.2 and `::ffff:7f00:2`, and 127.0.0.1 and `::ffff:7f00:1` stay
//! unlisted. Both test entries carry the default return code and TXT
//! template with `$` replaced by `127.0.0.2`, the text that rbldnsd and
//! `wormsign dnsbl` return (rbldnsd writes an IPv4-mapped address in
//! dotted form).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::{ExportOptions, RenderError};
use crate::listing::{Listed, expand_template};

pub(super) fn render(
    listed: &[Listed],
    options: &ExportOptions,
    now: i64,
) -> Result<String, RenderError> {
    let (Some(zone), false) = (&options.zone, options.nameservers.is_empty()) else {
        return Err(RenderError::ZoneIncomplete);
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "; wormsign blocklist zone, generated at Unix time {now}; entries: {count}.\n\
         $ORIGIN {zone}.\n\
         $TTL {ttl}\n\
         @ IN SOA {primary}. {hostmaster}. ( {serial} {refresh} {retry} {expire} {minimum} )\n",
        count = listed.len(),
        ttl = options.ttl,
        primary = options.nameservers[0],
        hostmaster = options.hostmaster(),
        serial = options.serial(now),
        refresh = options.refresh,
        retry = options.retry,
        expire = options.expire,
        minimum = options.minimum,
    );
    for nameserver in &options.nameservers {
        let _ = writeln!(out, "@ IN NS {nameserver}.");
    }
    out.push_str("; RFC 5782 test entries; 127.0.0.1 and ::ffff:7f00:1 stay unlisted.\n");
    let test_v4 = Ipv4Addr::new(127, 0, 0, 2);
    let test_txt = expand_template(&options.txt_template, &test_v4.to_string());
    push_records(
        &mut out,
        &reversed_v4(test_v4),
        options.return_code,
        &test_txt,
    );
    let test_v6 = test_v4.to_ipv6_mapped();
    push_records(
        &mut out,
        &nibbles(test_v6, 32),
        options.return_code,
        &test_txt,
    );

    for entry in listed {
        match entry.network {
            IpNet::V4(net) => {
                let ip = net.addr();
                let txt = entry.txt_for(IpAddr::V4(ip));
                push_records(&mut out, &reversed_v4(ip), entry.return_code, &txt);
            }
            IpNet::V6(net) => {
                let owner = format!("*.{}", nibbles(net.network(), 16));
                let txt = expand_template(&entry.txt, &net.to_string());
                push_records(&mut out, &owner, entry.return_code, &txt);
            }
        }
    }
    Ok(out)
}

fn push_records(out: &mut String, owner: &str, code: Ipv4Addr, txt: &str) {
    let _ = writeln!(out, "{owner} IN A {code}");
    let _ = writeln!(out, "{owner} IN TXT {}", quoted(txt));
}

/// Returns the reversed address as a DNSBL name, `1.2.0.192` for 192.0.2.1.
fn reversed_v4(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}")
}

/// Returns the first `count` nibbles of `ip`, reversed and dot-separated,
/// as in ip6.arpa names.
fn nibbles(ip: Ipv6Addr, count: usize) -> String {
    let value = u128::from(ip);
    let mut labels: Vec<String> = (0..count)
        .map(|index| format!("{:x}", (value >> (124 - 4 * index)) & 0xf))
        .collect();
    labels.reverse();
    labels.join(".")
}

/// Quotes `text` as a TXT character string: `"` and `\` escaped, controls
/// as spaces, cut to 255 bytes.
fn quoted(text: &str) -> String {
    let mut end = text.len().min(255);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::from("\"");
    for c in text[..end].chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{sample_listings, sample_policy};
    use super::super::{ExportOptions, Format};
    use super::*;

    #[test]
    fn bind_needs_zone_and_nameserver() {
        let options = ExportOptions::for_policy(&sample_policy());
        let error = super::super::render(Format::Bind, &[], &options, 0).unwrap_err();
        assert_eq!(error, RenderError::ZoneIncomplete);
        assert!(error.to_string().contains("--zone"), "{error}");
    }

    #[test]
    fn bind_zone_records() {
        let options = ExportOptions {
            zone: Some("bl.example.org".to_string()),
            nameservers: vec!["ns1.example.org".to_string()],
            ..ExportOptions::for_policy(&sample_policy())
        };
        let out = super::super::render(Format::Bind, &sample_listings(), &options, 1_714_608_000)
            .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&"$ORIGIN bl.example.org."), "{out}");
        assert!(lines.contains(&"@ IN NS ns1.example.org."), "{out}");
        assert!(lines.contains(&"2.0.0.127 IN A 127.0.0.2"), "{out}");
        assert!(
            lines.contains(
                &"2.0.0.127 IN TXT \"Listed by wormsign: worm mail seen from 127.0.0.2\""
            ),
            "{out}"
        );
        assert!(
            lines.contains(
                &"2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN TXT \"Listed by wormsign: worm mail seen from 127.0.0.2\""
            ),
            "{out}"
        );
        assert!(
            lines.contains(
                &"2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN A 127.0.0.2"
            ),
            "{out}"
        );
        assert!(lines.contains(&"1.2.0.192 IN A 127.0.0.2"), "{out}");
        assert!(
            lines.contains(&"1.2.0.192 IN TXT \"Listed by wormsign: worm mail seen from 192.0.2.1 (Sober; last seen 2024-05-01)\""),
            "{out}"
        );
        assert!(
            lines.contains(&"*.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 IN A 127.0.0.2"),
            "{out}"
        );
        assert!(!out.contains("1.0.0.127 "), "{out}");
        assert!(
            out.contains(
                "\"Listed by wormsign: worm mail seen from 203.0.113.9 (Sober, Sober,\\\"X\\\";"
            ),
            "{out}"
        );
    }

    #[test]
    fn quoted_escapes_and_truncates() {
        assert_eq!(quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c d\"");
        assert_eq!(quoted(&"x".repeat(300)).len(), 257);
    }
}
