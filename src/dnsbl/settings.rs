//! The `[dnsbl]` section of the configuration file, and the settings of
//! `wormsign dnsbl` built from it and from the sections it shares with
//! `wormsign export`.
//!
//! ```toml
//! [dnsbl]
//! listen = "127.0.0.1:7353"           # UDP and TCP
//! zone = "bl.example.org"             # default: zone in [export]
//! poll_interval_ms = 1000             # how often to check the database
//! max_tcp_connections = 256           # TCP clients served at once
//! ```
//!
//! Everything else comes from the sections `wormsign export --format
//! rbldnsd` reads, so that the responder and an rbldnsd serving the export
//! give the same answers: the listing policy, return codes and TXT from
//! `[listing]`, and TTL, SOA and NS from `[export]` (`ttl`, `nameservers`,
//! `hostmaster`, and the SOA timers the export writes).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_server::proto::rr::Name;
use serde::Deserialize;

use crate::export::ExportOptions;
use crate::listing::Policy;

/// Address the responder listens on when `listen` is not set: loopback, so
/// that nothing is published until an admin chooses to.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7353";
/// Zone served when neither `[dnsbl]` nor `[export]` sets one. `.test` is
/// reserved (RFC 6761), so this default never collides with a real list.
pub const DEFAULT_ZONE: &str = "bl.wormsign.test";
/// TCP connections served at once when `max_tcp_connections` is not set.
/// Each takes one file descriptor, and the usual limit is 1024.
pub const DEFAULT_MAX_TCP_CONNECTIONS: usize = 256;
/// The largest `max_tcp_connections`.
const MAX_TCP_CONNECTIONS: usize = 65_535;

/// Keys that `[dnsbl]` had before it shared its policy and zone data with
/// the export, and where each now lives.
const MOVED_KEYS: [(&str, &str); 7] = [
    ("dnsbl.ttl", "ttl in [export]"),
    // No key sets the SOA minimum, so this one has no place to move to.
    ("dnsbl.negative_ttl", ""),
    (
        "dnsbl.soa_mname",
        "the first entry of nameservers in [export]",
    ),
    ("dnsbl.soa_rname", "hostmaster in [export]"),
    ("dnsbl.ns", "nameservers in [export]"),
    ("dnsbl.txt_template", "txt_template in [listing]"),
    ("dnsbl.min_sightings", "min_sightings in [listing]"),
];

/// The `[dnsbl]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub listen: Option<String>,
    pub zone: Option<String>,
    pub poll_interval_ms: Option<u64>,
    pub max_tcp_connections: Option<u64>,
    // Old keys, read only to name their new place in the error.
    ttl: Option<toml::Value>,
    negative_ttl: Option<toml::Value>,
    soa_mname: Option<toml::Value>,
    soa_rname: Option<toml::Value>,
    ns: Option<toml::Value>,
    txt_template: Option<toml::Value>,
    min_sightings: Option<toml::Value>,
}

/// Validated settings of `wormsign dnsbl`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Address of the UDP socket and the TCP listener.
    pub listen: SocketAddr,
    /// The zone apex, fully qualified.
    pub zone: Name,
    /// Whether `zone` was set in `[dnsbl]`, because `config check` prints it
    /// only then.
    zone_configured: bool,
    /// How often the database is checked for changes.
    pub poll_interval: Duration,
    /// Maximum number of TCP connections served at once. Further clients
    /// wait in the listen backlog until one closes.
    pub max_tcp_connections: usize,
    /// TTL in seconds of A, TXT, SOA and NS answers (`ttl` in `[export]`).
    pub ttl: u32,
    /// SOA refresh, retry and expire in seconds, as the export writes them.
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// SOA minimum: how long resolvers cache "not listed", in seconds.
    pub negative_ttl: u32,
    /// SOA MNAME: the first of `nameservers`, else `ns1.ZONE`.
    pub soa_mname: Name,
    /// SOA RNAME: `hostmaster` in `[export]`, else `hostmaster.ZONE`.
    pub soa_rname: Name,
    /// Name servers returned for NS queries at the apex.
    pub ns: Vec<Name>,
    /// Whether `nameservers` and `hostmaster` were configured, so that a
    /// new zone from `--zone` derives only the others.
    names_configured: (bool, bool),
    /// The listing policy: which hosts, which A value and which TXT.
    pub policy: Policy,
    /// IPv4 entries get the default A value and TXT, as in an rbldnsd
    /// `ip4tset` (`rbldnsd_ipv4_type = "ip4tset"` in `[export]`).
    pub ip4tset: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let policy = Policy::default();
        let options = ExportOptions::for_policy(&policy);
        Settings::new(RawSettings::default(), &options, policy)
            .expect("the embedded defaults are valid")
    }
}

impl Settings {
    /// Validates the `[dnsbl]` section and joins it with the export's DNS
    /// `options` and the listing `policy`. The error is the key (as
    /// `dnsbl.KEY`) and a message naming the value and the fix.
    pub fn new(
        raw: RawSettings,
        options: &ExportOptions,
        policy: Policy,
    ) -> Result<Settings, (&'static str, String)> {
        raw.check_moved_keys()?;
        let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen_text.parse().map_err(|_| {
            (
                "dnsbl.listen",
                format!(
                    "invalid address {listen_text:?}: write IP:PORT, e.g. \"127.0.0.1:7353\" \
                     or \"[::1]:7353\""
                ),
            )
        })?;
        let poll_ms = raw.poll_interval_ms.unwrap_or(1000);
        if !(10..=3_600_000).contains(&poll_ms) {
            return Err((
                "dnsbl.poll_interval_ms",
                format!("{poll_ms} is out of range: use 10 to 3600000 milliseconds"),
            ));
        }
        let max_tcp_connections = max_tcp_connections(raw.max_tcp_connections)?;
        let zone_text = raw
            .zone
            .as_deref()
            .or(options.zone.as_deref())
            .unwrap_or(DEFAULT_ZONE);
        let zone = parse_zone(zone_text)?;

        // The export checked these names already; the keys are named anyway
        // in case that check and hickory's parser disagree.
        let nameservers = options
            .nameservers
            .iter()
            .map(|name| parse_name("export.nameservers", name))
            .collect::<Result<Vec<_>, _>>()?;
        let hostmaster = options
            .hostmaster
            .as_deref()
            .map(|name| parse_name("export.hostmaster", name))
            .transpose()?;

        let mut settings = Settings {
            listen,
            zone,
            zone_configured: raw.zone.is_some(),
            poll_interval: Duration::from_millis(poll_ms),
            max_tcp_connections,
            ttl: options.ttl,
            refresh: options.refresh,
            retry: options.retry,
            expire: options.expire,
            negative_ttl: options.minimum,
            soa_mname: Name::root(),
            soa_rname: Name::root(),
            ns: nameservers,
            names_configured: (!options.nameservers.is_empty(), hostmaster.is_some()),
            policy,
            ip4tset: options.ip4tset,
        };
        if let Some(hostmaster) = hostmaster {
            settings.soa_rname = hostmaster;
        }
        settings.derive_names();
        Ok(settings)
    }

    /// Returns these settings for another zone. SOA and NS names that were
    /// derived from the old zone (not configured) are derived anew.
    ///
    /// # Errors
    ///
    /// A message naming `zone` when it is not a valid domain name.
    pub fn with_zone(mut self, zone: &str) -> Result<Settings, String> {
        self.zone = parse_zone(zone).map_err(|(_, message)| message)?;
        self.zone_configured = true;
        self.derive_names();
        Ok(self)
    }

    /// Returns the zone set in `[dnsbl]` or by [`Settings::with_zone`],
    /// without its trailing dot. `None` when the zone comes from `[export]`
    /// or is the default.
    pub fn configured_zone(&self) -> Option<String> {
        self.zone_configured
            .then(|| self.zone.to_string().trim_end_matches('.').to_string())
    }

    /// Fills in the SOA and NS names that are not configured from the zone:
    /// `ns1.ZONE` and `hostmaster.ZONE`, as the export does.
    fn derive_names(&mut self) {
        let (nameservers, hostmaster) = self.names_configured;
        if !nameservers {
            self.ns = vec![prepend("ns1", &self.zone)];
        }
        self.soa_mname = self.ns[0].clone();
        if !hostmaster {
            self.soa_rname = prepend("hostmaster", &self.zone);
        }
    }

    /// Renders the `[dnsbl]` section as TOML that [`Settings::new`] reads
    /// back. The zone is written only when `[dnsbl]` sets it, because
    /// otherwise it follows `zone` in `[export]`.
    pub fn to_toml(&self) -> String {
        let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
        let mut out = String::from("\n[dnsbl]\n");
        // Writing to a String through fmt::Write cannot fail, because its
        // write_str always returns Ok.
        let _ = writeln!(out, "listen = {}", quote(&self.listen.to_string()));
        let zone = self.zone.to_string();
        if self.zone_configured {
            let _ = writeln!(out, "zone = {}", quote(&zone));
        } else {
            let _ = writeln!(
                out,
                "# zone = {} (from [export], else the default)",
                quote(&zone)
            );
        }
        let _ = writeln!(out, "poll_interval_ms = {}", self.poll_interval.as_millis());
        let _ = writeln!(out, "max_tcp_connections = {}", self.max_tcp_connections);
        out
    }
}

impl RawSettings {
    fn check_moved_keys(&self) -> Result<(), (&'static str, String)> {
        let present = [
            self.ttl.is_some(),
            self.negative_ttl.is_some(),
            self.soa_mname.is_some(),
            self.soa_rname.is_some(),
            self.ns.is_some(),
            self.txt_template.is_some(),
            self.min_sightings.is_some(),
        ];
        match MOVED_KEYS.iter().zip(present).find(|(_, present)| *present) {
            Some(((key, ""), _)) => Err((
                *key,
                "is no longer read from [dnsbl]: the negative-caching TTL is the SOA minimum \
                 of the export, which is fixed at 300 seconds; remove the key"
                    .to_string(),
            )),
            Some(((key, place), _)) => Err((
                *key,
                format!(
                    "is no longer read from [dnsbl]: the responder uses {place}, the same \
                     setting as `wormsign export`; move the value there or remove the key"
                ),
            )),
            None => Ok(()),
        }
    }
}

fn max_tcp_connections(value: Option<u64>) -> Result<usize, (&'static str, String)> {
    let Some(value) = value else {
        return Ok(DEFAULT_MAX_TCP_CONNECTIONS);
    };
    usize::try_from(value)
        .ok()
        .filter(|count| (1..=MAX_TCP_CONNECTIONS).contains(count))
        .ok_or_else(|| {
            (
                "dnsbl.max_tcp_connections",
                format!(
                    "{value} is out of range: use 1 to {MAX_TCP_CONNECTIONS} connections, \
                     and fewer than the open-file limit (ulimit -n)"
                ),
            )
        })
}

fn parse_zone(text: &str) -> Result<Name, (&'static str, String)> {
    let zone = parse_name("dnsbl.zone", text)?;
    if zone.is_root() {
        return Err((
            "dnsbl.zone",
            "is the DNS root: give the zone of the list, e.g. \"bl.example.org\"".into(),
        ));
    }
    Ok(zone)
}

fn parse_name(key: &'static str, text: &str) -> Result<Name, (&'static str, String)> {
    let invalid = || {
        (
            key,
            format!("invalid domain name {text:?}: write a name such as \"bl.example.org\""),
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.contains(char::is_whitespace) {
        return Err(invalid());
    }
    let mut name = Name::from_ascii(trimmed).map_err(|_| invalid())?;
    name.set_fqdn(true);
    Ok(name)
}

/// Returns `label.zone`.
fn prepend(label: &str, zone: &Name) -> Name {
    Name::from_ascii(label)
        .and_then(|name| name.append_domain(zone))
        .unwrap_or_else(|_| zone.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{ExportSettings, RawExport};

    fn parse(dnsbl: &str, export: &str) -> Result<Settings, (&'static str, String)> {
        let export = ExportSettings::from_raw(toml::from_str::<RawExport>(export).unwrap())
            .expect("valid [export]");
        let policy = Policy::default();
        let options = export.options(&policy);
        Settings::new(toml::from_str(dnsbl).unwrap(), &options, policy)
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let settings = Settings::default();
        assert!(settings.listen.ip().is_loopback());
        assert_eq!(settings.zone.to_string(), "bl.wormsign.test.");
        assert_eq!(settings.soa_mname.to_string(), "ns1.bl.wormsign.test.");
        assert_eq!(
            settings.soa_rname.to_string(),
            "hostmaster.bl.wormsign.test."
        );
        assert_eq!(settings.ns, vec![settings.soa_mname.clone()]);
        assert_eq!(settings.ttl, 2100);
        assert_eq!(settings.negative_ttl, 300);
        assert_eq!(settings.max_tcp_connections, DEFAULT_MAX_TCP_CONNECTIONS);
    }

    #[test]
    fn zone_and_names_come_from_export() {
        let settings = parse(
            "",
            "zone = \"bl.example.org\"\nttl = 600\nnameservers = [\"a.example.net\", \
             \"b.example.net\"]\nhostmaster = \"abuse.example.net\"\n",
        )
        .unwrap();
        assert_eq!(settings.zone.to_string(), "bl.example.org.");
        assert_eq!(settings.ttl, 600);
        assert_eq!(settings.soa_mname.to_string(), "a.example.net.");
        assert_eq!(settings.soa_rname.to_string(), "abuse.example.net.");
        assert_eq!(settings.ns.len(), 2);

        let own_zone = parse("zone = \"dnsbl.example.org\"", "zone = \"bl.example.org\"").unwrap();
        assert_eq!(own_zone.zone.to_string(), "dnsbl.example.org.");
        assert_eq!(
            own_zone.soa_rname.to_string(),
            "hostmaster.dnsbl.example.org."
        );
    }

    #[test]
    fn to_toml_reads_back() {
        let settings = parse(
            "listen = \"[::1]:5300\"\nzone = \"BL.Example.org\"\nmax_tcp_connections = 4\n",
            "",
        )
        .unwrap();
        assert_eq!(settings.max_tcp_connections, 4);
        let text = settings.to_toml();
        let section = text.strip_prefix("\n[dnsbl]\n").unwrap();
        assert_eq!(parse(section, "").unwrap(), settings);

        let derived = parse("", "zone = \"bl.example.org\"").unwrap();
        let text = derived.to_toml();
        assert!(text.contains("# zone = \"bl.example.org.\""), "{text}");
    }

    #[test]
    fn with_zone_derives_unset_names() {
        let settings = Settings::default().with_zone("bl.example.org").unwrap();
        assert_eq!(settings.zone.to_string(), "bl.example.org.");
        assert_eq!(settings.soa_mname.to_string(), "ns1.bl.example.org.");
        assert_eq!(settings.soa_rname.to_string(), "hostmaster.bl.example.org.");
        assert_eq!(settings.ns, vec![settings.soa_mname.clone()]);

        let configured = parse("", "hostmaster = \"abuse.example.net\"").unwrap();
        let moved = configured.with_zone("bl.example.org").unwrap();
        assert_eq!(moved.soa_rname.to_string(), "abuse.example.net.");
        assert!(Settings::default().with_zone("bad zone").is_err());
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let cases = [
            ("listen = \"localhost\"", "dnsbl.listen", "localhost"),
            ("zone = \"bad name\"", "dnsbl.zone", "bad name"),
            ("zone = \".\"", "dnsbl.zone", "root"),
            ("poll_interval_ms = 0", "dnsbl.poll_interval_ms", "0"),
            (
                "max_tcp_connections = 0",
                "dnsbl.max_tcp_connections",
                "0 is out of range",
            ),
            (
                "max_tcp_connections = 70000",
                "dnsbl.max_tcp_connections",
                "70000 is out of range",
            ),
            ("ttl = 60", "dnsbl.ttl", "ttl in [export]"),
            ("ns = []", "dnsbl.ns", "nameservers in [export]"),
            ("txt_template = \"x\"", "dnsbl.txt_template", "[listing]"),
            ("min_sightings = 2", "dnsbl.min_sightings", "[listing]"),
        ];
        for (text, key, value) in cases {
            let (found_key, message) = parse(text, "").unwrap_err();
            assert_eq!(found_key, key, "{text}");
            assert!(message.contains(value), "{text}: {message}");
        }
    }

    #[test]
    fn negative_ttl_says_remove_key() {
        let (key, message) = parse("negative_ttl = 5", "").unwrap_err();
        assert_eq!(key, "dnsbl.negative_ttl");
        assert!(
            message.contains("fixed at 300 seconds; remove the key"),
            "{message}"
        );
        assert!(!message.contains("move the value"), "{message}");
    }
}
