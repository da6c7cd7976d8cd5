//! The writer task: the only place that writes sightings to SQLite.
//!
//! Sessions call [`SightingSender::send`], which never awaits and never
//! waits on SQLite. The task
//! collects sightings into batches of up to [`MAX_BATCH`], waiting at most
//! [`LINGER`] after the first one, and commits each batch in one
//! transaction. When the database fails, the batch is appended to the spool
//! file; after the next successful commit (and on start) the spool is
//! replayed into the database.
//!
//! Implementation note: the task itself is async so that it can wait on the
//! tokio channel with a timer and a shutdown signal in one `select!`, which
//! a plain thread cannot do with tokio's `blocking_recv`. Every SQLite call
//! runs inside `spawn_blocking`, with the connection moved into the closure
//! and back out, so no async worker ever waits on disk I/O or a lock.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::spool::Spool;
use super::{ErrorChain, Sighting, StoreError, insert_batch, open};

/// Maximum number of sightings committed in one transaction.
pub const MAX_BATCH: usize = 256;

/// Maximum time the first sighting of a batch waits for more to join it.
pub const LINGER: Duration = Duration::from_millis(100);

/// How often an idle writer retries the database, so that sightings spooled
/// while it was unavailable are written without waiting for new mail.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// The sending side of the writer task's channel. Clone it for each session.
#[derive(Debug, Clone)]
pub struct SightingSender {
    channel: mpsc::Sender<Sighting>,
    spool: Arc<Spool>,
    /// Sightings spooled because the channel was full or closed, for
    /// rate-limiting the warning about it.
    overflows: Arc<AtomicU64>,
}

impl SightingSender {
    /// Hands `sighting` to the writer task without waiting.
    ///
    /// If the channel is full or the writer has stopped, the sighting is
    /// appended to the spool file right here, one small synchronous write,
    /// and the writer replays it later. Only if that append fails too is the
    /// sighting lost; that is logged at `error` with its queue id.
    pub fn send(&self, sighting: Sighting) {
        let (sighting, reason) = match self.channel.try_send(sighting) {
            Ok(()) => return,
            Err(TrySendError::Full(sighting)) => (sighting, "channel full"),
            Err(TrySendError::Closed(sighting)) => (sighting, "writer stopped"),
        };
        let queue_id = sighting.queue_id.as_deref().unwrap_or("-");
        match self.spool.append(std::slice::from_ref(&sighting)) {
            Ok(()) => {
                let total = self.overflows.fetch_add(1, Ordering::Relaxed) + 1;
                // Warn on the 1st, 2nd, 4th, 8th... overflow so an overload
                // does not flood the log.
                if total.is_power_of_two() {
                    tracing::warn!(
                        queue_id,
                        reason,
                        total,
                        spool = %self.spool.path().display(),
                        "sighting writer busy; appended sighting to the spool"
                    );
                }
            }
            Err(error) => tracing::error!(
                queue_id,
                reason,
                %error,
                spool = %self.spool.path().display(),
                origin_ip = %sighting.origin_ip,
                family = %sighting.family,
                "failed to spool sighting; it is lost"
            ),
        }
    }
}

/// Controls the writer task started by [`spawn_writer`].
///
/// Dropping the handle detaches the task: it then runs until every
/// [`SightingSender`] is dropped.
#[derive(Debug)]
pub struct WriterHandle {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl WriterHandle {
    /// Stops the writer: closes the channel (later sends go to the spool),
    /// commits every sighting already queued, and returns when the task has
    /// finished.
    pub async fn shutdown(self) {
        // An error means the task has already finished; joining it is all
        // that is left to do.
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            tracing::error!(%error, "sighting writer task failed");
        }
    }
}

/// Starts the writer task for the database at `db_path` with a channel of
/// `capacity` sightings (at least 1) and the spool file at `spool_path`.
///
/// The database is opened by the task, not here, so a database that cannot
/// be opened does not stop the milter: its sightings go to the spool and
/// each batch retries the open. Call [`open`] first to fail early instead.
///
/// # Panics
///
/// Panics if called outside a tokio runtime.
#[must_use = "the writer stops once every SightingSender is dropped"]
pub fn spawn_writer(
    db_path: PathBuf,
    spool_path: PathBuf,
    capacity: usize,
) -> (SightingSender, WriterHandle) {
    let (channel, receiver) = mpsc::channel(capacity.max(1));
    let (stop, stop_signal) = oneshot::channel();
    let spool = Arc::new(Spool::new(spool_path));
    let sender = SightingSender {
        channel,
        spool: Arc::clone(&spool),
        overflows: Arc::new(AtomicU64::new(0)),
    };
    let input = Input {
        receiver,
        stop_signal: Some(stop_signal),
        stopping: false,
    };
    let database = Database {
        path: db_path,
        conn: None,
        spool,
    };
    let task = tokio::spawn(run(input, database));
    (sender, WriterHandle { stop, task })
}

async fn run(mut input: Input, database: Database) {
    tracing::info!(
        database = %database.path.display(),
        spool = %database.spool.path().display(),
        "sighting writer started"
    );
    let mut database = in_blocking_pool(database, Database::start).await;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while input.next_batch(&mut batch).await {
        let full = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        database = in_blocking_pool(database, move |db| db.commit(&full)).await;
    }
    // Sightings spooled by senders since the last commit go in now rather
    // than at the next start.
    let database = in_blocking_pool(database, Database::replay_spool).await;
    tracing::info!(database = %database.path.display(), "sighting writer stopped");
}

/// Runs `work` on the blocking pool and returns the database state to the
/// task. If `work` panics, the connection is lost and reopened later.
async fn in_blocking_pool(
    mut database: Database,
    work: impl FnOnce(&mut Database) + Send + 'static,
) -> Database {
    let path = database.path.clone();
    let spool = Arc::clone(&database.spool);
    let result = tokio::task::spawn_blocking(move || {
        work(&mut database);
        database
    })
    .await;
    result.unwrap_or_else(|error| {
        tracing::error!(%error, "sighting writer database step failed; reopening the database");
        Database {
            path,
            conn: None,
            spool,
        }
    })
}

/// The receiving side: the channel and the stop signal.
struct Input {
    receiver: mpsc::Receiver<Sighting>,
    /// `None` once the [`WriterHandle`] has been dropped without a stop.
    stop_signal: Option<oneshot::Receiver<()>>,
    stopping: bool,
}

impl Input {
    /// Waits for the next batch and appends it to `batch`. Returns `false`
    /// when the channel is closed and empty.
    async fn next_batch(&mut self, batch: &mut Vec<Sighting>) -> bool {
        if self.stopping {
            return self.receiver.recv_many(batch, MAX_BATCH).await > 0;
        }
        tokio::select! {
            biased;
            () = stop_requested(&mut self.stop_signal) => {
                self.begin_stop();
                return self.receiver.recv_many(batch, MAX_BATCH).await > 0;
            }
            received = self.receiver.recv_many(batch, MAX_BATCH) => {
                if received == 0 {
                    return false;
                }
            }
            // An empty batch: the commit reopens the database if needed and
            // replays the spool.
            () = tokio::time::sleep(RETRY_INTERVAL) => return true,
        }

        let deadline = Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let room = MAX_BATCH - batch.len();
            tokio::select! {
                biased;
                () = stop_requested(&mut self.stop_signal) => {
                    self.begin_stop();
                    break;
                }
                received = timeout_at(deadline, self.receiver.recv_many(batch, room)) => {
                    // A timeout or a closed channel both end the batch.
                    if !matches!(received, Ok(count) if count > 0) {
                        break;
                    }
                }
            }
        }
        true
    }

    /// Closes the channel so new sends go to the spool, while the sightings
    /// already queued can still be received.
    fn begin_stop(&mut self) {
        self.stopping = true;
        self.receiver.close();
    }
}

/// Completes when [`WriterHandle::shutdown`] requests a stop, and
/// never if the handle was dropped instead.
async fn stop_requested(signal: &mut Option<oneshot::Receiver<()>>) {
    if let Some(receiver) = signal {
        if receiver.await.is_ok() {
            return;
        }
        *signal = None;
    }
    std::future::pending::<()>().await;
}

/// The writer's database state; it lives on the blocking pool while it
/// does SQLite work.
struct Database {
    path: PathBuf,
    /// `None` until opened, and again after an error so the next batch
    /// reopens the file.
    conn: Option<Connection>,
    spool: Arc<Spool>,
}

impl Database {
    /// Opens the database and replays any spooled sightings.
    fn start(&mut self) {
        match self.connection() {
            Ok(_) => self.replay_spool(),
            Err(error) => tracing::error!(
                error = %ErrorChain(&error),
                spool = %self.spool.path().display(),
                "sighting writer cannot open the database; sightings go to the spool until it can"
            ),
        }
    }

    /// Commits `batch`, or appends it to the spool if the database fails.
    /// An empty batch only reopens the database if needed and replays the
    /// spool.
    fn commit(&mut self, batch: &[Sighting]) {
        if batch.is_empty() && !self.spool.has_pending() {
            return;
        }
        let result = self.connection().and_then(|conn| insert_batch(conn, batch));
        match result {
            Ok(()) => {
                tracing::debug!(count = batch.len(), "committed sightings");
                self.replay_spool();
            }
            Err(error) => {
                self.conn = None;
                self.spool_batch(batch, &error);
            }
        }
    }

    fn spool_batch(&self, batch: &[Sighting], error: &StoreError) {
        let queue_ids: Vec<&str> = batch
            .iter()
            .map(|sighting| sighting.queue_id.as_deref().unwrap_or("-"))
            .collect();
        let spool = self.spool.path().display();
        match self.spool.append(batch) {
            Ok(()) => tracing::error!(
                error = %ErrorChain(error),
                count = batch.len(),
                ?queue_ids,
                %spool,
                "failed to store sightings; appended them to the spool"
            ),
            Err(spool_error) => tracing::error!(
                error = %ErrorChain(error),
                %spool_error,
                count = batch.len(),
                ?queue_ids,
                %spool,
                "failed to store sightings and to spool them; they are lost"
            ),
        }
    }

    /// Replays the spool into the database if it has anything pending.
    fn replay_spool(&mut self) {
        if !self.spool.has_pending() {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match self.spool.replay(conn) {
            Ok(count) => tracing::info!(
                count,
                spool = %self.spool.path().display(),
                "replayed spooled sightings into the database"
            ),
            Err(error) => tracing::error!(
                error = %ErrorChain(&error),
                spool = %self.spool.path().display(),
                "failed to replay the spool; will retry after the next commit"
            ),
        }
    }

    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => open(&self.path)?,
        };
        Ok(self.conn.insert(conn))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::super::tests::sample;
    use super::super::{open, replay_spool, sighting_count, sightings};
    use super::*;

    fn spooled_lines(path: &Path) -> usize {
        fs::read_to_string(path).map_or(0, |text| text.lines().count())
    }

    fn stored(db_path: &Path) -> u64 {
        sighting_count(&open(db_path).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn writer_commits_and_shutdown_drains() {
        let directory = tempfile::tempdir().unwrap();
        let db_path = directory.path().join("wormsign.db");
        let spool_path = directory.path().join("wormsign.spool");
        let (sender, handle) = spawn_writer(db_path.clone(), spool_path.clone(), 1000);
        let total = MAX_BATCH + 44;
        for n in 0..total {
            sender.send(sample("192.0.2.1", n as i64, "Sober", &format!("Q{n}")));
        }
        tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
            .await
            .expect("shutdown timed out");

        assert_eq!(stored(&db_path), total as u64);
        assert!(!spool_path.exists());
        let newest = sightings(&open(&db_path).unwrap(), 1).unwrap();
        assert_eq!(newest[0].queue_id, Some(format!("Q{}", total - 1)));
    }

    #[tokio::test]
    async fn writer_commits_without_shutdown() {
        let directory = tempfile::tempdir().unwrap();
        let db_path = directory.path().join("wormsign.db");
        let (sender, handle) =
            spawn_writer(db_path.clone(), directory.path().join("wormsign.spool"), 8);
        sender.send(sample("192.0.2.1", 1, "Sober", "Q1"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while stored(&db_path) == 0 {
            assert!(Instant::now() < deadline, "sighting was not committed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn full_channel_and_closed_writer_spool() {
        let directory = tempfile::tempdir().unwrap();
        let db_path = directory.path().join("wormsign.db");
        let spool_path = directory.path().join("wormsign.spool");
        // The test runtime has one thread, so the writer task cannot run
        // before the first await: the second to fifth sends find the
        // channel full.
        let (sender, handle) = spawn_writer(db_path.clone(), spool_path.clone(), 1);
        for n in 0..5 {
            sender.send(sample("192.0.2.1", n, "Sober", &format!("Q{n}")));
        }
        assert_eq!(spooled_lines(&spool_path), 4);

        // The writer replays the spool on start and commits the queued one.
        handle.shutdown().await;
        assert_eq!(stored(&db_path), 5);
        assert!(!spool_path.exists());

        sender.send(sample("192.0.2.1", 9, "Sober", "Q9"));
        assert_eq!(spooled_lines(&spool_path), 1);
    }

    #[tokio::test]
    async fn database_failure_spools_then_replays() {
        let directory = tempfile::tempdir().unwrap();
        // A directory is not a database file, so every open fails.
        let bad_db = directory.path().to_path_buf();
        let spool_path = directory.path().join("wormsign.spool");
        let (sender, handle) = spawn_writer(bad_db, spool_path.clone(), 16);
        for n in 0..3 {
            sender.send(sample("192.0.2.1", n, "Sober", &format!("Q{n}")));
        }
        handle.shutdown().await;
        assert_eq!(spooled_lines(&spool_path), 3);

        let good_db = directory.path().join("wormsign.db");
        let mut conn = open(&good_db).unwrap();
        assert_eq!(replay_spool(&mut conn, &spool_path).unwrap(), 3);
        assert_eq!(sighting_count(&conn).unwrap(), 3);
        assert!(!spool_path.exists());
    }

    #[tokio::test]
    async fn writer_recovers_when_database_returns() {
        let directory = tempfile::tempdir().unwrap();
        let db_directory = directory.path().join("later");
        let db_path = db_directory.join("wormsign.db");
        let spool_path = directory.path().join("wormsign.spool");
        let (sender, handle) = spawn_writer(db_path.clone(), spool_path.clone(), 16);

        sender.send(sample("192.0.2.1", 1, "Sober", "Q1"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while spooled_lines(&spool_path) == 0 {
            assert!(Instant::now() < deadline, "failed batch was not spooled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        fs::create_dir(&db_directory).unwrap();
        sender.send(sample("192.0.2.2", 2, "Sober", "Q2"));
        handle.shutdown().await;
        assert_eq!(stored(&db_path), 2);
        assert!(!spool_path.exists());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_writer_replays_spool_when_database_returns() {
        let directory = tempfile::tempdir().unwrap();
        let db_directory = directory.path().join("later");
        let db_path = db_directory.join("wormsign.db");
        let spool_path = directory.path().join("wormsign.spool");
        let (sender, handle) = spawn_writer(db_path.clone(), spool_path.clone(), 16);

        sender.send(sample("192.0.2.1", 1, "Sober", "Q1"));
        // SQLite work runs on real blocking threads: wait in real time,
        // and let the writer task run in between with a short virtual sleep.
        for _ in 0..500 {
            if spooled_lines(&spool_path) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            spooled_lines(&spool_path),
            1,
            "failed batch was not spooled"
        );

        // No new sighting arrives: only the idle retry can write the spool.
        fs::create_dir(&db_directory).unwrap();
        tokio::time::sleep(RETRY_INTERVAL + Duration::from_secs(1)).await;
        for _ in 0..500 {
            if !spool_path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!spool_path.exists(), "spool was not replayed");
        assert_eq!(stored(&db_path), 1);
        handle.shutdown().await;
    }
}
