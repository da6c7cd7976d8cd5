//! One Received header value to one relay hop.
//!
//! A Received header (RFC 5321 section 4.4) is a list of clauses,
//! `from <client> by <server> via <link> with <protocol> id <queue id>
//! for <recipient>; <date>`, and each MTA records what it learned about the client
//! into comments after the `from` name. The parser tokenizes the value
//! (words, `[literals]`, parentheses), groups the tokens into clauses and
//! then reads the `from` clause with a few rules that cover the layouts of
//! common MTAs:
//!
//! | MTA | `from` clause |
//! |-----|---------------|
//! | Postfix, Sendmail, Gmail | `helo (rdns [ip])`, `helo ([ip])`, `helo (ident@rdns [ip] (may be forged))` |
//! | Exim 4 | `rdns ([ip]:port helo=x ident=y)`, `[ip]:port (helo=x)`, `name ([ip])` |
//! | Exim 3 | `rdns (helo) [ip.port] (ident)` |
//! | qmail, Exchange, Microsoft 365 | `rdns (HELO helo) (ident@ip)`, `name (ip)` |
//! | Courier | `helo ([ip])`, with `(AUTH: mechanism user)` |
//! | CommuniGate Pro | `[ip] (account user HELO helo)`, `name ([ip] verified)` |
//! | XMail | `helo (ip:port)` |
//! | fwtk smtpd | `rdns(ip), claiming to be "helo"` |
//!
//! The relay IP is always the one the receiving host recorded. The name
//! right after `from` is usually the HELO argument, which the client chose,
//! so an address written there (`from [203.0.113.9] (rdns [198.51.100.4])`)
//! is used only when the header records no other address.

use std::net::IpAddr;

mod client;
mod tokens;

use client::{Mta, read_client};
use tokens::{Token, date_start, tokenize};

/// One relay as recorded by the host that received from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hop {
    /// IP address of the client, as the receiving host recorded it.
    pub ip: Option<IpAddr>,
    /// Reverse DNS name of the client, empty when the MTA wrote "unknown".
    pub rdns: Option<String>,
    /// HELO/EHLO name the client gave.
    pub helo: Option<String>,
    /// Name of the receiving host ("by").
    pub by: Option<String>,
    /// User name from an ident (RFC 1413) lookup, as in qmail's `(user@ip)`.
    pub ident: Option<String>,
    /// Envelope sender, where the MTA recorded it.
    pub envfrom: Option<String>,
    /// Queue id of the receiving host ("id").
    pub id: Option<String>,
    /// Authentication evidence: the protocol (`ESMTPA`, `ESMTPSA`, `HTTP`),
    /// a SASL mechanism (Courier's `AUTH: LOGIN`) or the word
    /// `authenticated` for comments such as Sendmail's `(authenticated
    /// bits=0)` or Postfix's `(Authenticated sender: user)`.
    pub auth: Option<String>,
    /// The protocol ("with").
    pub with: Option<String>,
    /// True when the client authenticated to the receiving host.
    pub authenticated: bool,
}

/// Parses one unfolded Received header value. Returns `None` for hops that
/// carry no relay IP (local pickup, qmail "invoked by", a missing `from`
/// clause, unparseable text) and for mailbox fetches (`with POP3`, `with
/// IMAP`, as fetchmail writes), whose address is a mailbox server rather
/// than a relay.
///
/// Never panics, whatever the input.
pub fn parse_received(value: &str) -> Option<Hop> {
    let tokens = tokenize(value);
    let body = &tokens[..date_start(&tokens)];
    let clauses = split_clauses(body);
    let host = host_clauses(&clauses);

    let with = first_text(host, Keyword::With);
    if with.as_deref().is_some_and(is_mailbox_protocol) {
        return None;
    }
    let from = clauses.iter().find(|c| c.keyword == Keyword::From)?;
    let mta = clauses
        .iter()
        .filter(|c| c.keyword != Keyword::From)
        .find_map(|c| named_mta(&c.items))
        .unwrap_or(Mta::Other);
    let client = read_client(&from.items, mta)?;

    let http = is_http(&clauses, host, with.as_deref());
    let by = first_text(host, Keyword::By);
    let auth = find_auth(&clauses, with.as_deref(), http)
        .or_else(|| gmx_submission(by.as_deref(), with.as_deref()));
    let envfrom = find_envelope_from(&tokens, &clauses);
    let id = first_text(host, Keyword::Id).map(|id| trim_angle(&id).to_owned());

    Some(Hop {
        ip: Some(client.ip),
        rdns: client.rdns,
        // HTTP has no HELO; webmail front ends write the browser's address.
        helo: if http { None } else { client.helo },
        by,
        ident: client.ident,
        envfrom,
        id,
        authenticated: auth.is_some(),
        auth,
        with,
    })
}

/// A top-level element of a clause: a word, a literal or a whole
/// parenthesised comment with its inner tokens.
#[derive(Debug, Clone, Copy)]
enum Item<'t, 'a> {
    Name(&'a str),
    Word(&'a str),
    Literal(&'a str),
    Group { tokens: &'t [Token<'a>] },
}

fn itemize<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<Item<'t, 'a>> {
    let mut items = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        match tokens[index] {
            Token::Name(name) => items.push(Item::Name(name)),
            Token::Word(word) => items.push(Item::Word(word)),
            Token::Literal(literal) => items.push(Item::Literal(literal)),
            Token::Open => {
                let close = matching_close(tokens, index);
                let inner = &tokens[index + 1..close];
                items.push(Item::Group { tokens: inner });
                index = close;
            }
            Token::Close | Token::Semicolon => {}
        }
        index += 1;
    }
    items
}

/// Returns the index of the `)` closing the `(` at `open`, or the token
/// count when it is never closed.
fn matching_close(tokens: &[Token<'_>], open: usize) -> usize {
    let mut depth = 0usize;
    for (index, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return index;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    /// Items before the first keyword.
    Prelude,
    From,
    By,
    Via,
    With,
    Id,
    For,
}

impl Keyword {
    fn parse(word: &str) -> Option<Keyword> {
        const KEYWORDS: [(&str, Keyword); 6] = [
            ("from", Keyword::From),
            ("by", Keyword::By),
            ("via", Keyword::Via),
            ("with", Keyword::With),
            ("id", Keyword::Id),
            ("for", Keyword::For),
        ];
        KEYWORDS
            .iter()
            .find(|(text, _)| word.eq_ignore_ascii_case(text))
            .map(|&(_, keyword)| keyword)
    }
}

struct Clause<'t, 'a> {
    keyword: Keyword,
    items: Vec<Item<'t, 'a>>,
    /// True for the `for` clause and any after it: their text comes from
    /// the sender, so it never counts as evidence of authentication.
    sender_chosen: bool,
}

fn split_clauses<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<Clause<'t, 'a>> {
    let mut clauses = vec![Clause {
        keyword: Keyword::Prelude,
        items: Vec::new(),
        sender_chosen: false,
    }];
    for item in itemize(tokens) {
        // The `for` clause names the recipient, which the sender chose: a
        // quoted local part such as `"a (authenticated) with ESMTPA"` must
        // not open clauses or comments that count. Everything after `for`
        // stays inside it.
        // XMail alone writes a clause after it: its `from <sender>`.
        let in_recipient = clauses.last().is_some_and(|c| c.sender_chosen);
        if let Item::Word(word) = item
            && let Some(keyword) = Keyword::parse(word)
            && (!in_recipient || keyword == Keyword::From)
        {
            clauses.push(Clause {
                keyword,
                items: Vec::new(),
                sender_chosen: in_recipient || keyword == Keyword::For,
            });
            continue;
        }
        // NAVGW writes the whole from clause in parentheses:
        // `(from KRYPTIK [70.20.57.51]) by host`.
        if let Item::Group { tokens: inner } = item
            && clauses.len() == 1
            && clauses[0].items.is_empty()
            && let [Token::Word(first), rest @ ..] = inner
            && first.eq_ignore_ascii_case("from")
        {
            clauses.push(Clause {
                keyword: Keyword::From,
                items: itemize(rest),
                sender_chosen: false,
            });
            continue;
        }
        if let Some(current) = clauses.last_mut() {
            current.items.push(item);
        }
    }
    clauses
}

/// Returns the clauses from the last `by` on, or all clauses when there is
/// no `by`. The receiving host writes them, while the from clause may end
/// in text the client chose: an ident response such as `y) with POP3 (z`
/// would otherwise open `with` and `by` clauses of its own.
fn host_clauses<'c, 't, 'a>(clauses: &'c [Clause<'t, 'a>]) -> &'c [Clause<'t, 'a>] {
    let last_by = clauses
        .iter()
        .rposition(|c| c.keyword == Keyword::By && !c.sender_chosen);
    &clauses[last_by.unwrap_or(0)..]
}

/// Returns the first word or literal of the first clause with `keyword`,
/// without trailing commas.
fn first_text(clauses: &[Clause<'_, '_>], keyword: Keyword) -> Option<String> {
    let clause = clauses.iter().find(|c| c.keyword == keyword)?;
    clause.items.iter().find_map(|item| match item {
        Item::Word(word) | Item::Name(word) => Some(word.trim_end_matches(','))
            .filter(|w| !w.is_empty())
            .map(str::to_owned),
        Item::Literal(literal) => Some((*literal).to_owned()),
        Item::Group { .. } => None,
    })
}

fn trim_angle(text: &str) -> &str {
    text.trim_start_matches('<').trim_end_matches('>')
}

fn is_mailbox_protocol(protocol: &str) -> bool {
    ["POP", "POP3", "POP3S", "IMAP", "IMAPS"]
        .iter()
        .any(|p| protocol.eq_ignore_ascii_case(p))
}

/// Protocol names that mean the client authenticated: RFC 3848 and its
/// SMTPUTF8 forms from RFC 6531.
fn is_auth_protocol(protocol: &str) -> bool {
    [
        "ESMTPA",
        "ESMTPSA",
        "LMTPA",
        "LMTPSA",
        "UTF8SMTPA",
        "UTF8SMTPSA",
        "UTF8LMTPA",
        "UTF8LMTPSA",
    ]
    .iter()
    .any(|p| protocol.eq_ignore_ascii_case(p))
}

/// Top-level words of a group, in order, nested comments skipped.
fn group_words<'a>(tokens: &[Token<'a>]) -> Vec<&'a str> {
    let mut depth = 0usize;
    let mut words = Vec::new();
    for token in tokens {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Word(word) | Token::Name(word) if depth == 0 => words.push(*word),
            _ => {}
        }
    }
    words
}

/// Comments of every clause except those whose text the sender chose.
fn groups<'c, 't: 'c, 'a: 't>(
    clauses: &'c [Clause<'t, 'a>],
) -> impl Iterator<Item = &'t [Token<'a>]> + 'c {
    clauses
        .iter()
        .filter(|c| !c.sender_chosen)
        .flat_map(|clause| {
            clause.items.iter().filter_map(|item| match item {
                Item::Group { tokens } => Some(*tokens),
                _ => None,
            })
        })
}

/// Returns the MTA a comment names when its `from` layout differs from
/// the common one (see [`Mta`]).
fn named_mta(items: &[Item<'_, '_>]) -> Option<Mta> {
    items.iter().find_map(|item| match item {
        Item::Group { tokens } => group_words(tokens).iter().find_map(|word| {
            if word.eq_ignore_ascii_case("exim") {
                Some(Mta::Exim)
            } else if word.eq_ignore_ascii_case("scalix") {
                Some(Mta::Scalix)
            } else {
                None
            }
        }),
        _ => None,
    })
}

/// Labels hops to GMX's submission servers `mail.gmx.net` and
/// `mail.gmx.com` as authenticated. They accept mail only from logged-in
/// users but write plain `with SMTP` or `with ESMTP`, and SpamAssassin
/// counts their hops as authenticated too.
fn gmx_submission(by: Option<&str>, with: Option<&str>) -> Option<String> {
    let by = by?;
    let with = with?;
    let gmx = by.eq_ignore_ascii_case("mail.gmx.net") || by.eq_ignore_ascii_case("mail.gmx.com");
    let smtp = with.eq_ignore_ascii_case("SMTP") || with.eq_ignore_ascii_case("ESMTP");
    (gmx && smtp).then(|| "GMX".to_owned())
}

/// True for webmail hops: `with HTTP`, `via HTTP` or a `(via HTTP)` comment.
fn is_http(clauses: &[Clause<'_, '_>], host: &[Clause<'_, '_>], with: Option<&str>) -> bool {
    let is_http_word =
        |word: &str| word.eq_ignore_ascii_case("HTTP") || word.eq_ignore_ascii_case("HTTPS");
    if with.is_some_and(is_http_word) {
        return true;
    }
    if first_text(host, Keyword::Via).is_some_and(|via| is_http_word(&via)) {
        return true;
    }
    groups(clauses).any(|tokens| {
        matches!(group_words(tokens).as_slice(), [via, protocol, ..]
            if via.eq_ignore_ascii_case("via") && is_http_word(protocol))
    })
}

/// Finds evidence that the client authenticated and returns its label.
fn find_auth(clauses: &[Clause<'_, '_>], with: Option<&str>, http: bool) -> Option<String> {
    if let Some(protocol) = with.filter(|p| is_auth_protocol(p)) {
        return Some(protocol.to_owned());
    }
    if http {
        return Some("HTTP".to_owned());
    }
    groups(clauses).find_map(|tokens| auth_comment(&group_words(tokens)))
}

/// Reads one comment for authentication evidence: Sendmail's
/// `(authenticated bits=0)`, Postfix's `(Authenticated sender: user)`,
/// `(authenticated as user)`, Courier's `(AUTH: LOGIN user)`, CommuniGate's
/// `(account user ...)`. Only the first word counts, so a HELO name quoted
/// in a comment cannot fake it.
fn auth_comment(words: &[&str]) -> Option<String> {
    let (first, rest) = words.split_first()?;
    if first.eq_ignore_ascii_case("authenticated") {
        return Some("authenticated".to_owned());
    }
    if first.eq_ignore_ascii_case("AUTH:") {
        let mechanism = rest.first().map_or("AUTH", |m| m.trim_end_matches(','));
        return Some(mechanism.to_owned());
    }
    if first.eq_ignore_ascii_case("account") && !rest.is_empty() {
        return Some("account".to_owned());
    }
    None
}

/// Finds the envelope sender: a `(envelope-from <x>)` comment anywhere,
/// even after the date, or XMail's trailing `from <x>` clause.
fn find_envelope_from(tokens: &[Token<'_>], clauses: &[Clause<'_, '_>]) -> Option<String> {
    let comment = tokens.windows(3).find_map(|window| match window {
        [Token::Open, Token::Word(marker), Token::Word(address)]
            if marker.eq_ignore_ascii_case("envelope-from") =>
        {
            Some(trim_angle(address))
        }
        _ => None,
    });
    let xmail = || {
        clauses
            .iter()
            .filter(|c| c.keyword == Keyword::From)
            .skip(1)
            .find_map(|c| match c.items.first() {
                Some(Item::Word(address)) if address.starts_with('<') => Some(trim_angle(address)),
                _ => None,
            })
    };
    comment
        .or_else(xmail)
        .filter(|address| !address.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
