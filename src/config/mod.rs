//! The configuration file: TOML, every key optional, unknown keys rejected.
//!
//! [`RawConfig`] is what serde reads; [`Config`] is the validated form the
//! rest of the program uses. Validation errors name the key, the value and,
//! where the TOML parser reports it, the line.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

mod describe;
mod read;

use crate::mime::Limits;
use crate::origin::TrustSettings;

/// Milter socket used when the config does not set `listen`.
pub const DEFAULT_LISTEN: &str = "inet:127.0.0.1:7357";
/// SQLite database used when the config does not set `database`.
pub const DEFAULT_DATABASE: &str = "wormsign.db";

/// The configuration file as written, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    pub socket_mode: Option<String>,
    pub database: Option<PathBuf>,
    pub spool: Option<PathBuf>,
    pub signatures: Option<PathBuf>,
    pub trusted_networks: Option<Vec<String>>,
    /// SpamAssassin's `internal_networks`: the relays the site runs.
    pub internal_networks: Option<Vec<String>>,
    /// SpamAssassin's `msa_networks`: submission servers whose clients
    /// are users, so the relay below one is the origin.
    pub msa_networks: Option<Vec<String>>,
    pub action: Option<String>,
    pub on_error: Option<String>,
    pub max_message_bytes: Option<u64>,
    pub scan_timeout_secs: Option<u64>,
    pub max_sessions: Option<usize>,
    pub max_concurrent_scans: Option<usize>,
    pub idle_timeout_secs: Option<u64>,
    pub limits: Option<RawLimits>,
    pub dnsbl: Option<crate::dnsbl::RawSettings>,
    pub listing: Option<crate::listing::RawListing>,
    pub export: Option<crate::export::RawExport>,
}

/// Bounds of the MIME walk and archive expansion, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_parts: Option<usize>,
    pub max_mime_depth: Option<usize>,
    pub max_archive_depth: Option<usize>,
    pub max_archive_entries: Option<usize>,
    pub max_archive_total_bytes: Option<u64>,
    pub max_archive_member_bytes: Option<u64>,
    pub max_compression_ratio: Option<u64>,
}

/// The milter socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// `inet:HOST:PORT`; TCP_NODELAY is set on every accepted connection.
    Inet(String),
    /// `unix:/path`; a stale socket file is removed before binding.
    Unix(PathBuf),
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(addr) = s.strip_prefix("inet:") {
            if let Some((_, port)) = addr.rsplit_once(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
            {
                return match port.parse::<u16>() {
                    Ok(1..) => Ok(ListenAddr::Inet(addr.to_string())),
                    _ => Err(format!(
                        "invalid listen address {s:?}: port {port} is out of range, use 1-65535"
                    )),
                };
            }
        } else if let Some(path) = s.strip_prefix("unix:")
            && !path.is_empty()
        {
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        Err(format!(
            "invalid listen address {s:?}: write inet:HOST:PORT (e.g. inet:127.0.0.1:7357) or unix:/path/to/socket"
        ))
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Inet(addr) => write!(f, "inet:{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The milter's action on an infected message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver it with the X-Wormsign header.
    Accept,
    /// Reply 550 5.7.1 naming the rule.
    Reject,
    /// Ask the MTA to quarantine it (Postfix: the hold queue).
    Quarantine,
    /// Accept and silently drop it.
    Discard,
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "accept" => Ok(Action::Accept),
            "reject" => Ok(Action::Reject),
            "quarantine" => Ok(Action::Quarantine),
            "discard" => Ok(Action::Discard),
            _ => Err(format!(
                "invalid action {s:?}: use one of accept, reject, quarantine, discard"
            )),
        }
    }
}

impl Action {
    /// Returns the name as written in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Quarantine => "quarantine",
            Action::Discard => "discard",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The milter's reply when analysis fails, panics or times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Accept the message unchanged (fail-open).
    Accept,
    /// Reply with a temporary failure so the client retries later.
    Tempfail,
}

impl FromStr for OnError {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "accept" => Ok(OnError::Accept),
            "tempfail" => Ok(OnError::Tempfail),
            _ => Err(format!(
                "invalid on_error {s:?}: use accept (fail-open) or tempfail"
            )),
        }
    }
}

impl OnError {
    /// Returns the name as written in the config file.
    pub fn name(self) -> &'static str {
        match self {
            OnError::Accept => "accept",
            OnError::Tempfail => "tempfail",
        }
    }
}

impl std::fmt::Display for OnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenAddr,
    /// Permissions of the Unix socket, e.g. 0o660 so that an MTA in the
    /// socket's group can connect; `None` keeps the umask's default.
    pub socket_mode: Option<u32>,
    pub database: PathBuf,
    /// Spool file as configured; `None` means next to the database (see
    /// [`Config::spool_path`]).
    pub spool: Option<PathBuf>,
    /// Rules directory; `None` uses the rules embedded in the binary.
    pub signatures: Option<PathBuf>,
    /// Trust settings built from `trusted_networks`, `internal_networks`
    /// and `msa_networks`.
    pub trust: TrustSettings,
    /// The entries as written, for logs and `config check`; `None` when the
    /// key is absent, which differs from an empty list.
    pub trusted_networks_text: Option<Vec<String>>,
    pub internal_networks_text: Option<Vec<String>>,
    pub msa_networks_text: Option<Vec<String>>,
    pub action: Action,
    pub on_error: OnError,
    /// Body bytes kept for scanning; the rest is passed on unscanned.
    pub max_message_bytes: u64,
    pub scan_timeout: Duration,
    pub max_sessions: usize,
    /// Analyses that run at once; further messages wait for a free slot.
    pub max_concurrent_scans: usize,
    /// How long a milter connection may wait for the MTA's next command
    /// before it is closed, freeing its place in `max_sessions`.
    pub idle_timeout: Duration,
    pub limits: Limits,
    /// Settings of `wormsign dnsbl`: the `[dnsbl]` section joined with the
    /// policy of `[listing]` and the zone settings of `[export]`.
    pub dnsbl: crate::dnsbl::Settings,
    /// The `[listing]` section: which hosts are published.
    pub listing: crate::listing::Policy,
    /// The `[export]` section: DNS zone settings and periodic exports.
    pub export: crate::export::ExportSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_raw(RawConfig::default()).expect("the embedded defaults are valid")
    }
}

/// A configuration that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}, line {line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("invalid config file {path}, line {line}: {key}: {message}")]
    Value {
        path: PathBuf,
        /// Line of the key, 0 when the key is not in the file (a default).
        line: usize,
        /// Dotted path of the key, e.g. `listing.min_sightings` or
        /// `export.outputs[0].path`.
        key: String,
        message: String,
    },
}

/// An invalid value: the dotted path of its key and a message that names
/// the value and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: String,
    pub message: String,
}

impl From<(&'static str, String)> for KeyError {
    fn from((key, message): (&'static str, String)) -> Self {
        KeyError {
            key: key.to_string(),
            message,
        }
    }
}

impl From<(String, String)> for KeyError {
    fn from((key, message): (String, String)) -> Self {
        KeyError { key, message }
    }
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML, has an unknown key, or a
    /// value is out of range; the error names the line or key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates config text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw = read::read_raw(text).map_err(|error| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: error.line,
            message: error.message,
        })?;
        Config::from_raw(raw).map_err(|error| ConfigError::Value {
            path: path.to_path_buf(),
            line: key_line(text, &error.key),
            key: error.key,
            message: error.message,
        })
    }

    /// The spool file: as configured, or the database path plus `.spool`.
    pub fn spool_path(&self) -> PathBuf {
        self.spool.clone().unwrap_or_else(|| {
            let mut name = self.database.as_os_str().to_owned();
            name.push(".spool");
            PathBuf::from(name)
        })
    }

    fn from_raw(raw: RawConfig) -> Result<Config, KeyError> {
        let listen = raw
            .listen
            .as_deref()
            .unwrap_or(DEFAULT_LISTEN)
            .parse()
            .map_err(|e| ("listen", e))?;
        let socket_mode = raw
            .socket_mode
            .as_deref()
            .map(parse_socket_mode)
            .transpose()
            .map_err(|e| ("socket_mode", e))?;
        let database = raw
            .database
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATABASE));
        if database.as_os_str().is_empty() {
            return Err(KeyError::from((
                "database",
                "is empty: give the path of the SQLite file, e.g. /var/lib/wormsign/wormsign.db"
                    .to_string(),
            )));
        }
        if raw.spool.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(KeyError::from((
                "spool",
                "is empty: give a file path, or remove the key to use the database path plus .spool"
                    .to_string(),
            )));
        }
        let trust = TrustSettings::parse(
            raw.trusted_networks.as_deref(),
            raw.internal_networks.as_deref(),
            raw.msa_networks.as_deref(),
        )
        .map_err(|e| (e.key(), e.to_string()))?;
        let listing = crate::listing::Policy::from_raw(
            raw.listing.unwrap_or_default(),
            raw.trusted_networks.as_deref().unwrap_or_default(),
        )
        .map_err(|(key, message)| KeyError {
            key: match key.as_str() {
                "trusted_networks" => key,
                _ => format!("listing.{key}"),
            },
            message,
        })?;
        let export = crate::export::ExportSettings::from_raw(raw.export.unwrap_or_default())?;
        let action = raw
            .action
            .as_deref()
            .unwrap_or("accept")
            .parse()
            .map_err(|e| ("action", e))?;
        let on_error = raw
            .on_error
            .as_deref()
            .unwrap_or("accept")
            .parse()
            .map_err(|e| ("on_error", e))?;
        let max_message_bytes = raw.max_message_bytes.unwrap_or(10 * 1024 * 1024);
        if max_message_bytes == 0 {
            return Err(("max_message_bytes", "must be at least 1".to_string()).into());
        }
        let scan_timeout_secs = raw.scan_timeout_secs.unwrap_or(10);
        if !(1..=600).contains(&scan_timeout_secs) {
            return Err((
                "scan_timeout_secs",
                format!("{scan_timeout_secs} is out of range: use 1 to 600 seconds"),
            )
                .into());
        }
        let max_sessions = raw.max_sessions.unwrap_or(500);
        if max_sessions == 0 {
            return Err(("max_sessions", "must be at least 1".to_string()).into());
        }
        // Analysis is CPU-bound: more at once than cores only adds memory.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let max_concurrent_scans = match raw.max_concurrent_scans {
            None | Some(0) => cores,
            Some(n) => n,
        };
        // libmilter's default, which Sendmail and Postfix set-ups expect;
        // an MTA's own command timeouts are far shorter.
        let idle_timeout_secs = raw.idle_timeout_secs.unwrap_or(7210);
        if idle_timeout_secs == 0 {
            return Err(("idle_timeout_secs", "must be at least 1".to_string()).into());
        }
        Ok(Config {
            listen,
            socket_mode,
            database,
            spool: raw.spool,
            signatures: raw.signatures,
            trust,
            trusted_networks_text: raw.trusted_networks,
            internal_networks_text: raw.internal_networks,
            msa_networks_text: raw.msa_networks,
            action,
            on_error,
            max_message_bytes,
            scan_timeout: Duration::from_secs(scan_timeout_secs),
            max_sessions,
            max_concurrent_scans,
            idle_timeout: Duration::from_secs(idle_timeout_secs),
            limits: limits_from_raw(raw.limits.unwrap_or_default()).map_err(|(key, message)| {
                KeyError {
                    key: format!("limits.{key}"),
                    message,
                }
            })?,
            dnsbl: crate::dnsbl::Settings::new(
                raw.dnsbl.unwrap_or_default(),
                &export.options(&listing),
                listing.clone(),
            )?,
            listing,
            export,
        })
    }

    /// True when `ip` is a trusted relay: loopback or in the trusted
    /// networks, inferred when none are configured.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trust.is_trusted(ip)
    }
}

fn limits_from_raw(raw: RawLimits) -> Result<Limits, (&'static str, String)> {
    let default = Limits::default();
    let limits = Limits {
        max_parts: raw.max_parts.unwrap_or(default.max_parts),
        max_mime_depth: raw.max_mime_depth.unwrap_or(default.max_mime_depth),
        max_archive_depth: raw.max_archive_depth.unwrap_or(default.max_archive_depth),
        max_archive_entries: raw
            .max_archive_entries
            .unwrap_or(default.max_archive_entries),
        max_archive_total_bytes: raw
            .max_archive_total_bytes
            .unwrap_or(default.max_archive_total_bytes),
        max_archive_member_bytes: raw
            .max_archive_member_bytes
            .unwrap_or(default.max_archive_member_bytes),
        max_compression_ratio: raw
            .max_compression_ratio
            .unwrap_or(default.max_compression_ratio),
    };
    // A zero would turn scanning off without a word; refuse it instead.
    let values = [
        ("max_parts", limits.max_parts as u64),
        ("max_mime_depth", limits.max_mime_depth as u64),
        ("max_archive_depth", limits.max_archive_depth as u64),
        ("max_archive_entries", limits.max_archive_entries as u64),
        ("max_archive_total_bytes", limits.max_archive_total_bytes),
        ("max_archive_member_bytes", limits.max_archive_member_bytes),
        ("max_compression_ratio", limits.max_compression_ratio),
    ];
    for (key, value) in values {
        if value == 0 {
            return Err((
                key,
                "is 0, which would skip what it limits: use at least 1, or remove the key for the default".into(),
            ));
        }
    }
    Ok(limits)
}

/// Parses an octal file mode such as `"0660"` or `"660"`.
fn parse_socket_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(format!(
            "invalid socket_mode {text:?}: write octal permissions such as \"0660\""
        )),
    }
}

/// Line (1-based) where `key` is set in `text`, or 0 when it is not. A
/// dotted key such as `listing.min_sightings` is looked up inside its
/// table, and `export.outputs[1].path` inside the second
/// `[[export.outputs]]`. A key not found there is looked up anywhere.
fn key_line(text: &str, key: &str) -> usize {
    let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
    let (section, index) = match table.split_once('[') {
        Some((section, rest)) => (section, rest.trim_end_matches(']').parse().unwrap_or(0)),
        None => (table, 0),
    };
    let found = if section.is_empty() {
        top_level_key_line(text, name)
    } else {
        section_key_line(text, section, index, name)
    };
    found
        .or_else(|| find_key(text.lines().enumerate(), name))
        .unwrap_or(0)
}

/// Returns the 1-based line of the first `name = ...` among `lines`.
fn find_key<'a>(mut lines: impl Iterator<Item = (usize, &'a str)>, name: &str) -> Option<usize> {
    lines
        .find(|(_, line)| {
            line.trim_start()
                .strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(index, _)| index + 1)
}

fn top_level_key_line(text: &str, name: &str) -> Option<usize> {
    let lines = text
        .lines()
        .enumerate()
        .take_while(|(_, line)| !line.trim_start().starts_with('['));
    find_key(lines, name)
}

/// Line (1-based) where `name` is set inside the `[section]` table of
/// `text`, or inside its `index`-th (0-based) `[[section]]` table.
fn section_key_line(text: &str, section: &str, index: usize, name: &str) -> Option<usize> {
    let table = format!("[{section}]");
    let array = format!("[[{section}]]");
    let start = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim() == table || line.trim() == array)
        .nth(index)?
        .0;
    let lines = text
        .lines()
        .enumerate()
        .skip(start + 1)
        .take_while(|(_, line)| !line.trim_start().starts_with('['));
    find_key(lines, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.listen, ListenAddr::Inet("127.0.0.1:7357".into()));
        assert_eq!(config.database, PathBuf::from("wormsign.db"));
        assert_eq!(config.spool_path(), PathBuf::from("wormsign.db.spool"));
        assert_eq!(config.action, Action::Accept);
        assert_eq!(config.on_error, OnError::Accept);
        assert_eq!(config.max_message_bytes, 10 * 1024 * 1024);
    }

    #[test]
    fn unix_listen_and_actions() {
        let config = parse(
            "listen = \"unix:/run/wormsign.sock\"\naction = \"quarantine\"\non_error = \"tempfail\"\n",
        )
        .unwrap();
        assert_eq!(
            config.listen,
            ListenAddr::Unix(PathBuf::from("/run/wormsign.sock"))
        );
        assert_eq!(config.action, Action::Quarantine);
        assert_eq!(config.on_error, OnError::Tempfail);
    }

    #[test]
    fn unknown_key_names_line() {
        let err = parse("action = \"accept\"\n\nlisten_on = \"x\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains("listen_on"), "{text}");
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let cases = [
            ("action = \"bounce\"", "action", "bounce"),
            ("listen = \"127.0.0.1:25\"", "listen", "127.0.0.1:25"),
            ("on_error = \"drop\"", "on_error", "drop"),
            (
                "trusted_networks = [\"10.0.0.0/33\"]",
                "trusted_networks",
                "10.0.0.0/33",
            ),
            ("scan_timeout_secs = 0", "scan_timeout_secs", "0"),
            ("database = \"\"", "database", "empty"),
            ("socket_mode = \"999\"", "socket_mode", "999"),
            ("listen = \"inet:127.0.0.1:99999\"", "listen", "99999"),
            ("[limits]\nmax_parts = 0", "max_parts", "is 0"),
            (
                "[limits]\nmax_compression_ratio = 0",
                "max_compression_ratio",
                "is 0",
            ),
        ];
        for (text, key, value) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
            assert!(err.contains(value), "{text}: {err}");
        }
    }

    #[test]
    fn listen_port_out_of_range() {
        for port in ["0", "65536", "99999", "123456789012345678901234"] {
            let err = format!("inet:127.0.0.1:{port}")
                .parse::<ListenAddr>()
                .unwrap_err();
            assert!(
                err.contains(&format!("port {port} is out of range")),
                "{err}"
            );
            assert!(err.contains("1-65535"), "{err}");
        }
        assert_eq!(
            "inet:[::1]:65535".parse::<ListenAddr>(),
            Ok(ListenAddr::Inet("[::1]:65535".into()))
        );
        let err = "inet:127.0.0.1:smtp".parse::<ListenAddr>().unwrap_err();
        assert!(err.contains("write inet:HOST:PORT"), "{err}");
    }

    #[test]
    fn dnsbl_error_names_line_in_section() {
        let err = parse("listen = \"inet:127.0.0.1:7357\"\n\n[dnsbl]\nzone = \"bl.example.org\"\nlisten = \"nowhere\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("dnsbl.listen"), "{err}");
        assert!(err.contains("nowhere"), "{err}");
    }

    #[test]
    fn value_error_names_line() {
        let err = parse("# comment\naction = \"accept\"\n\n  on_error = \"drop\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn type_error_uses_plain_words() {
        let err = parse("max_message_bytes = \"big\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a whole number"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn output_errors_name_output_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("bl.txt");
        let missing = dir.path().join("nodir");
        let cases = [
            (
                format!(
                    "[[export.outputs]]\nformat = \"plain\"\npath = \"{}\"\n\n\
                     [[export.outputs]]\nformat = \"bind\"\npath = \"{}\"\n",
                    good.display(),
                    good.display()
                ),
                "line 6: export.outputs[1].format: \"bind\" needs a zone name and at least one name server",
            ),
            (
                format!(
                    "[export]\nzone = \"bl.example.org\"\n\
                     [[export.outputs]]\nformat = \"bind\"\npath = \"{}\"\n",
                    good.display()
                ),
                "line 4: export.outputs[0].format: \"bind\" needs",
            ),
            (
                format!(
                    "[[export.outputs]]\nformat = \"plain\"\npath = \"{}/x.txt\"\n",
                    missing.display()
                ),
                "line 3: export.outputs[0].path: the directory",
            ),
            (
                format!(
                    "[[export.outputs]]\nformat = \"rbldnsd\"\npath = \"{}\"\npath6 = \"{}/v6\"\n",
                    good.display(),
                    missing.display()
                ),
                "line 4: export.outputs[0].path6: the directory",
            ),
            (
                format!(
                    "[[export.outputs]]\nformat = \"csv\"\npath = \"{}\"\n",
                    dir.path().display()
                ),
                "line 3: export.outputs[0].path: ",
            ),
        ];
        for (text, expected) in &cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}\n{error}");
        }
        let error = parse(&cases[2].0).unwrap_err().to_string();
        let directory = format!("the directory {} of", missing.display());
        assert!(error.contains(&directory), "{error}");
        assert!(error.contains("create it"), "{error}");
        let error = parse(&cases[4].0).unwrap_err().to_string();
        assert!(error.contains("is a directory"), "{error}");

        let valid = format!(
            "[export]\nzone = \"bl.example.org\"\nnameservers = [\"ns1.example.org\"]\n\
             [[export.outputs]]\nformat = \"bind\"\npath = \"{}\"\n\
             [[export.outputs]]\nformat = \"plain\"\npath = \"relative.txt\"\n",
            good.display()
        );
        assert_eq!(parse(&valid).unwrap().export.outputs.len(), 2);
    }

    #[test]
    fn outputs_need_distinct_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bl");
        let same = dir.path().join(".").join("bl");
        let six = dir.path().join("bl6");
        let cases = [
            (
                format!(
                    "[[export.outputs]]\nformat = \"rbldnsd\"\npath = \"{}\"\npath6 = \"{}\"\n",
                    path.display(),
                    same.display()
                ),
                format!(
                    "line 4: export.outputs[0].path6: {} (export.outputs[0].path6) is the same file as {} (export.outputs[0].path)",
                    same.display(),
                    path.display()
                ),
            ),
            (
                format!(
                    "[[export.outputs]]\nformat = \"plain\"\npath = \"{}\"\n\
                     [[export.outputs]]\nformat = \"rbldnsd\"\npath = \"{}\"\n",
                    six.display(),
                    path.display()
                ),
                format!(
                    "export.outputs[1].path: {} (the IPv6 data set of export.outputs[1].path) is the same file as {} (export.outputs[0].path)",
                    six.display(),
                    six.display()
                ),
            ),
        ];
        for (text, expected) in &cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}\n{error}");
        }
        let distinct = format!(
            "[[export.outputs]]\nformat = \"rbldnsd\"\npath = \"{}\"\npath6 = \"{}\"\n",
            path.display(),
            six.display()
        );
        assert_eq!(parse(&distinct).unwrap().export.outputs.len(), 1);
    }

    #[test]
    fn value_errors_use_dotted_keys() {
        let cases = [
            (
                "[listing]\nmin_sightings = 0",
                "line 2: listing.min_sightings:",
            ),
            ("[limits]\n\nmax_parts = 0", "line 3: limits.max_parts:"),
            ("[export]\nttl = 0", "line 2: export.ttl:"),
            (
                "[listing]\n[[listing.return_codes]]\ncode = \"10.0.0.1\"",
                "line 3: listing.return_codes[0].code:",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}\n{error}");
        }
    }

    #[test]
    fn spool_follows_database() {
        let mut config = parse("database = \"/var/lib/wormsign/w.db\"").unwrap();
        assert_eq!(
            config.spool_path(),
            PathBuf::from("/var/lib/wormsign/w.db.spool")
        );
        config.database = PathBuf::from("/tmp/other.db");
        assert_eq!(config.spool_path(), PathBuf::from("/tmp/other.db.spool"));
        let config = parse("spool = \"/var/spool/w.jsonl\"").unwrap();
        assert_eq!(config.spool_path(), PathBuf::from("/var/spool/w.jsonl"));
    }

    #[test]
    fn socket_mode_is_octal() {
        let config = parse("socket_mode = \"0660\"").unwrap();
        assert_eq!(config.socket_mode, Some(0o660));
    }

    #[test]
    fn trust_lint_names_the_entry() {
        let cases = [
            (
                "trusted_networks = [\"192.0.2.0/24\"]\ninternal_networks = [\"198.51.100.0/24\"]",
                "internal_networks",
                "198.51.100.0/24",
            ),
            (
                "trusted_networks = [\"192.0.2.0/24\"]\nmsa_networks = [\"203.0.113.5\"]",
                "msa_networks",
                "203.0.113.5",
            ),
        ];
        for (text, key, entry) in cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
            assert!(error.contains(entry), "{text}: {error}");
        }
    }

    #[test]
    fn absent_trust_keys_infer_trust() {
        let config = parse("").unwrap();
        assert!(config.trust.is_inferred());
        assert!(config.is_trusted("10.1.2.3".parse().unwrap()));
        let empty = parse("trusted_networks = []").unwrap();
        assert!(!empty.is_trusted("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn trusted_includes_loopback() {
        let config = parse("trusted_networks = [\"192.0.2.0/24\"]").unwrap();
        assert!(config.is_trusted("127.0.0.1".parse().unwrap()));
        assert!(config.is_trusted("192.0.2.9".parse().unwrap()));
        assert!(!config.is_trusted("203.0.113.7".parse().unwrap()));
    }
}
