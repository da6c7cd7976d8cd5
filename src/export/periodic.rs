//! The periodic re-export of `wormsign run`: every `[export] interval_secs`
//! it writes each `[[export.outputs]]` file again, atomically, so a running
//! rbldnsd (which reloads changed files on its own check interval) or BIND
//! (after `rndc reload`) serves fresh listings.

use std::path::PathBuf;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{error, info};

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
    let connection = match store::open_read_only(&job.database) {
        Ok(connection) => connection,
        Err(error) => {
            let error = crate::store::ErrorChain(&error);
            let database = job.database.display();
            error!(
                %error,
                %database,
                "periodic export failed to open the database; the next round retries"
            );
            return;
        }
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for output in &job.outputs {
        match export_to_file(&connection, output, &job.policy, &job.options, now) {
            Ok(summary) => info!(
                format = %output.format,
                path = %output.path.display(),
                entries = summary.entries,
                ipv6_entries = summary.ipv6_entries,
                "exported"
            ),
            Err(error) => error!(
                format = %output.format,
                path = %output.path.display(),
                error = %crate::store::ErrorChain(&error),
                "periodic export failed; the previous file stays in place"
            ),
        }
    }
}
