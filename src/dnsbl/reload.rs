//! Keeps the served listings in step with the database, without a restart.
//!
//! A thread polls `PRAGMA data_version` on its own read-only connection.
//! SQLite changes that value whenever another connection commits, so a
//! commit by the milter's writer shows up at the next poll, and a poll
//! without a change costs no query of the sightings. A database file that
//! was replaced (another inode at the same path) is opened anew, because the
//! old connection would go on reading the old file. The listings are also
//! rebuilt every [`FULL_RELOAD`], because a listing can change with time
//! alone once a policy expires listings.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tracing::{debug, info, warn};

use super::handler::{SharedSnapshot, Snapshot};
use super::listing_set::{ListingSet, load_listed};
use super::settings::Settings;
use crate::store::{self, StoreError};

/// Maximum time between two rebuilds of the listings, changed or not.
pub const FULL_RELOAD: Duration = Duration::from_secs(60);

/// Reads the listings once and builds the first snapshot.
///
/// # Errors
///
/// A [`StoreError`] if the database cannot be opened or read.
pub fn first_snapshot(database: &Path, settings: &Settings) -> Result<Snapshot, StoreError> {
    let connection = store::open_read_only(database)?;
    let listings = ListingSet::build(&load_listed(&connection, settings.min_sightings)?);
    Ok(Snapshot::new(listings, settings, unix_serial(0)))
}

/// The polling thread; [`Reloader::stop`] ends it.
pub struct Reloader {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Reloader {
    /// Starts the thread that swaps a new snapshot into `shared` whenever
    /// the database changes.
    pub fn spawn(database: PathBuf, settings: Settings, shared: SharedSnapshot) -> Reloader {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("dnsbl-reload".to_string())
            .spawn(move || {
                let mut poller = Poller::new(database, settings, shared);
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(poller.settings.poll_interval);
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    poller.poll();
                }
            })
            .expect("spawning a thread only fails when the system is out of resources");
        Reloader { stop, thread }
    }

    /// Stops the thread and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

struct Poller {
    database: PathBuf,
    settings: Settings,
    shared: SharedSnapshot,
    connection: Option<Connection>,
    /// Device and inode of the file `connection` has open.
    file_id: Option<(u64, u64)>,
    data_version: Option<i64>,
    last_reload: Instant,
    serial: u32,
    /// Failed polls in a row; only the first of a run is logged as a warning.
    failures: u64,
}

impl Poller {
    fn new(database: PathBuf, settings: Settings, shared: SharedSnapshot) -> Poller {
        Poller {
            database,
            settings,
            shared,
            connection: None,
            file_id: None,
            data_version: None,
            last_reload: Instant::now(),
            serial: unix_serial(0),
            failures: 0,
        }
    }

    fn poll(&mut self) {
        match self.try_poll() {
            Ok(()) => {
                if self.failures > 0 {
                    info!(
                        database = %self.database.display(),
                        failed_polls = self.failures,
                        "DNSBL database readable again"
                    );
                }
                self.failures = 0;
            }
            Err(error) => {
                // Reopen on the next poll: the file may have been replaced.
                self.connection = None;
                self.data_version = None;
                self.failures += 1;
                if self.failures == 1 {
                    warn!(
                        database = %self.database.display(),
                        error = %error_chain(&error),
                        "failed to reload DNSBL listings; serving the previous ones"
                    );
                }
            }
        }
    }

    fn try_poll(&mut self) -> Result<(), StoreError> {
        let file_id = std::fs::metadata(&self.database)
            .ok()
            .map(|metadata| (metadata.dev(), metadata.ino()));
        if file_id.is_none() || file_id != self.file_id {
            self.connection = None;
            self.data_version = None;
        }
        if self.connection.is_none() {
            self.connection = Some(store::open_read_only(&self.database)?);
            self.file_id = file_id;
        }
        let Some(connection) = self.connection.as_ref() else {
            return Ok(());
        };
        let version: i64 = connection
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(|source| StoreError::Query {
                database: self.database.display().to_string(),
                source,
            })?;

        let changed = self.data_version != Some(version);
        if !changed && self.last_reload.elapsed() < FULL_RELOAD {
            return Ok(());
        }

        let listings = ListingSet::build(&load_listed(connection, self.settings.min_sightings)?);
        self.data_version = Some(version);
        self.last_reload = Instant::now();
        self.serial = unix_serial(self.serial);
        let (ipv4, ipv6) = listings.len();
        let snapshot = Arc::new(Snapshot::new(listings, &self.settings, self.serial));
        let previous = match self.shared.write() {
            Ok(mut guard) => std::mem::replace(&mut *guard, snapshot),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), snapshot),
        };
        if previous.listings().len() == (ipv4, ipv6) {
            debug!(ipv4, ipv6, serial = self.serial, "DNSBL listings reloaded");
        } else {
            info!(ipv4, ipv6, serial = self.serial, "DNSBL listings reloaded");
        }
        Ok(())
    }
}

/// Returns the current Unix time as an SOA serial, but always more than
/// `previous`, so that two reloads in one second still differ.
// NOTE: the serial wraps in 2106, which RFC 1982 serial arithmetic allows.
fn unix_serial(previous: u32) -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as u32);
    if now > previous {
        now
    } else {
        previous.wrapping_add(1)
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_serial_always_grows() {
        let first = unix_serial(0);
        assert!(first > 1_700_000_000, "{first}");
        let second = unix_serial(first);
        assert!(second > first);
        assert_eq!(unix_serial(u32::MAX), 0);
    }
}
