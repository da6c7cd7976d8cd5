//! `wormsign stats`: a text summary of the database for the operator.
//! [`collect`] reads the numbers, [`Summary::render`] prints the table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use ipnet::IpNet;
use rusqlite::{Connection, params};

use crate::config::Config;
use crate::listing::{self, Policy, date};
use crate::store::{StoreError, sighting_count};

/// Days shown in the per-day table and sparkline.
pub const DAYS: usize = 14;
/// Rows of the top-variant and top-network tables.
pub const TOP: usize = 10;
const DAY: i64 = 86_400;

/// The numbers `wormsign stats` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// When the numbers were read, Unix seconds.
    pub now: i64,
    pub listed_ipv4: usize,
    pub listed_ipv6: usize,
    pub sightings_total: u64,
    /// Sightings per UTC day, oldest first, ending with today.
    pub per_day: Vec<(String, u64)>,
    /// `(family or family.variant, count)`, most first.
    pub top_variants: Vec<(String, u64)>,
    /// `(network, sightings, distinct hosts)`, most sightings first,
    /// counting only hosts that the listing policy may publish.
    pub top_networks: Vec<(IpNet, u64, usize)>,
    /// Each configured export file and when it was last written.
    pub exports: Vec<(PathBuf, Option<SystemTime>)>,
    /// Start of the time window of the top tables, Unix seconds.
    pub top_since: Option<i64>,
}

/// Reads the summary at `now` (Unix seconds) under `config`'s listing
/// policy. The top tables cover the policy's time window.
///
/// # Errors
///
/// [`StoreError::Query`] if reading the database fails.
pub fn collect(conn: &Connection, config: &Config, now: i64) -> Result<Summary, StoreError> {
    let query_error = |source| StoreError::Query {
        database: conn.path().unwrap_or(":memory:").to_string(),
        source,
    };
    let listed = listing::listed(conn, &config.listing, now)?;
    let listed_ipv6 = listed.iter().filter(|l| l.network.addr().is_ipv6()).count();

    let today = now.div_euclid(DAY);
    let first_day = today - (DAYS as i64 - 1);
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    let mut statement = conn
        .prepare_cached(
            "SELECT seen_at / 86400 AS day, COUNT(*) FROM sightings \
             WHERE seen_at >= ?1 GROUP BY day",
        )
        .map_err(query_error)?;
    let rows = statement
        .query_map([first_day * DAY], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(query_error)?;
    for row in rows {
        let (day, count) = row.map_err(query_error)?;
        counts.insert(day, u64::try_from(count).unwrap_or(0));
    }
    let per_day = (first_day..=today)
        .map(|day| (date(day * DAY), counts.get(&day).copied().unwrap_or(0)))
        .collect();

    let top_since = config.listing.window_secs.map(|secs| now - secs);
    let mut statement = conn
        .prepare_cached(
            "SELECT family, variant, COUNT(*) AS n FROM sightings \
             WHERE (?1 IS NULL OR seen_at >= ?1) \
             GROUP BY family, variant ORDER BY n DESC, family, variant LIMIT ?2",
        )
        .map_err(query_error)?;
    let rows = statement
        .query_map(params![top_since, TOP as i64], |row| {
            let family: String = row.get(0)?;
            let variant: Option<String> = row.get(1)?;
            let count: i64 = row.get(2)?;
            let name = match variant {
                Some(variant) => format!("{family}.{variant}"),
                None => family,
            };
            Ok((name, u64::try_from(count).unwrap_or(0)))
        })
        .map_err(query_error)?;
    let top_variants = rows.collect::<Result<Vec<_>, _>>().map_err(query_error)?;

    let top_networks = top_networks(conn, &config.listing, top_since).map_err(query_error)?;
    let mut exports = Vec::new();
    for output in &config.export.outputs {
        let mut paths = vec![output.path.clone()];
        if output.format == crate::export::Format::Rbldnsd {
            paths.push(output.ipv6_path());
        }
        for path in paths {
            let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
            exports.push((path, modified));
        }
    }
    Ok(Summary {
        now,
        listed_ipv4: listed.len() - listed_ipv6,
        listed_ipv6,
        sightings_total: sighting_count(conn)?,
        per_day,
        top_variants,
        top_networks,
        exports,
        top_since,
    })
}

/// Counts sightings and distinct hosts per IPv4 /24 (IPv6 /64) and returns
/// the [`TOP`] networks with the most sightings. Hosts that `policy` never
/// publishes (private, trusted, allowlisted ...) are left out, so the table
/// shows only networks that can end up on the list.
fn top_networks(
    conn: &Connection,
    policy: &Policy,
    since: Option<i64>,
) -> rusqlite::Result<Vec<(IpNet, u64, usize)>> {
    let mut statement = conn.prepare_cached(
        "SELECT origin_ip, COUNT(*) FROM sightings \
         WHERE (?1 IS NULL OR seen_at >= ?1) GROUP BY origin_ip",
    )?;
    let rows = statement.query_map([since], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut networks: BTreeMap<IpNet, (u64, usize)> = BTreeMap::new();
    for row in rows {
        let (origin, count) = row?;
        let Ok(ip) = origin.trim().parse::<IpAddr>() else {
            continue;
        };
        let ip = crate::origin::canonical_ip(ip);
        if !policy.may_publish(IpNet::from(ip)) {
            continue;
        }
        let prefix = if ip.is_ipv4() { 24 } else { 64 };
        let Ok(network) = IpNet::new(ip, prefix) else {
            continue;
        };
        let entry = networks.entry(network.trunc()).or_default();
        entry.0 += u64::try_from(count).unwrap_or(0);
        entry.1 += 1;
    }
    let mut sorted: Vec<(IpNet, u64, usize)> = networks
        .into_iter()
        .map(|(network, (count, hosts))| (network, count, hosts))
        .collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    sorted.truncate(TOP);
    Ok(sorted)
}

impl Summary {
    /// Renders the summary as the text table `wormsign stats` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Listed hosts:  {} (IPv4 {}, IPv6 /64 {})",
            self.listed_ipv4 + self.listed_ipv6,
            self.listed_ipv4,
            self.listed_ipv6
        );
        let _ = writeln!(out, "Sightings:     {} stored", self.sightings_total);

        let counts: Vec<u64> = self.per_day.iter().map(|(_, count)| *count).collect();
        let max = counts.iter().copied().max().unwrap_or(0);
        let _ = writeln!(
            out,
            "\nSightings per day, last {DAYS} days (UTC): {}  (max {max})",
            sparkline(&counts)
        );
        for (day, count) in &self.per_day {
            let _ = writeln!(out, "  {day}  {count:>8}");
        }

        let window = match self.top_since {
            Some(since) => format!("since {}", date(since)),
            None => "all time".to_string(),
        };
        let _ = writeln!(out, "\nTop variants ({window}):");
        if self.top_variants.is_empty() {
            out.push_str("  none\n");
        }
        for (name, count) in &self.top_variants {
            let _ = writeln!(out, "  {name:<24} {count:>8}");
        }
        let _ = writeln!(
            out,
            "\nTop /24 networks, IPv6 /64, of hosts that may be listed ({window}):"
        );
        if self.top_networks.is_empty() {
            out.push_str("  none\n");
        }
        for (network, count, hosts) in &self.top_networks {
            let _ = writeln!(
                out,
                "  {:<24} {count:>8} {} from {hosts} {}",
                network.to_string(),
                plural(*count as usize, "sighting", "sightings"),
                plural(*hosts, "host", "hosts"),
            );
        }

        out.push_str("\nExport freshness:\n");
        if self.exports.is_empty() {
            out.push_str("  no [[export.outputs]] configured\n");
        }
        for (path, modified) in &self.exports {
            let age = modified
                .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|since_epoch| self.now - since_epoch.as_secs() as i64);
            let text = match age {
                Some(age) => format!("written {} ago", human_age(age.max(0))),
                None => "missing".to_string(),
            };
            let _ = writeln!(out, "  {}: {text}", path.display());
        }
        out
    }
}

fn plural(count: usize, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 { one } else { many }
}

/// Returns one block character per value, scaled to the maximum. A zero
/// becomes a space.
pub fn sparkline(values: &[u64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&value| {
            if value == 0 || max == 0 {
                ' '
            } else {
                // 1..=max maps to 0..=7, and a lone maximum of 1 is a full block.
                let index = if max == 1 {
                    7
                } else {
                    ((value - 1) * 7) / (max - 1)
                };
                BLOCKS[usize::try_from(index).unwrap_or(7).min(7)]
            }
        })
        .collect()
}

fn human_age(seconds: i64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..7200 => format!("{} min", seconds / 60),
        7200..172_800 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample;
    use crate::store::{insert_batch, open};

    #[test]
    fn sparkline_scales_to_max() {
        assert_eq!(sparkline(&[0, 1, 8, 4]), " ▁█▄");
        assert_eq!(sparkline(&[0, 0]), "  ");
        assert_eq!(sparkline(&[5]), "█");
    }

    #[test]
    fn collect_counts_days_variants_networks() {
        let directory = tempfile::tempdir().unwrap();
        let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
        let now = 1_714_608_000 + 3600;
        let mut variant = sample("192.0.2.1", now - 60, "Sober", "Q1");
        variant.variant = Some("P".to_string());
        insert_batch(
            &mut conn,
            &[
                variant.clone(),
                variant,
                sample("192.0.2.2", now - 2 * DAY, "Sober", "Q3"),
                sample("198.51.100.1", now - 20 * DAY, "Mydoom", "Q4"),
            ],
        )
        .unwrap();
        let mut config = Config::default();
        config.listing.list_documentation_ranges = true;
        let summary = collect(&conn, &config, now).unwrap();
        assert_eq!(summary.sightings_total, 4);
        assert_eq!(summary.listed_ipv4, 2);
        assert_eq!(summary.per_day.len(), DAYS);
        assert_eq!(summary.per_day[DAYS - 1], ("2024-05-02".to_string(), 2));
        assert_eq!(summary.per_day[DAYS - 3].1, 1);
        assert_eq!(
            summary.top_variants,
            [
                ("Sober.P".to_string(), 2),
                ("Mydoom".to_string(), 1),
                ("Sober".to_string(), 1)
            ]
        );
        let network: IpNet = "192.0.2.0/24".parse().unwrap();
        assert_eq!(summary.top_networks[0], (network, 3, 2));
        assert!(
            text_has_line(
                &summary.render(),
                "198.51.100.0/24",
                "1 sighting from 1 host"
            ),
            "{}",
            summary.render()
        );
        let text = summary.render();
        assert!(
            text.contains("Listed hosts:  2 (IPv4 2, IPv6 /64 0)"),
            "{text}"
        );
        assert!(text.contains("no [[export.outputs]] configured"), "{text}");
    }

    fn text_has_line(text: &str, start: &str, end: &str) -> bool {
        text.lines()
            .any(|line| line.trim_start().starts_with(start) && line.ends_with(end))
    }

    #[test]
    fn top_networks_skip_unpublishable_hosts() {
        let directory = tempfile::tempdir().unwrap();
        let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
        let now = 1_714_608_000;
        insert_batch(
            &mut conn,
            &[
                sample("10.1.2.3", now - 60, "Sober", "Q1"),
                sample("10.1.2.4", now - 60, "Sober", "Q2"),
                sample("203.0.113.9", now - 60, "Sober", "Q3"),
                sample("203.0.113.10", now - 60, "Sober", "Q4"),
            ],
        )
        .unwrap();
        let config = Config::default();
        let summary = collect(&conn, &config, now).unwrap();
        assert_eq!(summary.listed_ipv4, 0);
        assert!(
            summary.top_networks.is_empty(),
            "{:?}",
            summary.top_networks
        );

        let mut config = Config::default();
        config.listing.list_documentation_ranges = true;
        let summary = collect(&conn, &config, now).unwrap();
        let network: IpNet = "203.0.113.0/24".parse().unwrap();
        assert_eq!(summary.top_networks, [(network, 2, 2)]);
        let text = summary.render();
        assert!(
            text_has_line(&text, "203.0.113.0/24", "2 sightings from 2 hosts"),
            "{text}"
        );
    }
}
