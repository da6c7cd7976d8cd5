//! The MIME walk: an explicit stack over mail-parser's part tree, so a
//! deeply nested message cannot overflow the call stack.

use std::collections::BTreeSet;

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::collect::Collector;
use super::{AnomalyKind, Limits, ObjectKind, ScanObject, Walk, archive, body, repair, uuencode};

/// Path of the top-level message object.
const MESSAGE_PATH: &str = "message";

/// One pending step of the walk.
pub(super) enum Node<'m> {
    /// A message: the top-level one (empty path) or an embedded one.
    Message {
        message: &'m Message<'m>,
        path: String,
        file_name: Option<String>,
        content_type: Option<String>,
        depth: usize,
    },
    /// A part of `message`, by its index in `message.parts`.
    Part {
        message: &'m Message<'m>,
        id: usize,
        path: String,
        depth: usize,
    },
}

pub(super) fn walk_message(raw: &[u8], limits: &Limits) -> Walk {
    let mut collector = Collector::new(limits);
    let normalized = repair::normalize_line_endings(raw);
    if normalized.is_some() {
        collector.anomaly(MESSAGE_PATH, AnomalyKind::BareCrLineEndings);
    }
    let raw = normalized.as_deref().unwrap_or(raw);
    let end = repair::structure_end(raw, limits);
    if end < raw.len() {
        collector.anomaly(MESSAGE_PATH, AnomalyKind::StructureTooLarge);
    }
    let raw = &raw[..end];

    // NOTE: mail-parser 0.11.9 has `debug_assert!(false)` on parser states
    // it considers impossible. No test input has reached one, but in debug
    // builds they would panic, so callers should keep their catch_unwind.
    // The walk reads MIME header fields only. With those alone registered,
    // mail-parser keeps every other field as raw text instead of parsing
    // it (Received chains above all). With this change and the same one in
    // the analysis, mail-parser fell from 14% to 6% of the milter's perf
    // samples on the SpamAssassin corpus.
    let parser = MessageParser::new().with_mime_headers();
    let Some(message) = parser.parse(raw) else {
        collector.anomaly(MESSAGE_PATH, AnomalyKind::MalformedMessage);
        collector.push(ScanObject {
            path: MESSAGE_PATH.to_owned(),
            kind: ObjectKind::Message,
            file_name: None,
            content_type: Some("message/rfc822".to_owned()),
            data: raw.to_vec(),
        });
        return collector.finish();
    };

    let stack = vec![Node::Message {
        message: &message,
        path: String::new(),
        file_name: None,
        content_type: Some("message/rfc822".to_owned()),
        depth: 0,
    }];
    walk_nodes(&mut collector, stack);
    collector.finish()
}

/// Runs the walk until `stack` is empty or the object limit is reached.
pub(super) fn walk_nodes<'m>(collector: &mut Collector<'_>, mut stack: Vec<Node<'m>>) {
    while let Some(node) = stack.pop() {
        if collector.is_full() {
            break;
        }
        match node {
            Node::Message {
                message,
                path,
                file_name,
                content_type,
                depth,
            } => {
                let object_path = if path.is_empty() {
                    MESSAGE_PATH.to_owned()
                } else {
                    path.clone()
                };
                collector.push(ScanObject {
                    path: object_path,
                    kind: ObjectKind::Message,
                    file_name,
                    content_type,
                    data: message_text(message),
                });
                // A multipart root shares the message's path, so its children
                // are numbered directly below it; a single-part body is `.1`.
                let root_path = match message.parts.first() {
                    Some(root) if root.is_multipart() => path,
                    _ => child_path(&path, 1),
                };
                if !message.parts.is_empty() {
                    stack.push(Node::Part {
                        message,
                        id: 0,
                        path: root_path,
                        depth,
                    });
                }
            }
            Node::Part {
                message,
                id,
                path,
                depth,
            } => visit_part(collector, &mut stack, message, id, path, depth),
        }
    }
}

fn visit_part<'m>(
    collector: &mut Collector<'_>,
    stack: &mut Vec<Node<'m>>,
    message: &'m Message<'m>,
    id: usize,
    path: String,
    depth: usize,
) {
    let Some(part) = message.parts.get(id) else {
        return;
    };
    if depth > collector.limits.max_mime_depth {
        collector.anomaly(&path, AnomalyKind::MimeTooDeep);
        return;
    }

    match &part.body {
        PartType::Multipart(children) => {
            // mail-parser numbers a child after its parent; anything else
            // would be a cycle, so it is skipped.
            let children: Vec<usize> = children
                .iter()
                .map(|&child| child as usize)
                .filter(|&child| child > id)
                .collect();
            walk_parts_after_close(collector, message, part, &path, children.len() + 1, depth);
            for (index, &child) in children.iter().enumerate().rev() {
                stack.push(Node::Part {
                    message,
                    id: child,
                    path: child_path(&path, index + 1),
                    depth: depth + 1,
                });
            }
        }
        PartType::Message(nested) => stack.push(Node::Message {
            message: nested,
            path,
            file_name: body::file_name(message, part),
            content_type: body::content_type(part),
            depth: depth + 1,
        }),
        PartType::Text(_) | PartType::Html(_) | PartType::Binary(_) | PartType::InlineBinary(_) => {
            emit_leaf(collector, message, part, path, depth);
        }
    }
}

fn emit_leaf(
    collector: &mut Collector<'_>,
    message: &Message<'_>,
    part: &MessagePart<'_>,
    path: String,
    depth: usize,
) {
    let bytes = body::part_bytes(message, part);
    if bytes.bad_encoding {
        collector.anomaly(&path, AnomalyKind::BadEncoding);
    }
    let alternates = body::alternate_decodings(message, part);
    if !alternates.is_empty() {
        collector.anomaly(&path, AnomalyKind::DuplicateTransferEncoding);
    }
    let declared_multipart =
        body::content_type(part).is_some_and(|ct| ct.starts_with("multipart/"));
    let file_name = body::file_name(message, part);
    let content_type = body::content_type(part);

    let mut leaves = vec![bytes.data];
    leaves.extend(alternates);
    for data in leaves {
        let index = collector.push(ScanObject {
            path: path.clone(),
            kind: ObjectKind::Part,
            file_name: file_name.clone(),
            content_type: content_type.clone(),
            data,
        });
        if let Some(index) = index {
            for member in uuencode::extract(collector, index) {
                archive::expand_if_archive(collector, member);
            }
            archive::expand_if_archive(collector, index);
        }
    }

    // A multipart that mail-parser could not split has a missing or wrong
    // boundary: split it at the first delimiter-like line instead.
    if declared_multipart {
        collector.anomaly(&path, AnomalyKind::BadBoundary);
        let raw_body = message
            .raw_message
            .get(part.offset_body as usize..part.offset_end as usize)
            .unwrap_or_default();
        if let Some(boundary) = repair::guess_boundary(raw_body) {
            repair::walk_as_multipart(collector, raw_body, boundary, &path, 1, depth);
        }
    }
}

/// Walks the parts a sender placed after the closing boundary of a
/// multipart, numbering them after its last regular child.
fn walk_parts_after_close(
    collector: &mut Collector<'_>,
    message: &Message<'_>,
    part: &MessagePart<'_>,
    path: &str,
    first_number: usize,
    depth: usize,
) {
    let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary")) else {
        return;
    };
    let raw_body = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    if let Some(after) = repair::parts_after_close(raw_body, boundary.as_bytes()) {
        collector.anomaly(path, AnomalyKind::ContentAfterClosingBoundary);
        repair::walk_as_multipart(
            collector,
            after,
            boundary.as_bytes(),
            path,
            first_number,
            depth,
        );
    }
}

/// Builds the data of a message object: the raw header block, then the
/// text of each top-level text/plain and text/html body, one per line.
fn message_text(message: &Message<'_>) -> Vec<u8> {
    // An embedded message that was not transfer-encoded shares the raw
    // bytes of its parent, so the header block starts at the root's offset.
    let header_block = message.parts.first().and_then(|root| {
        message
            .raw_message
            .get(root.offset_header as usize..root.offset_body as usize)
    });
    let mut data = header_block.unwrap_or_default().to_vec();

    let mut seen = BTreeSet::new();
    for &id in message.text_body.iter().chain(&message.html_body) {
        if !seen.insert(id) {
            continue;
        }
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        if let PartType::Text(text) | PartType::Html(text) = &part.body {
            data.extend_from_slice(text.as_bytes());
            data.push(b'\n');
        }
    }
    data
}

/// Appends an IMAP-style part number to `parent` (`""` + 1 is `1`).
pub(super) fn child_path(parent: &str, number: usize) -> String {
    if parent.is_empty() {
        number.to_string()
    } else {
        format!("{parent}.{number}")
    }
}
