//! The listing policy: which hosts the blocklist publishes, with which A
//! value and TXT text.
//!
//! [`listed`] is the one entry point for every publisher (the export
//! formats, the DNSBL responder and `wormsign stats`). It reads
//! [`crate::store::listings`] with the policy's counting rules (minimum
//! weighted sightings, time window, expiry after silence, delistings), then
//! drops keys that must never be published (loopback, private, reserved,
//! trusted or allowlisted networks) and picks each key's return code.

mod policy;

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use rusqlite::Connection;
use time::OffsetDateTime;

use crate::export::is_listable_with;
use crate::store::{self, Listing, StoreError};

pub use policy::{Policy, RawListing, ReturnCodeRule};

/// One published listing: a host (IPv4 /32) or an IPv6 /64 network.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The listed network: an IPv4 /32 or an IPv6 /64.
    pub network: IpNet,
    /// The aggregated sightings behind it.
    pub listing: Listing,
    /// The A record value for this listing, from [`Policy::return_code_for`].
    pub return_code: Ipv4Addr,
    /// TXT text in rbldnsd's template syntax: `$` stands for the queried
    /// address and `$$` for a literal `$`. Expand it with [`Listed::txt_for`].
    pub txt: String,
}

impl Listed {
    /// Returns the TXT text for a query of `queried`: every `$` replaced by
    /// the address and every `$$` by a single `$`, as rbldnsd does.
    pub fn txt_for(&self, queried: IpAddr) -> String {
        expand_template(&self.txt, &queried.to_string())
    }

    /// Returns whether the listing covers `ip` (IPv4-mapped IPv6 addresses
    /// are looked up as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.network.contains(&crate::origin::canonical_ip(ip))
    }
}

/// Reads the listings that `policy` publishes at time `now` (Unix seconds),
/// ordered by address, IPv4 first.
///
/// # Errors
///
/// [`StoreError::Query`] if reading the database fails.
pub fn listed(conn: &Connection, policy: &Policy, now: i64) -> Result<Vec<Listed>, StoreError> {
    let listings = store::listings(conn, &policy.query(now))?;
    Ok(apply(listings, policy))
}

/// Keeps the listings `policy` allows to publish and adds their A value and
/// TXT text. Listings whose key does not parse are dropped.
pub fn apply(listings: Vec<Listing>, policy: &Policy) -> Vec<Listed> {
    listings
        .into_iter()
        .filter_map(|listing| {
            let network = parse_key(&listing.ip)?;
            if !policy.may_publish(network) {
                return None;
            }
            let return_code = policy.return_code_for(&listing);
            let txt = policy.txt_for(&listing);
            Some(Listed {
                network,
                listing,
                return_code,
                txt,
            })
        })
        .collect()
}

/// Parses a listing key (`192.0.2.1`, `2001:db8::/64`, or an IPv4-mapped
/// form) into a network.
fn parse_key(key: &str) -> Option<IpNet> {
    if key.contains('/') {
        return key.parse::<IpNet>().ok().map(|net| net.trunc());
    }
    let ip = crate::origin::canonical_ip(key.trim().parse::<IpAddr>().ok()?);
    match ip {
        IpAddr::V4(_) => Some(IpNet::from(ip)),
        IpAddr::V6(_) => IpNet::new(ip, 64).ok().map(|net| net.trunc()),
    }
}

/// Returns whether `network` may ever be published, which holds when its
/// first and last address are both listable.
pub(crate) fn network_is_listable(network: IpNet, documentation: bool) -> bool {
    is_listable_with(network.network(), documentation)
        && is_listable_with(network.broadcast(), documentation)
}

/// Expands an rbldnsd TXT template: `$$` becomes `$` and a single `$`
/// becomes `address`.
pub fn expand_template(template: &str, address: &str) -> String {
    let mut out = String::with_capacity(template.len() + address.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
        } else if chars.peek() == Some(&'$') {
            chars.next();
            out.push('$');
        } else {
            out.push_str(address);
        }
    }
    out
}

/// Formats Unix seconds as a UTC date, `2024-05-01`.
pub(crate) fn date(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .map(|time| time.date().to_string())
        .unwrap_or_else(|_| unix_seconds.to_string())
}

#[cfg(test)]
mod tests;
