//! The trust path: from the SMTP client down the Received chain to the origin.
//!
//! Each Received header is written by the host that received the message,
//! so a header is only as trustworthy as its writer. The walk starts at the
//! SMTP client, whose address the MTA took from the connection itself, and
//! reads one header further down only while the host that wrote it is a
//! trusted relay. The first host that is not trusted is the origin:
//! everything below it may be forged.
//!
//! Each relay also gets SpamAssassin's trust flags (trusted, internal, MSA),
//! which `wormsign origin` prints so an admin can check the settings.

use std::net::IpAddr;

use super::networks::{canonical_ip, parse_ip_text};
use super::settings::{TrustSettings, is_loopback};
use super::{Hop, parse_received};

/// Method by which an origin was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginMethod {
    /// The SMTP client of the connection, which was not trusted (with or
    /// without SMTP AUTH).
    Connect,
    /// Taken from a Received header written by a trusted relay, or from an
    /// originating-IP header below an MSA.
    Received,
    /// Taken from the original message embedded in a bounce, so reported
    /// by a third party (the site that bounced it).
    Bounce,
}

impl OriginMethod {
    /// Returns the lowercase name stored with a sighting.
    pub fn as_str(self) -> &'static str {
        match self {
            OriginMethod::Connect => "connect",
            OriginMethod::Received => "received",
            OriginMethod::Bounce => "bounce",
        }
    }
}

/// The host that injected the message into the mail system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Address of the origin, IPv4-mapped IPv6 converted to IPv4.
    pub ip: IpAddr,
    /// Method by which the address was found.
    pub method: OriginMethod,
    /// Index of the Received header (0 = newest) the IP came from; `None`
    /// for `Connect` and for an originating-IP header.
    pub hop: Option<usize>,
    /// The parsed hop the IP came from; `None` for `Connect`.
    pub relay: Option<Hop>,
}

/// Starting point of the trust walk.
#[derive(Debug, Clone, Default)]
pub struct TrustInput<'a> {
    /// SMTP client IP from the connect callback; `None` offline.
    pub client_ip: Option<IpAddr>,
    /// True when the SMTP client authenticated (`{auth_authen}` set).
    pub client_authenticated: bool,
    /// Received header values, newest first, unfolded.
    pub received: &'a [String],
    /// Values of originating-IP headers (see [`ORIGINATING_IP_HEADERS`]),
    /// in header order.
    pub originating: &'a [String],
}

/// Headers in which webmail front ends and MSAs record the client that
/// submitted a message, as in SpamAssassin's `originating_ip_headers`.
pub const ORIGINATING_IP_HEADERS: [&str; 6] = [
    "X-Yahoo-Post-IP",
    "X-Originating-IP",
    "X-Apparently-From",
    "X-SenderIP",
    "X-AOL-IP",
    "X-MS-Exchange-CrossTenant-OriginalAttributedTenantConnectingIp",
];

/// Source of a relay: the connection or one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelaySource {
    /// The SMTP connection; the MTA's own Received header for it, when
    /// present, is merged into this relay.
    Connect,
    /// The Received header with this index (0 = newest).
    Received(usize),
    /// An originating-IP header, added as the oldest relay.
    Originating,
}

/// One relay of the path with SpamAssassin's trust flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub hop: Hop,
    /// Address of the relay, IPv4-mapped IPv6 converted to IPv4.
    pub ip: IpAddr,
    pub source: RelaySource,
    /// True while the path is still inside the trusted networks.
    pub trusted: bool,
    /// True while the path is still inside the internal networks.
    pub internal: bool,
    /// True when this relay is a trusted MSA: the relays below it are
    /// trusted, since they are users submitting mail.
    pub msa: bool,
}

/// Every relay on the path and the origin chosen among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustPath {
    pub relays: Vec<Relay>,
    pub origin: Option<Origin>,
}

/// Finds the origin: the first host on the path that is not trusted.
/// See [`trust_path`] for the rules.
pub fn find_origin(input: &TrustInput<'_>, settings: &TrustSettings) -> Option<Origin> {
    trust_path(input, settings).origin
}

/// Lists every relay with its trust flags and finds the origin.
///
/// The flags follow SpamAssassin: a relay stays trusted while every relay
/// above it was trusted (or authenticated, or below an MSA), and the same
/// for internal. Loopback is always trusted and internal.
///
/// The origin rules, in path order:
///
/// 1. An authenticated relay (`{auth_authen}` on the connection, `with
///    ESMTPA`, `(authenticated bits=0)` ...) whose address is outside the
///    trusted networks is the origin, because a user who logged in
///    submitted the message. An authenticated relay inside the trusted
///    networks is a trusted relay like any other: it is never the origin
///    and the walk reads the header it wrote. On loopback, unless below an
///    MSA, it is a local program or user of this host and the result is
///    `None`.
/// 2. The first relay below an MSA that is not loopback is the origin:
///    the client that submitted the message to the MSA. Loopback hops
///    below an MSA, authenticated or not, are skipped, because they are
///    programs on the MSA host such as webmail.
/// 3. The first untrusted relay is the origin.
/// 4. A Received header that yields no relay address, read while still
///    inside the trusted path, ends the walk with `None`: the trusted
///    host wrote it for mail that did not come over the network (local
///    submission such as `by relay (Postfix, from userid 0)`, a spooler,
///    fetchmail) or in a layout the parser cannot read, and the header below
///    it was written by the program that handed the message in, so it may be forged.
///    SpamAssassin skips such headers instead. The exceptions are the notes
///    a filter on the same host adds (see [`is_same_host_note`]); those
///    are skipped.
/// 5. An originating-IP header is the origin only below an MSA (rule 2):
///    elsewhere any sender inside the trusted networks could write one
///    naming an innocent host.
/// 6. When the relays run out while every host was trusted, the result is
///    `None`: the message was made inside the trusted network.
///
/// With no `client_ip` (an offline scan of a file) the newest header's
/// client is the first relay, as in SpamAssassin.
///
/// When the newest Received header names the connection's client IP (the
/// MTA shows its own header to the milter, or a content filter reinjects
/// the message), that header and the connection are one relay.
///
/// Headers below the origin are listed with their flags but never decide
/// anything. Ending the walk early never lists an innocent host; it can
/// only miss an origin, which then gives no sighting.
pub fn trust_path(input: &TrustInput<'_>, settings: &TrustSettings) -> TrustPath {
    let mut walk = Walk::new(settings);
    let mut first_header = 0;

    if let Some(client) = input.client_ip.map(canonical_ip) {
        let mut hop = Hop {
            ip: Some(client),
            ..Hop::default()
        };
        let own_header = input
            .received
            .first()
            .and_then(|value| parse_received(value));
        if let Some(header) = own_header.filter(|h| h.ip.map(canonical_ip) == Some(client)) {
            hop = header;
            first_header = 1;
        }
        if input.client_authenticated {
            hop.authenticated = true;
            hop.auth.get_or_insert_with(|| "auth_authen".to_owned());
        }
        walk.add(hop, client, RelaySource::Connect);
    }

    for (index, value) in input.received.iter().enumerate().skip(first_header) {
        let parsed = parse_received(value).and_then(|hop| hop.ip.map(|ip| (canonical_ip(ip), hop)));
        match parsed {
            Some((ip, hop)) => walk.add(hop, ip, RelaySource::Received(index)),
            None if is_same_host_note(value) => {}
            None => walk.stop(),
        }
    }
    for value in input.originating {
        if let Some(ip) = first_ip(value) {
            let hop = Hop {
                ip: Some(ip),
                ..Hop::default()
            };
            walk.add(hop, ip, RelaySource::Originating);
        }
    }
    walk.path
}

/// State of the walk between relays.
struct Walk<'s> {
    settings: &'s TrustSettings,
    in_trusted: bool,
    in_internal: bool,
    below_msa: bool,
    /// False once the origin is decided, found or not.
    searching: bool,
    path: TrustPath,
}

impl<'s> Walk<'s> {
    fn new(settings: &'s TrustSettings) -> Self {
        Walk {
            settings,
            in_trusted: true,
            in_internal: true,
            below_msa: false,
            searching: true,
            path: TrustPath::default(),
        }
    }

    /// Ends the search with no origin; later relays are still listed.
    fn stop(&mut self) {
        self.searching = false;
    }

    fn add(&mut self, hop: Hop, ip: IpAddr, source: RelaySource) {
        // An authenticated relay or one below an MSA keeps the path trusted
        // whatever its address, as in SpamAssassin.
        let vouched = hop.authenticated || self.below_msa;
        if !vouched && !self.settings.is_trusted(ip) {
            self.in_trusted = false;
        }
        if self.settings.is_inferred() {
            self.in_internal = self.in_trusted;
        } else if !vouched && !self.settings.is_internal(ip) {
            self.in_internal = false;
        }
        // An internal relay that is not trusted only exists with settings
        // the lint rejects; SpamAssassin then keeps the path trusted.
        if self.in_internal {
            self.in_trusted = true;
        }
        let msa = self.in_trusted && self.settings.is_msa(ip);
        let relay = Relay {
            hop,
            ip,
            source,
            trusted: self.in_trusted,
            internal: self.in_internal,
            msa,
        };
        if self.searching {
            self.decide(&relay);
        }
        self.below_msa |= msa;
        self.path.relays.push(relay);
    }

    fn decide(&mut self, relay: &Relay) {
        let loopback = is_loopback(relay.ip);
        let below_msa = self.below_msa && !loopback;
        let take = if relay.source == RelaySource::Originating {
            // Rule 5: only an MSA vouches for an originating-IP header.
            if !below_msa && !relay.trusted {
                self.searching = false;
            }
            below_msa
        } else if relay.hop.authenticated && loopback && !self.below_msa {
            // Rule 1: a local program or user of this host. Below an MSA,
            // loopback is the MSA handing mail to itself (webmail that logs
            // in over loopback) and is skipped by rule 2 like any loopback
            // hop there, so the originating-IP header below it still counts.
            self.searching = false;
            false
        } else if relay.hop.authenticated && !self.settings.is_trusted(relay.ip) {
            // Rule 1: a client that logged in from outside the trusted
            // networks submitted the message.
            true
        } else if relay.hop.authenticated {
            // A trusted relay that relays with SMTP AUTH (a front MX that
            // logs in to the filtering host) is never the origin: the walk
            // reads the header it wrote, as for any trusted relay.
            below_msa
        } else {
            below_msa || !relay.trusted
        };
        if take {
            self.searching = false;
            self.path.origin = Some(origin_of(relay));
        }
    }
}

fn origin_of(relay: &Relay) -> Origin {
    match relay.source {
        RelaySource::Connect => Origin {
            ip: relay.ip,
            method: OriginMethod::Connect,
            hop: None,
            relay: None,
        },
        RelaySource::Received(index) => Origin {
            ip: relay.ip,
            method: OriginMethod::Received,
            hop: Some(index),
            relay: Some(relay.hop.clone()),
        },
        RelaySource::Originating => Origin {
            ip: relay.ip,
            method: OriginMethod::Received,
            hop: None,
            relay: Some(relay.hop.clone()),
        },
    }
}

/// Returns the first IP address in an originating-IP header value, which
/// may be bare, bracketed or followed by other text.
fn first_ip(value: &str) -> Option<IpAddr> {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')'))
        .find_map(parse_ip_text)
}

/// True for Received headers that a program on the receiving host adds
/// beside the MTA's own header, about the same hop: qmail-queue's
/// `(qmail N invoked from network)`, and content filters that pass the
/// message back `with SpamAssassin`, `with scanned-ok` (amavis behind Exim)
/// or `with qmail-scanner-N`.
///
/// Only text the host wrote itself is read. Addresses, quoted strings and
/// comments (apart from qmail's leading one) are dropped, and so is
/// everything from the `for` clause on, since the sender chooses them: a
/// recipient such as `amavisd@example.org` must not turn a local submission
/// into a note.
pub fn is_same_host_note(value: &str) -> bool {
    let lower = value.trim_start().to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("(qmail ") {
        let first_comment = rest.split(')').next().unwrap_or("");
        return first_comment.contains("invoked from network");
    }
    let words = bare_words(&lower);
    let after_by = words.iter().copied().skip_while(|w| *w != "by");
    let protocol = after_by
        .take_while(|w| *w != "for")
        .skip_while(|w| *w != "with")
        .nth(1);
    protocol
        .is_some_and(|p| p == "spamassassin" || p == "scanned-ok" || p.starts_with("qmail-scanner"))
}

/// Words of a Received value outside comments, brackets, angle brackets and
/// quotes, up to the date.
fn bare_words(value: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut closing: Option<char> = None;
    let mut start: Option<usize> = None;
    for (index, c) in value.char_indices() {
        if let Some(close) = closing {
            if c == close {
                closing = None;
            }
            continue;
        }
        let separator = c.is_whitespace() || matches!(c, '(' | ')' | '[' | '<' | '"' | ';');
        if separator
            && let Some(begin) = start.take()
            && depth == 0
        {
            words.push(&value[begin..index]);
        }
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '[' => closing = Some(']'),
            '<' => closing = Some('>'),
            '"' => closing = Some('"'),
            ';' if depth == 0 => return words,
            _ if !separator && start.is_none() => start = Some(index),
            _ => {}
        }
    }
    if let Some(begin) = start
        && depth == 0
    {
        words.push(&value[begin..]);
    }
    words
}

#[cfg(test)]
mod tests;
