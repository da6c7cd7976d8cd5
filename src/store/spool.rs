//! The spool file: sightings that could not reach the database wait here
//! until the writer replays them.
//!
//! Format: JSON lines, one serialized [`Sighting`] per line, UTF-8, each line
//! ending in `\n`. Writers only append. Replay renames the file to
//! `<spool>.replaying`, inserts every line in one transaction and then
//! deletes it, so sightings appended during a replay go to a fresh spool
//! file. Lines that do not parse are moved to `<spool>.invalid` for a person
//! to inspect.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use super::{Sighting, StoreError, database_name, insert_sighting};

/// A spool file shared by the senders (append when the channel is full) and
/// the writer (append failed batches, replay).
#[derive(Debug)]
pub(crate) struct Spool {
    path: PathBuf,
    /// Serializes appends against the rename that starts a replay, so no
    /// append lands in a file that is already being replayed.
    lock: Mutex<()>,
}

impl Spool {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: Mutex::new(()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `sightings` as JSON lines with one `write` call.
    pub(crate) fn append(&self, sightings: &[Sighting]) -> io::Result<()> {
        let mut bytes = Vec::new();
        for sighting in sightings {
            serde_json::to_writer(&mut bytes, sighting)?;
            bytes.push(b'\n');
        }
        let _guard = self.lock();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(&bytes)
    }

    /// Returns whether the spool file exists and is non-empty, or a replay
    /// left over from an earlier run is pending.
    pub(crate) fn has_pending(&self) -> bool {
        let non_empty = |path: &Path| fs::metadata(path).is_ok_and(|meta| meta.len() > 0);
        non_empty(&self.path) || self.replaying_path().exists()
    }

    /// Inserts every spooled sighting into `conn` and removes the spool.
    /// Returns the number of sightings inserted.
    pub(crate) fn replay(&self, conn: &mut Connection) -> Result<u64, StoreError> {
        let replaying = self.replaying_path();
        // A `.replaying` file left by a crash or a failed insert goes first,
        // and blocks the next rename until it is gone.
        let mut inserted = self.replay_file(conn, &replaying)?;
        {
            let _guard = self.lock();
            match fs::metadata(&self.path) {
                Ok(meta) if meta.len() > 0 => {}
                Ok(_) => return Ok(inserted),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(inserted),
                Err(source) => return Err(self.io_error(source)),
            }
            fs::rename(&self.path, &replaying).map_err(|source| self.io_error(source))?;
        }
        inserted += self.replay_file(conn, &replaying)?;
        Ok(inserted)
    }

    /// Inserts the sightings in `file` in one transaction, then deletes it.
    /// A missing file inserts nothing.
    fn replay_file(&self, conn: &mut Connection, file: &Path) -> Result<u64, StoreError> {
        let reader = match File::open(file) {
            Ok(handle) => BufReader::new(handle),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(source) => return Err(self.io_error(source)),
        };
        let (inserted, invalid) = insert_lines(conn, reader, file)?;
        if !invalid.is_empty() {
            self.keep_invalid(&invalid);
        }
        // NOTE: a crash between the commit above and this removal replays
        // the file again on the next start, which duplicates its sightings.
        fs::remove_file(file).map_err(|source| StoreError::Spool {
            path: file.to_path_buf(),
            source,
        })?;
        Ok(inserted)
    }

    /// Appends lines that failed to parse to `<spool>.invalid` and logs them.
    fn keep_invalid(&self, lines: &[Vec<u8>]) {
        let invalid_path = suffixed(&self.path, ".invalid");
        let result = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&invalid_path)
            .and_then(|mut file| {
                lines.iter().try_for_each(|line| {
                    file.write_all(line)?;
                    file.write_all(b"\n")
                })
            });
        match result {
            Ok(()) => tracing::warn!(
                lines = lines.len(),
                file = %invalid_path.display(),
                "spool lines are not valid sightings; moved them aside"
            ),
            Err(error) => tracing::error!(
                lines = lines.len(),
                file = %invalid_path.display(),
                %error,
                "spool lines are not valid sightings and could not be saved; they are lost"
            ),
        }
    }

    fn replaying_path(&self) -> PathBuf {
        suffixed(&self.path, ".replaying")
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guarded data is `()`, so a panic while holding the lock leaves
        // nothing inconsistent behind.
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn io_error(&self, source: io::Error) -> StoreError {
        StoreError::Spool {
            path: self.path.clone(),
            source,
        }
    }
}

/// Inserts each JSON line of `reader` in one transaction. Returns the number
/// inserted and the lines that are not valid sightings.
fn insert_lines(
    conn: &mut Connection,
    mut reader: impl BufRead,
    file: &Path,
) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
    let database = database_name(conn);
    let insert_error = |source| StoreError::Insert {
        database: database.clone(),
        source,
    };
    let tx = conn.transaction().map_err(insert_error)?;
    let mut inserted = 0;
    let mut invalid = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| StoreError::Spool {
                path: file.to_path_buf(),
                source,
            })?;
        if read == 0 {
            break;
        }
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Sighting>(trimmed) {
            Ok(sighting) => {
                insert_sighting(&tx, &sighting).map_err(insert_error)?;
                inserted += 1;
            }
            Err(_) => invalid.push(trimmed.to_vec()),
        }
    }
    tx.commit().map_err(insert_error)?;
    Ok((inserted, invalid))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Inserts the sightings spooled at `spool_path` into `conn` and removes the
/// spool file, as the writer task does on start. Returns the number of
/// sightings inserted. Lines that are not valid sightings are moved to
/// `<spool_path>.invalid`.
///
/// Run it only while no writer task uses the same spool: a milter process
/// appending at the moment of the rename could lose that append.
///
/// # Errors
///
/// [`StoreError::Spool`] if the spool cannot be read, renamed or removed,
/// and [`StoreError::Insert`] if the insert fails. After a failed insert the
/// file stays as `<spool_path>.replaying`, and the next replay retries it.
pub fn replay_spool(conn: &mut Connection, spool_path: &Path) -> Result<u64, StoreError> {
    Spool::new(spool_path.to_path_buf()).replay(conn)
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::super::{open, open_read_only, sighting_count};
    use super::*;

    #[test]
    fn replay_inserts_and_removes_spool() {
        let directory = tempfile::tempdir().unwrap();
        let spool_path = directory.path().join("wormsign.spool");
        let spool = Spool::new(spool_path.clone());
        spool
            .append(&[
                sample("192.0.2.1", 1, "Sober", "Q1"),
                sample("192.0.2.2", 2, "Sober", "Q2"),
            ])
            .unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(&spool_path)
            .unwrap()
            .write_all(b"{\"truncated\n\n")
            .unwrap();
        spool
            .append(&[sample("192.0.2.3", 3, "Sober", "Q3")])
            .unwrap();
        assert!(spool.has_pending());

        let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
        assert_eq!(spool.replay(&mut conn).unwrap(), 3);
        assert_eq!(sighting_count(&conn).unwrap(), 3);
        assert!(!spool_path.exists());
        assert!(!spool.replaying_path().exists());
        assert!(!spool.has_pending());
        let invalid = fs::read_to_string(suffixed(&spool_path, ".invalid")).unwrap();
        assert_eq!(invalid, "{\"truncated\n");
    }

    #[test]
    fn replay_without_spool_inserts_nothing() {
        let directory = tempfile::tempdir().unwrap();
        let mut conn = open(&directory.path().join("wormsign.db")).unwrap();
        let spool_path = directory.path().join("wormsign.spool");
        assert_eq!(replay_spool(&mut conn, &spool_path).unwrap(), 0);
        fs::write(&spool_path, b"").unwrap();
        assert_eq!(replay_spool(&mut conn, &spool_path).unwrap(), 0);
    }

    #[test]
    fn failed_replay_keeps_file_for_retry() {
        let directory = tempfile::tempdir().unwrap();
        let db_path = directory.path().join("wormsign.db");
        drop(open(&db_path).unwrap());
        let spool_path = directory.path().join("wormsign.spool");
        let spool = Spool::new(spool_path.clone());
        spool
            .append(&[sample("192.0.2.1", 1, "Sober", "Q1")])
            .unwrap();

        let mut read_only = open_read_only(&db_path).unwrap();
        let error = spool.replay(&mut read_only).unwrap_err();
        assert!(matches!(error, StoreError::Insert { .. }), "{error}");
        assert!(spool.replaying_path().exists());

        // New sightings arrive while the earlier replay is pending.
        spool
            .append(&[sample("192.0.2.2", 2, "Sober", "Q2")])
            .unwrap();
        let mut conn = open(&db_path).unwrap();
        assert_eq!(replay_spool(&mut conn, &spool_path).unwrap(), 2);
        assert_eq!(sighting_count(&conn).unwrap(), 2);
        assert!(!spool.has_pending());
    }
}
