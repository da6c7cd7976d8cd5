//! Origins of worm mail that comes back inside a bounce.
//!
//! Worms forge the sender, so copies that cannot be delivered come back as
//! bounces (DSNs) to innocent people. The host that sent the bounce is an
//! innocent MTA. The infected host is recorded in the Received chain of
//! the original message embedded in the bounce. When the scan matched
//! inside that original, the origin is read from the original's own chain:
//! its newest header was written by the bouncing site's MX and records the
//! client that sent the worm there.
//!
//! The bouncing site's networks are unknown, so its chain is walked with
//! inferred trust (private ranges and authenticated hops are trusted). The
//! result is marked [`OriginMethod::Bounce`]: a third party reported it,
//! and anyone can send a message that looks like a bounce, so exports can
//! weight or exclude these sightings.
//!
//! Three forms are read:
//!
//! - `multipart/report` (RFC 3462) with a `message/rfc822` part;
//! - `multipart/report` with a `text/rfc822-headers` part;
//! - a plain-text bounce (qmail's "failure notice", many Exchange and
//!   older MTAs) from a mailer daemon that quotes the original headers in
//!   its text.
//!
//! A match inside an embedded `message/rfc822` part of a message that is
//! not a bounce (a user forwarding worm mail as an attachment, say to a
//! helpdesk) gives no origin, because the sender forwarded the worm but is
//! not infected, and no MTA vouches for the embedded chain. The message
//! keeps its verdict, and no sighting is recorded.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::headers;
use super::settings::TrustSettings;
use super::trust::{Origin, OriginMethod, TrustInput, find_origin};

/// The original message found in a bounce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// Scan-object paths whose matches count as inside the original: the
    /// part itself and everything below it.
    pub paths: Vec<String>,
    /// The original's Received values, newest first, unfolded.
    pub received: Vec<String>,
    /// The original as a whole message (`message/rfc822`), to look for a
    /// bounce inside it, or `None` for headers only.
    message: Option<Vec<u8>>,
}

impl Embedded {
    /// True when the scan object at `object` lies inside the original.
    pub fn contains(&self, object: &str) -> bool {
        self.paths.iter().any(|path| lies_inside(object, path))
    }

    /// Finds a bounce inside this original, with its paths made relative
    /// to the whole message.
    fn nested(&self) -> Option<Embedded> {
        let parent = self.paths.first()?;
        let mut inner = find_embedded(self.message.as_deref()?)?;
        inner.paths = inner
            .paths
            .iter()
            .map(|path| match path.as_str() {
                "message" => parent.clone(),
                _ => format!("{parent}.{path}"),
            })
            .collect();
        Some(inner)
    }
}

/// Maximum number of bounces of bounces followed down to the worm's
/// original. Deeper nesting keeps the chain of the last one read.
const MAX_NESTED_BOUNCES: usize = 4;

// TODO: a DSN forged by the infected host itself also replaces its connect
// origin, with whatever address it wrote into the embedded chain.
/// Replaces `origin` with the origin recorded in a bounce's embedded
/// original when `matched_object` (the path of the match that decides the
/// verdict) lies inside that original. An embedded chain with no untrusted
/// relay gives `None`: the bouncing MTA is never the origin.
///
/// Returns true when the match lay inside a bounce's original.
pub fn apply(origin: &mut Option<Origin>, matched_object: Option<&str>, raw: &[u8]) -> bool {
    let Some(object) = matched_object else {
        return false;
    };
    let Some(embedded) = find_embedded(raw) else {
        return false;
    };
    if !embedded.contains(object) {
        return false;
    }
    // A bounce of a bounce: the outer original's chain ends at the first
    // bouncing MTA, an innocent host. The worm's chain is in the innermost
    // original that contains the match.
    let mut embedded = embedded;
    for _ in 0..MAX_NESTED_BOUNCES {
        match embedded.nested() {
            Some(inner) if inner.contains(object) => embedded = inner,
            _ => break,
        }
    }
    *origin = embedded_origin(&embedded);
    true
}

// TODO: a worm that wraps itself in a message/rfc822 part of its own
// message is never listed either, since it looks like a forward.
/// Chooses the origin when the match that decides the verdict, at path
/// `matched_object`, lies inside an embedded message.
///
/// A bounce's original gives the origin its chain records (see
/// [`apply`]). Any other embedded message is forwarded mail and gives
/// `None`. `embedded_messages` are the scan-object paths of the
/// `message/rfc822` parts. A match outside every embedded message leaves
/// `origin` as it is.
pub fn apply_embedded(
    origin: &mut Option<Origin>,
    matched_object: Option<&str>,
    raw: &[u8],
    embedded_messages: &[&str],
) {
    let Some(object) = matched_object else {
        return;
    };
    if apply(origin, Some(object), raw) {
        return;
    }
    if embedded_messages
        .iter()
        .any(|path| lies_inside(object, path))
    {
        *origin = None;
    }
}

/// True when the scan object at `object` is the one at `path` or lies
/// below it (a child part `path.N` or an archive member `path!name`).
fn lies_inside(object: &str, path: &str) -> bool {
    object == path
        || object
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('!'))
}

// TODO: a bouncing site whose own relays have public addresses gets its
// front MX taken as the origin, because only private ranges are trusted.
/// Walks the embedded original's chain with inferred trust.
pub fn embedded_origin(embedded: &Embedded) -> Option<Origin> {
    let input = TrustInput {
        received: &embedded.received,
        ..TrustInput::default()
    };
    let mut origin = find_origin(&input, &TrustSettings::default())?;
    origin.method = OriginMethod::Bounce;
    Some(origin)
}

/// Finds the original message in a bounce, or returns `None` when `raw`
/// is not a bounce or carries no Received header of the original.
pub fn find_embedded(raw: &[u8]) -> Option<Embedded> {
    let message = MessageParser::new().parse(raw)?;
    let root = message.parts.first()?;
    if is_type(root, "multipart", "report") {
        return report_part(&message, root);
    }
    if is_mailer_daemon(&message) {
        return quoted_headers(&message, root);
    }
    None
}

/// Reads the `message/rfc822` or `text/rfc822-headers` child of a
/// `multipart/report`.
fn report_part(message: &Message<'_>, root: &MessagePart<'_>) -> Option<Embedded> {
    let children = root.sub_parts()?;
    for (index, &id) in children.iter().enumerate() {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        let path = (index + 1).to_string();
        let (block, message): (Vec<u8>, bool) = match &part.body {
            PartType::Message(original) => (original.raw_message().to_vec(), true),
            _ if is_type(part, "text", "rfc822-headers") => (part.contents().to_vec(), false),
            _ if is_type(part, "message", "rfc822") => (part.contents().to_vec(), true),
            _ => continue,
        };
        let received = headers::received(&block);
        if received.is_empty() {
            continue;
        }
        return Some(Embedded {
            paths: vec![path],
            received,
            message: message.then_some(block),
        });
    }
    None
}

/// Reads the original headers that a plain-text bounce quotes: the block
/// of header lines that starts at the first `Received:` line of the text.
fn quoted_headers(message: &Message<'_>, root: &MessagePart<'_>) -> Option<Embedded> {
    let (text, paths) = if root.is_multipart() {
        let first = root.sub_parts()?.first()?;
        let part = message.parts.get(*first as usize)?;
        (part.text_contents()?, vec!["1".to_owned()])
    } else {
        let text = root.text_contents()?;
        (text, vec!["message".to_owned(), "1".to_owned()])
    };
    let block = quoted_block(text);
    let received = headers::received(block.as_bytes());
    (!received.is_empty()).then_some(Embedded {
        paths,
        received,
        message: None,
    })
}

/// Cuts `text` from its first line that starts with `Received:` to the end
/// of that header block. Returns an empty string when there is none.
fn quoted_block(text: &str) -> String {
    let mut lines = text.lines().skip_while(|line| {
        line.get(..9)
            .is_none_or(|head| !head.eq_ignore_ascii_case("received:"))
    });
    let mut block = String::new();
    if let Some(first) = lines.next() {
        block.push_str(first);
        block.push('\n');
    }
    for line in lines {
        let is_field = line.starts_with([' ', '\t'])
            || line
                .split_once(':')
                .is_some_and(|(name, _)| is_field_name(name));
        if !is_field {
            break;
        }
        block.push_str(line);
        block.push('\n');
    }
    block
}

fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

fn is_type(part: &MessagePart<'_>, main: &str, sub: &str) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(main)
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case(sub))
    })
}

/// True when the message comes from a mailer daemon: the sender's local
/// part is `MAILER-DAEMON`, `postmaster` or `mail-daemon`.
fn is_mailer_daemon(message: &Message<'_>) -> bool {
    let local_parts = ["mailer-daemon", "postmaster", "mail-daemon"];
    let Some(address) = message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
    else {
        return false;
    };
    let local = address.split('@').next().unwrap_or("");
    local_parts.iter().any(|l| local.eq_ignore_ascii_case(l))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    const WORM_HOP: &str = "Received: from infected-pc (dsl.example.net [198.51.100.66])\r\n\tby mx.bouncer.example (Postfix) with SMTP id 4AB12; Mon, 1 Jan 2024 10:00:00 +0000\r\n";
    const FORGED_HOP: &str = "Received: from forged (innocent.example [203.0.113.200]) by infected-pc; Mon, 1 Jan 2024 09:59:00 +0000\r\n";
    const INTERNAL_HOP: &str = "Received: from mx.bouncer.example (mx [10.0.0.5]) by store.bouncer.example (Postfix) with ESMTP id 9; Mon, 1 Jan 2024 10:00:01 +0000\r\n";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn report(second: &str) -> Vec<u8> {
        format!(
            "Received: from mx.bouncer.example (mx.bouncer.example [192.0.2.25]) by mx.victim.example (Postfix) with ESMTP id 1; Mon, 1 Jan 2024 10:01:00 +0000\r\n\
             From: MAILER-DAEMON@bouncer.example\r\n\
             To: victim@victim.example\r\n\
             Subject: Undelivered Mail Returned to Sender\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
             \r\n\
             --B\r\n\
             Content-Type: text/plain\r\n\
             \r\n\
             Your message could not be delivered.\r\n\
             --B\r\n\
             Content-Type: message/delivery-status\r\n\
             \r\n\
             Reporting-MTA: dns; mx.bouncer.example\r\n\
             \r\n\
             Final-Recipient: rfc822; nobody@bouncer.example\r\n\
             Action: failed\r\n\
             Status: 5.1.1\r\n\
             \r\n\
             --B\r\n\
             {second}\
             --B--\r\n"
        )
        .into_bytes()
    }

    fn original_headers() -> String {
        format!(
            "{INTERNAL_HOP}{WORM_HOP}{FORGED_HOP}From: victim@victim.example\r\nSubject: Ihr Passwort\r\n"
        )
    }

    #[test]
    fn report_with_message_rfc822() {
        let second = format!(
            "Content-Type: message/rfc822\r\n\r\n{}\r\nbody of the worm\r\n",
            original_headers()
        );
        let raw = report(&second);
        let embedded = find_embedded(&raw).expect("bounce not found");
        assert_eq!(embedded.paths, vec!["3"]);
        assert_eq!(embedded.received.len(), 3);
        let origin = embedded_origin(&embedded).unwrap();
        assert_eq!(origin.ip, ip("198.51.100.66"));
        assert_eq!(origin.method, OriginMethod::Bounce);
        assert_eq!(origin.hop, Some(1));
    }

    #[test]
    fn report_with_rfc822_headers() {
        let second = format!(
            "Content-Type: text/rfc822-headers\r\n\r\n{}",
            original_headers()
        );
        let raw = report(&second);
        let embedded = find_embedded(&raw).expect("bounce not found");
        assert_eq!(embedded.paths, vec!["3"]);
        let origin = embedded_origin(&embedded).unwrap();
        assert_eq!(origin.ip, ip("198.51.100.66"));
    }

    #[test]
    fn plain_text_bounce_quoting_headers() {
        let raw = format!(
            "From: MAILER-DAEMON@bouncer.example\r\n\
             To: victim@victim.example\r\n\
             Subject: failure notice\r\n\
             \r\n\
             Hi. This is the qmail-send program at bouncer.example.\r\n\
             I'm afraid I wasn't able to deliver your message.\r\n\
             \r\n\
             --- Below this line is a copy of the message.\r\n\
             \r\n\
             {}\r\n\
             body of the worm\r\n",
            original_headers()
        );
        let embedded = find_embedded(raw.as_bytes()).expect("bounce not found");
        assert_eq!(embedded.received.len(), 3);
        assert!(embedded.contains("message"));
        let origin = embedded_origin(&embedded).unwrap();
        assert_eq!(origin.ip, ip("198.51.100.66"));
        assert_eq!(origin.method, OriginMethod::Bounce);
    }

    #[test]
    fn plain_text_from_user_ignored() {
        let raw = format!(
            "From: alice@example.org\r\nSubject: look at this header\r\n\r\n{}",
            original_headers()
        );
        assert_eq!(find_embedded(raw.as_bytes()), None);
    }

    #[test]
    fn apply_only_for_matches_inside_the_original() {
        let second = format!(
            "Content-Type: message/rfc822\r\n\r\n{}\r\nbody\r\n",
            original_headers()
        );
        let raw = report(&second);
        let outer = Origin {
            ip: ip("192.0.2.25"),
            method: OriginMethod::Received,
            hop: Some(0),
            relay: None,
        };

        let mut origin = Some(outer.clone());
        apply(&mut origin, Some("3.1!worm.exe"), &raw);
        assert_eq!(origin.as_ref().map(|o| o.ip), Some(ip("198.51.100.66")));

        let mut origin = Some(outer.clone());
        apply(&mut origin, Some("1"), &raw);
        assert_eq!(origin, Some(outer.clone()));

        let mut origin = Some(outer.clone());
        apply(&mut origin, Some("30"), &raw);
        assert_eq!(origin, Some(outer));
    }

    #[test]
    fn forwarded_message_gives_no_origin() {
        let raw = format!(
            "From: alice@example.org\r\n\
             Subject: Fwd: look\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"F\"\r\n\
             \r\n\
             --F\r\n\
             Content-Type: text/plain\r\n\
             \r\n\
             please check\r\n\
             --F\r\n\
             Content-Type: message/rfc822\r\n\
             \r\n\
             {}\r\n\
             body\r\n\
             --F--\r\n",
            original_headers()
        );
        let forwarder = Origin {
            ip: ip("198.51.100.20"),
            method: OriginMethod::Received,
            hop: Some(0),
            relay: None,
        };
        // (matched object, expected origin)
        let cases = [
            (Some("2"), None),
            (Some("2.1!worm.exe"), None),
            (Some("1"), Some(forwarder.clone())),
            (Some("20"), Some(forwarder.clone())),
            (None, Some(forwarder.clone())),
        ];
        for (object, expected) in cases {
            let mut origin = Some(forwarder.clone());
            apply_embedded(&mut origin, object, raw.as_bytes(), &["2"]);
            assert_eq!(origin, expected, "{object:?}");
        }
    }

    #[test]
    fn bounce_original_wins_over_forward() {
        let second = format!(
            "Content-Type: message/rfc822\r\n\r\n{}\r\nbody\r\n",
            original_headers()
        );
        let raw = report(&second);
        let mut origin = None;
        apply_embedded(&mut origin, Some("3.1"), &raw, &["3"]);
        let origin = origin.expect("no origin from the bounce");
        assert_eq!(origin.ip, ip("198.51.100.66"));
        assert_eq!(origin.method, OriginMethod::Bounce);
    }

    #[test]
    fn trusted_only_original_gives_no_origin() {
        let second =
            format!("Content-Type: message/rfc822\r\n\r\n{INTERNAL_HOP}Subject: x\r\n\r\nbody\r\n");
        let raw = report(&second);
        let mut origin = Some(Origin {
            ip: ip("192.0.2.25"),
            method: OriginMethod::Received,
            hop: Some(0),
            relay: None,
        });
        apply(&mut origin, Some("3"), &raw);
        assert_eq!(origin, None);
    }
}
