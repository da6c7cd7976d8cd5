//! The `[dnsbl]` section of the configuration file.
//!
//! ```toml
//! [dnsbl]
//! listen = "127.0.0.1:7353"           # UDP and TCP
//! zone = "bl.example.org"
//! ttl = 2100                          # seconds, A and TXT answers
//! negative_ttl = 300                  # seconds, SOA minimum (RFC 2308)
//! soa_mname = "ns1.bl.example.org"    # primary name server
//! soa_rname = "hostmaster.example.org" # contact mailbox, `@` written as `.`
//! ns = ["ns1.bl.example.org", "ns2.bl.example.org"]
//! txt_template = "Listed by wormsign: worm mail seen from $"
//! min_sightings = 1
//! poll_interval_ms = 1000             # how often to check the database
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_server::proto::rr::Name;
use serde::Deserialize;

/// Address the responder listens on when `listen` is not set: loopback, so
/// that nothing is published until an admin chooses to.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7353";
/// Zone served when `zone` is not set; `.test` is reserved (RFC 6761), so
/// this default never collides with a real list.
pub const DEFAULT_ZONE: &str = "bl.wormsign.test";

/// The `[dnsbl]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub listen: Option<String>,
    pub zone: Option<String>,
    pub ttl: Option<u32>,
    pub negative_ttl: Option<u32>,
    pub soa_mname: Option<String>,
    pub soa_rname: Option<String>,
    pub ns: Option<Vec<String>>,
    pub txt_template: Option<String>,
    pub min_sightings: Option<u64>,
    pub poll_interval_ms: Option<u64>,
}

/// Validated settings of `wormsign dnsbl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Address of the UDP socket and the TCP listener.
    pub listen: SocketAddr,
    /// The zone apex, fully qualified.
    pub zone: Name,
    /// TTL in seconds of A, TXT, SOA and NS answers.
    pub ttl: u32,
    /// SOA minimum: how long resolvers cache "not listed", in seconds.
    pub negative_ttl: u32,
    /// SOA MNAME: the primary name server.
    pub soa_mname: Name,
    /// SOA RNAME: the contact mailbox with its `@` written as `.`.
    pub soa_rname: Name,
    /// Name servers returned for NS queries at the apex.
    pub ns: Vec<Name>,
    /// TXT template; `$` becomes the queried address, `$$` a literal `$`.
    pub txt_template: String,
    /// Sightings a host needs before it is listed.
    pub min_sightings: u64,
    /// How often the database is checked for changes.
    pub poll_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_raw(RawSettings::default()).expect("the embedded defaults are valid")
    }
}

/// Largest TTL a resolver honours (RFC 2181, section 8).
const MAX_TTL: u32 = i32::MAX as u32;

impl Settings {
    /// Validates the section. The error is the key (as `dnsbl.KEY`) and a
    /// message naming the value and the fix.
    pub fn from_raw(raw: RawSettings) -> Result<Settings, (&'static str, String)> {
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

        let zone = parse_name(
            "dnsbl.zone",
            raw.zone.as_deref().unwrap_or(DEFAULT_ZONE),
            "bl.example.org",
        )?;
        if zone.is_root() {
            return Err((
                "dnsbl.zone",
                "is the DNS root: give the zone of the list, e.g. \"bl.example.org\"".into(),
            ));
        }

        let ttl = check_ttl("dnsbl.ttl", raw.ttl.unwrap_or(2100))?;
        let negative_ttl = check_ttl("dnsbl.negative_ttl", raw.negative_ttl.unwrap_or(300))?;

        let soa_mname = match raw.soa_mname.as_deref() {
            Some(text) => parse_name("dnsbl.soa_mname", text, "ns1.bl.example.org")?,
            None => prepend("ns1", &zone),
        };
        let soa_rname = match raw.soa_rname.as_deref() {
            Some(text) => parse_name("dnsbl.soa_rname", text, "hostmaster.example.org")?,
            None => prepend("hostmaster", &zone),
        };
        let ns = match raw.ns {
            Some(names) if names.is_empty() => {
                return Err((
                    "dnsbl.ns",
                    "is empty: list at least one name server, e.g. [\"ns1.bl.example.org\"]".into(),
                ));
            }
            Some(names) => names
                .iter()
                .map(|name| parse_name("dnsbl.ns", name, "ns1.bl.example.org"))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![soa_mname.clone()],
        };

        let txt_template = raw
            .txt_template
            .unwrap_or_else(|| "Listed by wormsign: worm mail seen from $".to_string());
        if txt_template.chars().any(char::is_control) || txt_template.len() > 200 {
            return Err((
                "dnsbl.txt_template",
                format!(
                    "invalid template {txt_template:?}: use at most 200 bytes and no control \
                     characters"
                ),
            ));
        }

        let poll_ms = raw.poll_interval_ms.unwrap_or(1000);
        if !(10..=3_600_000).contains(&poll_ms) {
            return Err((
                "dnsbl.poll_interval_ms",
                format!("{poll_ms} is out of range: use 10 to 3600000 milliseconds"),
            ));
        }
        Ok(Settings {
            listen,
            zone,
            ttl,
            negative_ttl,
            soa_mname,
            soa_rname,
            ns,
            txt_template,
            min_sightings: raw.min_sightings.unwrap_or(1),
            poll_interval: Duration::from_millis(poll_ms),
        })
    }

    /// Returns these settings for another zone. SOA and NS names that were
    /// derived from the old zone (not configured) are derived anew.
    ///
    /// # Errors
    ///
    /// A message naming `zone` when it is not a valid domain name.
    pub fn with_zone(mut self, zone: &str) -> Result<Settings, String> {
        let raw = RawSettings {
            zone: Some(zone.to_string()),
            ..RawSettings::default()
        };
        let derived = Settings::from_raw(raw).map_err(|(_, message)| message)?;
        if self.soa_mname == prepend("ns1", &self.zone) {
            if self.ns == [self.soa_mname.clone()] {
                self.ns = derived.ns;
            }
            self.soa_mname = derived.soa_mname;
        }
        if self.soa_rname == prepend("hostmaster", &self.zone) {
            self.soa_rname = derived.soa_rname;
        }
        self.zone = derived.zone;
        Ok(self)
    }

    /// Renders the section as TOML that [`Settings::from_raw`] reads back.
    pub fn to_toml(&self) -> String {
        let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
        let mut out = String::from("\n[dnsbl]\n");
        // Writing to a String cannot fail.
        let _ = writeln!(out, "listen = {}", quote(&self.listen.to_string()));
        let _ = writeln!(out, "zone = {}", quote(&self.zone.to_string()));
        let _ = writeln!(out, "ttl = {}", self.ttl);
        let _ = writeln!(out, "negative_ttl = {}", self.negative_ttl);
        let _ = writeln!(out, "soa_mname = {}", quote(&self.soa_mname.to_string()));
        let _ = writeln!(out, "soa_rname = {}", quote(&self.soa_rname.to_string()));
        let ns: Vec<String> = self.ns.iter().map(|n| quote(&n.to_string())).collect();
        let _ = writeln!(out, "ns = [{}]", ns.join(", "));
        let _ = writeln!(out, "txt_template = {}", quote(&self.txt_template));
        let _ = writeln!(out, "min_sightings = {}", self.min_sightings);
        let _ = writeln!(out, "poll_interval_ms = {}", self.poll_interval.as_millis());
        out
    }
}

fn parse_name(
    key: &'static str,
    text: &str,
    example: &str,
) -> Result<Name, (&'static str, String)> {
    let invalid = || {
        (
            key,
            format!("invalid domain name {text:?}: write a name such as \"{example}\""),
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

fn check_ttl(key: &'static str, ttl: u32) -> Result<u32, (&'static str, String)> {
    if ttl > MAX_TTL {
        return Err((
            key,
            format!("{ttl} is out of range: use 0 to {MAX_TTL} seconds"),
        ));
    }
    Ok(ttl)
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

    fn parse(text: &str) -> Result<Settings, (&'static str, String)> {
        Settings::from_raw(toml::from_str(text).unwrap())
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
    }

    #[test]
    fn to_toml_reads_back() {
        let settings = parse(
            "listen = \"[::1]:5300\"\nzone = \"BL.Example.org\"\nns = [\"a.example.org\", \
             \"b.example.org\"]\ntxt_template = \"See \\\"https://example.org/?$\\\"\"\n",
        )
        .unwrap();
        let text = settings.to_toml();
        let section = text.strip_prefix("\n[dnsbl]\n").unwrap();
        assert_eq!(parse(section).unwrap(), settings);
    }

    #[test]
    fn with_zone_derives_unset_names() {
        let settings = Settings::default().with_zone("bl.example.org").unwrap();
        assert_eq!(settings.zone.to_string(), "bl.example.org.");
        assert_eq!(settings.soa_mname.to_string(), "ns1.bl.example.org.");
        assert_eq!(settings.soa_rname.to_string(), "hostmaster.bl.example.org.");
        assert_eq!(settings.ns, vec![settings.soa_mname.clone()]);

        let configured = parse("soa_rname = \"abuse.example.net\"").unwrap();
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
            ("ns = []", "dnsbl.ns", "empty"),
            ("ttl = 4294967295", "dnsbl.ttl", "4294967295"),
            ("txt_template = \"a\\nb\"", "dnsbl.txt_template", "control"),
            ("poll_interval_ms = 0", "dnsbl.poll_interval_ms", "0"),
        ];
        for (text, key, value) in cases {
            let (found_key, message) = parse(text).unwrap_err();
            assert_eq!(found_key, key, "{text}");
            assert!(message.contains(value), "{text}: {message}");
        }
    }
}
