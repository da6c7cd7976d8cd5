//! The milter: listener set-up, shared state, and [`run`].

mod callbacks;
mod listener;
pub mod noreply;
mod null;
pub mod session;

pub use listener::{MilterListener, MilterStream, SocketFile, bind, bind_owned};
pub use null::run_null;

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tracing::info;

use crate::analysis::{self, Envelope, Settings, Verdict};
use crate::config::Config;
use crate::scanner::{RuleSet, RulesError};
use crate::store::SightingSender;

/// Time the analysis may run past the scan time limit before the milter
/// gives up on it and replies with the `on_error` action.
const ANALYSIS_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// State shared by all sessions.
pub struct Shared {
    pub config: Config,
    pub settings: Settings,
    rules: RwLock<Arc<RuleSet>>,
    /// Permits for analyses running at once (`max_concurrent_scans`).
    slots: Arc<tokio::sync::Semaphore>,
    pub sightings: SightingSender,
    pub stats: Stats,
}

/// Counters since start, logged at shutdown.
#[derive(Debug, Default)]
pub struct Stats {
    pub messages: AtomicU64,
    pub infected: AtomicU64,
    pub errors: AtomicU64,
    pub truncated: AtomicU64,
    pub incomplete: AtomicU64,
}

impl Stats {
    fn count_verdict(&self, verdict: &Verdict) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        if verdict.is_infected() {
            self.infected.fetch_add(1, Ordering::Relaxed);
        }
        if verdict.truncated {
            self.truncated.fetch_add(1, Ordering::Relaxed);
        }
        if !verdict.anomalies.is_empty() || !verdict.scan_errors.is_empty() {
            self.incomplete.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count_error(&self) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

impl Shared {
    /// Builds the shared state from a validated config and a compiled rule set.
    pub fn new(config: Config, rules: RuleSet, sightings: SightingSender) -> Shared {
        let settings = Settings::from_config(&config);
        let slots = config.max_concurrent_scans;
        Shared {
            config,
            settings,
            rules: RwLock::new(Arc::new(rules)),
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            sightings,
            stats: Stats::default(),
        }
    }

    /// The rule set new messages are scanned with.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Recompiles the rules and swaps them in for new messages; messages in
    /// flight finish on the set they started with. On error the old set
    /// stays.
    ///
    /// # Errors
    /// The rules failed to compile; every broken file is listed.
    pub async fn reload_rules(&self) -> Result<usize, RulesError> {
        let dir = self.config.signatures.clone();
        let compiled = tokio::task::spawn_blocking(move || RuleSet::load(dir.as_deref()))
            .await
            .map_err(|e| RulesError::Yara {
                message: format!("rule compilation panicked: {e}"),
            })??;
        let count = compiled.len();
        *self
            .rules
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(compiled);
        Ok(count)
    }

    /// Runs the analysis on the blocking pool under the scan time limit.
    /// Returns the verdict and the message bytes, or why it failed.
    async fn analyse(
        &self,
        raw: Vec<u8>,
        envelope: Envelope,
        truncated: bool,
    ) -> Result<(Verdict, Vec<u8>), String> {
        let started = std::time::Instant::now();
        let budget = self.config.scan_timeout;
        // A slot bounds how many analyses hold CPU and memory at once; the
        // wait for one counts against the scan time limit.
        let slot = match tokio::time::timeout(budget, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => return Err("analysis slots closed".to_string()),
            Err(_) => {
                return Err(format!(
                    "no free analysis slot within {} s: all {} are busy; raise max_concurrent_scans if CPU allows",
                    budget.as_secs(),
                    self.config.max_concurrent_scans
                ));
            }
        };
        let rules = self.rules();
        let mut settings = self.settings.clone();
        settings.scan_timeout = budget.saturating_sub(started.elapsed());
        let backstop = settings.scan_timeout + ANALYSIS_GRACE;
        // TODO: besides the analysis itself, this hand-off to the blocking
        // pool and back (context switches, futex wake-ups) is the largest
        // per-message cost in perf. wormsign stays near 2/3 of the null milter.
        let task = tokio::task::spawn_blocking(move || {
            // The slot is released when the work ends, even after the
            // backstop below has given up on it.
            let _slot = slot;
            let verdict = analysis::analyse(&rules, &settings, &raw, &envelope, truncated);
            (verdict, raw)
        });
        // The analysis stops itself at the scan time limit and returns what
        // it found. This outer bound only catches a stage that does not stop
        // in time: the MIME walk, or libyara overrunning its whole-second
        // timeout.
        match tokio::time::timeout(backstop, task).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(join_error)) if join_error.is_panic() => {
                Err(format!("analysis panicked: {join_error}"))
            }
            Ok(Err(join_error)) => Err(format!("analysis task failed: {join_error}")),
            Err(_) => Err(format!(
                "analysis timed out after {} ms",
                started.elapsed().as_millis()
            )),
        }
    }
}

/// Serves the milter protocol on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener failed to accept connections.
pub async fn run(
    listener: MilterListener,
    shared: Arc<Shared>,
    shutdown: impl Future,
) -> io::Result<()> {
    let config = indymilter::Config {
        max_connections: shared.config.max_sessions,
        connection_timeout: shared.config.idle_timeout,
        ..Default::default()
    };
    let callbacks = callbacks::callbacks(shared.clone());
    let exporter = crate::export::spawn_periodic_export(&shared.config);
    let result = indymilter::run(listener, callbacks, config, shutdown).await;
    if let Some(exporter) = exporter {
        exporter.abort();
    }
    let stats = &shared.stats;
    info!(
        messages = stats.messages.load(Ordering::Relaxed),
        infected = stats.infected.load(Ordering::Relaxed),
        errors = stats.errors.load(Ordering::Relaxed),
        truncated = stats.truncated.load(Ordering::Relaxed),
        incomplete = stats.incomplete.load(Ordering::Relaxed),
        "milter stopped"
    );
    result
}
