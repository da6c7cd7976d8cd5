//! Per-part helpers: declared content type, file name and the
//! transfer-decoded bytes of a MIME part.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{ContentType, Message, MessageParser, MessagePart, MimeHeaders, PartType};

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
///
/// mail-parser 0.11.9 keeps the blank between two adjacent encoded words inside a
/// quoted name (`"=?UTF-8?Q?a?= =?UTF-8?Q?b.pif?="` gives `a b.pif`), so
/// such a name is decoded again from the raw header, as clients show it.
pub(super) fn file_name(message: &Message<'_>, part: &MessagePart<'_>) -> Option<String> {
    let name = part.attachment_name()?;
    Some(raw_encoded_name(message, part).unwrap_or_else(|| name.to_owned()))
}

/// Decodes a quoted `filename` or `name` parameter made of encoded words,
/// read from the raw Content-Disposition or Content-Type header.
fn raw_encoded_name(message: &Message<'_>, part: &MessagePart<'_>) -> Option<String> {
    let header = part.headers().iter().find(|header| {
        let name = header.name();
        name.eq_ignore_ascii_case("content-disposition")
            || name.eq_ignore_ascii_case("content-type")
    })?;
    let raw = message
        .raw_message
        .get(header.offset_start() as usize..header.offset_end() as usize)?;
    let text = String::from_utf8_lossy(raw);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("name=\"")? + "name=\"".len();
    let quoted = &text[start..];
    let value = &quoted[..quoted.find('"')?];
    if !value.contains("=?") {
        return None;
    }
    let header = format!("Subject: {value}\r\n\r\n");
    MessageParser::new()
        .parse_headers(header.as_bytes())
        .and_then(|message| message.subject().map(str::to_owned))
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

    // mail-parser decodes `=ZZ` and other invalid escapes as they stand
    // without flagging them.
    let bad_escape = transfer_encoding(part) == TransferEncoding::QuotedPrintable
        && raw_body.is_some_and(has_invalid_qp_escape);
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
        bad_encoding: bad_escape,
    }
}

/// Decodes the raw body of a leaf part once more for each further
/// Content-Transfer-Encoding header whose mechanism differs from the one
/// mail-parser used, because mail clients disagree on which header wins.
pub(super) fn alternate_decodings(message: &Message<'_>, part: &MessagePart<'_>) -> Vec<Vec<u8>> {
    let used = transfer_encoding(part);
    let mut others: Vec<TransferEncoding> = Vec::new();
    for header in part.headers() {
        if !header
            .name()
            .eq_ignore_ascii_case("content-transfer-encoding")
        {
            continue;
        }
        let Some(value) = header.value().as_text() else {
            continue;
        };
        let encoding = encoding_of(&mechanism(value));
        if encoding != used && !others.contains(&encoding) {
            others.push(encoding);
        }
    }
    let Some(raw) = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)
    else {
        return Vec::new();
    };
    others
        .into_iter()
        .map(|encoding| decode_leniently(raw, encoding))
        .collect()
}

/// True when a quoted-printable body has `=` followed by neither two hex
/// digits nor a line break (a soft line break may have trailing blanks).
fn has_invalid_qp_escape(raw: &[u8]) -> bool {
    raw.iter().enumerate().any(|(at, &byte)| {
        if byte != b'=' {
            return false;
        }
        let rest = &raw[at + 1..];
        let hex = rest.len() >= 2 && rest[0].is_ascii_hexdigit() && rest[1].is_ascii_hexdigit();
        let blanks = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let soft_break = matches!(rest.get(blanks), None | Some(b'\r' | b'\n'));
        !hex && !soft_break
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferEncoding {
    Base64,
    QuotedPrintable,
    Identity,
}

fn transfer_encoding(part: &MessagePart<'_>) -> TransferEncoding {
    let name = part.content_transfer_encoding().map(mechanism);
    encoding_of(name.as_deref().unwrap_or_default())
}

fn encoding_of(name: &str) -> TransferEncoding {
    if name.eq_ignore_ascii_case("base64") {
        TransferEncoding::Base64
    } else if name.eq_ignore_ascii_case("quoted-printable") {
        TransferEncoding::QuotedPrintable
    } else {
        TransferEncoding::Identity
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
    fn invalid_qp_escape_table() {
        let cases: &[(&[u8], bool)] = &[
            (b"caf=C3=A9", false),
            (b"soft=\r\nbreak", false),
            (b"soft= \t\nbreak", false),
            (b"end=", false),
            (b"bad=ZZ", true),
            (b"half=A", true),
            (b"a = b", true),
        ];
        for (input, expected) in cases {
            assert_eq!(has_invalid_qp_escape(input), *expected, "{input:?}");
        }
    }

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
