//! The readable `text/plain` part of an abuse report: what was seen from
//! which hosts, where the listing can be checked, and how to clean up.
//!
//! Times are RFC 3339 in UTC (`2024-05-02T00:00:00Z`), one width for every
//! row, and each table column is as wide as its longest cell.

use std::fmt::Write as _;

use crate::dnsbl::name::reversed_labels;
use crate::export::rfc3339;

use super::{GroupBy, Report};

/// Sightings listed one per line in the text part; the rest are counted.
const MAX_LISTED_SIGHTINGS: usize = 50;

/// Returns the readable part of `report`. `families` names the worm
/// families seen, and `zone` is the DNSBL zone that publishes the listings.
pub(super) fn human_text(report: &Report, families: &str, zone: Option<&str>) -> String {
    let first = report.sightings.first().map_or(0, |s| s.seen_at);
    let last = report.sightings.last().map_or(0, |s| s.seen_at);
    let hosts = report.hosts();
    let mut text = String::new();
    let from = match report.group_by {
        GroupBy::Ip => report.network.to_string(),
        GroupBy::Net24 => format!("{} in {}", count_of(hosts.len(), "host"), report.network),
    };
    let _ = writeln!(
        text,
        "wormsign, a mail filter that detects mass-mailing worms, received {count} \
         message(s) infected with {families} from {from} between {first} and {last}.",
        count = report.sightings.len(),
        first = rfc3339(first),
        last = rfc3339(last),
    );

    if report.group_by == GroupBy::Net24 {
        if let Some(source) = report.source_ip() {
            let _ = writeln!(
                text,
                "\nThe feedback report below covers {source} only. The hosts of the network:"
            );
        }
        let rows: Vec<Vec<String>> = hosts
            .iter()
            .map(|host| {
                vec![
                    host.ip.to_string(),
                    host.count.to_string(),
                    rfc3339(host.first_seen),
                    rfc3339(host.last_seen),
                    one_line(&host.rules),
                ]
            })
            .collect();
        text.push('\n');
        text.push_str(&table(
            &[
                "Host",
                "Messages",
                "First seen (UTC)",
                "Last seen (UTC)",
                "Rule",
            ],
            &rows,
        ));
    }

    text.push('\n');
    text.push_str(&sightings_table(report));
    text.push_str(&listing_text(report, zone));
    text.push_str(
        "\nThe origin is the host that handed each message to the first mail server we \
         trust, so it is very likely a PC infected with a mass-mailing worm that sends \
         these messages on its own.\n\
         \n\
         To clean it up: disconnect the PC from the network, scan it with a current \
         virus scanner started from clean boot media (or reinstall it), change the \
         passwords used on it, and let it send mail only through your mail relays \
         (block outgoing port 25 from customer networks).\n\
         \n\
         The original headers of one of these messages are attached.\n",
    );
    text
}

/// Returns the table of the report's sightings, at most
/// [`MAX_LISTED_SIGHTINGS`] rows and a line counting the rest.
fn sightings_table(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report
        .sightings
        .iter()
        .take(MAX_LISTED_SIGHTINGS)
        .map(|sighting| {
            let family = match &sighting.variant {
                Some(variant) => format!("{}.{variant}", sighting.family),
                None => sighting.family.clone(),
            };
            vec![
                rfc3339(sighting.seen_at),
                one_line(&sighting.origin_ip),
                one_line(&family),
                format!(
                    "{} ({})",
                    one_line(&sighting.rule),
                    one_line(&sighting.origin_method)
                ),
            ]
        })
        .collect();
    let mut text = table(
        &[
            "Time (UTC)",
            "Origin IP",
            "Family/variant",
            "Rule (origin found via)",
        ],
        &rows,
    );
    if report.sightings.len() > MAX_LISTED_SIGHTINGS {
        let _ = writeln!(
            text,
            "... and {} more.",
            report.sightings.len() - MAX_LISTED_SIGHTINGS
        );
    }
    text
}

/// Returns where the recipient can check the `Source-IP` host's listing:
/// the DNS query under `zone`, and the listing's TXT text when its template
/// contains a URL (a lookup or delisting page). Empty when neither applies.
fn listing_text(report: &Report, zone: Option<&str>) -> String {
    let Some(source) = report.source_ip() else {
        return String::new();
    };
    let mut text = String::new();
    if let Some(zone) = zone {
        let subject = match report.group_by {
            GroupBy::Ip => "This host is",
            GroupBy::Net24 => "These hosts are",
        };
        let name = reversed_labels(source).join(".");
        let _ = writeln!(
            text,
            "\n{subject} listed in the DNSBL zone {zone}. To check the listing of {source}:\n\
             \n    dig +short {name}.{zone} A",
            zone = one_line(zone),
        );
    }
    if let Some(listed) = report.listing_of(source)
        && listed.txt.contains("://")
    {
        let _ = writeln!(
            text,
            "\nThe DNSBL's TXT record for {source} reads:\n\n    {}",
            one_line(&listed.txt_for(source))
        );
    }
    text
}

/// Returns `header` and `rows` as text columns, each as wide as its longest
/// cell and two spaces apart, with no trailing spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|cell| (*cell).to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Returns `count` followed by `noun`, with an `s` unless `count` is 1.
pub(super) fn count_of(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Replaces control characters (CR and LF among them), which could end a
/// line or header field early, with spaces.
pub(super) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sizes_columns_to_content() {
        let rows = vec![
            vec![
                "2026-12-05T00:47:17Z".to_string(),
                "203.0.113.9".to_string(),
            ],
            vec!["x".to_string(), "2001:db8::1".to_string()],
        ];
        let text = table(&["Time (UTC)", "Origin IP"], &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Time (UTC)            Origin IP");
        assert_eq!(lines[1], "2026-12-05T00:47:17Z  203.0.113.9");
        assert_eq!(lines[2], "x                     2001:db8::1");
    }

    #[test]
    fn count_of_plural() {
        assert_eq!(count_of(1, "host"), "1 host");
        assert_eq!(count_of(3, "host"), "3 hosts");
    }
}
