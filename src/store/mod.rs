//! Sightings in SQLite: schema migrations, the batching writer task, the
//! spool file for sightings that could not be written, and queries.
//!
//! The schema lives in `migrations/NN-name/up.sql`, embedded in the binary
//! and applied by [`open`]; the schema version is kept in
//! `PRAGMA user_version`. Sessions never touch SQLite themselves: they hand
//! sightings to a [`SightingSender`] and one writer task commits them.

mod delist;
mod query;
mod spool;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use include_dir::{Dir, include_dir};
use rusqlite::{Connection, OpenFlags, Transaction, params};
use rusqlite_migration::Migrations;

pub use delist::{Delisting, delist, delistings, sightings_of};
pub use query::{
    Listing, ListingQuery, MethodWeights, listing_key, listings, sighting_count, sightings,
    sightings_since,
};
pub use spool::replay_spool;
pub use writer::{SightingSender, WriterHandle, spawn_writer};

/// The schema migrations, embedded at build time.
// NOTE: cargo does not notice a changed or added file under migrations/ on
// its own. After editing the schema, touch this file, or add a build script
// that prints `cargo:rerun-if-changed=migrations`.
static MIGRATIONS_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// How long a statement waits for a lock held by another connection (for
/// example `wormsign export` reading while the milter writes) before it
/// fails with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One detected message. Sightings are only added, never updated.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sighting {
    /// Unix time in seconds when the message was seen.
    pub seen_at: i64,
    /// Origin IP, canonical text form (IPv4-mapped IPv6 as IPv4).
    pub origin_ip: String,
    /// How the origin was found: `connect`, `received` (later: `bounce`).
    pub origin_method: String,
    pub family: String,
    pub variant: Option<String>,
    pub rule: String,
    pub confidence: String,
    pub queue_id: Option<String>,
    pub message_id: Option<String>,
    pub client_ip: Option<String>,
    pub helo: Option<String>,
    pub envelope_from: Option<String>,
    /// Message size in bytes as received (up to the scan limit).
    pub size: u64,
    /// The original header block, kept for abuse reports.
    pub headers: Option<String>,
    /// Evidence as JSON: every match with its object, anomalies.
    pub evidence: serde_json::Value,
}

/// Errors of the sighting store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or configured.
    #[error(
        "failed to open database {}; check that the file's directory exists \
         and is writable by this user, or choose another path",
        path.display()
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// A read-only open found no database file.
    #[error(
        "database {} not found; check the database path, or run the milter \
         once to create it",
        path.display()
    )]
    NotFound { path: PathBuf },

    /// A read-only open found a file with no tables: an empty or truncated
    /// file, or an SQLite database that wormsign never wrote.
    #[error(
        "database {} has no wormsign schema: the file is empty or was not \
         written by wormsign; check the database path, or remove the file \
         and start the milter once to create it",
        path.display()
    )]
    NoSchema { path: PathBuf },

    /// The database was written by a newer wormsign.
    #[error(
        "database {} has schema version {found}, but this wormsign supports \
         versions up to {supported}; upgrade wormsign or use another database file",
        path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// A read-only open found a schema older than this build's.
    #[error(
        "database {} has schema version {found}, older than version \
         {supported} of this wormsign; make the file writable and run this \
         command again, or start the milter once, to upgrade it",
        path.display()
    )]
    SchemaTooOld {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// Upgrading an older schema before reading failed.
    #[error(
        "database {} has schema version {found}, older than version \
         {supported} of this wormsign, and upgrading it failed; run this \
         command as a user who can write the file and its directory, or start \
         the milter once",
        path.display()
    )]
    UpgradeFailed {
        path: PathBuf,
        found: i64,
        supported: i64,
        #[source]
        source: Box<StoreError>,
    },

    /// Applying the embedded migrations failed.
    #[error(
        "failed to apply schema migrations to {}; restore a backup or move \
         the file away to start a new database",
        path.display()
    )]
    Migrate {
        path: PathBuf,
        #[source]
        source: rusqlite_migration::Error,
    },

    /// Writing sightings failed; the transaction was rolled back.
    #[error("failed to insert sightings into database {database}")]
    Insert {
        database: String,
        #[source]
        source: rusqlite::Error,
    },

    /// Reading sightings or listings failed.
    #[error("failed to query database {database}")]
    Query {
        database: String,
        #[source]
        source: rusqlite::Error,
    },

    /// Reading, renaming or removing the spool file failed.
    #[error("failed to access spool file {}", path.display())]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Opens or creates the database at `path`, switches it to WAL mode, sets a
/// busy timeout and applies any pending schema migrations.
///
/// # Errors
///
/// [`StoreError::Open`] if the file cannot be opened or created,
/// [`StoreError::SchemaTooNew`] if a newer wormsign wrote it, and
/// [`StoreError::Migrate`] if a migration fails.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    // WAL lets `wormsign export` read while the writer commits, and makes a
    // commit one append to the log instead of a rewrite of the pages.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(open_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), %mode, "database did not switch to WAL mode");
    }
    // In WAL mode, NORMAL keeps the database consistent after a crash and
    // saves an fsync per commit, but it may lose the last commits on power
    // loss.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_error)?;

    let migrations =
        Migrations::from_directory(&MIGRATIONS_DIR).map_err(|source| StoreError::Migrate {
            path: path.to_path_buf(),
            source,
        })?;
    let supported = schema_version_count();
    let found = user_version(&conn).map_err(open_error)?;
    if found > supported {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    migrations
        .to_latest(&mut conn)
        .map_err(|source| StoreError::Migrate {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(conn)
}

/// Opens an existing database for reading only, as `wormsign export` does.
/// It never creates the file or changes its schema.
///
/// # Errors
///
/// [`StoreError::NotFound`] if the file does not exist, [`StoreError::Open`]
/// if it cannot be opened, and [`StoreError::SchemaTooNew`] or
/// [`StoreError::SchemaTooOld`] if its schema version differs from this
/// build's.
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let open_error = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;

    let supported = schema_version_count();
    let found = user_version(&conn).map_err(open_error)?;
    if found > supported {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    if found == 0 && !has_tables(&conn).map_err(open_error)? {
        return Err(StoreError::NoSchema {
            path: path.to_path_buf(),
        });
    }
    if found < supported {
        return Err(StoreError::SchemaTooOld {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    Ok(conn)
}

/// Opens an existing database for reading, as `wormsign export`, `report`
/// and `stats` do. A database with an older schema is first upgraded
/// through [`open`] when its file is writable, so that these commands work
/// on a database that no milter has opened since wormsign was updated.
///
/// # Errors
///
/// The errors of [`open_read_only`]. [`StoreError::SchemaTooOld`] is
/// returned only when the file is read-only, and
/// [`StoreError::UpgradeFailed`] when the upgrade itself failed.
pub fn open_for_reading(path: &Path) -> Result<Connection, StoreError> {
    let (found, supported) = match open_read_only(path) {
        Err(StoreError::SchemaTooOld {
            found, supported, ..
        }) => (found, supported),
        other => return other,
    };
    let read_only = std::fs::metadata(path).is_ok_and(|meta| meta.permissions().readonly());
    if read_only {
        return Err(StoreError::SchemaTooOld {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    tracing::info!(
        path = %path.display(),
        from = found,
        to = supported,
        "upgrading the database schema"
    );
    if let Err(error) = open(path) {
        return Err(StoreError::UpgradeFailed {
            path: path.to_path_buf(),
            found,
            supported,
            source: Box::new(error),
        });
    }
    open_read_only(path)
}

/// Inserts `sightings` in one transaction: either all rows are written or
/// none is.
///
/// # Errors
///
/// [`StoreError::Insert`] if any statement or the commit fails.
pub fn insert_batch(conn: &mut Connection, sightings: &[Sighting]) -> Result<(), StoreError> {
    let database = database_name(conn);
    let insert_error = |source| StoreError::Insert {
        database: database.clone(),
        source,
    };
    let tx = conn.transaction().map_err(insert_error)?;
    for sighting in sightings {
        insert_sighting(&tx, sighting).map_err(insert_error)?;
    }
    tx.commit().map_err(insert_error)
}

/// Inserts one sighting inside the caller's transaction.
fn insert_sighting(tx: &Transaction<'_>, s: &Sighting) -> rusqlite::Result<()> {
    let mut statement = tx.prepare_cached(
        "INSERT INTO sightings (seen_at, origin_ip, origin_method, family, variant, \
         rule, confidence, queue_id, message_id, client_ip, helo, envelope_from, \
         size, headers, evidence) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    // SQLite integers are signed 64-bit; no message comes near i64::MAX bytes.
    let size = i64::try_from(s.size).unwrap_or(i64::MAX);
    statement.execute(params![
        s.seen_at,
        s.origin_ip,
        s.origin_method,
        s.family,
        s.variant,
        s.rule,
        s.confidence,
        s.queue_id,
        s.message_id,
        s.client_ip,
        s.helo,
        s.envelope_from,
        size,
        s.headers,
        s.evidence.to_string(),
    ])?;
    Ok(())
}

/// Returns the number of embedded migrations, which is the schema version
/// a fully migrated database has.
fn schema_version_count() -> i64 {
    let count = MIGRATIONS_DIR
        .dirs()
        .filter(|dir| dir.get_file(dir.path().join("up.sql")).is_some())
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Returns whether the database contains any table.
fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table')",
        [],
        |row| row.get(0),
    )
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Returns the connection's file name for error messages.
fn database_name(conn: &Connection) -> String {
    match conn.path() {
        Some(path) if !path.is_empty() => path.to_string(),
        _ => ":memory:".to_string(),
    }
}

/// Formats an error with all its sources, `outer: inner: root`, for logs.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a sighting from the fields tests vary, with the rest fixed.
    pub(crate) fn sample(ip: &str, seen_at: i64, family: &str, queue_id: &str) -> Sighting {
        Sighting {
            seen_at,
            origin_ip: ip.to_string(),
            origin_method: "connect".to_string(),
            family: family.to_string(),
            variant: None,
            rule: format!("{family}_attachment"),
            confidence: "high".to_string(),
            queue_id: Some(queue_id.to_string()),
            message_id: Some(format!("<{queue_id}@example.org>")),
            client_ip: Some(ip.to_string()),
            helo: Some("infected.example".to_string()),
            envelope_from: Some("someone@example.com".to_string()),
            size: 31_337,
            headers: Some("Subject: Ihr Passwort\r\n".to_string()),
            evidence: serde_json::json!({"matches": [{"rule": "Sober_attachment", "object": "2"}]}),
        }
    }

    #[test]
    fn open_applies_migrations_once() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("wormsign.db");
        let conn = open(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
        assert_eq!(schema_version_count(), 2);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);

        // Reopening an up-to-date database changes nothing.
        let conn = open(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                 AND name IN ('sightings', 'delistings')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 2);
    }

    #[test]
    fn open_rejects_newer_schema() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("wormsign.db");
        let conn = open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let error = open(&path).unwrap_err();
        assert!(
            matches!(error, StoreError::SchemaTooNew { found: 99, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("wormsign.db"), "{error}");
    }

    #[test]
    fn open_error_names_path() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("missing-dir").join("wormsign.db");
        let error = open(&path).unwrap_err();
        assert!(matches!(error, StoreError::Open { .. }), "{error}");
        assert!(error.to_string().contains("missing-dir"), "{error}");
    }

    #[test]
    fn open_read_only_checks_file_and_schema() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("wormsign.db");
        let error = open_read_only(&path).unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
        assert!(!path.exists(), "a read-only open must not create the file");

        let mut conn = open(&path).unwrap();
        insert_batch(&mut conn, &[sample("192.0.2.1", 10, "Sober", "Q1")]).unwrap();
        drop(conn);
        let reader = open_read_only(&path).unwrap();
        assert_eq!(sighting_count(&reader).unwrap(), 1);
        let error = insert_batch(
            &mut open_read_only(&path).unwrap(),
            &[sample("192.0.2.2", 10, "Sober", "Q2")],
        )
        .unwrap_err();
        assert!(matches!(error, StoreError::Insert { .. }), "{error}");
    }

    #[test]
    fn open_read_only_names_an_empty_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("empty.db");
        std::fs::write(&path, b"").unwrap();
        let error = open_read_only(&path).unwrap_err();
        assert!(matches!(error, StoreError::NoSchema { .. }), "{error}");
        assert!(error.to_string().contains("no wormsign schema"), "{error}");
    }

    #[test]
    fn insert_batch_round_trips() {
        let directory = tempfile::tempdir().unwrap();
        let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
        let mut first = sample("192.0.2.1", 100, "Sober", "Q1");
        first.variant = Some("P".to_string());
        first.size = u64::MAX;
        let second = sample("2001:db8::1", 200, "Sober", "Q2");
        insert_batch(&mut conn, &[first.clone(), second.clone()]).unwrap();

        assert_eq!(sighting_count(&conn).unwrap(), 2);
        let stored = sightings(&conn, 10).unwrap();
        // Sizes beyond i64::MAX are stored as i64::MAX.
        first.size = i64::MAX as u64;
        assert_eq!(stored, [second, first]);
        assert_eq!(sightings(&conn, 1).unwrap().len(), 1);
    }

    #[test]
    fn error_chain_joins_sources() {
        let error = StoreError::Spool {
            path: PathBuf::from("/x/spool"),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(
            ErrorChain(&error).to_string(),
            "failed to access spool file /x/spool: disk full"
        );
    }
}
