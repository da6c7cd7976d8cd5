//! The collector that one walk fills: objects, anomalies and the budgets
//! shared by the MIME walk and archive expansion.

use super::{Anomaly, AnomalyKind, Limits, ScanObject, Walk};

/// Output of one walk plus the limits still available to it.
pub(super) struct Collector<'l> {
    pub(super) limits: &'l Limits,
    pub(super) walk: Walk,
    /// Decompressed archive bytes still allowed for this message.
    pub(super) archive_bytes_left: u64,
    /// Set once [`Limits::max_parts`] is reached; nothing more is added.
    full: bool,
    /// Set while a repaired multipart is walked, so no repair nests.
    pub(super) in_repair: bool,
}

impl<'l> Collector<'l> {
    pub(super) fn new(limits: &'l Limits) -> Self {
        Collector {
            limits,
            walk: Walk::default(),
            archive_bytes_left: limits.max_archive_total_bytes,
            full: false,
            in_repair: false,
        }
    }

    /// Whether [`Limits::max_parts`] has been reached.
    pub(super) fn is_full(&self) -> bool {
        self.full
    }

    /// Adds an object and returns its index, or records
    /// [`AnomalyKind::TooManyParts`] once and returns `None` when the
    /// object limit is reached.
    pub(super) fn push(&mut self, object: ScanObject) -> Option<usize> {
        if self.full {
            return None;
        }
        if self.walk.objects.len() >= self.limits.max_parts {
            self.full = true;
            self.anomaly(&object.path, AnomalyKind::TooManyParts);
            return None;
        }
        self.walk.objects.push(object);
        Some(self.walk.objects.len() - 1)
    }

    /// Records an anomaly. The top-level multipart has the empty path
    /// internally, and is reported as the `message` object it belongs to.
    pub(super) fn anomaly(&mut self, path: &str, kind: AnomalyKind) {
        let path = if path.is_empty() { "message" } else { path };
        self.walk.anomalies.push(Anomaly {
            path: path.to_owned(),
            kind,
        });
    }

    pub(super) fn finish(self) -> Walk {
        self.walk
    }
}
