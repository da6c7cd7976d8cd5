//! Read queries: per-IP listings for export, and sightings for tests and the
//! command line.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, Row, params};

use super::{Sighting, StoreError, database_name};

/// The summary of all sightings of one listing key that match a
/// [`ListingQuery`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Listing {
    /// The listing key: an IPv4 address, or the /64 network of an IPv6
    /// origin written `2001:db8::/64`, because one IPv6 host can change
    /// addresses within its /64 at will. A stored origin that is not an IP
    /// address is kept as written. Keys are not checked against the listing
    /// policy here; [`crate::listing`] does that.
    pub ip: String,
    /// Earliest counted `seen_at` in Unix seconds.
    pub first_seen: i64,
    /// Latest counted `seen_at` in Unix seconds.
    pub last_seen: i64,
    /// Number of counted sightings.
    pub count: u64,
    /// Sum of the counted sightings' weights (see [`MethodWeights`]).
    pub score: f64,
    /// Highest confidence among the counted sightings: `high`, `medium`,
    /// `low`, or the stored text when no sighting uses one of those three.
    pub confidence: String,
    /// Distinct families, sorted.
    pub families: Vec<String>,
    /// Distinct variants, sorted; sightings without a variant add none.
    pub variants: Vec<String>,
}

/// How much one sighting counts towards [`ListingQuery::min_sightings`],
/// by `origin_method`. A weight of 0 leaves the method out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodWeights {
    /// The SMTP client itself was the origin.
    pub connect: f64,
    /// A trusted relay's Received header named the origin.
    pub received: f64,
    /// A bounce's embedded original named the origin, reported by a third
    /// party whose Received headers this site cannot verify.
    pub bounce: f64,
    /// Any other stored method.
    pub other: f64,
}

impl Default for MethodWeights {
    fn default() -> Self {
        Self {
            connect: 1.0,
            received: 1.0,
            bounce: 0.5,
            other: 0.0,
        }
    }
}

impl MethodWeights {
    /// Returns the weight of a sighting with `origin_method` `method`, as the
    /// `CASE` in [`listings`] computes it.
    pub fn weight_of(&self, method: &str) -> f64 {
        match method {
            "connect" => self.connect,
            "received" => self.received,
            "bounce" => self.bounce,
            _ => self.other,
        }
    }
}

/// Filters that select the sightings counted in listings.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingQuery {
    /// Minimum weighted number of sightings a key needs to be listed. Any
    /// value up to 1 lists every key with one full-weight sighting.
    pub min_sightings: f64,
    /// Count only sightings with `seen_at >= since` (Unix seconds): the
    /// start of the time window.
    pub since: Option<i64>,
    /// List only keys whose latest counted sighting is at or after this
    /// time (Unix seconds), so listings expire when the evidence stops.
    pub active_since: Option<i64>,
    /// Ignore sightings whose `origin_method` is one of these, for example
    /// `bounce` to leave out origins reported by third parties.
    pub exclude_methods: Vec<String>,
    /// Weights per origin method.
    pub weights: MethodWeights,
}

impl Default for ListingQuery {
    fn default() -> Self {
        Self {
            min_sightings: 1.0,
            since: None,
            active_since: None,
            exclude_methods: Vec::new(),
            weights: MethodWeights::default(),
        }
    }
}

/// The SQL function that maps a stored origin to its listing key; see
/// [`listing_key`].
const LISTING_KEY_FUNCTION: &str = "wormsign_listing_key";

/// Returns the listing key of an origin IP text: the canonical IPv4
/// address, or the IPv6 /64 network as `2001:db8::/64`. Text that is not an
/// IP address is returned trimmed. An IPv4-mapped IPv6 address is keyed as
/// its IPv4 address.
pub fn listing_key(origin: &str) -> String {
    match origin.trim().parse::<IpAddr>() {
        Ok(ip) => match crate::origin::canonical_ip(ip) {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
        Err(_) => origin.trim().to_string(),
    }
}

/// Registers [`listing_key`] as a deterministic SQL function on `conn`.
pub(super) fn register_listing_key(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        LISTING_KEY_FUNCTION,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |context| {
            let origin: String = context.get(0)?;
            Ok(listing_key(&origin))
        },
    )
}

/// Aggregates sightings per listing key (IPv4 address or IPv6 /64). The
/// result is ordered by address, IPv4 before IPv6, with values that are not
/// IP addresses last.
///
/// A sighting counts only if it is newer than the latest delisting of its
/// key, so a delisted host is listed again by new evidence only.
///
/// # Errors
///
/// [`StoreError::Query`] if the query fails.
pub fn listings(conn: &Connection, query: &ListingQuery) -> Result<Vec<Listing>, StoreError> {
    let query_error = |source| StoreError::Query {
        database: database_name(conn),
        source,
    };
    register_listing_key(conn).map_err(query_error)?;
    // The excluded methods go in as one JSON array so the statement text stays
    // fixed however many there are.
    let excluded = serde_json::to_string(&query.exclude_methods).unwrap_or_else(|_| "[]".into());
    let weights = query.weights;
    // Grouping by origin_ip reads the covering index sightings_listing in
    // order, with no sort. Origins of one IPv6 /64 are merged afterwards,
    // and the thresholds apply to the merged listing.
    let any_delisting: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM delistings)", [], |row| {
            row.get(0)
        })
        .map_err(query_error)?;
    // Without delistings the join is left out; it costs about a tenth of
    // the query on a million sightings.
    let (delisted_join, delisted_filter) = if any_delisting {
        (
            "LEFT JOIN (SELECT ip, MAX(delisted_at) AS at FROM delistings GROUP BY ip) \
                 AS delisted \
             ON delisted.ip = (CASE WHEN instr(origin_ip, ':') = 0 \
                 THEN origin_ip ELSE wormsign_listing_key(origin_ip) END)",
            "AND (delisted.at IS NULL OR seen_at > delisted.at)",
        )
    } else {
        ("", "")
    };
    let sql = format!(
        "SELECT origin_ip, MIN(seen_at), MAX(seen_at), COUNT(*), \
                SUM(CASE origin_method WHEN 'connect' THEN ?3 WHEN 'received' THEN ?4 \
                    WHEN 'bounce' THEN ?5 ELSE ?6 END), \
                MAX(CASE confidence WHEN 'high' THEN 3 WHEN 'medium' THEN 2 \
                    WHEN 'low' THEN 1 ELSE 0 END), \
                MAX(confidence), \
                json_group_array(DISTINCT family), \
                json_group_array(DISTINCT variant) FILTER (WHERE variant IS NOT NULL) \
         FROM sightings INDEXED BY sightings_listing {delisted_join} \
         WHERE (?1 IS NULL OR seen_at >= ?1) \
           AND origin_method NOT IN (SELECT value FROM json_each(?2)) {delisted_filter} \
         GROUP BY origin_ip"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(query_error)?;
    let rows = statement
        .query_map(
            params![
                query.since,
                excluded,
                weights.connect,
                weights.received,
                weights.bounce,
                weights.other,
            ],
            listing_from_row,
        )
        .map_err(query_error)?;

    let mut merged: HashMap<String, (Listing, i64)> = HashMap::new();
    for row in rows {
        let (listing, rank) = row.map_err(query_error)?;
        match merged.entry(listing.ip.clone()) {
            Entry::Vacant(slot) => {
                slot.insert((listing, rank));
            }
            Entry::Occupied(mut slot) => {
                let (into, into_rank) = slot.get_mut();
                merge(into, into_rank, listing, rank);
            }
        }
    }
    let mut result: Vec<Listing> = merged
        .into_values()
        .map(|(listing, _)| listing)
        .filter(|listing| {
            listing.score > 0.0
                && listing.score >= query.min_sightings
                && query
                    .active_since
                    .is_none_or(|active_since| listing.last_seen >= active_since)
        })
        .collect();
    // Parsing each key once, not in every comparison, matters at 10^5 keys.
    result.sort_by_cached_key(|listing| sort_key(&listing.ip));
    Ok(result)
}

/// Adds the origin aggregate `other` (confidence rank `other_rank`) to the
/// listing `into` of the same key.
fn merge(into: &mut Listing, into_rank: &mut i64, other: Listing, other_rank: i64) {
    into.first_seen = into.first_seen.min(other.first_seen);
    into.last_seen = into.last_seen.max(other.last_seen);
    into.count += other.count;
    into.score += other.score;
    if other_rank > *into_rank || (other_rank == *into_rank && other.confidence > into.confidence) {
        *into_rank = other_rank;
        into.confidence = other.confidence;
    }
    for (values, more) in [
        (&mut into.families, other.families),
        (&mut into.variants, other.variants),
    ] {
        values.extend(more);
        values.sort();
        values.dedup();
    }
}

/// Reads one origin's aggregate, keyed by its listing key, with the rank of
/// its highest confidence (3 high, 2 medium, 1 low, 0 other).
fn listing_from_row(row: &Row<'_>) -> rusqlite::Result<(Listing, i64)> {
    let origin: String = row.get(0)?;
    let count: i64 = row.get(3)?;
    let rank: i64 = row.get(5)?;
    let confidence = match rank {
        3 => "high".to_string(),
        2 => "medium".to_string(),
        1 => "low".to_string(),
        _ => row.get(6)?,
    };
    // Stored IPv4 origins are canonical already and are their own key.
    let ip = if origin.contains(':') {
        listing_key(&origin)
    } else {
        origin
    };
    let listing = Listing {
        ip,
        first_seen: row.get(1)?,
        last_seen: row.get(2)?,
        count: u64::try_from(count).unwrap_or(0),
        score: row.get(4)?,
        confidence,
        families: sorted_json_strings(row, 7)?,
        variants: sorted_json_strings(row, 8)?,
    };
    Ok((listing, rank))
}

/// Reads a JSON array of strings built by `json_group_array` and sorts it.
fn sorted_json_strings(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<String>> {
    // SQLite 3.40 returns "[]" when the FILTER clause leaves no rows; a NULL
    // is read the same way.
    let Some(text) = row.get::<_, Option<String>>(index)? else {
        return Ok(Vec::new());
    };
    let mut values: Vec<String> = serde_json::from_str(&text).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, error.into())
    })?;
    values.sort();
    Ok(values)
}

/// Returns the sort key of a listing key: addresses first (IPv4 before
/// IPv6, numerically, a `/64` suffix ignored), then other text in order.
fn sort_key(key: &str) -> (bool, Option<IpAddr>, String) {
    match key.split('/').next().unwrap_or(key).parse::<IpAddr>() {
        Ok(ip) => (false, Some(ip), String::new()),
        Err(_) => (true, None, key.to_string()),
    }
}

/// Returns the number of stored sightings.
///
/// # Errors
///
/// [`StoreError::Query`] if the query fails.
pub fn sighting_count(conn: &Connection) -> Result<u64, StoreError> {
    let count: i64 = conn
        .query_row("SELECT COUNT(*) FROM sightings", [], |row| row.get(0))
        .map_err(|source| StoreError::Query {
            database: database_name(conn),
            source,
        })?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Returns up to `limit` sightings, newest first (by insertion order).
///
/// # Errors
///
/// [`StoreError::Query`] if the query fails or a stored `evidence` value is
/// not valid JSON.
pub fn sightings(conn: &Connection, limit: usize) -> Result<Vec<Sighting>, StoreError> {
    let query_error = |source| StoreError::Query {
        database: database_name(conn),
        source,
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT seen_at, origin_ip, origin_method, family, variant, rule, confidence, \
                    queue_id, message_id, client_ip, helo, envelope_from, size, headers, \
                    evidence \
             FROM sightings ORDER BY id DESC LIMIT ?1",
        )
        .map_err(query_error)?;
    let rows = statement
        .query_map([limit], sighting_from_row)
        .map_err(query_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(query_error)
}

/// Returns the sightings with `seen_at >= since` (all when `since` is
/// `None`), oldest first.
///
/// # Errors
///
/// [`StoreError::Query`] if the query fails or a stored `evidence` value is
/// not valid JSON.
pub fn sightings_since(conn: &Connection, since: Option<i64>) -> Result<Vec<Sighting>, StoreError> {
    let query_error = |source| StoreError::Query {
        database: database_name(conn),
        source,
    };
    let mut statement = conn
        .prepare_cached(
            "SELECT seen_at, origin_ip, origin_method, family, variant, rule, confidence, \
                    queue_id, message_id, client_ip, helo, envelope_from, size, headers, \
                    evidence \
             FROM sightings WHERE (?1 IS NULL OR seen_at >= ?1) ORDER BY seen_at, id",
        )
        .map_err(query_error)?;
    let rows = statement
        .query_map([since], sighting_from_row)
        .map_err(query_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(query_error)
}

fn sighting_from_row(row: &Row<'_>) -> rusqlite::Result<Sighting> {
    let size: i64 = row.get(12)?;
    let evidence: String = row.get(14)?;
    let evidence = serde_json::from_str(&evidence).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(14, rusqlite::types::Type::Text, error.into())
    })?;
    Ok(Sighting {
        seen_at: row.get(0)?,
        origin_ip: row.get(1)?,
        origin_method: row.get(2)?,
        family: row.get(3)?,
        variant: row.get(4)?,
        rule: row.get(5)?,
        confidence: row.get(6)?,
        queue_id: row.get(7)?,
        message_id: row.get(8)?,
        client_ip: row.get(9)?,
        helo: row.get(10)?,
        envelope_from: row.get(11)?,
        size: u64::try_from(size).unwrap_or(0),
        headers: row.get(13)?,
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::super::{insert_batch, open};
    use super::*;

    fn database_with(sightings: &[Sighting]) -> (tempfile::TempDir, Connection) {
        let directory = tempfile::tempdir().unwrap();
        let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
        insert_batch(&mut conn, sightings).unwrap();
        (directory, conn)
    }

    fn fixture() -> Vec<Sighting> {
        let mut bounce = sample("198.51.100.7", 150, "Sober", "Q5");
        bounce.origin_method = "bounce".to_string();
        let mut variant_p = sample("192.0.2.1", 300, "Sober", "Q3");
        variant_p.variant = Some("P".to_string());
        vec![
            sample("192.0.2.10", 100, "Sober", "Q1"),
            sample("192.0.2.1", 200, "Sober", "Q2"),
            variant_p,
            sample("192.0.2.1", 50, "Mydoom", "Q4"),
            bounce,
            sample("2001:db8::1", 400, "Sober", "Q6"),
        ]
    }

    #[test]
    fn listings_aggregate_per_ip() {
        let (_directory, conn) = database_with(&fixture());
        let result = listings(&conn, &ListingQuery::default()).unwrap();
        let ips: Vec<&str> = result.iter().map(|l| l.ip.as_str()).collect();
        // 198.51.100.7 has one bounce sighting, weight 0.5 by default.
        assert_eq!(ips, ["192.0.2.1", "192.0.2.10", "2001:db8::/64"]);
        assert_eq!(
            result[0],
            Listing {
                ip: "192.0.2.1".to_string(),
                first_seen: 50,
                last_seen: 300,
                count: 3,
                score: 3.0,
                confidence: "high".to_string(),
                families: vec!["Mydoom".to_string(), "Sober".to_string()],
                variants: vec!["P".to_string()],
            }
        );
        assert_eq!(result[1].count, 1);
        assert!(result[1].variants.is_empty());
    }

    #[test]
    fn listings_apply_query_filters() {
        let (_directory, conn) = database_with(&fixture());
        let at_least_two = ListingQuery {
            min_sightings: 2.0,
            ..ListingQuery::default()
        };
        let result = listings(&conn, &at_least_two).unwrap();
        assert_eq!(result.len(), 1);
        assert_eq!(result[0].ip, "192.0.2.1");

        let recent = ListingQuery {
            since: Some(200),
            ..ListingQuery::default()
        };
        let result = listings(&conn, &recent).unwrap();
        let ips: Vec<&str> = result.iter().map(|l| l.ip.as_str()).collect();
        assert_eq!(ips, ["192.0.2.1", "2001:db8::/64"]);
        assert_eq!(result[0].first_seen, 200);
        assert_eq!(result[0].families, ["Sober"]);

        let full_bounces = ListingQuery {
            weights: MethodWeights {
                bounce: 1.0,
                ..MethodWeights::default()
            },
            ..ListingQuery::default()
        };
        let result = listings(&conn, &full_bounces).unwrap();
        assert!(result.iter().any(|l| l.ip == "198.51.100.7"));
        assert_eq!(result.len(), 4);

        let no_bounces = ListingQuery {
            exclude_methods: vec!["bounce".to_string()],
            ..full_bounces
        };
        let result = listings(&conn, &no_bounces).unwrap();
        assert!(result.iter().all(|l| l.ip != "198.51.100.7"));
        assert_eq!(result.len(), 3);
    }

    #[test]
    fn listings_empty_database() {
        let (_directory, conn) = database_with(&[]);
        assert!(
            listings(&conn, &ListingQuery::default())
                .unwrap()
                .is_empty()
        );
        assert_eq!(sighting_count(&conn).unwrap(), 0);
    }

    #[test]
    fn listing_key_table() {
        let cases = [
            ("192.0.2.1", "192.0.2.1"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            (" junk ", "junk"),
        ];
        for (origin, key) in cases {
            assert_eq!(listing_key(origin), key, "{origin}");
        }
    }

    #[test]
    fn sort_key_orders_numerically() {
        let mut ips = [
            "10.0.0.10",
            "junk",
            "::1",
            "10.0.0.9",
            "2001:db8::/64",
            "abc",
        ];
        ips.sort_by_cached_key(|ip| sort_key(ip));
        assert_eq!(
            ips,
            [
                "10.0.0.9",
                "10.0.0.10",
                "::1",
                "2001:db8::/64",
                "abc",
                "junk"
            ]
        );
    }
}
