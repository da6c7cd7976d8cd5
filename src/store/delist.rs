//! Delistings: hosts removed from the published list on request, for
//! example after the owner cleaned an infected PC.

use std::net::IpAddr;

use rusqlite::{Connection, params};

use super::query::listing_key;
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
