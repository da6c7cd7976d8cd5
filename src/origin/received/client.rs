//! The `from` clause of a Received header: the client the receiving host
//! saw, as address, reverse DNS name, HELO name and ident.

use std::net::{IpAddr, Ipv4Addr};

use super::{Item, Token};
use crate::origin::networks::{canonical_ip, parse_ip_text};

/// The client of one hop.
pub(super) struct Client {
    pub ip: IpAddr,
    pub rdns: Option<String>,
    pub helo: Option<String>,
    pub ident: Option<String>,
}

/// An MTA whose `from` clause reads differently from the common layouts,
/// as named in a comment of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mta {
    /// Exim writes `name ([ip])` only when the HELO name equals the reverse
    /// DNS name, so the name is both.
    Exim,
    /// Scalix writes `helo ( ip)`: the name is the HELO name only.
    Scalix,
    Other,
}

/// Reads the items of a `from` clause written by `mta`. Returns `None`
/// when the clause records no address.
///
/// The address comes from the first comment that contains one (`(rdns [ip])`,
/// `(ip)`), then from a literal after the name (Exim 3, NAVGW). The name
/// right after `from` comes last because it is usually the client's own
/// HELO argument.
pub(super) fn read_client(items: &[Item<'_, '_>], mta: Mta) -> Option<Client> {
    let (name, rest) = match items.split_first() {
        Some((Item::Name(raw) | Item::Word(raw), rest)) => (read_name(raw), rest),
        Some((Item::Literal(literal), rest)) => (literal_name(literal), rest),
        _ => (Name::default(), items),
    };

    let mut comments = Vec::new();
    let mut late_literal = None;
    let mut claimed_helo = None;
    for (index, item) in rest.iter().enumerate() {
        match item {
            Item::Group { tokens } => comments.push(read_comment(tokens)),
            Item::Literal(literal)
                if late_literal.is_none() && !comments.iter().any(|c| c.ident_key) =>
            {
                late_literal = parse_literal_ip(literal).map(|ip| (ip, !comments.is_empty()));
            }
            Item::Word(word) if word.eq_ignore_ascii_case("claiming") => {
                claimed_helo = read_claimed_helo(&rest[index + 1..]);
            }
            _ => {}
        }
    }
    let explicit_helo = comments.iter().find_map(|c| c.helo.clone());
    let name_host = name
        .host
        .filter(|host| is_known_name(host))
        .map(str::to_owned);

    // Exim 3 writes `rdns (helo) [ip]`: the literal after the comment is
    // the address it recorded, and the one-word comment is the client's
    // HELO argument even when that argument is an address.
    if let Some((ip, true)) = late_literal
        && let [Item::Group { tokens }, Item::Literal(_), ..] = rest
        && let Some(helo) = single_word(tokens)
    {
        return Some(Client {
            ip,
            rdns: name_host,
            helo: Some(helo),
            ident: None,
        });
    }
    // Exim ends its comment with the ident response, which the client's own
    // identd chooses, so in `[ip]:port (helo=x ident=y) ([ip2])` the
    // second comment is part of it.
    let recorded = match comments.iter().position(|c| c.ident_key) {
        Some(last) => &comments[..=last],
        None => &comments[..],
    };
    if let Some((comment, ip)) = recorded.iter().find_map(|c| c.ip.map(|ip| (c, ip))) {
        let client = client_from_comment(ip, comment, &name, name_host, mta, explicit_helo);
        return Some(client);
    }
    if let Some(ip) = name.fwtk_ip {
        return Some(Client {
            ip,
            rdns: name_host,
            helo: claimed_helo,
            ident: None,
        });
    }
    if let Some((ip, after_comment)) = late_literal {
        // Exim 3 `rdns (helo) [ip]`, GMX `rdns (EHLO helo) [ip]`, NAVGW `helo [ip]`.
        let (rdns, helo) = if after_comment {
            let single_word = match comments.first().map(|c| c.words.as_slice()) {
                Some([word]) => Some((*word).to_owned()),
                _ => None,
            };
            (name_host, explicit_helo.unwrap_or(single_word))
        } else {
            (None, name.text)
        };
        return Some(Client {
            ip,
            rdns,
            helo,
            ident: None,
        });
    }
    // Exim `[ip]:port (helo=x ident=y)`, CommuniGate `[ip] (HELO x)`,
    // webmail `ip`.
    let ip = name.ip?;
    let default_helo = if name.is_literal { name.text } else { None };
    Some(Client {
        ip,
        rdns: None,
        helo: explicit_helo.unwrap_or(default_helo),
        ident: comments.iter().find_map(|c| c.ident).map(str::to_owned),
    })
}

/// Returns the text of a comment made of one word or literal.
fn single_word(tokens: &[Token<'_>]) -> Option<String> {
    match tokens {
        [Token::Word(word) | Token::Name(word)] => Some((*word).to_owned()),
        [Token::Literal(literal)] => Some(format!("[{literal}]")),
        _ => None,
    }
}

/// Builds the client from the comment that recorded its address.
fn client_from_comment(
    ip: IpAddr,
    comment: &Comment<'_>,
    name: &Name<'_>,
    name_host: Option<String>,
    mta: Mta,
    explicit_helo: Option<Option<String>>,
) -> Client {
    let mut ident = comment.ident.map(str::to_owned);
    let rdns = match (comment.name_before_ip, comment.form) {
        // Sendmail and Postfix: `(rdns [ip])`, Sendmail also `(ident@rdns [ip])`.
        (Some(before), _) => {
            let (user, host) = split_ident(before);
            ident = ident.or(user.map(str::to_owned));
            Some(host).filter(|h| is_known_name(h)).map(str::to_owned)
        }
        // Exim `rdns ([ip] helo=x)` and `name ([ip])`, CommuniGate `name ([ip] verified)`.
        (None, AddressForm::Bracketed)
            if comment.helo.is_some() || mta == Mta::Exim || comment.verified =>
        {
            name_host
        }
        // Sendmail, Courier: `helo ([ip])` when the address has no reverse DNS name.
        (None, AddressForm::Bracketed) => None,
        // XMail `helo (ip:port)`.
        (None, AddressForm::BareWithPort) => None,
        (None, AddressForm::Bare) if mta == Mta::Scalix => None,
        // qmail, Exchange: `rdns (ip)`, where qmail's HELO, if any, is in `(HELO x)`.
        // Exchange writes the HELO argument there, so another address than
        // the recorded one (`198.51.100.9 (203.0.113.66)`) is no reverse DNS
        // name. qmail writes the client's own address for want of a name.
        (None, AddressForm::Bare) => name_host.filter(|_| {
            name.ip
                .is_none_or(|named| canonical_ip(named) == canonical_ip(ip))
        }),
    };
    // Ecelerity writes `[ip] ([ip:port])` with no HELO name at all: the
    // literal after `from` repeats the address.
    let helo = if name.is_literal && comment.port {
        None
    } else {
        name.text.clone()
    };
    Client {
        ip,
        rdns,
        helo: explicit_helo.unwrap_or(helo),
        ident,
    }
}

/// The name right after `from`.
#[derive(Default)]
struct Name<'a> {
    /// The name as the HELO name it usually is, brackets kept for a literal.
    text: Option<String>,
    /// The name when it can be a host name (not a literal).
    host: Option<&'a str>,
    /// The address the name is or contains.
    ip: Option<IpAddr>,
    is_literal: bool,
    /// fwtk smtpd's `rdns(ip)`, written by the receiving host.
    fwtk_ip: Option<IpAddr>,
}

fn read_name(raw: &str) -> Name<'_> {
    if let Some(inner) = raw.strip_prefix('[') {
        let literal = inner.split(']').next().unwrap_or(inner);
        return literal_name(literal);
    }
    let raw = raw.trim_end_matches(',');
    if let Some((host, rest)) = raw.split_once('(')
        && let Some(inner) = rest.strip_suffix(')')
        && let Some((ip, _, _)) = parse_bare_address(inner)
    {
        return Name {
            text: Some(host.to_owned()),
            host: Some(host),
            fwtk_ip: Some(ip),
            ..Name::default()
        };
    }
    Name {
        text: Some(raw.to_owned()).filter(|t| !t.is_empty()),
        host: Some(raw).filter(|t| !t.is_empty()),
        ip: parse_ip_text(raw),
        ..Name::default()
    }
}

fn literal_name(literal: &str) -> Name<'_> {
    Name {
        text: Some(format!("[{literal}]")),
        ip: parse_literal_ip(literal),
        is_literal: true,
        ..Name::default()
    }
}

/// Reads fwtk smtpd's `claiming to be "helo"`.
fn read_claimed_helo(items: &[Item<'_, '_>]) -> Option<String> {
    match items {
        [Item::Word(to), Item::Word(be), Item::Word(helo), ..]
            if to.eq_ignore_ascii_case("to") && be.eq_ignore_ascii_case("be") =>
        {
            let helo = helo.trim_end_matches(',').trim_matches('"');
            Some(helo.to_owned()).filter(|h| !h.is_empty())
        }
        _ => None,
    }
}

/// Form of the client address in a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum AddressForm {
    /// `[ip]`, maybe with a port.
    #[default]
    Bracketed,
    /// `ip` or `ident@ip`.
    Bare,
    /// `ip:port`, as XMail writes.
    BareWithPort,
}

/// Facts that one comment of the from clause records about the client.
#[derive(Default)]
struct Comment<'a> {
    ip: Option<IpAddr>,
    form: AddressForm,
    /// The word right before `[ip]`: the reverse DNS name, maybe `ident@name`.
    name_before_ip: Option<&'a str>,
    /// `HELO x`, `EHLO x`, `LHLO x` or `helo=x`; `Some(None)` for an empty
    /// `(HELO )`.
    helo: Option<Option<String>>,
    ident: Option<&'a str>,
    /// CommuniGate's `([ip] verified)`: the name matched DNS.
    verified: bool,
    /// True when the comment contains Exim's `ident=`, which ends its text.
    ident_key: bool,
    /// True when the bracketed address carries a port (`[ip:port]`).
    port: bool,
    /// Other top-level words.
    words: Vec<&'a str>,
}

fn read_comment<'a>(tokens: &[Token<'a>]) -> Comment<'a> {
    let mut comment = Comment::default();
    let mut depth = 0usize;
    let mut index = 0;
    while index < tokens.len() {
        let token = tokens[index];
        index += 1;
        match token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            Token::Word(word) | Token::Name(word) => {
                if is_helo_verb(word) {
                    let argument = match tokens.get(index) {
                        Some(Token::Word(argument)) => Some((*argument).to_owned()),
                        Some(Token::Literal(literal)) => Some(format!("[{literal}]")),
                        _ => None,
                    };
                    index += usize::from(argument.is_some());
                    comment.helo = Some(argument);
                } else if word.eq_ignore_ascii_case("helo=")
                    && let Some(Token::Literal(literal)) = tokens.get(index)
                {
                    // Exim's `helo=[192.0.2.1]`.
                    comment.helo = Some(Some(format!("[{literal}]")));
                    index += 1;
                } else if word.eq_ignore_ascii_case("account")
                    && let Some(Token::Word(user)) = tokens.get(index)
                {
                    // CommuniGate's `(account user HELO x)`: the account
                    // name is the user's, even when it ends in `@address`.
                    comment.words.extend([word, *user]);
                    index += 1;
                } else {
                    read_comment_word(&mut comment, word);
                }
            }
            Token::Literal(literal) => {
                // Exim writes the client's HELO and ident after the
                // address, so a literal after them is part of their text,
                // as in `(helo=x ident=y [192.0.2.1])` from a hostile identd.
                if comment.ip.is_none()
                    && comment.helo.is_none()
                    && comment.ident.is_none()
                    && let Some(ip) = parse_literal_ip(literal)
                {
                    comment.ip = Some(ip);
                    comment.form = AddressForm::Bracketed;
                    comment.port = parse_ip_text(literal).is_none();
                    comment.name_before_ip = match index.checked_sub(2).map(|i| tokens[i]) {
                        Some(Token::Word(word)) => Some(word),
                        _ => None,
                    };
                }
            }
            Token::Semicolon => {}
        }
    }
    comment
}

fn read_comment_word<'a>(comment: &mut Comment<'a>, word: &'a str) {
    if let Some(helo) = strip_prefix_ignore_case(word, "helo=") {
        comment.helo = Some(Some(helo.to_owned()).filter(|h| !h.is_empty()));
    } else if let Some(ident) = strip_prefix_ignore_case(word, "ident=") {
        comment.ident = Some(ident).filter(|i| !i.is_empty());
        comment.ident_key = true;
    } else if word.eq_ignore_ascii_case("verified") {
        comment.verified = true;
    } else if comment.ip.is_none()
        // Words after a HELO verb or an ident belong to the client's text,
        // as in `(HELO x 192.0.2.1)` from an MTA that keeps spaces in it.
        && comment.helo.is_none()
        && comment.ident.is_none()
        && let Some((ip, ident, form)) = parse_bare_address(word)
    {
        comment.ip = Some(ip);
        comment.form = form;
        comment.ident = ident.or(comment.ident);
    } else {
        comment.words.push(word);
    }
}

fn is_helo_verb(word: &str) -> bool {
    ["HELO", "EHLO", "LHLO"]
        .iter()
        .any(|verb| word.eq_ignore_ascii_case(verb))
}

fn strip_prefix_ignore_case<'a>(word: &'a str, prefix: &str) -> Option<&'a str> {
    let head = word.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &word[prefix.len()..])
}

/// False for the placeholders MTAs write when DNS gave no name.
fn is_known_name(name: &str) -> bool {
    !name.is_empty() && !name.eq_ignore_ascii_case("unknown")
}

/// Splits `ident@host` at the last `@`; qmail idents may hold an `@`.
fn split_ident(text: &str) -> (Option<&str>, &str) {
    match text.rsplit_once('@') {
        Some((user, host)) if !user.is_empty() => (Some(user), host),
        Some((_, host)) => (None, host),
        None => (None, text),
    }
}

/// Parses an unbracketed address: `ip`, `ident@ip` or `ip:port`.
fn parse_bare_address(word: &str) -> Option<(IpAddr, Option<&str>, AddressForm)> {
    let (ident, address) = split_ident(word.trim_end_matches(','));
    if let Some(ip) = parse_ip_text(address) {
        return Some((ip, ident, AddressForm::Bare));
    }
    let (host, port) = address.rsplit_once(':')?;
    let ip = host.parse::<Ipv4Addr>().ok().filter(|_| is_port(port))?;
    Some((IpAddr::V4(ip), ident, AddressForm::BareWithPort))
}

/// Parses the inside of `[...]`: an address, `IPv6:` form, zone id, or an
/// IPv4 address followed by a port as `:port` or, in Exim 3, `.port`.
pub(super) fn parse_literal_ip(literal: &str) -> Option<IpAddr> {
    if let Some(ip) = parse_ip_text(literal) {
        return Some(ip);
    }
    let literal = literal.trim();
    [':', '.'].into_iter().find_map(|separator| {
        let (host, port) = literal.rsplit_once(separator)?;
        let ip = host.parse::<Ipv4Addr>().ok().filter(|_| is_port(port))?;
        Some(IpAddr::V4(ip))
    })
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}
