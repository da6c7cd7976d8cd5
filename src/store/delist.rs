//! Delistings: hosts removed from the published list on request, for
//! example after the owner cleaned an infected PC.

use std::net::IpAddr;

use rusqlite::{Connection, params};

use super::query::{listing_key, register_listing_key};
use super::{StoreError, database_name};

/// One stored delisting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delisting {
    /// The listing key that was delisted: an IPv4 address or an IPv6 /64.
    pub ip: String,
    /// When the delisting was made, in Unix seconds.
    pub delisted_at: i64,
    /// The reason given to `wormsign delist`, e.g. who requested it.
    pub reason: Option<String>,
}

/// Records that `ip` was delisted at `at` (Unix seconds) for `reason`. An
/// IPv6 address delists its whole /64, the unit that is listed. Sightings of
/// the key up to `at` no longer count; a later sighting lists it again.
///
/// # Errors
///
/// [`StoreError::Insert`] if the insert fails.
pub fn delist(
    conn: &Connection,
    ip: IpAddr,
    reason: &str,
    at: i64,
) -> Result<Delisting, StoreError> {
    let delisting = Delisting {
        ip: listing_key(&ip.to_string()),
        delisted_at: at,
        reason: Some(reason.to_string()),
    };
    conn.execute(
        "INSERT INTO delistings (ip, delisted_at, reason) VALUES (?1, ?2, ?3)",
        params![delisting.ip, delisting.delisted_at, delisting.reason],
    )
    .map_err(|source| StoreError::Insert {
        database: database_name(conn),
        source,
    })?;
    Ok(delisting)
}

/// Returns how many stored sightings have the listing key of `ip`: its
/// IPv4 address, or the /64 of an IPv6 address. Delisting an address with
/// none has no effect on any export, so `wormsign delist` warns about it.
///
/// # Errors
///
/// [`StoreError::Query`] if the query fails.
pub fn sightings_of(conn: &Connection, ip: IpAddr) -> Result<u64, StoreError> {
    let query_error = |source| StoreError::Query {
        database: database_name(conn),
        source,
    };
    register_listing_key(conn).map_err(query_error)?;
    // The first test uses the origin_ip index; origins with a colon (IPv6,
    // IPv4-mapped) are keyed through the listing key function.
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sightings WHERE origin_ip = ?1 \
             OR (instr(origin_ip, ':') > 0 AND wormsign_listing_key(origin_ip) = ?1)",
            params![listing_key(&ip.to_string())],
            |row| row.get(0),
        )
        .map_err(query_error)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Returns every delisting, newest first.
///
/// # Errors
///
/// [`StoreError::Query`] if the query fails.
pub fn delistings(conn: &Connection) -> Result<Vec<Delisting>, StoreError> {
    let query_error = |source| StoreError::Query {
        database: database_name(conn),
        source,
    };
    let mut statement = conn
        .prepare_cached(
            "SELECT ip, delisted_at, reason FROM delistings ORDER BY delisted_at DESC, rowid DESC",
        )
        .map_err(query_error)?;
    let rows = statement
        .query_map([], |row| {
            Ok(Delisting {
                ip: row.get(0)?,
                delisted_at: row.get(1)?,
                reason: row.get(2)?,
            })
        })
        .map_err(query_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(query_error)
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::super::{insert_batch, open};
    use super::*;

    #[test]
    fn sightings_of_counts_by_listing_key() {
        let directory = tempfile::tempdir().unwrap();
        let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
        let sightings = [
            sample("192.0.2.1", 100, "Sober", "Q1"),
            sample("192.0.2.1", 200, "Sober", "Q2"),
            sample("::ffff:192.0.2.1", 300, "Sober", "Q3"),
            sample("2001:db8:1:2::5", 100, "Sober", "Q4"),
        ];
        insert_batch(&mut conn, &sightings).unwrap();
        let cases = [
            ("192.0.2.1", 3),
            ("192.0.2.2", 0),
            ("2001:db8:1:2::99", 1),
            ("2001:db8:1:3::5", 0),
        ];
        for (ip, count) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(sightings_of(&conn, ip).unwrap(), count, "{ip}");
        }
    }
}
