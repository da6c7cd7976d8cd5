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
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use tracing::{debug, info, warn};

use super::handler::{SharedSnapshot, Snapshot};
use super::listing_set::ListingSet;
use super::settings::Settings;
use crate::store::{self, StoreError};

/// Maximum time between two rebuilds of the listings, changed or not.
pub const FULL_RELOAD: Duration = Duration::from_secs(60);

/// A rebuild waits at least this many times the duration of the previous
/// one, so that on a large database with frequent commits the reload thread
/// uses at most about a fifth of one core.
const RELOAD_SPACING: u32 = 4;

/// The polling thread; [`Reloader::stop`] ends it.
pub struct Reloader {
    stop: Arc<AtomicBool>,
    requested: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Reloader {
    /// Starts the thread that lets `poller` swap a new snapshot into
    /// `shared` whenever the database changes.
    pub fn spawn(mut poller: Poller, shared: SharedSnapshot) -> Reloader {
        let stop = Arc::new(AtomicBool::new(false));
        let requested = Arc::new(AtomicBool::new(false));
        let (stop_flag, request_flag) = (stop.clone(), requested.clone());
        let thread = std::thread::Builder::new()
            .name("dnsbl-reload".to_string())
            .spawn(move || {
                while !stop_flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(poller.settings.poll_interval);
                    if stop_flag.load(Ordering::Acquire) {
                        break;
                    }
                    if request_flag.swap(false, Ordering::AcqRel) {
                        poller.reload_now(&shared);
                    } else {
                        poller.poll(&shared);
                    }
                }
            })
            .expect("spawning a thread only fails when the system is out of resources");
        Reloader {
            stop,
            requested,
            thread,
        }
    }

    /// Returns a handle that makes the thread rebuild the listings at once.
    pub fn trigger(&self) -> ReloadTrigger {
        ReloadTrigger {
            requested: self.requested.clone(),
            thread: self.thread.thread().clone(),
        }
    }

    /// Stops the thread and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

/// Requests an immediate rebuild from a [`Reloader`] (on SIGHUP).
#[derive(Clone)]
pub struct ReloadTrigger {
    requested: Arc<AtomicBool>,
    thread: std::thread::Thread,
}

impl ReloadTrigger {
    /// Wakes the reload thread, which reopens the database and rebuilds the
    /// listings whether or not the database changed. Requests that arrive
    /// during a rebuild lead to one more rebuild.
    pub fn request(&self) {
        self.requested.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// A read-only connection to the database and what the last load saw.
pub struct Poller {
    database: PathBuf,
    settings: Settings,
    connection: Option<Connection>,
    /// Device and inode of the file `connection` has open.
    file_id: Option<(u64, u64)>,
    data_version: Option<i64>,
    last_reload: Instant,
    /// How long the last rebuild took.
    last_duration: Duration,
    serial: u32,
    /// Failed polls in a row; only the first of a run is logged as a warning.
    failures: u64,
}

impl Poller {
    /// Opens the database and reads the listings once, for the first
    /// snapshot. The poller keeps the connection, so that the thread's first
    /// poll reloads only if something was committed in the meantime.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the database cannot be opened or read.
    pub fn open(database: PathBuf, settings: Settings) -> Result<(Poller, Snapshot), StoreError> {
        let mut poller = Poller {
            database,
            settings,
            connection: None,
            file_id: None,
            data_version: None,
            last_reload: Instant::now(),
            last_duration: Duration::ZERO,
            serial: 0,
            failures: 0,
        };
        // With no data_version seen yet, the listings are always loaded.
        let snapshot = poller.reload_if_changed()?;
        Ok((
            poller,
            snapshot.expect("a first load always builds a snapshot"),
        ))
    }

    fn poll(&mut self, shared: &SharedSnapshot) {
        match self.reload_if_changed() {
            Ok(snapshot) => {
                if self.failures > 0 {
                    info!(
                        database = %self.database.display(),
                        failed_polls = self.failures,
                        "DNSBL database readable again"
                    );
                }
                self.failures = 0;
                if let Some(snapshot) = snapshot {
                    self.swap(shared, snapshot, false);
                }
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

    /// Reopens the database and rebuilds the listings now, logging the
    /// outcome at info (or the error at warn) whatever it is, because an
    /// operator asked for it.
    fn reload_now(&mut self, shared: &SharedSnapshot) {
        self.connection = None;
        self.data_version = None;
        match self.reload_if_changed() {
            Ok(snapshot) => {
                self.failures = 0;
                let snapshot = snapshot.expect("a load without a data_version always builds");
                self.swap(shared, snapshot, true);
            }
            Err(error) => {
                self.failures += 1;
                warn!(
                    database = %self.database.display(),
                    error = %error_chain(&error),
                    "failed to reload DNSBL listings; serving the previous ones"
                );
            }
        }
    }

    /// Builds a new snapshot if the database changed, was replaced, or was
    /// last read [`FULL_RELOAD`] ago.
    fn reload_if_changed(&mut self) -> Result<Option<Snapshot>, StoreError> {
        let file_id = std::fs::metadata(&self.database)
            .ok()
            .map(|metadata| (metadata.dev(), metadata.ino()));
        if file_id.is_none() || file_id != self.file_id {
            self.connection = None;
            self.data_version = None;
        }
        let connection = match self.connection.take() {
            Some(connection) => connection,
            None => store::open_read_only(&self.database)?,
        };
        self.file_id = file_id;
        let connection = self.connection.insert(connection);

        // Read the version before the listings: a commit in between then
        // shows up as a change at the next poll.
        let version: i64 = connection
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(|source| StoreError::Query {
                database: self.database.display().to_string(),
                source,
            })?;
        let changed = self.data_version != Some(version);
        let since_last = self.last_reload.elapsed();
        if !changed && since_last < FULL_RELOAD {
            return Ok(None);
        }
        // The version is not recorded here, so a deferred change is picked
        // up by a later poll.
        if self.data_version.is_some() && since_last < self.last_duration * RELOAD_SPACING {
            return Ok(None);
        }

        let started = Instant::now();
        // The two steps of listing::listed (the policy's query, then
        // listing::apply inside the build), split so that the TXT strings
        // of all listings never exist at once.
        let policy = &self.settings.policy;
        let stored = store::listings(connection, &policy.query(unix_now()))?;
        let listings = ListingSet::build_from_listings(stored, policy, self.settings.ip4tset);
        self.data_version = Some(version);
        self.last_reload = Instant::now();
        self.last_duration = started.elapsed();
        self.serial = unix_serial(self.serial);
        Ok(Some(Snapshot::new(listings, &self.settings, self.serial)))
    }

    /// Puts `snapshot` in service. The reload is logged at info when the
    /// counts changed or an operator requested it, else at debug.
    fn swap(&self, shared: &SharedSnapshot, snapshot: Snapshot, requested: bool) {
        let (ipv4, ipv6) = snapshot.listings().len();
        let snapshot = Arc::new(snapshot);
        let previous = match shared.write() {
            Ok(mut guard) => std::mem::replace(&mut *guard, snapshot),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), snapshot),
        };
        let took_ms = self.last_duration.as_millis();
        if previous.listings().len() == (ipv4, ipv6) && !requested {
            debug!(
                ipv4,
                ipv6,
                serial = self.serial,
                took_ms,
                "DNSBL listings reloaded"
            );
        } else {
            info!(
                ipv4,
                ipv6,
                serial = self.serial,
                took_ms,
                "DNSBL listings reloaded"
            );
        }
    }
}

/// Returns the current Unix time as an SOA serial, but always more than
/// `previous`, so that two reloads in one second still differ.
// NOTE: the serial wraps in 2106, which RFC 1982 serial arithmetic allows.
fn unix_serial(previous: u32) -> u32 {
    let now = unix_now() as u32;
    if now > previous {
        now
    } else {
        previous.wrapping_add(1)
    }
}

/// Returns the current Unix time in seconds, the `now` of the listing
/// policy (window and expiry).
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
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
