//! `wormsign bench`: a load generator that replays a mail corpus through
//! the milter protocol against any milter, as an MTA would, on N
//! concurrent connections, and reports throughput and latency.
//!
//! - [`corpus`]: reads .eml files, mbox files and folders of messages;
//! - [`protocol`]: the MTA side of the milter protocol's packets;
//! - [`client`]: one message over one milter connection;
//! - [`report`]: percentiles, reply counts, text and JSON output.

pub mod client;
pub mod corpus;
pub mod protocol;
pub mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UnixStream};
use tracing::warn;

use crate::config::ListenAddr;
use client::{ExchangeOptions, Outcome, PreparedMessage};
use report::{Replies, Report};

/// Errors logged in full per run; later ones are only counted.
const LOGGED_ERRORS: u64 = 5;

/// Settings of one benchmark run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The milter's socket.
    pub socket: ListenAddr,
    /// Connections open at once, each carrying one message at a time.
    pub concurrency: usize,
    /// Messages to send; the corpus is repeated when it has fewer.
    pub messages: usize,
    /// Limit for one message, from connection to final reply.
    pub timeout: Duration,
    pub exchange: ExchangeOptions,
}

/// Results of one connection's share of the run.
#[derive(Debug, Default)]
struct WorkerTally {
    latencies: Vec<Duration>,
    replies: Replies,
    errors: u64,
}

/// Sends `options.messages` messages from `corpus` and reports the result.
/// Each message travels on its own connection, `options.concurrency` of
/// them at once.
pub async fn run(corpus: &[corpus::CorpusMessage], options: &BenchOptions) -> Report {
    let prepared: Arc<Vec<PreparedMessage>> =
        Arc::new(corpus.iter().map(PreparedMessage::new).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let logged = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let prepared = prepared.clone();
        let next = next.clone();
        let logged = logged.clone();
        let options = options.clone();
        workers.spawn(async move { worker(&prepared, &next, &logged, &options).await });
    }

    let mut latencies = Vec::with_capacity(options.messages);
    let mut replies = Replies::default();
    let mut errors = 0;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(tally) => {
                latencies.extend(tally.latencies);
                replies.merge(&tally.replies);
                errors += tally.errors;
            }
            Err(error) => warn!(%error, "benchmark connection task failed"),
        }
    }
    Report::new(latencies, replies, errors, started.elapsed())
}

async fn worker(
    prepared: &[PreparedMessage],
    next: &AtomicUsize,
    logged: &std::sync::atomic::AtomicU64,
    options: &BenchOptions,
) -> WorkerTally {
    let mut tally = WorkerTally::default();
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= options.messages {
            return tally;
        }
        let message = &prepared[index % prepared.len()];
        let started = Instant::now();
        let result = tokio::time::timeout(options.timeout, send(message, index, options)).await;
        let error = match result {
            Ok(Ok(outcome)) => {
                tally.latencies.push(started.elapsed());
                tally.replies.count(outcome);
                continue;
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no final reply within {} s", options.timeout.as_secs_f64()),
        };
        tally.errors += 1;
        if logged.fetch_add(1, Ordering::Relaxed) < LOGGED_ERRORS {
            warn!(message = index, socket = %options.socket, %error, "message failed");
        }
    }
}

async fn send(
    message: &PreparedMessage,
    index: usize,
    options: &BenchOptions,
) -> std::io::Result<Outcome> {
    match &options.socket {
        ListenAddr::Inet(host_port) => {
            let stream = TcpStream::connect(host_port.as_str()).await?;
            // The generator writes each batch of commands in one call, so
            // Nagle's algorithm would only delay them.
            stream.set_nodelay(true)?;
            client::send_message(stream, message, index, options.exchange).await
        }
        ListenAddr::Unix(path) => {
            let stream = UnixStream::connect(path).await?;
            client::send_message(stream, message, index, options.exchange).await
        }
    }
}
