//! wormsign: a milter that detects mass-mailing worm mail, finds the host
//! that injected it and records it as a sighting for a blocklist.
//!
//! Modules follow the data flow of one message:
//!
//! - [`milter`]: protocol callbacks and per-connection session state; at end
//!   of message it hands the message to [`analysis`] on the blocking pool.
//! - [`analysis`]: ties the pure stages together into a [`analysis::Verdict`]:
//!   - [`mime`]: MIME walk and archive expansion into scan objects;
//!   - [`scanner`]: the compiled YARA rule set and scans of each object;
//!   - [`origin`]: Received parsing and the trust path to the origin IP.
//! - [`store`]: SQLite schema, the batching writer task and the spool file.
//! - [`listing`]: the listing policy that decides which hosts are published.
//! - [`export`]: listings read from the store, written as blocklists.
//! - [`report`]: sightings written as ARF abuse reports.
//! - [`stats`]: the `wormsign stats` summary table.
//! - [`config`]: the configuration file and its validation.
//! - [`cli`]: command-line definitions shared by the binary.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod cli;
pub mod config;
pub mod export;
pub mod listing;
pub mod milter;
pub mod mime;
pub mod origin;
pub mod report;
pub mod scan;
pub mod scanner;
pub mod stats;
pub mod store;
