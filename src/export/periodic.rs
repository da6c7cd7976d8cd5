//! The periodic re-export of `wormsign run`: every `[export] interval_secs`
//! it writes each `[[export.outputs]]` file again, atomically, so a running
//! rbldnsd (which reloads changed files on its own check interval) or BIND
//! (after `rndc reload`) serves fresh listings.
//!
//! A failure that repeats every round (a full disk, a removed directory) is
//! logged at error level once, and again only when the error text changes.
//! The repeats go to debug level, and the round that succeeds again logs how
//! many rounds failed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{debug, error, info};

use super::{ExportOptions, Output, export_to_file};
use crate::config::Config;
use crate::listing::Policy;
use crate::store;

/// Starts the periodic export task if `config` sets an interval and at
/// least one output. The first export runs at once. Abort the handle to
/// stop it; an export in progress finishes on the blocking pool.
pub fn spawn_periodic_export(config: &Config) -> Option<JoinHandle<()>> {
    let interval = config.export.interval?;
    if config.export.outputs.is_empty() {
        return None;
    }
    let job = Job {
        database: config.database.clone(),
        outputs: config.export.outputs.clone(),
        options: config.export.options(&config.listing),
        policy: config.listing.clone(),
        failures: Mutex::new(HashMap::new()),
    };
    info!(
        interval_secs = interval.as_secs(),
        outputs = job.outputs.len(),
        "periodic export started"
    );
    Some(tokio::spawn(run(job, interval)))
}

struct Job {
    database: PathBuf,
    outputs: Vec<Output>,
    options: ExportOptions,
    policy: Policy,
    /// The current failure of each target, keyed by [`Target`].
    failures: Mutex<HashMap<Target, Failure>>,
}

/// The step of a round that can fail: opening the database, or writing
/// one output (by its index in [`Job::outputs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Database,
    Output(usize),
}

/// A repeated failure: its message and the number of rounds in a row that
/// failed with that message.
struct Failure {
    message: String,
    rounds: u64,
}

impl Job {
    /// Records a failure of `target` and returns whether to log it at error
    /// level: true for the first round and when the message changed.
    fn record_failure(&self, target: Target, message: String) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get_mut(&target) {
            Some(failure) if failure.message == message => {
                failure.rounds += 1;
                false
            }
            _ => {
                failures.insert(target, Failure { message, rounds: 1 });
                true
            }
        }
    }

    /// Forgets the failure of `target` and returns how many rounds it
    /// lasted, 0 when it had none.
    fn record_success(&self, target: Target) -> u64 {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&target).map_or(0, |failure| failure.rounds)
    }
}

async fn run(job: Job, interval: Duration) {
    let job = std::sync::Arc::new(job);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let round = job.clone();
        if let Err(panic) = tokio::task::spawn_blocking(move || export_all(&round)).await {
            error!(%panic, "periodic export panicked; the next round retries");
        }
    }
}

/// Writes every output once, logging each result; one failed output does
/// not stop the others.
fn export_all(job: &Job) {
    let database = job.database.display();
    let connection = match store::open_read_only(&job.database) {
        Ok(connection) => connection,
        Err(error) => {
            let error = crate::store::ErrorChain(&error).to_string();
            if job.record_failure(Target::Database, error.clone()) {
                error!(
                    %error,
                    %database,
                    "periodic export failed to open the database, will retry every round \
                     and log only a different error"
                );
            } else {
                debug!(%error, %database, "periodic export failed to open the database again");
            }
            return;
        }
    };
    let failed_rounds = job.record_success(Target::Database);
    if failed_rounds > 0 {
        info!(%database, failed_rounds, "periodic export opened the database again");
    }

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (index, output) in job.outputs.iter().enumerate() {
        let format = output.format;
        let path = output.path.display();
        match export_to_file(&connection, output, &job.policy, &job.options, now) {
            Ok(summary) => {
                let failed_rounds = job.record_success(Target::Output(index));
                if failed_rounds > 0 {
                    info!(%format, %path, failed_rounds, "periodic export works again");
                }
                info!(
                    %format,
                    %path,
                    ipv4_listings = summary.ipv4_listings,
                    ipv6_listings = summary.ipv6_listings,
                    sightings = summary.sightings,
                    "exported"
                );
            }
            Err(error) => {
                let error = crate::store::ErrorChain(&error).to_string();
                if job.record_failure(Target::Output(index), error.clone()) {
                    error!(
                        %format,
                        %path,
                        %error,
                        "periodic export failed and left the previous file in place, will retry \
                         every round and log only a different error"
                    );
                } else {
                    debug!(%format, %path, %error, "periodic export failed again");
                }
            }
        }
    }
}
