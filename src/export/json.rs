//! JSON: an array of objects, one per listing, pretty-printed and ending in
//! a newline:
//!
//! ```json
//! [{"ip": "192.0.2.1", "first_seen": "2024-05-01T12:00:00Z",
//!   "last_seen": "2024-05-01T13:00:00Z", "count": 3,
//!   "families": ["Sober"], "variants": ["P"]}]
//! ```
//!
//! Times are RFC 3339 UTC strings, as in the CSV output.

use serde::Serialize;

use super::{Entry, rfc3339};

#[derive(Serialize)]
struct JsonListing<'a> {
    ip: String,
    first_seen: String,
    last_seen: String,
    count: u64,
    families: &'a [String],
    variants: &'a [String],
}

pub(super) fn render(entries: &[Entry<'_>]) -> String {
    let rows: Vec<JsonListing<'_>> = entries
        .iter()
        .map(|entry| JsonListing {
            ip: entry.ip.to_string(),
            first_seen: rfc3339(entry.listing.first_seen),
            last_seen: rfc3339(entry.listing.last_seen),
            count: entry.listing.count,
            families: &entry.listing.families,
            variants: &entry.listing.variants,
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
        );
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
                "families": ["Sober"],
                "variants": [],
            })
        );
        assert_eq!(rows[1]["ip"], "2001:db8::25");
        assert_eq!(rows[2]["families"], json!(["Sober", "Sober,\"X\""]));
    }

    #[test]
    fn json_empty_is_empty_array() {
        let out = render(Format::Json, &[], &ExportOptions::default(), 0);
        assert_eq!(out, "[]\n");
    }
}
