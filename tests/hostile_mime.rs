//! Hostile MIME: each malformed or evasive structure, one test each. Every
//! case must be scanned as far as it can be read, and what could not be
//! read must show in the verdict's anomalies, never pass silently.

mod hostile_support;

use hostile_support::{
    NAME_RULE, PAYLOAD, PAYLOAD_NAME, PAYLOAD_RULE, analyse, assert_anomaly, assert_matched,
    assert_matched_anywhere, assert_small, base64_lines, describe, has_anomaly, matched,
    matched_anywhere, scan_binary,
};

const HEADERS: &str =
    "From: a@example.net\r\nTo: b@example.org\r\nSubject: hostile test\r\nMIME-Version: 1.0\r\n";

/// Builds a multipart message with the given Content-Type value and
/// boundary, one part per `(headers, body)` pair.
fn multipart(content_type: &str, boundary: &str, parts: &[(&str, &str)]) -> Vec<u8> {
    let mut raw = format!("{HEADERS}Content-Type: {content_type}\r\n\r\npreamble\r\n");
    for (headers, body) in parts {
        raw.push_str(&format!("--{boundary}\r\n{headers}\r\n\r\n{body}\r\n"));
    }
    raw.push_str(&format!("--{boundary}--\r\n"));
    raw.into_bytes()
}

fn payload_attachment() -> (String, String) {
    (
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64".to_string(),
        base64_lines(PAYLOAD.as_bytes()),
    )
}

#[test]
fn missing_boundary_parameter() {
    let (headers, body) = payload_attachment();
    let raw = multipart(
        "multipart/mixed",
        "b1",
        &[("Content-Type: text/plain", "hello"), (&headers, &body)],
    );

    let verdict = analyse(&raw);

    assert_matched_anywhere(&verdict, PAYLOAD_RULE);
    assert_anomaly(&verdict, "bad-boundary", "");
}

#[test]
fn wrong_boundary_parameter() {
    let (headers, body) = payload_attachment();
    let raw = multipart(
        "multipart/mixed; boundary=\"not-in-body\"",
        "b1",
        &[("Content-Type: text/plain", "hello"), (&headers, &body)],
    );

    let verdict = analyse(&raw);

    assert_matched_anywhere(&verdict, PAYLOAD_RULE);
    assert_anomaly(&verdict, "bad-boundary", "");
}

#[test]
fn broken_base64_decoded_leniently() {
    let encoded = base64_lines(PAYLOAD.as_bytes());
    // Stray characters outside the alphabet and a truncated last group.
    let broken = format!("{}!!*{}\r\n%%%QQ", &encoded[..8], &encoded[8..]);
    let raw = multipart(
        "multipart/mixed; boundary=\"b1\"",
        "b1",
        &[
            ("Content-Type: text/plain", "hello"),
            (
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64",
                &broken,
            ),
        ],
    );

    let verdict = analyse(&raw);

    assert_matched(&verdict, PAYLOAD_RULE, "2");
    assert_anomaly(&verdict, "bad-encoding", "2");
}

#[test]
fn broken_quoted_printable_decoded_leniently() {
    // `=ZZ` is not a hex escape. The payload follows it, split by a soft
    // line break.
    let body = format!("junk =ZZ here {}=\r\n{}", &PAYLOAD[..10], &PAYLOAD[10..]);
    let raw = multipart(
        "multipart/mixed; boundary=\"b1\"",
        "b1",
        &[
            ("Content-Type: text/plain", "hello"),
            (
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: quoted-printable",
                &body,
            ),
        ],
    );

    let verdict = analyse(&raw);

    assert_matched(&verdict, PAYLOAD_RULE, "2");
    assert_anomaly(&verdict, "bad-encoding", "2");
}

/// Uuencodes `data` as one `begin 644 NAME` ... `end` block.
fn uuencode(name: &str, data: &[u8]) -> String {
    let mut out = format!("begin 644 {name}\r\n");
    for chunk in data.chunks(45) {
        out.push(char::from(0x20 + chunk.len() as u8));
        for group in chunk.chunks(3) {
            let mut bytes = [0u8; 3];
            bytes[..group.len()].copy_from_slice(group);
            let value = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
            for shift in [18, 12, 6, 0] {
                let sextet = (value >> shift & 63) as u8;
                // A zero sextet is written as a backquote, not a space.
                out.push(char::from(if sextet == 0 { b'`' } else { 0x20 + sextet }));
            }
        }
        out.push_str("\r\n");
    }
    out.push_str("`\r\nend\r\n");
    out
}

#[test]
fn uuencoded_block_in_text_body() {
    let body = format!(
        "Here is the file:\r\n\r\n{}",
        uuencode(PAYLOAD_NAME, PAYLOAD.as_bytes())
    );
    let raw = format!("{HEADERS}Content-Type: text/plain\r\n\r\n{body}").into_bytes();

    let verdict = analyse(&raw);

    let object = format!("1!{PAYLOAD_NAME}");
    assert_matched(&verdict, PAYLOAD_RULE, &object);
    assert_matched(&verdict, NAME_RULE, &object);
}

#[test]
fn uuencode_transfer_encoding() {
    let raw = multipart(
        "multipart/mixed; boundary=\"b1\"",
        "b1",
        &[
            ("Content-Type: text/plain", "hello"),
            (
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode",
                &uuencode("data.bin", PAYLOAD.as_bytes()),
            ),
        ],
    );

    let verdict = analyse(&raw);

    assert_matched_anywhere(&verdict, PAYLOAD_RULE);
}

#[test]
fn uuencoded_block_without_end_is_reported() {
    let mut block = uuencode(PAYLOAD_NAME, PAYLOAD.as_bytes());
    block.truncate(block.find("`\r\nend").expect("end line"));
    let raw = format!("{HEADERS}Content-Type: text/plain\r\n\r\nfile:\r\n{block}").into_bytes();

    let verdict = analyse(&raw);

    assert_matched_anywhere(&verdict, PAYLOAD_RULE);
    assert_anomaly(&verdict, "bad-encoding", "1");
}

#[test]
fn file_name_only_in_content_type() {
    let raw = multipart(
        "multipart/mixed; boundary=\"b1\"",
        "b1",
        &[
            ("Content-Type: text/plain", "hello"),
            (
                &format!("Content-Type: application/octet-stream; name=\"{PAYLOAD_NAME}\""),
                "MZ",
            ),
        ],
    );

    let verdict = analyse(&raw);

    assert_matched(&verdict, NAME_RULE, "2");
}

#[test]
fn rfc2231_file_names() {
    let dispositions = [
        "attachment; filename*=UTF-8''payload-name%2Epif".to_string(),
        "attachment; filename*=us-ascii'en'payload-name.pif".to_string(),
        "attachment; filename*0=\"payload-\"; filename*1=\"name.pif\"".to_string(),
        "attachment; filename*0*=UTF-8''payload%2D; filename*1=\"name.pif\"".to_string(),
    ];
    for disposition in dispositions {
        let raw = multipart(
            "multipart/mixed; boundary=\"b1\"",
            "b1",
            &[
                ("Content-Type: text/plain", "hello"),
                (
                    &format!(
                        "Content-Type: application/octet-stream\r\nContent-Disposition: {disposition}"
                    ),
                    "MZ",
                ),
            ],
        );

        let verdict = analyse(&raw);

        assert!(
            matched(&verdict, NAME_RULE, "2"),
            "{disposition}: {}",
            describe(&verdict)
        );
    }
}

#[test]
fn encoded_word_file_names() {
    let names = [
        "=?UTF-8?B?cGF5bG9hZC1uYW1lLnBpZg==?=",
        "=?iso-8859-1?Q?payload-name=2Epif?=",
        "=?UTF-8?Q?payload-?= =?UTF-8?Q?name.pif?=",
    ];
    for name in names {
        let raw = multipart(
            "multipart/mixed; boundary=\"b1\"",
            "b1",
            &[
                ("Content-Type: text/plain", "hello"),
                (
                    &format!(
                        "Content-Type: application/octet-stream; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\""
                    ),
                    "MZ",
                ),
            ],
        );

        let verdict = analyse(&raw);

        assert!(
            matched(&verdict, NAME_RULE, "2"),
            "{name}: {}",
            describe(&verdict)
        );
    }
}

/// Builds a multipart nested `depth` levels deep with the payload at the
/// bottom and a payload part beside the first level.
fn nested(depth: usize) -> Vec<u8> {
    let mut body = format!(
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        base64_lines(PAYLOAD.as_bytes())
    );
    for level in (0..depth).rev() {
        body = format!(
            "Content-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n--n{level}\r\n{body}--n{level}--\r\n"
        );
    }
    let top = format!(
        "{HEADERS}Content-Type: multipart/mixed; boundary=\"top\"\r\n\r\n\
         --top\r\nContent-Type: application/octet-stream\r\n\r\n{PAYLOAD}\r\n\
         --top\r\n{body}--top--\r\n"
    );
    top.into_bytes()
}

#[test]
fn parts_nested_100_deep() {
    let raw = nested(100);

    let verdict = analyse(&raw);

    assert_matched(&verdict, PAYLOAD_RULE, "1");
    assert_anomaly(&verdict, "mime-too-deep", "2.");
    assert_small(&scan_binary(&raw));
}

#[test]
fn hundred_thousand_parts() {
    let mut raw = format!(
        "{HEADERS}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: application/octet-stream\r\n\r\n{PAYLOAD}\r\n"
    );
    for index in 0..100_000 {
        raw.push_str(&format!(
            "--b\r\nContent-Type: text/plain\r\n\r\npart {index}\r\n"
        ));
    }
    raw.push_str("--b--\r\n");

    let verdict = analyse(raw.as_bytes());

    assert_matched(&verdict, PAYLOAD_RULE, "1");
    assert_anomaly(&verdict, "too-many-parts", "");
    let run = scan_binary(raw.as_bytes());
    assert_small(&run);
    assert!(run.line.contains("too-many-parts"), "{}", run.line);
}

#[test]
fn one_mebibyte_header() {
    let mut raw = format!("{HEADERS}X-Filler: ");
    // One header field of 1 MiB, folded every 70 characters.
    for _ in 0..(1024 * 1024 / 72) {
        raw.push_str(&"y".repeat(70));
        raw.push_str("\r\n ");
    }
    raw.push_str("end\r\n");
    let (headers, body) = payload_attachment();
    raw.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n{headers}\r\n\r\n{body}\r\n--b1--\r\n"
    ));

    let verdict = analyse(raw.as_bytes());

    assert_matched(&verdict, PAYLOAD_RULE, "1");
    assert_small(&scan_binary(raw.as_bytes()));
}

#[test]
fn nul_bytes_in_headers_and_body() {
    let raw = format!(
        "From: a@exa\0mple.net\r\nSubject: hostile\0test\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nhello\0\0world\r\n\
         --b1\r\nContent-Type: application/octet-stream; name=\"{PAYLOAD_NAME}\0.txt\"\r\n\r\n\0\0{PAYLOAD}\0\r\n--b1--\r\n"
    );

    let verdict = analyse(raw.as_bytes());

    assert_matched(&verdict, PAYLOAD_RULE, "2");
}

#[test]
fn eight_bit_headers_in_unknown_charset() {
    let mut raw = Vec::new();
    raw.extend_from_slice(
        b"From: \xe4\xf6\xfc <a@example.net>\r\nSubject: =?x-unknown-charset?B?/v8A?= \xff\xfe\r\n",
    );
    raw.extend_from_slice(b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"; charset=x-klingon\r\n\r\n");
    raw.extend_from_slice(
        b"--b1\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\n\xc0\xc1 text\r\n",
    );
    raw.extend_from_slice(
        b"--b1\r\nContent-Type: application/octet-stream; name=\"\xe9t\xe9.bin\"\r\n\r\n",
    );
    raw.extend_from_slice(PAYLOAD.as_bytes());
    raw.extend_from_slice(b"\r\n--b1--\r\n");

    let verdict = analyse(&raw);

    assert_matched(&verdict, PAYLOAD_RULE, "2");
}

#[test]
fn cr_only_line_endings() {
    let (headers, body) = payload_attachment();
    let raw = multipart(
        "multipart/mixed; boundary=\"b1\"",
        "b1",
        &[("Content-Type: text/plain", "hello"), (&headers, &body)],
    );
    let raw: Vec<u8> = String::from_utf8(raw)
        .expect("ASCII message")
        .replace("\r\n", "\r")
        .into_bytes();

    let verdict = analyse(&raw);

    assert_matched(&verdict, PAYLOAD_RULE, "2");
    assert_anomaly(&verdict, "bare-cr-line-endings", "message");
}

#[test]
fn part_after_closing_boundary() {
    let (headers, body) = payload_attachment();
    let mut raw = multipart(
        "multipart/mixed; boundary=\"b1\"",
        "b1",
        &[("Content-Type: text/plain", "hello")],
    );
    raw.extend_from_slice(format!("--b1\r\n{headers}\r\n\r\n{body}\r\n--b1--\r\n").as_bytes());

    let verdict = analyse(&raw);

    assert_matched_anywhere(&verdict, PAYLOAD_RULE);
    assert_anomaly(&verdict, "content-after-closing-boundary", "");
}

#[test]
fn duplicate_transfer_encoding_headers() {
    let encoded = base64_lines(PAYLOAD.as_bytes());
    for (first, second) in [("7bit", "base64"), ("base64", "7bit")] {
        let raw = multipart(
            "multipart/mixed; boundary=\"b1\"",
            "b1",
            &[
                ("Content-Type: text/plain", "hello"),
                (
                    &format!(
                        "Content-Type: application/octet-stream\r\n\
                         Content-Transfer-Encoding: {first}\r\nContent-Transfer-Encoding: {second}"
                    ),
                    &encoded,
                ),
            ],
        );

        let verdict = analyse(&raw);

        assert!(
            matched_anywhere(&verdict, PAYLOAD_RULE),
            "{first}, {second}: {}",
            describe(&verdict)
        );
        assert!(
            has_anomaly(&verdict, "duplicate-transfer-encoding", "2"),
            "{first}, {second}: {}",
            describe(&verdict)
        );
    }
}

/// Fills a message up to the default scan limit of 10 MiB with `unit`.
fn ten_mebibytes_of(head: &str, unit: &str) -> Vec<u8> {
    let count = (10 * 1024 * 1024 - head.len() - 64) / unit.len();
    let mut raw = head.as_bytes().to_vec();
    raw.extend(unit.as_bytes().repeat(count));
    raw
}

#[test]
fn million_tiny_parts_stay_small() {
    // About a million parts of 11 bytes: mail-parser used to need 340 MiB.
    let head = format!("{HEADERS}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    let raw = ten_mebibytes_of(&head, "--b\r\n\r\nx\r\n");

    let run = scan_binary(&raw);

    assert_small(&run);
    assert!(run.line.contains("structure-too-large"), "{}", run.line);
}

#[test]
fn million_header_fields_stay_small() {
    // About a million `To:` fields: mail-parser used to need 400 MiB.
    let raw = ten_mebibytes_of(HEADERS, "To: a@b\r\n");

    let run = scan_binary(&raw);

    assert_small(&run);
    assert!(run.line.contains("structure-too-large"), "{}", run.line);
}

#[test]
fn self_nested_multiparts_stay_small() {
    // Each part opens another multipart with the same boundary.
    let head = format!("{HEADERS}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    let raw = ten_mebibytes_of(
        &head,
        "--b\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
    );

    let run = scan_binary(&raw);

    assert_small(&run);
    assert!(run.line.contains("structure-too-large"), "{}", run.line);
}

#[test]
fn top_level_anomaly_names_message() {
    // Found by the mime_tokens fuzz target: a part after the closing
    // boundary of the top-level multipart was reported with an empty path.
    let raw =
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\n--b--\r\n\xff\xfe\r\n--b\r\n\r\n";

    let verdict = analyse(raw);

    assert!(
        verdict.anomalies.iter().all(|a| !a.path.is_empty()),
        "{:?}",
        verdict.anomalies
    );
    assert_anomaly(&verdict, "content-after-closing-boundary", "message");
}

#[test]
fn parser_debug_assertion_fails_open() {
    // Found by the mime_tokens fuzz target: this input reaches a
    // `debug_assert!(false)` in mail-parser 0.11.9 (src/parsers/message.rs,
    // "Invalid part ID, could not find multipart."). A release build ends the
    // parse there; a debug build panics, and `wormsign scan` must then report
    // an error for the message instead of aborting.
    let raw = b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\n\r\n--b--\r\n\r\n--b\r\n--b--\r\n\
        begin 644 a.exe\r\n\xff\xfeContent-Type: multipart/mixed\r\nContent-Type: message/rfc822\r\n\r\n\
        Content-Type: message/rfc822\r\n\r\n\r\n--b--\r\n\0";

    let run = scan_binary(raw);

    let expected = if cfg!(debug_assertions) {
        "error: analysis panicked"
    } else {
        "clean"
    };
    assert!(run.line.contains(expected), "{}", run.line);
}
