//! JSON: an array of objects, one per listing, pretty-printed and ending in
//! a newline:
//!
//! ```json
//! [{"ip": "192.0.2.1", "first_seen": "2024-05-01T12:00:00Z",
//!   "last_seen": "2024-05-01T13:00:00Z", "count": 3, "score": 3.0,
//!   "confidence": "high", "families": ["Sober"], "variants": ["P"],
//!   "return_code": "127.0.0.2"}]
//! ```
//!
//! `ip` is an IPv4 address or an IPv6 /64 network such as `2001:db8::/64`.
//!
//! Times are RFC 3339 UTC strings, as in the CSV output.

use serde::Serialize;

use super::{network_text, rfc3339};
use crate::listing::Listed;

#[derive(Serialize)]
struct JsonListing<'a> {
    ip: String,
    first_seen: String,
    last_seen: String,
    count: u64,
    score: f64,
    confidence: &'a str,
    families: &'a [String],
    variants: &'a [String],
    return_code: String,
}

pub(super) fn render(entries: &[Listed]) -> String {
    let rows: Vec<JsonListing<'_>> = entries
        .iter()
        .map(|entry| JsonListing {
            ip: network_text(entry),
            first_seen: rfc3339(entry.listing.first_seen),
            last_seen: rfc3339(entry.listing.last_seen),
            count: entry.listing.count,
            score: entry.listing.score,
            confidence: &entry.listing.confidence,
            families: &entry.listing.families,
            variants: &entry.listing.variants,
            return_code: entry.return_code.to_string(),
        })
        .collect();
    // Serializing strings, integers and slices of strings cannot fail.
    let mut out = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::tests::sample_listings;
    use super::super::{ExportOptions, Format, render};

    #[test]
    fn json_parses_back() {
        let out = render(
            Format::Json,
            &sample_listings(),
            &ExportOptions::default(),
            0,
        )
        .unwrap();
        let parsed: Value = serde_json::from_str(&out).unwrap();
        let rows = parsed.as_array().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            json!({
                "ip": "192.0.2.1",
                "first_seen": "2024-05-01T12:00:00Z",
                "last_seen": "2024-05-01T13:00:00Z",
                "count": 3,
                "score": 3.0,
                "confidence": "high",
                "families": ["Sober"],
                "variants": [],
                "return_code": "127.0.0.2",
            })
        );
        assert_eq!(rows[1]["ip"], "2001:db8::/64");
        assert_eq!(rows[2]["families"], json!(["Sober", "Sober,\"X\""]));
    }

    #[test]
    fn json_empty_is_empty_array() {
        let out = render(Format::Json, &[], &ExportOptions::default(), 0).unwrap();
        assert_eq!(out, "[]\n");
    }
}
