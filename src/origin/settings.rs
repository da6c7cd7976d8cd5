//! The trust settings `trusted_networks`, `internal_networks` and
//! `msa_networks`, with SpamAssassin's defaults and lint checks.
//!
//! Each list is either not configured (`None`) or configured, possibly
//! empty. The rules follow SpamAssassin 4.0 and its trust-path tests:
//!
//! - With neither trusted nor internal configured, trust is inferred:
//!   private, link-local and shared (100.64/10) addresses are trusted and
//!   internal, and so are authenticated hops. A PC on a private network is
//!   then trusted too, so a header it forges is read; sites with such PCs
//!   should configure trusted_networks.
//! - With one of the two configured, the other is a copy of it.
//! - 127.0.0.0/8 and `::1` are always trusted and internal, even when a
//!   list excludes them.
//! - Every included internal entry must lie inside the trusted networks,
//!   and so must every MSA; SpamAssassin's lint rejects other settings, and
//!   so does [`TrustSettings::new`].

use std::net::IpAddr;

use ipnet::IpNet;

use super::networks::{NetworkError, NetworkList, canonical_ip};

/// Ranges trusted when neither trusted nor internal networks are
/// configured: RFC 1918, shared address space, link-local and unique local
/// addresses.
// NOTE: only these ranges are inferred as trusted. SpamAssassin's own list
// of private ranges (IP_PRIVATE) was not compared and may differ.
pub const INFERRED_TRUSTED: [&str; 7] = [
    "10/8",
    "172.16/12",
    "192.168/16",
    "169.254/16",
    "100.64/10",
    "fc00::/7",
    "fe80::/10",
];

// TODO: SpamAssassin also infers trust from DNS: a relay in the same /16 as
// the first `by` host, or a `by` host with only private addresses. wormsign
// makes no DNS lookups, so it infers trust from the relay's address alone.
/// Validated trust settings. The default infers trust, as with no
/// settings at all.
#[derive(Debug, Clone)]
pub struct TrustSettings {
    trusted: NetworkList,
    internal: NetworkList,
    msa: NetworkList,
    inferred: bool,
}

impl Default for TrustSettings {
    fn default() -> Self {
        TrustSettings {
            trusted: inferred_list(),
            internal: inferred_list(),
            msa: NetworkList::default(),
            inferred: true,
        }
    }
}

/// Settings that SpamAssassin's lint rejects, or an entry that does not
/// parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustError {
    /// An entry of one list is not an address or prefix.
    #[error("{error}")]
    Network {
        /// `trusted_networks`, `internal_networks` or `msa_networks`.
        key: &'static str,
        error: NetworkError,
    },
    /// An internal network reaches outside the trusted networks.
    #[error(
        "entry {entry:?} is not inside trusted_networks. Every internal relay must be trusted, so add it to trusted_networks or remove it from internal_networks"
    )]
    InternalNotTrusted { entry: String },
    /// An MSA outside the trusted networks.
    #[error(
        "entry {entry:?} is not inside trusted_networks. An MSA must be trusted, so add it to trusted_networks or remove it from msa_networks"
    )]
    MsaNotTrusted { entry: String },
}

impl TrustError {
    /// Returns the config key the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            TrustError::Network { key, .. } => key,
            TrustError::InternalNotTrusted { .. } => "internal_networks",
            TrustError::MsaNotTrusted { .. } => "msa_networks",
        }
    }
}

impl TrustSettings {
    /// Parses the three lists as written (`None` = not configured) and
    /// checks them.
    ///
    /// # Errors
    /// Returns the first entry that does not parse, or that fails the
    /// lint checks described in the module documentation.
    pub fn parse<S: AsRef<str>>(
        trusted: Option<&[S]>,
        internal: Option<&[S]>,
        msa: Option<&[S]>,
    ) -> Result<Self, TrustError> {
        let parse = |key: &'static str, entries: Option<&[S]>| {
            entries
                .map(NetworkList::parse)
                .transpose()
                .map_err(|error| TrustError::Network { key, error })
        };
        let trusted = parse("trusted_networks", trusted)?;
        let internal = parse("internal_networks", internal)?;
        let msa = parse("msa_networks", msa)?;
        TrustSettings::new(trusted, internal, msa)
    }

    /// Builds settings from parsed lists (`None` = not configured).
    ///
    /// # Errors
    /// Returns [`TrustError::InternalNotTrusted`] or
    /// [`TrustError::MsaNotTrusted`] naming the first entry outside the
    /// trusted networks.
    pub fn new(
        trusted: Option<NetworkList>,
        internal: Option<NetworkList>,
        msa: Option<NetworkList>,
    ) -> Result<Self, TrustError> {
        let inferred = trusted.is_none() && internal.is_none();
        let both = trusted.is_some() && internal.is_some();
        let (trusted, internal) = match (trusted, internal) {
            (None, None) => (inferred_list(), inferred_list()),
            (Some(trusted), None) => (trusted.clone(), trusted),
            (None, Some(internal)) => (internal.clone(), internal),
            (Some(trusted), Some(internal)) => (trusted, internal),
        };
        let settings = TrustSettings {
            trusted,
            internal,
            msa: msa.unwrap_or_default(),
            inferred,
        };
        // A copied list is inside the other by construction; only an
        // internal list written beside a trusted one can reach outside it.
        if both && let Some(entry) = settings.first_untrusted(&settings.internal) {
            return Err(TrustError::InternalNotTrusted { entry });
        }
        if let Some(entry) = settings.first_untrusted(&settings.msa) {
            return Err(TrustError::MsaNotTrusted { entry });
        }
        Ok(settings)
    }

    /// True when neither trusted nor internal networks are configured.
    pub fn is_inferred(&self) -> bool {
        self.inferred
    }

    /// True when `ip` is loopback or in the (possibly inferred) trusted networks.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        is_loopback(ip) || self.trusted.contains(ip)
    }

    /// True when `ip` is loopback or in the (possibly inferred) internal networks.
    pub fn is_internal(&self, ip: IpAddr) -> bool {
        is_loopback(ip) || self.internal.contains(ip)
    }

    /// True when `ip` is in `msa_networks`.
    pub fn is_msa(&self, ip: IpAddr) -> bool {
        self.msa.contains(ip)
    }

    /// Returns the first included entry of `list` with an address that is
    /// not trusted.
    fn first_untrusted(&self, list: &NetworkList) -> Option<String> {
        list.included()
            .find(|(network, _)| !is_loopback_network(*network) && !self.trusted.covers(*network))
            .map(|(_, text)| text.to_owned())
    }
}

fn inferred_list() -> NetworkList {
    NetworkList::parse(&INFERRED_TRUSTED).unwrap_or_default()
}

/// True for 127.0.0.0/8 and `::1`, also in IPv4-mapped form.
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    canonical_ip(ip).is_loopback()
}

fn is_loopback_network(network: IpNet) -> bool {
    let loopback = ["127.0.0.0/8", "::1/128"];
    loopback
        .iter()
        .filter_map(|text| text.parse::<IpNet>().ok())
        .any(|net| net.contains(&network))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn inferred_trusts_private_ranges() {
        let settings = TrustSettings::default();
        assert!(settings.is_inferred());
        assert!(settings.is_trusted(ip("10.1.2.3")));
        assert!(settings.is_internal(ip("192.168.0.1")));
        assert!(settings.is_trusted(ip("127.0.0.2")));
        assert!(settings.is_trusted(ip("::1")));
        assert!(!settings.is_trusted(ip("203.0.113.1")));
    }

    #[test]
    fn one_list_copies_the_other() {
        let trusted_only = TrustSettings::parse(Some(&["192.0.2.0/24"]), None, None).unwrap();
        assert!(trusted_only.is_internal(ip("192.0.2.9")));
        let internal_only = TrustSettings::parse(None, Some(&["192.0.2.0/24"]), None).unwrap();
        assert!(internal_only.is_trusted(ip("192.0.2.9")));
        assert!(!internal_only.is_inferred());
    }

    #[test]
    fn empty_list_is_configured() {
        let empty: &[&str] = &[];
        let settings = TrustSettings::parse(Some(empty), None, None).unwrap();
        assert!(!settings.is_inferred());
        assert!(!settings.is_trusted(ip("10.1.2.3")));
        assert!(settings.is_trusted(ip("127.0.0.1")));
    }

    #[test]
    fn lint_rejects_internal_outside_trusted() {
        let cases: [(&[&str], &[&str], &str); 3] = [
            (&["1.1/16"], &["1.2.8/24"], "1.2.8/24"),
            (&["1.1.1/24"], &["1.1/16"], "1.1/16"),
            (&["!1.1.1.1", "1.1/16"], &["1.1.1.1"], "1.1.1.1"),
        ];
        for (trusted, internal, entry) in cases {
            let error = TrustSettings::parse(Some(trusted), Some(internal), None).unwrap_err();
            assert_eq!(
                error,
                TrustError::InternalNotTrusted {
                    entry: entry.to_owned()
                }
            );
            assert!(error.to_string().contains(entry), "{error}");
        }
    }

    #[test]
    fn lint_rejects_untrusted_msa() {
        let error = TrustSettings::parse(Some(&["1.1/16"]), None, Some(&["1.1.1.2", "5.5.5.5"]))
            .unwrap_err();
        assert_eq!(
            error,
            TrustError::MsaNotTrusted {
                entry: "5.5.5.5".to_owned()
            }
        );
        assert_eq!(error.key(), "msa_networks");
        let inferred = TrustSettings::parse(None, None, Some(&["203.0.113.5"])).unwrap_err();
        assert_eq!(inferred.key(), "msa_networks");
    }

    #[test]
    fn lint_accepts_loopback_and_excluded_entries() {
        let settings = TrustSettings::parse(
            Some(&["1.1/16"]),
            Some(&["127.0.0.1", "!1.1.1.2", "1.1/16", "!5.5.5.5"]),
            Some(&["1.1.1.2"]),
        );
        assert!(settings.is_ok(), "{settings:?}");
    }

    #[test]
    fn parse_names_the_key() {
        let error = TrustSettings::parse(None, Some(&["10/x"]), None).unwrap_err();
        assert_eq!(error.key(), "internal_networks");
        assert!(error.to_string().contains("10/x"), "{error}");
    }
}
