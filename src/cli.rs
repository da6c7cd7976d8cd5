//! Command-line definitions (clap), shared by the binary and its tests.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Detects mass-mailing worm mail (Sober and others) in a milter, finds the
/// infected host that sent it, and publishes those hosts as a blocklist.
#[derive(Debug, Parser)]
#[command(name = "wormsign", version, about)]
pub struct Cli {
    /// Config file (TOML). Without it, embedded defaults are used.
    #[arg(short, long, global = true, env = "WORMSIGN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log filter, e.g. `info`, `debug`, `wormsign=debug` (tracing EnvFilter
    /// syntax). Default: `info` for `run` and `dnsbl`, `warn` for the other
    /// commands.
    #[arg(long, global = true, env = "WORMSIGN_LOG")]
    pub log: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the milter protocol for Postfix or Sendmail.
    Run(RunArgs),
    /// Scan .eml files, mbox files and Maildir folders offline.
    ///
    /// Exit codes: 0 when every message was read and none is infected,
    /// 1 when any message is infected, 2 when any message or path could not
    /// be read (2 wins over 1).
    Scan(ScanArgs),
    /// Write the listed hosts as a blocklist.
    Export(ExportArgs),
    /// Check YARA rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Write abuse reports (RFC 5965 ARF), one message per host or network.
    Report(ReportArgs),
    /// Print listed hosts, sightings per day, top variants and networks,
    /// and the age of the configured exports.
    Stats(StatsArgs),
    /// Remove a host from the published list, recording the time and
    /// reason. A new sighting after the delisting lists it again.
    Delist(DelistArgs),
    /// Check the config file and print the effective settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the relays of stored messages with their trust flags and the
    /// chosen origin, to check trusted_networks.
    ///
    /// With none of the --*-networks flags the config's settings apply;
    /// with any of them, only the flags do, and an absent flag means "not
    /// configured". Exit code 2 when a file could not be read.
    Origin(OriginArgs),
    /// Replay a mail corpus through the milter protocol against a milter
    /// (wormsign or any other) and report throughput and latency.
    ///
    /// Each message travels on its own connection, as from an MTA for an
    /// SMTP session with one transaction, from client addresses
    /// 192.0.2.1-250. A wormsign under test records a sighting for each
    /// infected message, so bench one with its own --database. Exit code 1
    /// when any message failed (see `errors`).
    Bench(BenchArgs),
    /// Serve the listings as a DNSBL zone over DNS (UDP and TCP), reloading
    /// them when the database changes.
    Dnsbl(DnsblArgs),
}

impl Command {
    /// The log filter used when `--log` is not given: the milter logs its
    /// lifecycle and detections, one-shot commands only problems.
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            Command::Run(_) => "info",
            // hickory-server logs every query at info.
            Command::Dnsbl(_) => "info,hickory_server=warn",
            _ => "warn",
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Milter socket: inet:HOST:PORT or unix:/path (overrides `listen`).
    #[arg(long)]
    pub listen: Option<String>,
    /// SQLite database for sightings (overrides `database`).
    #[arg(long)]
    pub database: Option<PathBuf>,
    /// Run a null milter instead: it accepts every message and analyses
    /// nothing, loads no rules and opens no database. It negotiates the
    /// same protocol options as wormsign, so `wormsign bench` against it
    /// measures the protocol ceiling of the machine.
    #[arg(long)]
    pub null: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files (.eml or mbox) and Maildir folders (or any folder of messages).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON object per message and line.
    #[arg(long)]
    pub json: bool,
    /// Write sightings of infected messages to the database.
    #[arg(long)]
    pub record: bool,
    /// SQLite database for --record (overrides `database`).
    #[arg(long)]
    pub database: Option<PathBuf>,
    /// Print the message count, elapsed time and the process's peak
    /// resident memory (Linux VmHWM) to standard error at the end.
    #[arg(long)]
    pub stats: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Report format; only `arf` (RFC 5965 Abuse Reporting Format).
    #[arg(long, default_value = "arf")]
    pub format: String,
    /// Report sightings since this time: RFC 3339 (2024-05-01T00:00:00Z)
    /// or an age (36h, 7d). Default: the listing window. Only hosts that
    /// the listing policy lists now are reported, with the sightings that
    /// count for their listing.
    #[arg(long)]
    pub since: Option<String>,
    /// One report per `ip`, or per `net24` (IPv4 /24, IPv6 /64).
    #[arg(long, default_value = "ip")]
    pub group_by: String,
    /// Directory for the reports, one .eml file each; created if missing.
    #[arg(long, short)]
    pub output: PathBuf,
    /// From address of the reports (local@domain). Set it to a mailbox
    /// the recipients' abuse desks can reply to.
    #[arg(long, default_value = "wormsign@localhost")]
    pub from: String,
    /// To address of the reports (local@domain), e.g. the network's abuse
    /// contact; without it the reports have no To header.
    #[arg(long)]
    pub to: Option<String>,
    /// SQLite database to read (overrides `database`).
    #[arg(long)]
    pub database: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// SQLite database to read (overrides `database`).
    #[arg(long)]
    pub database: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DelistArgs {
    /// The address to delist; an IPv6 address delists its /64.
    pub ip: std::net::IpAddr,
    /// Reason for the delisting, e.g. who requested it; stored with it.
    #[arg(long, required = true)]
    pub reason: String,
    /// Record the delisting even though the database has no sightings of
    /// the address (without it, such an address is rejected as a likely
    /// typo).
    #[arg(long)]
    pub force: bool,
    /// SQLite database (overrides `database`).
    #[arg(long)]
    pub database: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format: plain, rbldnsd, bind, csv, json or ndjson.
    #[arg(long, short, default_value = "plain")]
    pub format: String,
    /// Write to this file atomically (temporary file, fsync, rename)
    /// instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// For `--format rbldnsd`: where to write the IPv6 data set (rbldnsd
    /// type ip6trie, one /64 per host). Default: the --output path plus `6`.
    #[arg(long)]
    pub output6: Option<PathBuf>,
    /// SQLite database to read (overrides `database`).
    #[arg(long)]
    pub database: Option<PathBuf>,
    /// For `--format rbldnsd`: TXT record template. rbldnsd replaces `$`
    /// with the queried IP, so it can carry a lookup URL.
    #[arg(long)]
    pub txt_template: Option<String>,
    /// List only hosts with at least this many weighted sightings
    /// (overrides `[listing] min_sightings`).
    #[arg(long)]
    pub min_sightings: Option<f64>,
    /// Count only sightings of the last N hours; 0 counts all (overrides
    /// `[listing] window_hours`).
    #[arg(long)]
    pub window_hours: Option<u64>,
    /// Drop listings with no sighting in the last N hours; 0 never expires
    /// (overrides `[listing] expire_after_hours`).
    #[arg(long)]
    pub expire_after_hours: Option<u64>,
    /// Weight of one sighting by origin method, as METHOD=WEIGHT with
    /// METHOD one of connect, received, bounce; repeatable. `bounce=0`
    /// leaves out sightings taken from bounces (overrides `[listing]
    /// weights`).
    #[arg(long = "weight", value_name = "METHOD=WEIGHT")]
    pub weights: Vec<String>,
    /// Network never listed (address or CIDR prefix), repeatable; added to
    /// `[listing] allowlist`.
    #[arg(long = "allow", value_name = "NETWORK")]
    pub allow: Vec<String>,
    /// Also list the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
    /// 203.0.113.0/24, 2001:db8::/32), for tests and examples only.
    #[arg(long)]
    pub list_documentation_ranges: bool,
    /// DNS zone for `--format bind` and the rbldnsd `$SOA` (overrides
    /// `[export] zone`).
    #[arg(long)]
    pub zone: Option<String>,
    /// Name server of the zone, repeatable (overrides `[export]
    /// nameservers`); needed for `--format bind` and the rbldnsd `$SOA`/`$NS`.
    #[arg(long = "nameserver")]
    pub nameservers: Vec<String>,
    /// For `--format rbldnsd`: write the IPv4 data set as `ip4tset` (all
    /// entries share the default A value and TXT) instead of `ip4set`
    /// (overrides `[export] rbldnsd_ipv4_type`).
    #[arg(long)]
    pub ip4tset: bool,
    /// For `--format ndjson`: write `client_ip` and `helo` as null. They
    /// name the SMTP client that handed the message to this site, often
    /// its own MSA or front MX (overrides `[export] ndjson_sensor_fields`).
    #[arg(long)]
    pub no_sensor_fields: bool,
}

#[derive(Debug, Args)]
pub struct OriginArgs {
    /// Message files (.eml) or mbox files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Trusted networks: comma-separated entries in SpamAssassin's syntax
    /// (`10/8`, `192.0.2.0/24`, `2001:db8::/32`, `!192.0.2.9`); an empty
    /// string is an empty list.
    #[arg(long, value_name = "LIST")]
    pub trusted_networks: Option<String>,
    /// Internal networks, in the same syntax as --trusted-networks.
    #[arg(long, value_name = "LIST")]
    pub internal_networks: Option<String>,
    /// MSA networks, in the same syntax as --trusted-networks.
    #[arg(long, value_name = "LIST")]
    pub msa_networks: Option<String>,
    /// Print one JSON object per message and line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DnsblArgs {
    /// Address for UDP and TCP, IP:PORT (overrides `listen` in [dnsbl]).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Zone to serve, e.g. bl.example.org (overrides `zone` in [dnsbl]).
    #[arg(long)]
    pub zone: Option<String>,
    /// SQLite database to read (overrides `database`).
    #[arg(long)]
    pub database: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Compile the rules and report each broken file with its line.
    /// Exit code 1 when any file is broken.
    Check {
        /// Rules directory; default: `signatures` from the config, else the embedded rules.
        dir: Option<PathBuf>,
    },
    /// Run a labelled corpus through the rules and print, per variant, how
    /// many messages were expected, detected and missed, and how many
    /// legitimate ones were flagged (false positives).
    ///
    /// Exit codes: 0 when every worm mail is detected with the expected
    /// family and variant and every clean mail is clean. 1 when any is
    /// missed or any false positive occurs. 2 when the rules, the manifest
    /// or a message cannot be read.
    Test {
        /// Rules directory to test; `-` for the rules embedded in the binary.
        dir: PathBuf,
        /// JSON lines manifest, one message per line: {"file", "expect":
        /// "infected"|"clean", "family"?, "variant"?, "helo"?, "mail_from"?,
        /// "rcpt"?: [...], "client_ip"?}. Files are relative to the
        /// manifest's folder.
        #[arg(long)]
        manifest: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config file and the rules it names, then print the
    /// effective settings as TOML. Exit code 1 when invalid, with the line
    /// or key that is wrong.
    Check,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Milter socket to test: inet:HOST:PORT or unix:/path.
    #[arg(long)]
    pub socket: String,
    /// Messages to replay: a folder, read as `wormsign scan` reads it
    /// (Maildirs, and every other file recursively, except hidden and
    /// .json files), an mbox file, or one message file.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Connections open at once (at least 1).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Messages to send; default: each corpus message once. A larger
    /// count repeats the corpus.
    #[arg(long)]
    pub messages: Option<usize>,
    /// Print exactly one JSON object: messages, seconds, msgs_per_sec,
    /// latency_ms {p50, p95, p99, max}, replies {accept, reject, tempfail,
    /// discard, quarantine}, errors.
    #[arg(long)]
    pub json: bool,
    /// Offer the milter no no-reply options, so it replies to every stage
    /// (as with an MTA of protocol version 2).
    #[arg(long)]
    pub reply_every_stage: bool,
    /// Milliseconds to wait after the body before end of message, to hold
    /// that many sessions open (e.g. to measure the milter's memory with
    /// `--concurrency 500`).
    #[arg(long, default_value_t = 0)]
    pub hold_ms: u64,
    /// Seconds one message may take, from connection to final reply,
    /// before it counts as an error.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}
