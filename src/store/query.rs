//! Read queries: per-IP listings for export, and sightings for tests and the
//! command line.

use std::cmp::Ordering;
use std::net::IpAddr;

use rusqlite::{Connection, Row, params};

use super::{Sighting, StoreError, database_name};

/// The summary of all sightings of one origin IP that match a
/// [`ListingQuery`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listing {
    /// Origin IP as stored in `sightings.origin_ip`. It is not checked here;
    /// the export filters addresses that must never be listed.
    pub ip: String,
    /// Earliest `seen_at` in Unix seconds.
    pub first_seen: i64,
    /// Latest `seen_at` in Unix seconds.
    pub last_seen: i64,
    /// Number of sightings.
    pub count: u64,
    /// Distinct families, sorted.
    pub families: Vec<String>,
    /// Distinct variants, sorted; sightings without a variant add none.
    pub variants: Vec<String>,
}

/// Filters that select the sightings counted in listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingQuery {
    /// Minimum number of sightings an IP needs to be listed. 0 and 1 both
    /// list every IP with a sighting.
    pub min_sightings: u64,
    /// Count only sightings with `seen_at >= since` (Unix seconds).
    pub since: Option<i64>,
    /// Ignore sightings whose `origin_method` is one of these, for example
    /// `bounce` to leave out origins reported by third parties.
    pub exclude_methods: Vec<String>,
}

impl Default for ListingQuery {
    fn default() -> Self {
        Self {
            min_sightings: 1,
            since: None,
            exclude_methods: Vec::new(),
        }
    }
}

/// Aggregates sightings per origin IP, ordered by address (IPv4 before IPv6,
/// then numerically; values that are not IP addresses come last).
///
/// # Errors
///
/// [`StoreError::Query`] if the query fails.
pub fn listings(conn: &Connection, query: &ListingQuery) -> Result<Vec<Listing>, StoreError> {
    let query_error = |source| StoreError::Query {
        database: database_name(conn),
        source,
    };
    // The excluded methods go in as one JSON array so the statement text stays
    // fixed however many there are.
    let excluded = serde_json::to_string(&query.exclude_methods).unwrap_or_else(|_| "[]".into());
    let min_sightings = i64::try_from(query.min_sightings).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT origin_ip, MIN(seen_at), MAX(seen_at), COUNT(*), \
                    json_group_array(DISTINCT family), \
                    json_group_array(DISTINCT variant) FILTER (WHERE variant IS NOT NULL) \
             FROM sightings \
             WHERE (?1 IS NULL OR seen_at >= ?1) \
               AND origin_method NOT IN (SELECT value FROM json_each(?2)) \
             GROUP BY origin_ip \
             HAVING COUNT(*) >= ?3",
        )
        .map_err(query_error)?;
    let rows = statement
        .query_map(
            params![query.since, excluded, min_sightings],
            listing_from_row,
        )
        .map_err(query_error)?;
    let mut result = rows.collect::<Result<Vec<_>, _>>().map_err(query_error)?;
    result.sort_by(|a, b| compare_ips(&a.ip, &b.ip));
    Ok(result)
}

fn listing_from_row(row: &Row<'_>) -> rusqlite::Result<Listing> {
    let count: i64 = row.get(3)?;
    Ok(Listing {
        ip: row.get(0)?,
        first_seen: row.get(1)?,
        last_seen: row.get(2)?,
        count: u64::try_from(count).unwrap_or(0),
        families: sorted_json_strings(row, 4)?,
        variants: sorted_json_strings(row, 5)?,
    })
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

fn compare_ips(a: &str, b: &str) -> Ordering {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
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
        assert_eq!(
            ips,
            ["192.0.2.1", "192.0.2.10", "198.51.100.7", "2001:db8::1"]
        );
        assert_eq!(
            result[0],
            Listing {
                ip: "192.0.2.1".to_string(),
                first_seen: 50,
                last_seen: 300,
                count: 3,
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
            min_sightings: 2,
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
        assert_eq!(ips, ["192.0.2.1", "2001:db8::1"]);
        assert_eq!(result[0].first_seen, 200);
        assert_eq!(result[0].families, ["Sober"]);

        let no_bounces = ListingQuery {
            exclude_methods: vec!["bounce".to_string()],
            ..ListingQuery::default()
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
    fn compare_ips_orders_numerically() {
        let mut ips = ["10.0.0.10", "junk", "::1", "10.0.0.9"];
        ips.sort_by(|a, b| compare_ips(a, b));
        assert_eq!(ips, ["10.0.0.9", "10.0.0.10", "::1", "junk"]);
    }
}
