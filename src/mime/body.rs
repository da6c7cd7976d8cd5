//! Per-part helpers: declared content type, file name and the
//! transfer-decoded bytes of a MIME part.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{ContentType, Message, MessagePart, MimeHeaders, PartType};

/// Formats a Content-Type as lower-case `type/subtype`, or `type` alone
/// when the subtype is missing.
pub(super) fn type_name(content_type: &ContentType<'_>) -> String {
    let mut name = content_type.ctype().to_ascii_lowercase();
    if let Some(subtype) = content_type.subtype() {
        name.push('/');
        name.push_str(&subtype.to_ascii_lowercase());
    }
    name
}

/// Returns the part's declared content type as lower-case `type/subtype`.
pub(super) fn content_type(part: &MessagePart<'_>) -> Option<String> {
    part.content_type().map(type_name)
}

/// Returns the Content-Disposition `filename`, else the Content-Type `name`.
pub(super) fn file_name(part: &MessagePart<'_>) -> Option<String> {
    part.attachment_name().map(str::to_owned)
}

/// The decoded bytes of a leaf part, and whether its transfer encoding was
/// invalid.
pub(super) struct PartBytes {
    pub(super) data: Vec<u8>,
    pub(super) bad_encoding: bool,
}

/// Returns the transfer-decoded bytes of a leaf part.
///
/// mail-parser converts text/* parts to UTF-8, which would change the bytes
/// of a text attachment, so text parts are decoded again from the raw body.
/// When mail-parser flagged an encoding problem, its body is the raw
/// encoded text, so the raw body is decoded leniently instead.
pub(super) fn part_bytes(message: &Message<'_>, part: &MessagePart<'_>) -> PartBytes {
    let raw_body = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize);

    if part.is_encoding_problem {
        let data = match raw_body {
            Some(raw) => decode_leniently(raw, transfer_encoding(part)),
            None => part.contents().to_vec(),
        };
        return PartBytes {
            data,
            bad_encoding: true,
        };
    }

    let data = match (&part.body, raw_body) {
        (PartType::Text(_) | PartType::Html(_), Some(raw)) => {
            decode_strictly(raw, transfer_encoding(part))
                .unwrap_or_else(|| part.contents().to_vec())
        }
        // mail-parser leaves the body encoded when the header value is
        // `base64 (comment)` or `"base64"`: decode it here.
        (_, Some(raw)) if has_decorated_encoding(part) => {
            decode_strictly(raw, transfer_encoding(part))
                .unwrap_or_else(|| part.contents().to_vec())
        }
        _ => part.contents().to_vec(),
    };
    PartBytes {
        data,
        bad_encoding: false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferEncoding {
    Base64,
    QuotedPrintable,
    Identity,
}

// TODO: uuencoded bodies (`x-uuencode`, or `begin 644 name` lines in a
// text part) are scanned as text, so a payload sent that way is not seen.
fn transfer_encoding(part: &MessagePart<'_>) -> TransferEncoding {
    let name = part.content_transfer_encoding().map(mechanism);
    match name.as_deref() {
        Some(name) if name.eq_ignore_ascii_case("base64") => TransferEncoding::Base64,
        Some(name) if name.eq_ignore_ascii_case("quoted-printable") => {
            TransferEncoding::QuotedPrintable
        }
        _ => TransferEncoding::Identity,
    }
}

/// True when the Content-Transfer-Encoding names base64 or quoted-printable
/// only once comments, quotes or parameters are removed.
fn has_decorated_encoding(part: &MessagePart<'_>) -> bool {
    part.content_transfer_encoding()
        .is_some_and(|value| value.trim() != mechanism(value))
        && transfer_encoding(part) != TransferEncoding::Identity
}

/// The mechanism of a Content-Transfer-Encoding value, without RFC 2045
/// comments, quotes or a stray `;` and what follows, which mail clients
/// tolerate and senders use to hide an attachment from scanners:
/// `base64 (x)`, `"base64"` and `base64; x=1` all give `base64`.
fn mechanism(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => break,
            '"' => {}
            c if depth == 0 && !c.is_whitespace() => out.push(c),
            _ => {}
        }
    }
    out
}

fn decode_strictly(raw: &[u8], encoding: TransferEncoding) -> Option<Vec<u8>> {
    match encoding {
        TransferEncoding::Base64 => base64_decode(raw),
        TransferEncoding::QuotedPrintable => quoted_printable_decode(raw),
        TransferEncoding::Identity => Some(raw.to_vec()),
    }
}

fn decode_leniently(raw: &[u8], encoding: TransferEncoding) -> Vec<u8> {
    match encoding {
        TransferEncoding::Base64 => base64_decode_lenient(raw),
        TransferEncoding::QuotedPrintable => {
            quoted_printable_decode(raw).unwrap_or_else(|| raw.to_vec())
        }
        TransferEncoding::Identity => raw.to_vec(),
    }
}

/// Decodes base64 the way lax mail clients do: bytes outside the alphabet
/// are skipped, `=` ends a group, and a trailing partial group is kept as
/// far as it carries whole bytes.
pub(super) fn base64_decode_lenient(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() / 4 * 3);
    let mut group: u32 = 0;
    let mut sextets = 0u8;

    for &byte in raw {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                flush_partial_group(&mut out, group, sextets);
                group = 0;
                sextets = 0;
                continue;
            }
            _ => continue,
        };
        group = (group << 6) | u32::from(value);
        sextets += 1;
        if sextets == 4 {
            out.extend_from_slice(&group.to_be_bytes()[1..]);
            group = 0;
            sextets = 0;
        }
    }
    flush_partial_group(&mut out, group, sextets);
    out
}

/// Appends the whole bytes carried by 2 or 3 leftover sextets.
fn flush_partial_group(out: &mut Vec<u8>, group: u32, sextets: u8) {
    match sextets {
        2 => out.push((group >> 4) as u8),
        3 => out.extend_from_slice(&[(group >> 10) as u8, (group >> 2) as u8]),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mechanism_strips_comments_quotes_and_parameters() {
        let cases = [
            ("base64", "base64"),
            (" BASE64 ", "BASE64"),
            ("base64 (comment)", "base64"),
            ("(c) base64", "base64"),
            ("\"base64\"", "base64"),
            ("base64; x=1", "base64"),
            ("quoted-printable;", "quoted-printable"),
        ];
        for (value, expected) in cases {
            assert_eq!(super::mechanism(value), expected, "{value:?}");
        }
    }

    use super::*;

    #[test]
    fn lenient_base64_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"TVqQ", b"MZ\x90"),
            (b"TVqQAA==", b"MZ\x90\x00"),
            (b"TV*qQ!AA=", b"MZ\x90\x00"),
            (b"TVqQA\r\nA", b"MZ\x90\x00"),
            (b"TQ==TQ==", b"MM"),
            (b"T", b""),
            (b"", b""),
        ];
        for (input, expected) in cases {
            assert_eq!(
                base64_decode_lenient(input),
                expected.to_vec(),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
