//! NDJSON: one sighting per line as a self-contained JSON object, so that
//! other sites can combine feeds with their own tools and weigh the
//! evidence themselves. wormsign does not import feeds.
//!
//! ```json
//! {"seen_at":"2024-05-01T12:00:00Z","origin_ip":"192.0.2.1","origin_method":"connect",
//!  "family":"Sober","variant":"P","rule":"Sober_P_zip","confidence":"high",
//!  "message_id":"<x@example>","client_ip":"192.0.2.1","helo":"pc","size":31337,
//!  "evidence":{...}}
//! ```
//!
//! Only sightings of listed hosts are written, oldest first. The header
//! block, queue id and envelope sender stay out of the feed: they name the
//! receiving site's users and servers, and abuse reports carry them instead.
//!
//! `client_ip` and `helo` name the SMTP client that handed the message to
//! this site, often its own MSA or front MX. They are written unless
//! `ndjson_sensor_fields = false` in `[export]` or `--no-sensor-fields`
//! sets them to `null`, so every line keeps the same keys.

use std::collections::HashSet;

use serde::Serialize;

use super::rfc3339;
use crate::store::{Sighting, listing_key};

#[derive(Serialize)]
struct FeedSighting<'a> {
    seen_at: String,
    origin_ip: &'a str,
    origin_method: &'a str,
    family: &'a str,
    variant: Option<&'a str>,
    rule: &'a str,
    confidence: &'a str,
    message_id: Option<&'a str>,
    client_ip: Option<&'a str>,
    helo: Option<&'a str>,
    size: u64,
    evidence: &'a serde_json::Value,
}

/// Renders the sightings whose listing key is in `listed_keys`, one JSON
/// object per line, and returns the text and the number of lines.
/// Without `sensor_fields`, `client_ip` and `helo` are written as `null`.
pub fn render_ndjson(
    sightings: &[Sighting],
    listed_keys: &HashSet<String>,
    sensor_fields: bool,
) -> (String, usize) {
    let mut out = String::new();
    let mut count = 0;
    for sighting in sightings {
        if !listed_keys.contains(&listing_key(&sighting.origin_ip)) {
            continue;
        }
        let line = FeedSighting {
            seen_at: rfc3339(sighting.seen_at),
            origin_ip: &sighting.origin_ip,
            origin_method: &sighting.origin_method,
            family: &sighting.family,
            variant: sighting.variant.as_deref(),
            rule: &sighting.rule,
            confidence: &sighting.confidence,
            message_id: sighting.message_id.as_deref(),
            client_ip: sighting.client_ip.as_deref().filter(|_| sensor_fields),
            helo: sighting.helo.as_deref().filter(|_| sensor_fields),
            size: sighting.size,
            evidence: &sighting.evidence,
        };
        // Serializing strings, numbers and a serde_json::Value cannot fail,
        // because every map key among them is a string.
        if let Ok(json) = serde_json::to_string(&line) {
            out.push_str(&json);
            out.push('\n');
            count += 1;
        }
    }
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample;

    #[test]
    fn ndjson_one_line_per_listed_sighting() {
        let sightings = [
            sample("192.0.2.1", 0, "Sober", "Q1"),
            sample("198.51.100.9", 10, "Sober", "Q2"),
            sample("2001:db8::7", 20, "Mydoom", "Q3"),
        ];
        let keys: HashSet<String> = ["192.0.2.1", "2001:db8::/64"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        let (text, count) = render_ndjson(&sightings, &keys, true);
        assert_eq!(count, 2);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["origin_ip"], "192.0.2.1");
        assert_eq!(lines[0]["seen_at"], "1970-01-01T00:00:00Z");
        assert_eq!(
            lines[0]["evidence"]["matches"][0]["rule"],
            "Sober_attachment"
        );
        assert_eq!(lines[1]["family"], "Mydoom");
        assert!(lines[0].get("headers").is_none());
        assert!(!text.contains("someone@example.com"), "{text}");
    }

    #[test]
    fn ndjson_without_sensor_fields_writes_null() {
        let sightings = [sample("192.0.2.1", 0, "Sober", "Q1")];
        let keys: HashSet<String> = ["192.0.2.1".to_string()].into_iter().collect();
        let (with, _) = render_ndjson(&sightings, &keys, true);
        let with: serde_json::Value = serde_json::from_str(with.trim()).unwrap();
        assert!(with["client_ip"].is_string(), "{with}");
        assert!(with["helo"].is_string(), "{with}");

        let (without, count) = render_ndjson(&sightings, &keys, false);
        assert_eq!(count, 1);
        let without: serde_json::Value = serde_json::from_str(without.trim()).unwrap();
        assert!(without["client_ip"].is_null(), "{without}");
        assert!(without["helo"].is_null(), "{without}");
        assert_eq!(without["origin_ip"], "192.0.2.1");
    }
}
