//! Listings written as blocklists and feeds.
//!
//! [`render`] turns the [`Listed`] entries that [`crate::listing::listed`]
//! returns into one of the [`Format`]s; [`render_ndjson`] writes sightings
//! instead. [`write_atomic`] puts the result in place so a DNS server never
//! reads a half-written file. [`export_to_file`] does all of it for one
//! configured output, as `wormsign export --output` and the periodic export
//! of `wormsign run` do.

mod atomic;
mod bind;
mod csv;
mod json;
mod listable;
mod ndjson;
mod periodic;
mod plain;
mod rbldnsd;
mod settings;

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::listing::Listed;

pub use atomic::write_atomic;
pub use listable::{is_listable, is_listable_with};
pub use ndjson::render_ndjson;
pub use periodic::spawn_periodic_export;
pub use rbldnsd::render_rbldnsd_ip6;
pub use settings::{
    ExportError, ExportOptions, ExportSettings, ExportSummary, Output, RawExport, RawOutput,
    check_domain_name, export_to_file, file_identity,
};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One listed address or IPv6 /64 per line.
    Plain,
    /// An rbldnsd `ip4set` data set of the IPv4 listings; the IPv6 listings
    /// go to a separate `ip6trie` file made by [`render_rbldnsd_ip6`].
    Rbldnsd,
    /// A BIND zone file with IPv4 and IPv6 listings.
    Bind,
    /// CSV (RFC 4180) with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
    /// One sighting of a listed host per line, as JSON with its evidence.
    Ndjson,
}

impl Format {
    /// Every format, in the order help text lists them.
    pub const ALL: [Format; 6] = [
        Format::Plain,
        Format::Rbldnsd,
        Format::Bind,
        Format::Csv,
        Format::Json,
        Format::Ndjson,
    ];

    /// Returns the name used on the command line and in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Rbldnsd => "rbldnsd",
            Format::Bind => "bind",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a format name that [`Format::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid export format {value:?}; expected one of: plain, rbldnsd, bind, csv, json, ndjson"
)]
pub struct ParseFormatError {
    /// The rejected value.
    pub value: String,
}

impl FromStr for Format {
    type Err = ParseFormatError;

    /// Parses a format name, ignoring ASCII case.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| ParseFormatError {
                value: value.to_string(),
            })
    }
}

/// An export that cannot be rendered with the given options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A BIND zone needs a zone name and at least one name server.
    #[error(
        "the bind format needs a zone name and at least one name server: set \
         [export] zone and nameservers in the config, or pass --zone and --nameserver"
    )]
    ZoneIncomplete,
    /// NDJSON is rendered from sightings by [`render_ndjson`].
    #[error("the ndjson format lists sightings: render it with render_ndjson")]
    NeedsSightings,
}

/// Renders `listed` in `format`. `now` (Unix seconds) is the generation
/// time written into formats that carry one (rbldnsd, BIND serial).
///
/// For [`Format::Rbldnsd`] the result contains the IPv4 listings only;
/// render the IPv6 file with [`render_rbldnsd_ip6`].
///
/// # Errors
///
/// [`RenderError::ZoneIncomplete`] for [`Format::Bind`] without a zone or
/// name server, [`RenderError::NeedsSightings`] for [`Format::Ndjson`].
pub fn render(
    format: Format,
    listed: &[Listed],
    options: &ExportOptions,
    now: i64,
) -> Result<String, RenderError> {
    Ok(match format {
        Format::Plain => plain::render(listed),
        Format::Rbldnsd => rbldnsd::render_ip4(listed, options, now),
        Format::Bind => bind::render(listed, options, now)?,
        Format::Csv => csv::render(listed),
        Format::Json => json::render(listed),
        Format::Ndjson => return Err(RenderError::NeedsSightings),
    })
}

/// Formats Unix seconds as RFC 3339 UTC, e.g. `2024-05-01T12:00:00Z`.
/// Times outside years 0000 to 9999 fall back to the plain number.
pub fn rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

/// Returns the text form of a listed network: the address for an IPv4
/// host, `2001:db8::/64` for an IPv6 network.
fn network_text(listed: &Listed) -> String {
    match listed.network {
        ipnet::IpNet::V4(net) if net.prefix_len() == 32 => net.addr().to_string(),
        network => network.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::Policy;
    use crate::store::Listing;

    /// Returns the policy of the samples, which lists documentation ranges.
    pub(super) fn sample_policy() -> Policy {
        Policy {
            list_documentation_ranges: true,
            ..Policy::default()
        }
    }

    /// Returns a fixed set under [`sample_policy`]: two IPv4 hosts and one
    /// IPv6 /64. The policy drops the private, loopback and garbage entries.
    pub(super) fn sample_listings() -> Vec<Listed> {
        sample_listings_with(&sample_policy())
    }

    pub(super) fn sample_listings_with(policy: &Policy) -> Vec<Listed> {
        let listing = |ip: &str, first_seen, last_seen, count, families: &[&str]| Listing {
            ip: ip.to_string(),
            first_seen,
            last_seen,
            count,
            score: count as f64,
            confidence: "high".to_string(),
            families: families.iter().map(|f| f.to_string()).collect(),
            variants: Vec::new(),
        };
        let listings = vec![
            listing("192.0.2.1", 1_714_564_800, 1_714_568_400, 3, &["Sober"]),
            listing("10.1.2.3", 1_714_564_800, 1_714_564_800, 1, &["Sober"]),
            listing("127.0.0.1", 1_714_564_800, 1_714_564_800, 1, &["Sober"]),
            listing("2001:db8::/64", 1_714_600_000, 1_714_600_000, 1, &["Sober"]),
            listing(
                "203.0.113.9",
                1_714_500_000,
                1_714_650_000,
                2,
                &["Sober", "Sober,\"X\""],
            ),
            listing("not an ip", 1_714_564_800, 1_714_564_800, 1, &["Sober"]),
        ];
        crate::listing::apply(listings, policy)
    }

    #[test]
    fn format_parses_every_name() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
            assert_eq!(format.name().to_uppercase().parse::<Format>(), Ok(format));
        }
    }

    #[test]
    fn format_error_names_value_and_choices() {
        let error = "bind9".parse::<Format>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"bind9\""), "{message}");
        for format in Format::ALL {
            assert!(message.contains(format.name()), "{message}");
        }
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }
}
