//! Abuse reports: sightings grouped per origin IP or per network, each group
//! written as one RFC 5965 Abuse Reporting Format message that an ISP's
//! abuse desk can act on.
//!
//! [`build_reports`] reads and groups the sightings; [`arf::render`] writes
//! one message. Only hosts that the listing policy lists are reported, with
//! the sightings that count for their listing, so a report never names a
//! host that `export` and `dnsbl` do not publish.

pub mod arf;
mod text;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use rusqlite::Connection;

use crate::listing::{self, Listed, Policy};
use crate::store::{self, Sighting, StoreError};

/// The grouping of sightings into reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One report per origin IP address.
    Ip,
    /// One report per IPv4 /24, or per IPv6 /64.
    Net24,
}

impl FromStr for GroupBy {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "ip" => Ok(GroupBy::Ip),
            "net24" => Ok(GroupBy::Net24),
            _ => Err(format!(
                "invalid --group-by {value:?}: use ip (one report per address) or net24 (per /24, IPv6 per /64)"
            )),
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupBy::Ip => "ip",
            GroupBy::Net24 => "net24",
        })
    }
}

/// Parses a `--since` value at time `now` (Unix seconds): an RFC 3339 time
/// such as `2024-05-01T00:00:00Z`, or an age such as `36h` or `7d`.
///
/// # Errors
///
/// A message naming the value and the accepted forms.
pub fn parse_since(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    let age = |digits: &str, unit: i64| {
        digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .map(|secs| now.saturating_sub(secs))
    };
    let parsed = if let Some(days) = text.strip_suffix('d') {
        age(days, 86_400)
    } else if let Some(hours) = text.strip_suffix('h') {
        age(hours, 3600)
    } else {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|time| time.unix_timestamp())
    };
    parsed.ok_or_else(|| {
        format!("invalid --since {text:?}: write an RFC 3339 time such as 2024-05-01T00:00:00Z, or an age such as 36h or 7d")
    })
}

/// The sightings of one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The reported address or network.
    pub network: IpNet,
    /// The grouping that made this report.
    pub group_by: GroupBy,
    /// The group's sightings, oldest first; never empty.
    pub sightings: Vec<Sighting>,
    /// The listings of the group's hosts, ordered by address.
    pub listings: Vec<Listed>,
}

/// The sightings of one origin host within a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// The origin address.
    pub ip: IpAddr,
    /// Number of the host's sightings in the report.
    pub count: usize,
    /// Earliest and latest `seen_at` of those sightings, in Unix seconds.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Distinct rules that matched, sorted and joined with ", ".
    pub rules: String,
}

impl Report {
    /// Returns the sighting whose headers the report attaches: the newest
    /// one that kept its header block, else the newest.
    ///
    /// # Panics
    ///
    /// If `sightings` is empty, which [`build_reports`] never returns.
    pub fn representative(&self) -> &Sighting {
        self.sightings
            .iter()
            .rev()
            .find(|s| s.headers.as_deref().is_some_and(|h| !h.trim().is_empty()))
            .or_else(|| self.sightings.last())
            .expect("a report has at least one sighting")
    }

    /// Returns the origin address of [`Report::representative`], the
    /// report's `Source-IP`.
    pub fn source_ip(&self) -> Option<IpAddr> {
        origin(self.representative())
    }

    /// Returns the sightings of the `Source-IP` host: with `--group-by
    /// net24` a group contains several hosts, and an ARF parser attributes
    /// `Incidents` to `Source-IP` alone.
    pub fn source_sightings(&self) -> Vec<&Sighting> {
        let source = self.source_ip();
        self.sightings
            .iter()
            .filter(|sighting| origin(sighting) == source)
            .collect()
    }

    /// Returns one summary per origin host, ordered by address.
    pub fn hosts(&self) -> Vec<Host> {
        let mut hosts: BTreeMap<IpAddr, Vec<&Sighting>> = BTreeMap::new();
        for sighting in &self.sightings {
            if let Some(ip) = origin(sighting) {
                hosts.entry(ip).or_default().push(sighting);
            }
        }
        hosts
            .into_iter()
            .map(|(ip, sightings)| {
                let mut rules: Vec<&str> = sightings.iter().map(|s| s.rule.as_str()).collect();
                rules.sort_unstable();
                rules.dedup();
                Host {
                    ip,
                    count: sightings.len(),
                    first_seen: sightings.iter().map(|s| s.seen_at).min().unwrap_or(0),
                    last_seen: sightings.iter().map(|s| s.seen_at).max().unwrap_or(0),
                    rules: rules.join(", "),
                }
            })
            .collect()
    }

    /// Returns the listing that covers `ip`, if the report contains one.
    pub fn listing_of(&self, ip: IpAddr) -> Option<&Listed> {
        self.listings.iter().find(|listed| listed.contains(ip))
    }

    /// Returns a file name for the report, e.g. `arf-192.0.2.0_24.eml`.
    pub fn file_name(&self) -> String {
        let name: String = self
            .network
            .to_string()
            .chars()
            .map(|c| if c == ':' || c == '/' { '_' } else { c })
            .collect();
        format!("arf-{name}.eml")
    }
}

/// Returns the canonical origin address of `sighting`, or `None` if the
/// stored origin is not an IP address.
fn origin(sighting: &Sighting) -> Option<IpAddr> {
    let ip = sighting.origin_ip.trim().parse::<IpAddr>().ok()?;
    Some(crate::origin::canonical_ip(ip))
}

/// Reads the hosts that `policy` lists at `now` (Unix seconds) and the
/// sightings that count for their listings, grouped by `group_by` and
/// ordered by network.
///
/// A sighting counts as it does for the listing: it lies inside the
/// listing window, after the latest delisting of its host, and its origin
/// method has a weight above 0. `since` (Unix seconds) bounds the
/// sightings further; hosts with no sighting left get no report.
///
/// # Errors
///
/// [`StoreError::Query`] if reading the database fails.
pub fn build_reports(
    conn: &Connection,
    policy: &Policy,
    since: Option<i64>,
    group_by: GroupBy,
    now: i64,
) -> Result<Vec<Report>, StoreError> {
    let listed: HashMap<String, Listed> = listing::listed(conn, policy, now)?
        .into_iter()
        .map(|listed| (listed.listing.ip.clone(), listed))
        .collect();
    let mut delisted_at: HashMap<String, i64> = HashMap::new();
    for delisting in store::delistings(conn)? {
        let at = delisted_at
            .entry(delisting.ip)
            .or_insert(delisting.delisted_at);
        *at = (*at).max(delisting.delisted_at);
    }
    let start = match (since, policy.query(now).since) {
        (Some(since), Some(window)) => Some(since.max(window)),
        (since, window) => since.or(window),
    };

    let mut groups: BTreeMap<IpNet, (Vec<Sighting>, Vec<Listed>)> = BTreeMap::new();
    for sighting in store::sightings_since(conn, start)? {
        let Some(ip) = origin(&sighting) else {
            continue;
        };
        let key = store::listing_key(&sighting.origin_ip);
        let Some(listed) = listed.get(&key) else {
            continue;
        };
        let delisted = delisted_at
            .get(&key)
            .is_some_and(|at| sighting.seen_at <= *at);
        if delisted || policy.weights.weight_of(&sighting.origin_method) <= 0.0 {
            continue;
        }
        let prefix = match (group_by, ip) {
            (GroupBy::Ip, IpAddr::V4(_)) => 32,
            (GroupBy::Ip, IpAddr::V6(_)) => 128,
            (GroupBy::Net24, IpAddr::V4(_)) => 24,
            (GroupBy::Net24, IpAddr::V6(_)) => 64,
        };
        let Ok(network) = IpNet::new(ip, prefix) else {
            continue;
        };
        let (sightings, listings) = groups.entry(network.trunc()).or_default();
        sightings.push(sighting);
        if !listings.iter().any(|known| known.network == listed.network) {
            listings.push(listed.clone());
        }
    }
    Ok(groups
        .into_iter()
        .map(|(network, (sightings, mut listings))| {
            listings.sort_by_key(|listed| listed.network);
            Report {
                network,
                group_by,
                sightings,
                listings,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample;
    use crate::store::{insert_batch, open};

    #[test]
    fn parse_since_forms() {
        assert_eq!(parse_since("2d", 1_000_000), Ok(1_000_000 - 172_800));
        assert_eq!(parse_since("36h", 1_000_000), Ok(1_000_000 - 129_600));
        assert_eq!(parse_since("2024-05-02T00:00:00Z", 0), Ok(1_714_608_000));
        let error = parse_since("yesterday", 0).unwrap_err();
        assert!(error.contains("\"yesterday\""), "{error}");
    }

    #[test]
    fn build_reports_groups_and_filters() {
        let directory = tempfile::tempdir().unwrap();
        let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
        insert_batch(
            &mut conn,
            &[
                sample("192.0.2.1", 100, "Sober", "Q1"),
                sample("192.0.2.7", 200, "Sober", "Q2"),
                sample("10.0.0.1", 300, "Sober", "Q3"),
                sample("2001:db8::1", 400, "Sober", "Q4"),
                sample("192.0.2.1", 50, "Sober", "Q5"),
            ],
        )
        .unwrap();
        let policy = Policy {
            list_documentation_ranges: true,
            ..Policy::default()
        };
        let per_ip = build_reports(&conn, &policy, None, GroupBy::Ip, 1000).unwrap();
        let networks: Vec<String> = per_ip.iter().map(|r| r.network.to_string()).collect();
        assert_eq!(
            networks,
            ["192.0.2.1/32", "192.0.2.7/32", "2001:db8::1/128"]
        );
        assert_eq!(per_ip[0].sightings.len(), 2);
        assert_eq!(per_ip[0].sightings[0].seen_at, 50, "oldest first");
        assert_eq!(per_ip[0].file_name(), "arf-192.0.2.1_32.eml");

        let per_net = build_reports(&conn, &policy, Some(150), GroupBy::Net24, 1000).unwrap();
        let networks: Vec<String> = per_net.iter().map(|r| r.network.to_string()).collect();
        assert_eq!(networks, ["192.0.2.0/24", "2001:db8::/64"]);
        assert_eq!(per_net[0].sightings.len(), 1);
    }
}
