//! The `[listing]` config section and its validated form, [`Policy`].

use std::net::Ipv4Addr;

use ipnet::IpNet;
use serde::Deserialize;

use super::{date, network_is_listable};
use crate::origin::NetworkList;
use crate::scanner::Confidence;
use crate::store::{Listing, ListingQuery, MethodWeights};

/// Maximum length in bytes of the per-listing details appended to the TXT
/// template, so the expanded TXT stays well under the 255-byte limit of one
/// DNS character string.
// NOTE: only the details are cut, so a long template can still push the
// expanded TXT past 255 bytes. How rbldnsd handles that was not checked.
const MAX_DETAILS: usize = 120;

/// The `[listing]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListing {
    pub min_sightings: Option<f64>,
    pub window_hours: Option<u64>,
    pub expire_after_hours: Option<u64>,
    pub weights: Option<RawWeights>,
    pub allowlist: Option<Vec<String>>,
    pub list_documentation_ranges: Option<bool>,
    pub return_code: Option<String>,
    pub return_codes: Option<Vec<RawReturnCode>>,
    pub txt_template: Option<String>,
    pub txt_details: Option<bool>,
}

/// `[listing.weights]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeights {
    pub connect: Option<f64>,
    pub received: Option<f64>,
    pub bounce: Option<f64>,
}

/// One `[[listing.return_codes]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReturnCode {
    pub family: Option<String>,
    pub confidence: Option<String>,
    pub code: String,
}

/// A return code for listings of one worm family and/or confidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnCodeRule {
    /// Matches when the listing has a sighting of this family, compared
    /// ASCII case-insensitively; `None` matches any family.
    pub family: Option<String>,
    /// Matches the listing's highest confidence (`high`, `medium` or
    /// `low`); `None` matches any.
    pub confidence: Option<String>,
    /// The A value returned.
    pub code: Ipv4Addr,
}

/// The validated listing policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Minimum weighted sightings for a listing.
    pub min_sightings: f64,
    /// Only sightings this recent count; `None` counts all.
    pub window_secs: Option<i64>,
    /// A listing expires after this long without a new sighting; `None`
    /// keeps it until it is delisted.
    pub expire_after_secs: Option<i64>,
    pub weights: MethodWeights,
    /// Networks never listed, as written in `allowlist`.
    pub allowlist: Vec<IpNet>,
    /// The included `trusted_networks` of the main config, because our own
    /// relays are never listed. Any overlap with a listing blocks it.
    pub trusted: Vec<IpNet>,
    /// `trusted_networks` as the trust walk reads them, SpamAssassin
    /// shorthand (`10/8`) and exclusions included.
    pub trusted_list: NetworkList,
    /// Whether the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
    /// 203.0.113.0/24, 2001:db8::/32, 3fff::/20) may be listed. Off by default; tests
    /// and examples that use those ranges turn it on.
    pub list_documentation_ranges: bool,
    /// A value when no rule in `return_codes` matches.
    pub return_code: Ipv4Addr,
    /// First match wins.
    pub return_codes: Vec<ReturnCodeRule>,
    /// TXT template in rbldnsd syntax (`$` is the queried address).
    pub txt_template: String,
    /// Whether each listing's TXT also names its families and last-seen date.
    pub txt_details: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::from_raw(RawListing::default(), &[]).expect("the embedded defaults are valid")
    }
}

impl Policy {
    /// Validates the `[listing]` section. `trusted_networks` are the main
    /// config's entries. Exclusions (`!net`) among them apply only in
    /// [`Policy::trusted_list`], as in the trust walk.
    ///
    /// # Errors
    ///
    /// The config key inside `[listing]` (`return_codes[1].code` for an
    /// entry of the array) and a message naming the bad value and the fix.
    pub fn from_raw(
        raw: RawListing,
        trusted_networks: &[String],
    ) -> Result<Policy, (String, String)> {
        let min_sightings = raw.min_sightings.unwrap_or(1.0);
        if !min_sightings.is_finite() || min_sightings <= 0.0 {
            return Err((
                "min_sightings".to_string(),
                format!("{min_sightings} is invalid: use a number above 0, e.g. 1 or 2.5"),
            ));
        }
        let hours = |key: &str, value: Option<u64>, default: u64| match value.unwrap_or(default) {
            0 => Ok(None),
            hours if hours > 24 * 365 * 100 => Err((
                key.to_string(),
                format!(
                    "{hours} hours is out of range: use at most 876000 (100 years), or 0 for no limit"
                ),
            )),
            hours => Ok(Some(i64::try_from(hours * 3600).unwrap_or(i64::MAX))),
        };
        // Defaults: a month of evidence counts, and a week of silence ends
        // the listing.
        let window_secs = hours("window_hours", raw.window_hours, 30 * 24)?;
        let expire_after_secs = hours("expire_after_hours", raw.expire_after_hours, 7 * 24)?;

        let raw_weights = raw.weights.unwrap_or_default();
        let defaults = MethodWeights::default();
        let weights = MethodWeights {
            connect: raw_weights.connect.unwrap_or(defaults.connect),
            received: raw_weights.received.unwrap_or(defaults.received),
            bounce: raw_weights.bounce.unwrap_or(defaults.bounce),
            other: defaults.other,
        };
        for value in [weights.connect, weights.received, weights.bounce] {
            if !value.is_finite() || value < 0.0 {
                return Err((
                    "weights".to_string(),
                    format!("{value} is invalid: a weight is a number from 0 (ignore) upwards"),
                ));
            }
        }

        let allowlist = parse_networks(&raw.allowlist.unwrap_or_default())
            .map_err(|message| ("allowlist".to_string(), message))?;
        let trusted: Vec<String> = trusted_networks
            .iter()
            .filter(|entry| !entry.trim_start().starts_with('!'))
            .cloned()
            .collect();
        // The main config validated these already. An entry in SpamAssassin
        // shorthand that IpNet does not read is still matched through
        // `trusted_list`, by the first and last address of a listing.
        let trusted = trusted
            .iter()
            .filter_map(|entry| parse_network(entry).ok())
            .collect();
        let trusted_list = NetworkList::parse(trusted_networks)
            .map_err(|error| ("trusted_networks".to_string(), error.to_string()))?;

        let return_code = parse_code(raw.return_code.as_deref().unwrap_or("127.0.0.2"))
            .map_err(|message| ("return_code".to_string(), message))?;
        let return_codes = raw
            .return_codes
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(index, rule)| return_code_rule(index, rule))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Policy {
            min_sightings,
            window_secs,
            expire_after_secs,
            weights,
            allowlist,
            trusted,
            trusted_list,
            list_documentation_ranges: raw.list_documentation_ranges.unwrap_or(false),
            return_code,
            return_codes,
            txt_template: without_controls(
                raw.txt_template
                    .as_deref()
                    .unwrap_or("Listed by wormsign: worm mail seen from $"),
            ),
            txt_details: raw.txt_details.unwrap_or(true),
        })
    }

    /// Returns the store query for this policy at time `now` (Unix seconds).
    pub fn query(&self, now: i64) -> ListingQuery {
        ListingQuery {
            min_sightings: self.min_sightings,
            since: self.window_secs.map(|secs| now.saturating_sub(secs)),
            active_since: self.expire_after_secs.map(|secs| now.saturating_sub(secs)),
            exclude_methods: Vec::new(),
            weights: self.weights,
        }
    }

    /// Returns whether `network` may be published: it is listable, and
    /// overlaps no allowlisted or trusted network.
    pub fn may_publish(&self, network: IpNet) -> bool {
        let overlaps = |other: &IpNet| other.contains(&network) || network.contains(other);
        network_is_listable(network, self.list_documentation_ranges)
            && !self.allowlist.iter().any(overlaps)
            && !self.trusted.iter().any(overlaps)
            && !self.trusted_list.contains(network.network())
            && !self.trusted_list.contains(network.broadcast())
    }

    /// Returns the A value for `listing`: the first rule whose family and
    /// confidence match, else [`Policy::return_code`].
    pub fn return_code_for(&self, listing: &Listing) -> Ipv4Addr {
        self.return_codes
            .iter()
            .find(|rule| {
                rule.family.as_ref().is_none_or(|family| {
                    listing
                        .families
                        .iter()
                        .any(|listed| listed.eq_ignore_ascii_case(family))
                }) && rule
                    .confidence
                    .as_ref()
                    .is_none_or(|confidence| *confidence == listing.confidence)
            })
            .map_or(self.return_code, |rule| rule.code)
    }

    /// Returns the families named in `return_codes` that match none of
    /// `known` (the families of the loaded rules), so no listing can match
    /// their rule. Each is returned once, as written.
    pub fn unknown_families(&self, known: &[String]) -> Vec<&str> {
        let mut unknown: Vec<&str> = Vec::new();
        for family in self.return_codes.iter().filter_map(|r| r.family.as_deref()) {
            let is_known = known.iter().any(|k| k.eq_ignore_ascii_case(family));
            if !is_known && !unknown.contains(&family) {
                unknown.push(family);
            }
        }
        unknown
    }

    /// Returns the TXT text of `listing` in rbldnsd template syntax: the
    /// template, then ` (Sober; last seen 2024-05-01)` if details are on.
    pub fn txt_for(&self, listing: &Listing) -> String {
        if !self.txt_details {
            return self.txt_template.clone();
        }
        format!(
            "{} ({})",
            self.txt_template,
            details(&listing.families, listing.last_seen)
        )
    }
}

/// Returns `Mydoom, Sober; last seen 2024-05-01`, with `$` doubled so
/// rbldnsd prints it literally, shortened to [`MAX_DETAILS`] bytes.
pub(crate) fn details(families: &[String], last_seen: i64) -> String {
    let families = families.join(", ");
    let text = without_controls(&format!("{families}; last seen {}", date(last_seen)));
    let mut text = text.replace('$', "$$");
    if text.len() > MAX_DETAILS {
        let mut end = MAX_DETAILS;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        // Do not leave half of a `$$` pair at the end.
        if text.chars().rev().take_while(|c| *c == '$').count() % 2 == 1 {
            text.pop();
        }
    }
    text
}

/// Replaces control characters, which would break line-based formats,
/// with spaces.
pub(crate) fn without_controls(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn parse_networks(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries.iter().map(|entry| parse_network(entry)).collect()
}

impl Policy {
    /// Applies a `--weight METHOD=WEIGHT` flag.
    ///
    /// # Errors
    /// A message naming the flag's value and the accepted forms.
    pub fn set_weight(&mut self, entry: &str) -> Result<(), String> {
        let (method, value) = entry.split_once('=').ok_or_else(|| {
            format!("invalid --weight {entry:?}: write METHOD=WEIGHT, e.g. bounce=0")
        })?;
        let weight = value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|weight| weight.is_finite() && *weight >= 0.0)
            .ok_or_else(|| {
                format!("invalid --weight {entry:?}: a weight is a number from 0 (ignore) upwards")
            })?;
        match method.trim() {
            "connect" => self.weights.connect = weight,
            "received" => self.weights.received = weight,
            "bounce" => self.weights.bounce = weight,
            other => {
                return Err(format!(
                    "invalid --weight {entry:?}: unknown method {other:?}; use connect, received or bounce"
                ));
            }
        }
        Ok(())
    }

    /// Adds an `--allow NETWORK` flag to the allowlist.
    ///
    /// # Errors
    /// A message naming the network and the accepted forms.
    pub fn allow(&mut self, entry: &str) -> Result<(), String> {
        let network = parse_network(entry).map_err(|message| format!("--allow: {message}"))?;
        self.allowlist.push(network);
        Ok(())
    }
}

/// Parses `192.0.2.0/24`, `2001:db8::/48` or a single address.
fn parse_network(entry: &str) -> Result<IpNet, String> {
    let text = entry.trim();
    let parsed = if text.contains('/') {
        text.parse::<IpNet>().map(|net| net.trunc()).ok()
    } else {
        text.parse::<std::net::IpAddr>().ok().map(IpNet::from)
    };
    parsed.ok_or_else(|| {
        format!("invalid network {entry:?}: write an address or CIDR prefix, e.g. 192.0.2.0/24 or 2001:db8::/48")
    })
}

/// Validates entry `index` (0-based) of `[[listing.return_codes]]`.
fn return_code_rule(index: usize, raw: RawReturnCode) -> Result<ReturnCodeRule, (String, String)> {
    let key = |name: &str| format!("return_codes[{index}].{name}");
    if let Some(confidence) = &raw.confidence
        && Confidence::parse(confidence).is_none()
    {
        return Err((
            key("confidence"),
            format!(
                "invalid confidence {confidence:?}: use \"high\", \"medium\" or \"low\" (lower case), or remove the key to match any"
            ),
        ));
    }
    if raw
        .family
        .as_ref()
        .is_some_and(|family| family.trim().is_empty())
    {
        return Err((
            key("family"),
            "is empty: name a rule family such as \"Sober\", or remove the key to match any"
                .to_string(),
        ));
    }
    Ok(ReturnCodeRule {
        family: raw.family,
        confidence: raw.confidence,
        code: parse_code(&raw.code).map_err(|message| (key("code"), message))?,
    })
}

/// Parses a return code, which RFC 5782 places in 127.0.0.0/8.
fn parse_code(text: &str) -> Result<Ipv4Addr, String> {
    match text.trim().parse::<Ipv4Addr>() {
        Ok(code) if code.octets()[0] == 127 && code != Ipv4Addr::new(127, 0, 0, 1) => Ok(code),
        _ => Err(format!(
            "invalid return code {text:?}: use an address in 127.0.0.0/8 other than 127.0.0.1, e.g. 127.0.0.2"
        )),
    }
}
