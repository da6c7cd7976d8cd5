//! Results of a benchmark run: throughput, latency percentiles, replies by
//! kind and errors, printed as text or as one JSON object.

use std::time::Duration;

use serde::Serialize;

use super::client::Outcome;

/// The result of one run, in the shape `--json` prints.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Messages sent, including those that ended in an error.
    pub messages: u64,
    /// Wall-clock time of the run, in seconds.
    pub seconds: f64,
    /// Messages that got a final reply, per second.
    pub msgs_per_sec: f64,
    /// Time from the first packet of a message (the connection) to its
    /// final reply, over the messages that got one.
    pub latency_ms: Latency,
    pub replies: Replies,
    /// Messages that failed: connection refused or closed, timeout, or a
    /// reply the protocol does not allow.
    pub errors: u64,
}

/// Latency percentiles (nearest rank) and maximum, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Final replies by kind. `accept` includes continue at end of message,
/// which the protocol defines as accept.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Replies {
    pub accept: u64,
    pub reject: u64,
    pub tempfail: u64,
    pub discard: u64,
    /// Accepted with a quarantine action.
    pub quarantine: u64,
}

impl Replies {
    /// Counts one outcome.
    pub fn count(&mut self, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Accept => &mut self.accept,
            Outcome::Reject => &mut self.reject,
            Outcome::Tempfail => &mut self.tempfail,
            Outcome::Discard => &mut self.discard,
            Outcome::Quarantine => &mut self.quarantine,
        };
        *slot += 1;
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &Replies) {
        self.accept += other.accept;
        self.reject += other.reject;
        self.tempfail += other.tempfail;
        self.discard += other.discard;
        self.quarantine += other.quarantine;
    }

    /// Number of messages with a final reply.
    pub fn total(&self) -> u64 {
        self.accept + self.reject + self.tempfail + self.discard + self.quarantine
    }
}

impl Report {
    /// Builds the report from the latency of every message with a final reply.
    pub fn new(
        mut latencies: Vec<Duration>,
        replies: Replies,
        errors: u64,
        elapsed: Duration,
    ) -> Report {
        latencies.sort_unstable();
        let seconds = elapsed.as_secs_f64();
        let answered = replies.total();
        Report {
            messages: answered + errors,
            seconds,
            msgs_per_sec: if seconds > 0.0 {
                answered as f64 / seconds
            } else {
                0.0
            },
            latency_ms: Latency {
                p50: percentile(&latencies, 50.0),
                p95: percentile(&latencies, 95.0),
                p99: percentile(&latencies, 99.0),
                max: latencies.last().map_or(0.0, |d| millis(*d)),
            },
            replies,
            errors,
        }
    }

    /// Formats the report as readable text, one figure per line.
    pub fn to_text(&self) -> String {
        let r = &self.replies;
        let l = &self.latency_ms;
        format!(
            "messages:     {}\n\
             seconds:      {:.3}\n\
             msgs/s:       {:.1}\n\
             latency ms:   p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}\n\
             replies:      accept {}  reject {}  tempfail {}  discard {}  quarantine {}\n\
             errors:       {}\n",
            self.messages,
            self.seconds,
            self.msgs_per_sec,
            l.p50,
            l.p95,
            l.p99,
            l.max,
            r.accept,
            r.reject,
            r.tempfail,
            r.discard,
            r.quarantine,
            self.errors
        )
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted durations, in milliseconds; 0 when
/// there are none.
fn percentile(sorted: &[Duration], percent: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    millis(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let latencies: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let mut replies = Replies::default();
        for _ in 0..100 {
            replies.count(Outcome::Accept);
        }
        let report = Report::new(latencies, replies, 0, Duration::from_secs(2));
        assert_eq!(report.latency_ms.p50, 50.0);
        assert_eq!(report.latency_ms.p95, 95.0);
        assert_eq!(report.latency_ms.p99, 99.0);
        assert_eq!(report.latency_ms.max, 100.0);
        assert_eq!(report.msgs_per_sec, 50.0);
    }

    #[test]
    fn errors_count_as_messages_not_throughput() {
        let mut replies = Replies::default();
        replies.count(Outcome::Reject);
        let report = Report::new(
            vec![Duration::from_millis(3)],
            replies,
            2,
            Duration::from_secs(1),
        );
        assert_eq!(report.messages, 3);
        assert_eq!(report.errors, 2);
        assert_eq!(report.msgs_per_sec, 1.0);
        assert_eq!(report.replies.reject, 1);
    }

    #[test]
    fn empty_run_has_zero_latency() {
        let report = Report::new(Vec::new(), Replies::default(), 0, Duration::ZERO);
        assert_eq!(report.latency_ms, Latency::default());
        assert_eq!(report.msgs_per_sec, 0.0);
    }
}
