//! CSV per RFC 4180: a header line
//! `ip,first_seen,last_seen,count,families,variants,return_code`, then one
//! record per listing; `ip` is an IPv4 address or an IPv6 /64 network.
//! Records end in CRLF as the RFC specifies. Times are RFC 3339 UTC;
//! families and variants are each separated by a space, and `variants` is
//! empty when the rules name none. A field that
//! contains a comma, double quote, CR or LF is enclosed in double quotes,
//! with each double quote inside doubled.

use super::{network_text, rfc3339};
use crate::listing::Listed;

const HEADER: &str = "ip,first_seen,last_seen,count,families,variants,return_code";

pub(super) fn render(entries: &[Listed]) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str("\r\n");
    for entry in entries {
        let listing = &entry.listing;
        let fields = [
            network_text(entry),
            rfc3339(listing.first_seen),
            rfc3339(listing.last_seen),
            listing.count.to_string(),
            listing.families.join(" "),
            listing.variants.join(" "),
            entry.return_code.to_string(),
        ];
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            push_field(&mut out, field);
        }
        out.push_str("\r\n");
    }
    out
}

fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample_listings;
    use super::super::{ExportOptions, Format, render};

    #[test]
    fn csv_matches_expected_text() {
        let mut listed = sample_listings();
        listed[0].listing.variants = vec!["P".to_string(), "Y".to_string()];
        let out = render(Format::Csv, &listed, &ExportOptions::default(), 0).unwrap();
        let expected = "ip,first_seen,last_seen,count,families,variants,return_code\r\n\
            192.0.2.1,2024-05-01T12:00:00Z,2024-05-01T13:00:00Z,3,Sober,P Y,127.0.0.2\r\n\
            2001:db8::/64,2024-05-01T21:46:40Z,2024-05-01T21:46:40Z,1,Sober,,127.0.0.2\r\n\
            203.0.113.9,2024-04-30T18:00:00Z,2024-05-02T11:40:00Z,2,\"Sober Sober,\"\"X\"\"\",,127.0.0.2\r\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn csv_empty_has_header_only() {
        let out = render(Format::Csv, &[], &ExportOptions::default(), 0).unwrap();
        assert_eq!(
            out,
            "ip,first_seen,last_seen,count,families,variants,return_code\r\n"
        );
    }
}
