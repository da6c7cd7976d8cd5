//! Listings read from the store and written as blocklists.
//!
//! [`render`] turns [`Listing`]s into one of the [`Format`]s; every format
//! drops addresses that [`is_listable`] rejects. [`write_atomic`] puts the
//! result in place so a DNS server never reads a half-written file. A typical
//! export is [`crate::store::open_read_only`], then
//! [`crate::store::listings`], then [`render`], then [`write_atomic`].

mod atomic;
mod csv;
mod json;
mod listable;
mod plain;
mod rbldnsd;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::Listing;

pub use atomic::write_atomic;
pub use listable::is_listable;
pub use rbldnsd::render_rbldnsd_ip6;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One IP address per line.
    Plain,
    /// An rbldnsd `ip4set` data set of the IPv4 listings; the IPv6 listings
    /// go to a separate file made by [`render_rbldnsd_ip6`].
    Rbldnsd,
    /// CSV (RFC 4180) with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
}

impl Format {
    /// Every format, in the order help text lists them.
    pub const ALL: [Format; 4] = [Format::Plain, Format::Rbldnsd, Format::Csv, Format::Json];

    /// Returns the name used on the command line and in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Rbldnsd => "rbldnsd",
            Format::Csv => "csv",
            Format::Json => "json",
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
#[error("invalid export format {value:?}; expected one of: plain, rbldnsd, csv, json")]
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

/// Settings of the rbldnsd output; the other formats have none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// TTL of DNS responses in seconds, written as `$TTL`.
    pub rbldnsd_ttl: u32,
    /// The A record returned for a listed address (RFC 5782 uses
    /// 127.0.0.0/8 values; 127.0.0.2 is the usual "listed").
    pub rbldnsd_a_value: Ipv4Addr,
    /// TXT template. rbldnsd replaces `$` with the queried address and `$$`
    /// with a literal `$`; control characters are written as spaces.
    pub rbldnsd_txt_template: String,
    /// Whether each entry's TXT also names its families and the date it was
    /// last seen, e.g. `... (Sober; last seen 2024-05-01)`.
    pub rbldnsd_entry_details: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            // rbldnsd's own default TTL: 35 minutes.
            rbldnsd_ttl: 2100,
            rbldnsd_a_value: Ipv4Addr::new(127, 0, 0, 2),
            rbldnsd_txt_template: "Listed by wormsign: worm mail seen from $".to_string(),
            rbldnsd_entry_details: true,
        }
    }
}

/// Renders `listings` in `format`. `now` (Unix seconds) is the generation
/// time written into formats that carry one (rbldnsd).
///
/// Listings whose address does not parse or is not [`is_listable`] are left
/// out. For [`Format::Rbldnsd`] the result contains the IPv4 listings only;
/// render the IPv6 file with [`render_rbldnsd_ip6`].
pub fn render(format: Format, listings: &[Listing], options: &ExportOptions, now: i64) -> String {
    let entries = listable::entries(listings);
    match format {
        Format::Plain => plain::render(&entries),
        Format::Rbldnsd => rbldnsd::render_ip4(&entries, options, now),
        Format::Csv => csv::render(&entries),
        Format::Json => json::render(&entries),
    }
}

/// One listing that passed [`is_listable`], with its parsed address.
struct Entry<'a> {
    /// The address in canonical form (IPv4-mapped IPv6 as IPv4).
    ip: IpAddr,
    listing: &'a Listing,
}

/// Formats Unix seconds as RFC 3339 UTC, e.g. `2024-05-01T12:00:00Z`.
/// Times outside years 0000 to 9999 fall back to the plain number.
fn rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed set: two IPv4 hosts, one IPv6 host, and addresses that must
    /// never be exported.
    pub(super) fn sample_listings() -> Vec<Listing> {
        let listing = |ip: &str, first_seen, last_seen, count, families: &[&str]| Listing {
            ip: ip.to_string(),
            first_seen,
            last_seen,
            count,
            families: families.iter().map(|f| f.to_string()).collect(),
            variants: Vec::new(),
        };
        vec![
            listing("192.0.2.1", 1_714_564_800, 1_714_568_400, 3, &["Sober"]),
            listing("10.1.2.3", 1_714_564_800, 1_714_564_800, 1, &["Sober"]),
            listing("127.0.0.1", 1_714_564_800, 1_714_564_800, 1, &["Sober"]),
            listing("2001:db8::25", 1_714_600_000, 1_714_600_000, 1, &["Sober"]),
            listing(
                "203.0.113.9",
                1_714_500_000,
                1_714_650_000,
                2,
                &["Sober", "Sober,\"X\""],
            ),
            listing("not an ip", 1_714_564_800, 1_714_564_800, 1, &["Sober"]),
        ]
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
        let error = "bind".parse::<Format>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"bind\""), "{message}");
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
