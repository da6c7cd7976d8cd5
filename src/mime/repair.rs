//! Repairs for malformed structure that mail clients read anyway: bare CR
//! line endings, a multipart whose boundary is missing or wrong, and parts
//! placed after the closing boundary.
//!
//! A repaired multipart body is parsed again as a small synthetic message
//! and walked into the same collector, one level deep: a repair never
//! starts another repair, so the call depth stays bounded.

use mail_parser::{MessageParser, MimeHeaders};

use super::collect::Collector;
use super::walk::{Node, child_path, walk_nodes};
use super::{AnomalyKind, Limits};

/// RFC 2046 limits a boundary to 70 characters.
const MAX_BOUNDARY_LEN: usize = 70;

/// Returns the message with every bare CR turned into CRLF when its first
/// line break is a bare CR, or `None` when the line endings need no repair.
pub fn normalize_line_endings(raw: &[u8]) -> Option<Vec<u8>> {
    let first_break = raw.iter().position(|&b| b == b'\r' || b == b'\n')?;
    if raw[first_break] != b'\r' || raw.get(first_break + 1) == Some(&b'\n') {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    for (index, &byte) in raw.iter().enumerate() {
        out.push(byte);
        if byte == b'\r' && raw.get(index + 1) != Some(&b'\n') {
            out.push(b'\n');
        }
    }
    Some(out)
}

/// Returns how many leading bytes of `raw` are given to the MIME parser:
/// all of them, or the bytes before the line that makes the count of
/// header-like lines (`Name: value`) and delimiter-like lines (`--x`)
/// exceed [`Limits::max_structure_lines`].
///
/// mail-parser 0.11.9 keeps a record of a few hundred bytes for every
/// header field and part, so a 10 MiB message of a million tiny parts or
/// header fields took over 300 MiB to parse before any limit of the walk
/// could apply. The cut bounds that memory.
pub fn structure_end(raw: &[u8], limits: &Limits) -> usize {
    let max_lines = limits.max_structure_lines();
    let mut count = 0usize;
    let mut offset = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let header_like = line
            .first()
            .is_some_and(|&b| b != b' ' && b != b'\t' && b != b'\r' && b != b'\n')
            && line.contains(&b':');
        if header_like || line.starts_with(b"--") {
            count += 1;
            if count > max_lines {
                return offset;
            }
        }
        offset += line.len();
    }
    raw.len()
}

/// Guesses the boundary of a multipart body whose declared boundary is
/// missing or never used: the first line that looks like a delimiter.
pub(super) fn guess_boundary(body: &[u8]) -> Option<&[u8]> {
    body.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let candidate = line.strip_prefix(b"--")?;
        let candidate = candidate.strip_suffix(b"--").unwrap_or(candidate);
        let valid = !candidate.is_empty()
            && candidate.len() <= MAX_BOUNDARY_LEN
            && candidate.iter().all(|&b| b.is_ascii_graphic() || b == b' ');
        valid.then_some(candidate)
    })
}

/// Returns the bytes after the closing delimiter `--boundary--` when they
/// open another part with `--boundary`, which some clients still show.
/// Delimiters count only at the start of a line, as RFC 2046 requires.
pub(super) fn parts_after_close<'a>(body: &'a [u8], boundary: &[u8]) -> Option<&'a [u8]> {
    let mut closing = b"--".to_vec();
    closing.extend_from_slice(boundary);
    closing.extend_from_slice(b"--");
    let opening = &closing[..closing.len() - 2];

    let mut offset = 0;
    let mut after = None;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let content = line.trim_ascii_end();
        match after {
            None if content == closing.as_slice() => after = Some(offset + line.len()),
            Some(start) if content == opening => return body.get(start..),
            _ => {}
        }
        offset += line.len();
    }
    None
}

/// Walks `body` as a multipart with `boundary` into the collector. Its
/// parts are numbered `path.N`, starting at `first_number`. Does nothing
/// inside another repair, whose caller has already recorded the anomaly.
pub(super) fn walk_as_multipart(
    collector: &mut Collector<'_>,
    body: &[u8],
    boundary: &[u8],
    path: &str,
    first_number: usize,
    depth: usize,
) {
    if collector.in_repair {
        return;
    }
    let mut raw = b"Content-Type: multipart/mixed; boundary=\"".to_vec();
    raw.extend(boundary.iter().filter(|&&b| b != b'"'));
    raw.extend_from_slice(b"\"\r\n\r\n");
    raw.extend_from_slice(body);

    let Some(message) = MessageParser::default().parse(&raw) else {
        collector.anomaly(path, AnomalyKind::BadBoundary);
        return;
    };
    let Some(root) = message.parts.first() else {
        return;
    };
    let mail_parser::PartType::Multipart(children) = &root.body else {
        return;
    };
    let is_multipart = root
        .content_type()
        .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"));
    if !is_multipart {
        return;
    }

    let mut stack: Vec<Node<'_>> = children
        .iter()
        .map(|&child| child as usize)
        .filter(|&child| child > 0)
        .enumerate()
        .map(|(index, child)| Node::Part {
            message: &message,
            id: child,
            path: child_path(path, first_number + index),
            depth: depth + 1,
        })
        .collect();
    stack.reverse();

    collector.in_repair = true;
    walk_nodes(collector, stack);
    collector.in_repair = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_table() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"a\rb\r\rc", Some(b"a\r\nb\r\n\r\nc")),
            (b"a\r\nb\rc", None),
            (b"a\nb\rc", None),
            (b"abc", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize_line_endings(input).as_deref(),
                *expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn structure_end_cuts_after_max_lines() {
        let limits = Limits {
            max_parts: 1,
            ..Limits::default()
        };
        let max = limits.max_structure_lines();
        let mut raw = b"Subject: x\r\n\r\nplain text\r\n".to_vec();
        let fits = raw.len() + (max - 1) * 5;
        raw.extend(b"--b\r\n".repeat(max - 1));
        assert_eq!(structure_end(&raw, &limits), raw.len());

        raw.extend_from_slice(b"X: y\r\nmore\r\n");
        assert_eq!(structure_end(&raw, &limits), fits);
    }

    #[test]
    fn guess_boundary_takes_first_delimiter() {
        assert_eq!(
            guess_boundary(b"x\r\n--abc\r\ny\r\n--abc--\r\n"),
            Some(&b"abc"[..])
        );
        assert_eq!(guess_boundary(b"no delimiters\r\n"), None);
        assert_eq!(guess_boundary(b"--\r\n"), None);
    }

    #[test]
    fn parts_after_close_needs_an_opening_delimiter() {
        let body = b"--b\r\nx\r\n--b--\r\n--b\r\ny\r\n--b--\r\n";
        assert_eq!(
            parts_after_close(body, b"b"),
            Some(&b"--b\r\ny\r\n--b--\r\n"[..])
        );
        // A delimiter quoted inside a line is text, not a delimiter.
        assert_eq!(
            parts_after_close(b"--b\r\nsee --b-- here\r\n--b\r\n", b"b"),
            None
        );
        assert_eq!(
            parts_after_close(b"--b\r\nx\r\n--b--\r\nepilogue\r\n", b"b"),
            None
        );
    }
}
