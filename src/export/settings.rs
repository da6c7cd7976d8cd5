//! The `[export]` config section, the options of the DNS formats, and one
//! complete export to a file.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use serde::Deserialize;

use super::{Format, RenderError, render, render_ndjson, render_rbldnsd_ip6, write_atomic};
use crate::config::KeyError;
use crate::listing::{self, Policy};
use crate::store::{self, StoreError};

/// Settings of the DNS formats (rbldnsd and BIND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// TTL of DNS responses in seconds (`$TTL`).
    pub ttl: u32,
    /// The DNSBL zone, e.g. `bl.example.org`; the BIND format needs it.
    pub zone: Option<String>,
    /// Name servers of the zone; with none, rbldnsd files carry no `$SOA`
    /// and `$NS` lines and the BIND format cannot be written.
    pub nameservers: Vec<String>,
    /// SOA contact mailbox as a domain name; default `hostmaster.ZONE`.
    pub hostmaster: Option<String>,
    /// SOA refresh, retry, expire and minimum (negative-caching TTL), in
    /// seconds.
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
    /// Default A value, from [`Policy::return_code`].
    pub return_code: Ipv4Addr,
    /// Default TXT template, from [`Policy::txt_template`].
    pub txt_template: String,
    /// Write the IPv4 data set as rbldnsd `ip4tset` instead of `ip4set`.
    /// An `ip4tset` takes half the memory in rbldnsd, but every entry gets
    /// the default A value and TXT, so per-listing return codes and details
    /// are left out.
    pub ip4tset: bool,
    /// Whether NDJSON lines carry `client_ip` and `helo`: the SMTP client
    /// that handed the message to this site, often its own MSA or front MX.
    pub ndjson_sensor_fields: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions::for_policy(&Policy::default())
    }
}

impl ExportOptions {
    /// Options with the default DNS settings and `policy`'s default A value
    /// and TXT template.
    pub fn for_policy(policy: &Policy) -> Self {
        Self {
            // rbldnsd's own default TTL: 35 minutes.
            ttl: 2100,
            zone: None,
            nameservers: Vec::new(),
            hostmaster: None,
            refresh: 3600,
            retry: 600,
            expire: 604_800,
            minimum: 300,
            return_code: policy.return_code,
            txt_template: policy.txt_template.clone(),
            ip4tset: false,
            ndjson_sensor_fields: true,
        }
    }

    /// Returns the SOA contact: as configured, else `hostmaster.ZONE`.
    pub fn hostmaster(&self) -> String {
        self.hostmaster.clone().unwrap_or_else(|| match &self.zone {
            Some(zone) => format!("hostmaster.{zone}"),
            None => "hostmaster.invalid".to_string(),
        })
    }

    /// Returns the SOA serial for an export at `now`: the Unix time, which
    /// grows with every export and fits 32 bits until 2106.
    pub fn serial(&self, now: i64) -> u32 {
        u32::try_from(now).unwrap_or(0)
    }
}

/// The `[export]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    pub zone: Option<String>,
    pub ttl: Option<u32>,
    pub nameservers: Option<Vec<String>>,
    pub hostmaster: Option<String>,
    pub interval_secs: Option<u64>,
    pub rbldnsd_ipv4_type: Option<String>,
    pub ndjson_sensor_fields: Option<bool>,
    pub outputs: Option<Vec<RawOutput>>,
}

/// One `[[export.outputs]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub format: String,
    pub path: PathBuf,
    pub path6: Option<PathBuf>,
}

/// One file that `wormsign run` re-exports on its interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub format: Format,
    pub path: PathBuf,
    /// For rbldnsd: the IPv6 data set; default `path` plus `6`.
    pub path6: Option<PathBuf>,
}

impl Output {
    /// Returns each file the output writes, with the key that names it
    /// (`path` or `path6`): one file, or two for rbldnsd.
    pub fn files(&self) -> Vec<(&'static str, PathBuf)> {
        let mut files = vec![("path", self.path.clone())];
        if self.format == Format::Rbldnsd {
            let key = if self.path6.is_some() {
                "path6"
            } else {
                "path"
            };
            files.push((key, self.ipv6_path()));
        }
        files
    }

    /// Returns the IPv6 data set path of an rbldnsd output.
    pub fn ipv6_path(&self) -> PathBuf {
        self.path6.clone().unwrap_or_else(|| {
            let mut name = self.path.clone().into_os_string();
            name.push("6");
            name.into()
        })
    }
}

/// The validated `[export]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportSettings {
    pub zone: Option<String>,
    pub ttl: Option<u32>,
    pub nameservers: Vec<String>,
    pub hostmaster: Option<String>,
    /// How often `wormsign run` re-exports `outputs`, or `None` for never.
    pub interval: Option<Duration>,
    /// See [`ExportOptions::ip4tset`].
    pub ip4tset: bool,
    /// See [`ExportOptions::ndjson_sensor_fields`]. `None` means the
    /// default, which is true.
    pub ndjson_sensor_fields: Option<bool>,
    pub outputs: Vec<Output>,
}

impl ExportSettings {
    /// Validates the `[export]` section, including that each output can
    /// be written: its format has the settings it needs, and the
    /// directory of its file exists.
    ///
    /// # Errors
    ///
    /// Returns a [`KeyError`] with the dotted config key (e.g.
    /// `export.outputs[0].path`) and a message naming the bad value and the
    /// fix.
    pub fn from_raw(raw: RawExport) -> Result<Self, KeyError> {
        let check_name = |key: &str, name: &str| {
            check_domain_name(name).map_err(|message| KeyError {
                key: format!("export.{key}"),
                message,
            })
        };
        if let Some(zone) = &raw.zone {
            check_name("zone", zone)?;
        }
        let nameservers = raw.nameservers.unwrap_or_default();
        for name in &nameservers {
            check_name("nameservers", name)?;
        }
        if let Some(hostmaster) = &raw.hostmaster {
            check_name("hostmaster", hostmaster)?;
        }
        if raw.ttl == Some(0) {
            return Err(("export.ttl", "must be at least 1 second".to_string()).into());
        }
        let ip4tset = match raw.rbldnsd_ipv4_type.as_deref() {
            None | Some("ip4set") => false,
            Some("ip4tset") => true,
            Some(other) => {
                return Err((
                    "export.rbldnsd_ipv4_type",
                    format!("invalid rbldnsd data set type {other:?}: use ip4set or ip4tset"),
                )
                    .into());
            }
        };
        let interval = match raw.interval_secs {
            None | Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
        };
        let zone_complete = raw.zone.is_some() && !nameservers.is_empty();
        let outputs = raw
            .outputs
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(index, raw)| {
                output_from_raw(raw, zone_complete).map_err(|(key, message)| KeyError {
                    key: format!("export.outputs[{index}].{key}"),
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_distinct_files(&outputs)?;
        Ok(ExportSettings {
            zone: raw.zone,
            ttl: raw.ttl,
            nameservers,
            hostmaster: raw.hostmaster,
            interval,
            ip4tset,
            ndjson_sensor_fields: raw.ndjson_sensor_fields,
            outputs,
        })
    }

    /// Returns the DNS options for `policy` with these settings applied.
    pub fn options(&self, policy: &Policy) -> ExportOptions {
        let defaults = ExportOptions::for_policy(policy);
        ExportOptions {
            ttl: self.ttl.unwrap_or(defaults.ttl),
            zone: self.zone.clone(),
            nameservers: self.nameservers.clone(),
            hostmaster: self.hostmaster.clone(),
            ip4tset: self.ip4tset,
            ndjson_sensor_fields: self.ndjson_sensor_fields.unwrap_or(true),
            ..defaults
        }
    }
}

/// Validates one `[[export.outputs]]` entry. `zone_complete` is true when
/// `[export]` sets the zone and name servers that the BIND format needs.
fn output_from_raw(raw: RawOutput, zone_complete: bool) -> Result<Output, (&'static str, String)> {
    let format: Format = raw
        .format
        .parse()
        .map_err(|e: super::ParseFormatError| ("format", e.to_string()))?;
    if raw.path6.is_some() && format != Format::Rbldnsd {
        return Err(("path6", "applies to format = \"rbldnsd\" only".to_string()));
    }
    if format == Format::Bind && !zone_complete {
        return Err((
            "format",
            "\"bind\" needs a zone name and at least one name server: set zone and \
             nameservers in [export], e.g. zone = \"bl.example.org\" and \
             nameservers = [\"ns1.example.org\"]"
                .to_string(),
        ));
    }
    let output = Output {
        format,
        path: raw.path,
        path6: raw.path6,
    };
    check_output_path(&output.path).map_err(|message| ("path", message))?;
    if format == Format::Rbldnsd {
        let key = if output.path6.is_some() {
            "path6"
        } else {
            "path"
        };
        check_output_path(&output.ipv6_path()).map_err(|message| (key, message))?;
    }
    Ok(output)
}

/// Checks that no two outputs, and not the two data sets of one rbldnsd
/// output, write the same file, because the later write would replace the
/// earlier one without an error.
fn check_distinct_files(outputs: &[Output]) -> Result<(), KeyError> {
    // Each file written so far: its description and identity.
    let mut seen: Vec<(String, PathBuf)> = Vec::new();
    for (index, output) in outputs.iter().enumerate() {
        for (slot, (name, path)) in output.files().into_iter().enumerate() {
            let key = format!("export.outputs[{index}].{name}");
            let description = if slot == 1 && output.path6.is_none() {
                format!("{} (the IPv6 data set of {key})", path.display())
            } else {
                format!("{} ({key})", path.display())
            };
            let identity = file_identity(&path);
            if let Some((other, _)) = seen.iter().find(|(_, seen)| *seen == identity) {
                return Err(KeyError {
                    key,
                    message: format!(
                        "{description} is the same file as {other}, so one export would replace the other: give each a file of its own"
                    ),
                });
            }
            seen.push((description, identity));
        }
    }
    Ok(())
}

/// Returns a form of `path` under which two names of one file compare
/// equal: the canonical path when the file exists, else the canonical
/// directory joined with the file name, else `path` itself.
// NOTE: hard links to one file keep distinct names and are not detected.
pub fn file_identity(path: &Path) -> PathBuf {
    if let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match (directory.canonicalize(), path.file_name()) {
        (Ok(directory), Some(name)) => directory.join(name),
        _ => path.to_path_buf(),
    }
}

/// Checks that an export can be written to `path`: the path is not empty
/// and not a directory, and its directory exists, because the atomic write
/// creates its temporary file there and creates no directories.
fn check_output_path(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("is empty: give the path of the file to write".to_string());
    }
    if path.is_dir() {
        return Err(format!(
            "{} is a directory: give the path of a file inside it",
            path.display()
        ));
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if directory.exists() && !directory.is_dir() {
        return Err(format!(
            "{} is not a directory: change the path",
            directory.display()
        ));
    }
    if !directory.is_dir() {
        return Err(format!(
            "the directory {} of {} does not exist: create it, or change the path",
            directory.display(),
            path.display()
        ));
    }
    Ok(())
}

/// Checks that `name` is a domain name the DNS formats can carry: labels
/// of letters, digits, `-` and `_`, at most 63 bytes each and 253 in all.
///
/// # Errors
///
/// A message naming the value and the expected form.
pub fn check_domain_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid domain name {name:?}: write it like bl.example.org, without a trailing dot"
        ))
    }
}

/// A failed export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("failed to write export file {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The counts of one export. The listing counts mean the same in every
/// format: the rbldnsd IPv6 file contains the IPv6 listings, and the
/// other formats contain both kinds in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// IPv4 listings exported.
    pub ipv4_listings: usize,
    /// IPv6 listings (/64 networks) exported.
    pub ipv6_listings: usize,
    /// NDJSON lines, one per sighting of a listed host, and 0 for the other
    /// formats.
    pub sightings: usize,
}

/// Reads the listings under `policy` at `now` and writes `output`
/// atomically (for rbldnsd both files, the IPv6 one first).
///
/// # Errors
///
/// [`ExportError`] naming the database or the file that failed.
pub fn export_to_file(
    conn: &Connection,
    output: &Output,
    policy: &Policy,
    options: &ExportOptions,
    now: i64,
) -> Result<ExportSummary, ExportError> {
    let listed = listing::listed(conn, policy, now)?;
    let write = |path: &Path, text: &str| {
        write_atomic(path, text.as_bytes()).map_err(|source| ExportError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    let ipv6_listings = listed.iter().filter(|l| l.network.addr().is_ipv6()).count();
    let mut summary = ExportSummary {
        ipv4_listings: listed.len() - ipv6_listings,
        ipv6_listings,
        sightings: 0,
    };
    match output.format {
        Format::Ndjson => {
            let keys: HashSet<String> = listed.iter().map(|l| l.listing.ip.clone()).collect();
            let since = policy.query(now).since;
            let sightings = store::sightings_since(conn, since)?;
            let (text, count) = render_ndjson(&sightings, &keys, options.ndjson_sensor_fields);
            write(&output.path, &text)?;
            summary.sightings = count;
        }
        Format::Rbldnsd => {
            let ipv6 = render_rbldnsd_ip6(&listed, options, now);
            write(&output.ipv6_path(), &ipv6)?;
            let ipv4 = render(Format::Rbldnsd, &listed, options, now)?;
            write(&output.path, &ipv4)?;
        }
        format => {
            let text = render(format, &listed, options, now)?;
            write(&output.path, &text)?;
        }
    }
    Ok(summary)
}
