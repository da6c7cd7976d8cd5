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
//! - [`dnsbl`]: a DNS server that answers DNSBL queries from the store.
//! - [`report`]: sightings written as ARF abuse reports.
//! - [`stats`]: the `wormsign stats` summary table.
//! - [`config`]: the configuration file and its validation.
//! - [`cli`]: command-line definitions shared by the binary.
//! - [`rules_cmd`]: `rules test`, a labelled corpus run through the rules.
//! - [`origin_cmd`]: the `wormsign origin` report of relays and trust flags.
//! - [`bench`]: the `wormsign bench` load generator, an MTA-side milter
//!   client that replays a corpus against any milter.
//! - [`message_files`]: the message files under the paths given to `scan`
//!   and `bench`.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod bench;
pub mod cli;
pub mod config;
pub mod dnsbl;
pub mod export;
pub mod listing;
pub mod message_files;
pub mod milter;
pub mod mime;
pub mod origin;
pub mod origin_cmd;
pub mod report;
pub mod rules_cmd;
pub mod scan;
pub mod scanner;
pub mod stats;
pub mod store;
