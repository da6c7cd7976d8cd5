//! Tests of [`walk`](super::walk) over whole messages: part numbering, file
//! names, archive expansion, every limit, and garbled input.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::*;

/// Builds a zip archive with the given members.
fn zip_of(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        writer.start_file(*name, options).expect("start zip member");
        writer.write_all(data).expect("write zip member");
    }
    writer.finish().expect("finish zip").into_inner()
}

fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    zip_of(members, CompressionMethod::Stored)
}

/// Sets the encryption flag of every member in a zip built by [`zip_of`],
/// in both the local headers and the central directory.
fn mark_encrypted(mut zip: Vec<u8>) -> Vec<u8> {
    let mut offsets = Vec::new();
    for (at, window) in zip.windows(4).enumerate() {
        match window {
            b"PK\x03\x04" => offsets.push(at + 6),
            b"PK\x01\x02" => offsets.push(at + 8),
            _ => {}
        }
    }
    for at in offsets {
        zip[at] |= 1;
    }
    zip
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (index, chunk) in data.chunks(3).enumerate() {
        // 19 groups of 4 characters make the usual 76-character line.
        if index > 0 && index % 19 == 0 {
            out.push_str("\r\n");
        }
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(group >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A multipart/mixed message with a text body and one base64 attachment.
fn message_with_attachment(name: &str, content_type: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: test\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nplease see the file\r\n\
         --b1\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{}\r\n--b1--\r\n",
        base64(data)
    )
    .into_bytes()
}

fn paths(walk: &Walk) -> Vec<&str> {
    walk.objects.iter().map(|o| o.path.as_str()).collect()
}

fn object<'w>(walk: &'w Walk, path: &str) -> &'w ScanObject {
    walk.objects
        .iter()
        .find(|o| o.path == path)
        .unwrap_or_else(|| panic!("no object {path} in {:?}", paths(walk)))
}

fn has_anomaly(walk: &Walk, path: &str, kind: AnomalyKind) -> bool {
    walk.anomalies
        .iter()
        .any(|a| a.path == path && a.kind == kind)
}

#[test]
fn multipart_with_zip_attachment() {
    let zip = stored_zip(&[("File-packed_dataInfo.exe", b"MZ\x90\x00worm")]);
    let raw = message_with_attachment("info.zip", "application/octet-stream", &zip);

    let walk = walk(&raw, &Limits::default());

    assert_eq!(
        paths(&walk),
        ["message", "1", "2", "2!File-packed_dataInfo.exe"]
    );
    assert!(walk.anomalies.is_empty(), "{:?}", walk.anomalies);
    let part = object(&walk, "2");
    assert_eq!(part.kind, ObjectKind::Part);
    assert_eq!(part.file_name.as_deref(), Some("info.zip"));
    assert_eq!(
        part.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(part.data, zip);
    let member = object(&walk, "2!File-packed_dataInfo.exe");
    assert_eq!(member.kind, ObjectKind::ArchiveMember);
    assert_eq!(
        member.file_name.as_deref(),
        Some("File-packed_dataInfo.exe")
    );
    assert_eq!(member.data, b"MZ\x90\x00worm");
}

#[test]
fn message_object_has_headers_and_body_text() {
    let zip = stored_zip(&[("a.exe", b"MZ")]);
    let raw = message_with_attachment("a.zip", "application/zip", &zip);

    let walk = walk(&raw, &Limits::default());

    let message = object(&walk, "message");
    assert_eq!(message.kind, ObjectKind::Message);
    assert_eq!(message.content_type.as_deref(), Some("message/rfc822"));
    let text = String::from_utf8_lossy(&message.data);
    assert!(text.starts_with("From: a@example.com\r\n"), "{text}");
    assert!(text.contains("Subject: test\r\n"), "{text}");
    assert!(text.contains("please see the file"), "{text}");
    assert!(
        !text.contains("UEsDB"),
        "attachment leaked into message text: {text}"
    );
}

#[test]
fn message_object_keeps_non_utf8_header() {
    let raw = b"Subject: caf\xe9\r\nFrom: a@example.com\r\n\r\nbody\r\n";

    let walk = walk(raw, &Limits::default());

    let message = object(&walk, "message");
    assert!(message.data.starts_with(b"Subject: caf\xe9\r\n"));
    assert!(message.data.ends_with(b"body\r\n\n"), "{:?}", message.data);
}

#[test]
fn single_part_body_is_part_one() {
    let raw = b"From: a@example.com\r\nContent-Type: application/octet-stream; name=x.pif\r\n\
                Content-Transfer-Encoding: base64\r\n\r\nTVqQAA==\r\n";

    let walk = walk(raw, &Limits::default());

    assert_eq!(paths(&walk), ["message", "1"]);
    let part = object(&walk, "1");
    assert_eq!(part.data, b"MZ\x90\x00");
    assert_eq!(part.file_name.as_deref(), Some("x.pif"));
}

#[test]
fn nested_multipart_numbering() {
    let raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n\
        --outer\r\nContent-Type: text/plain\r\n\r\nfirst\r\n\
        --outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
        --inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n\
        --inner\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n\
        --inner--\r\n\
        --outer\r\nContent-Type: application/octet-stream\r\n\r\nbinary\r\n\
        --outer--\r\n";

    let walk = walk(raw, &Limits::default());

    assert_eq!(paths(&walk), ["message", "1", "2.1", "2.2", "3"]);
    assert_eq!(object(&walk, "2.1").data, b"plain");
    assert_eq!(object(&walk, "2.2").data, b"<b>html</b>");
    assert_eq!(
        object(&walk, "2.2").content_type.as_deref(),
        Some("text/html")
    );
    assert_eq!(object(&walk, "3").data, b"binary");
}

#[test]
fn nested_message_rfc822_numbering() {
    let zip = stored_zip(&[("doc.scr", b"MZ")]);
    let raw = format!(
        "From: mailer-daemon@example.com\r\nSubject: Undelivered\r\n\
         Content-Type: multipart/report; boundary=r\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\ndelivery failed\r\n\
         --r\r\nContent-Type: message/rfc822\r\n\r\n\
         Received: from pc (dsl.example.net [192.0.2.7])\r\n\
         From: victim@example.org\r\nSubject: Your password\r\n\
         Content-Type: multipart/mixed; boundary=inner\r\n\r\n\
         --inner\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n\
         --inner\r\nContent-Type: application/zip; name=doc.zip\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --inner--\r\n\
         \r\n--r--\r\n",
        base64(&zip)
    );

    let walk = walk(raw.as_bytes(), &Limits::default());

    assert_eq!(
        paths(&walk),
        ["message", "1", "2", "2.1", "2.2", "2.2!doc.scr"]
    );
    let embedded = object(&walk, "2");
    assert_eq!(embedded.kind, ObjectKind::Message);
    assert_eq!(embedded.content_type.as_deref(), Some("message/rfc822"));
    let text = String::from_utf8_lossy(&embedded.data);
    assert!(text.starts_with("Received: from pc"), "{text}");
    assert!(text.contains("see attachment"), "{text}");
    assert!(!text.contains("delivery failed"), "{text}");
    assert_eq!(object(&walk, "2.2").file_name.as_deref(), Some("doc.zip"));
    let outer = String::from_utf8_lossy(&object(&walk, "message").data).into_owned();
    assert!(!outer.contains("victim@example.org"), "{outer}");
}

#[test]
fn nested_message_with_single_part_body() {
    let raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n\
        --m\r\nContent-Type: message/rfc822\r\n\r\n\
        From: b@example.com\r\nSubject: inner\r\n\r\ninner body\r\n\
        --m--\r\n";

    let walk = walk(raw, &Limits::default());

    assert_eq!(paths(&walk), ["message", "1", "1.1"]);
    assert_eq!(object(&walk, "1").kind, ObjectKind::Message);
    assert_eq!(object(&walk, "1.1").data, b"inner body");
}

#[test]
fn nested_zip_path_naming() {
    let inner = stored_zip(&[("b.exe", b"MZinner")]);
    let outer = zip_of(
        &[("dir/a.zip", &inner), ("readme.txt", b"hello")],
        CompressionMethod::Deflated,
    );
    let raw = message_with_attachment("outer.zip", "application/zip", &outer);

    let walk = walk(&raw, &Limits::default());

    assert_eq!(
        paths(&walk),
        [
            "message",
            "1",
            "2",
            "2!dir/a.zip",
            "2!readme.txt",
            "2!dir/a.zip!b.exe"
        ]
    );
    assert_eq!(object(&walk, "2!dir/a.zip!b.exe").data, b"MZinner");
    assert_eq!(
        object(&walk, "2!dir/a.zip").file_name.as_deref(),
        Some("dir/a.zip")
    );
    assert!(walk.anomalies.is_empty(), "{:?}", walk.anomalies);
}

#[test]
fn zip_found_by_magic_not_name() {
    let zip = stored_zip(&[("x.pif", b"MZ")]);
    let raw = message_with_attachment("photo.jpg", "image/jpeg", &zip);

    let walk = walk(&raw, &Limits::default());

    assert_eq!(object(&walk, "2!x.pif").data, b"MZ");
}

#[test]
fn file_name_sources() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "content-type name only",
            "Content-Type: application/octet-stream; name=\"Text.pif\"\r\n",
            "Text.pif",
        ),
        (
            "disposition wins over type",
            "Content-Type: application/octet-stream; name=\"type.exe\"\r\n\
             Content-Disposition: attachment; filename=\"disp.exe\"\r\n",
            "disp.exe",
        ),
        (
            "rfc 2231 name",
            "Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename*=utf-8''Dok%C3%BCment.zip\r\n",
            "Dok\u{fc}ment.zip",
        ),
        (
            "rfc 2231 continuation",
            "Content-Type: application/octet-stream;\r\n name*0=\"data\";\r\n name*1=\"Info.exe\"\r\n",
            "dataInfo.exe",
        ),
        (
            "encoded word",
            "Content-Type: application/octet-stream; name=\"=?iso-8859-1?q?Gr=FC=DFe.exe?=\"\r\n",
            "Gr\u{fc}\u{df}e.exe",
        ),
    ];
    for (case, headers, expected) in cases {
        let raw = format!(
            "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\n{headers}\r\nMZ\r\n--b--\r\n"
        );

        let walk = walk(raw.as_bytes(), &Limits::default());

        assert_eq!(
            object(&walk, "1").file_name.as_deref(),
            Some(*expected),
            "case: {case}"
        );
    }
}

#[test]
fn text_attachment_keeps_original_bytes() {
    let latin1 = b"Gr\xfc\xdfe aus M\xfcnchen";
    let raw = message_with_attachment("note.txt", "text/plain; charset=iso-8859-1", latin1);

    let walk = walk(&raw, &Limits::default());

    assert_eq!(object(&walk, "2").data, latin1);
}

#[test]
fn quoted_printable_text_part_decoded() {
    let raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n";

    let walk = walk(raw, &Limits::default());

    assert_eq!(object(&walk, "1").data, b"Gr\xfc\xdfe\r\n");
    let message = String::from_utf8_lossy(&object(&walk, "message").data).into_owned();
    assert!(message.contains("Gr\u{fc}\u{df}e"), "{message}");
}

#[test]
fn bad_base64_reported_and_decoded_leniently() {
    let raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: application/octet-stream; name=a.exe\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nTVqQ*AA==\r\n--b--\r\n";

    let walk = walk(raw, &Limits::default());

    assert!(
        has_anomaly(&walk, "1", AnomalyKind::BadEncoding),
        "{:?}",
        walk.anomalies
    );
    assert_eq!(object(&walk, "1").data, b"MZ\x90\x00");
}

#[test]
fn input_without_headers_is_malformed_message() {
    let walk = walk(b"", &Limits::default());

    assert!(has_anomaly(&walk, "message", AnomalyKind::MalformedMessage));
    assert_eq!(paths(&walk), ["message"]);
}

#[test]
fn encrypted_member_name_still_emitted() {
    let zip = mark_encrypted(stored_zip(&[("secret/Document.pif", b"MZ")]));
    let raw = message_with_attachment("doc.zip", "application/zip", &zip);

    let walk = walk(&raw, &Limits::default());

    let member = object(&walk, "2!secret/Document.pif");
    assert_eq!(member.file_name.as_deref(), Some("secret/Document.pif"));
    assert!(member.data.is_empty());
    assert!(has_anomaly(
        &walk,
        "2!secret/Document.pif",
        AnomalyKind::ArchiveEncrypted
    ));
}

#[test]
fn unsupported_method_reported() {
    let mut zip = stored_zip(&[("a.exe", b"MZxxxx")]);
    let central = zip
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    // Method 14 is LZMA, which this build leaves out.
    zip[8] = 14;
    zip[central + 10] = 14;
    let raw = message_with_attachment("x.zip", "application/zip", &zip);

    let walk = walk(&raw, &Limits::default());

    assert!(
        has_anomaly(&walk, "2!a.exe", AnomalyKind::ArchiveUnsupported),
        "{:?}",
        walk.anomalies
    );
    assert_eq!(object(&walk, "2!a.exe").file_name.as_deref(), Some("a.exe"));
}

#[test]
fn truncated_zip_read_by_local_headers() {
    let mut zip = stored_zip(&[("first.exe", b"MZfirst"), ("second.exe", &[0x4d; 200])]);
    let central = zip
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    zip.truncate(central - 50);
    let raw = message_with_attachment("cut.zip", "application/zip", &zip);

    let walk = walk(&raw, &Limits::default());

    assert!(
        has_anomaly(&walk, "2", AnomalyKind::ArchiveDamaged),
        "{:?}",
        walk.anomalies
    );
    assert_eq!(object(&walk, "2!first.exe").data, b"MZfirst");
    let second = object(&walk, "2!second.exe");
    assert_eq!(second.data, [0x4d; 150]);
    assert!(has_anomaly(
        &walk,
        "2!second.exe",
        AnomalyKind::ArchiveDamaged
    ));
}

/// Each limit, set low, with the anomaly it must produce.
#[test]
fn limits_trip_table() {
    let zeros = vec![0u8; 1024 * 1024];
    let nested = stored_zip(&[("level3.zip", &stored_zip(&[("deep.exe", b"MZ")]))]);
    let big = vec![b'M'; 5000];

    struct Case {
        name: &'static str,
        limits: Limits,
        zip: Vec<u8>,
        path: &'static str,
        kind: AnomalyKind,
    }
    let cases = [
        Case {
            name: "archive depth",
            limits: Limits {
                max_archive_depth: 2,
                ..Limits::default()
            },
            zip: stored_zip(&[("level2.zip", &nested)]),
            path: "2!level2.zip!level3.zip",
            kind: AnomalyKind::ArchiveTooDeep,
        },
        Case {
            name: "archive depth zero",
            limits: Limits {
                max_archive_depth: 0,
                ..Limits::default()
            },
            zip: stored_zip(&[("a.exe", b"MZ")]),
            path: "2",
            kind: AnomalyKind::ArchiveTooDeep,
        },
        Case {
            name: "entries",
            limits: Limits {
                max_archive_entries: 2,
                ..Limits::default()
            },
            zip: stored_zip(&[("1.exe", b"1"), ("2.exe", b"2"), ("3.exe", b"3")]),
            path: "2",
            kind: AnomalyKind::ArchiveTooManyEntries,
        },
        Case {
            name: "member bytes",
            limits: Limits {
                max_archive_member_bytes: 1000,
                ..Limits::default()
            },
            zip: stored_zip(&[("big.exe", &big)]),
            path: "2!big.exe",
            kind: AnomalyKind::ArchiveMemberTooLarge,
        },
        Case {
            name: "total bytes",
            limits: Limits {
                max_archive_total_bytes: 6000,
                ..Limits::default()
            },
            zip: stored_zip(&[("one.exe", &big), ("two.exe", &big)]),
            path: "2!two.exe",
            kind: AnomalyKind::ArchiveTotalTooLarge,
        },
        Case {
            name: "declared ratio",
            limits: Limits::default(),
            zip: zip_of(&[("bomb.bin", &zeros)], CompressionMethod::Deflated),
            path: "2!bomb.bin",
            kind: AnomalyKind::ArchiveRatioExceeded,
        },
        Case {
            name: "parts",
            limits: Limits {
                max_parts: 3,
                ..Limits::default()
            },
            zip: stored_zip(&[("a.exe", b"MZa"), ("b.exe", b"MZb")]),
            path: "2!a.exe",
            kind: AnomalyKind::TooManyParts,
        },
    ];

    for case in cases {
        let raw = message_with_attachment("x.zip", "application/zip", &case.zip);

        let walk = walk(&raw, &case.limits);

        assert!(
            has_anomaly(&walk, case.path, case.kind),
            "case {}: anomalies {:?}, paths {:?}",
            case.name,
            walk.anomalies,
            paths(&walk)
        );
        assert!(
            walk.objects.len() <= case.limits.max_parts,
            "case {}",
            case.name
        );
    }
}

#[test]
fn member_truncated_to_limit() {
    let big = vec![b'M'; 5000];
    let raw = message_with_attachment(
        "x.zip",
        "application/zip",
        &stored_zip(&[("big.exe", &big)]),
    );
    let limits = Limits {
        max_archive_member_bytes: 1000,
        ..Limits::default()
    };

    let walk = walk(&raw, &limits);

    assert_eq!(object(&walk, "2!big.exe").data.len(), 1000);
}

#[test]
fn total_budget_truncates_then_empties() {
    let big = vec![b'M'; 5000];
    let zip = stored_zip(&[("one.exe", &big), ("two.exe", &big), ("three.exe", &big)]);
    let raw = message_with_attachment("x.zip", "application/zip", &zip);
    let limits = Limits {
        max_archive_total_bytes: 6000,
        ..Limits::default()
    };

    let walk = walk(&raw, &limits);

    assert_eq!(object(&walk, "2!one.exe").data.len(), 5000);
    assert_eq!(object(&walk, "2!two.exe").data.len(), 1000);
    assert!(object(&walk, "2!three.exe").data.is_empty());
    assert!(has_anomaly(
        &walk,
        "2!three.exe",
        AnomalyKind::ArchiveTotalTooLarge
    ));
}

#[test]
fn understated_size_is_caught() {
    let data = vec![7u8; 300 * 1024];
    let mut zip = zip_of(&[("liar.bin", &data)], CompressionMethod::Deflated);
    // Declare 1000 bytes in the local header (offset 22) and the central
    // directory (offset 24), so the declared ratio looks harmless.
    let local = 0;
    let central = zip
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    zip[local + 22..local + 26].copy_from_slice(&1000u32.to_le_bytes());
    zip[central + 24..central + 28].copy_from_slice(&1000u32.to_le_bytes());
    let raw = message_with_attachment("x.zip", "application/zip", &zip);

    let walk = walk(&raw, &Limits::default());

    let member = object(&walk, "2!liar.bin");
    assert!(
        member.data.len() < data.len(),
        "read {} bytes",
        member.data.len()
    );
    // The zip crate stops at the declared size and fails the read.
    assert!(
        has_anomaly(&walk, "2!liar.bin", AnomalyKind::ArchiveDamaged),
        "{:?}",
        walk.anomalies
    );
}

#[test]
fn actual_ratio_caught_without_declared_size() {
    // A data descriptor member found by local headers has no declared size,
    // so only the bytes actually produced can trip the ratio.
    let data = vec![0u8; 1024 * 1024];
    let mut zip = zip_of(&[("bomb.bin", &data)], CompressionMethod::Deflated);
    zip[6] |= 1 << 3;
    zip[18..26].fill(0);
    let central = zip
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    zip.truncate(central);
    let raw = message_with_attachment("x.zip", "application/zip", &zip);

    let walk = walk(&raw, &Limits::default());

    assert!(
        has_anomaly(&walk, "2!bomb.bin", AnomalyKind::ArchiveRatioExceeded),
        "{:?}",
        walk.anomalies
    );
    assert!(object(&walk, "2!bomb.bin").data.len() < data.len());
}

#[test]
fn mime_depth_limit() {
    let mut raw = String::from("From: a@example.com\r\n");
    for level in 0..30 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");

    let walk = walk(raw.as_bytes(), &Limits::default());

    assert!(
        walk.anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::MimeTooDeep),
        "{:?}",
        walk.anomalies
    );
}

#[test]
fn deep_nesting_does_not_overflow_stack() {
    let mut raw = String::from("From: a@example.com\r\n");
    for level in 0..20_000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n"
        ));
    }

    let walk = walk(raw.as_bytes(), &Limits::default());

    assert_eq!(walk.objects[0].path, "message");
}

/// Small deterministic generator for the garbling test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn garbled_input_never_panics() {
    let inner = stored_zip(&[("b.exe", b"MZinner")]);
    let zip = zip_of(
        &[("a.zip", &inner), ("c.txt", b"hello hello hello")],
        CompressionMethod::Deflated,
    );
    let mut raw = message_with_attachment("x.zip", "application/zip", &zip);
    raw.extend_from_slice(
        b"\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: x\r\n\r\nbody\r\n--b1--\r\n",
    );
    let limits = Limits {
        max_compression_ratio: 2,
        ..Limits::default()
    };

    for end in 0..raw.len() {
        let _ = walk(&raw[..end], &limits);
    }
    for end in 0..zip.len() {
        let cut = message_with_attachment("x.zip", "application/zip", &zip[..end]);
        let _ = walk(&cut, &limits);
    }

    let mut random = Lcg(42);
    for _ in 0..2000 {
        let mut garbled = raw.clone();
        for _ in 0..1 + random.next() % 8 {
            let at = (random.next() as usize) % garbled.len();
            garbled[at] = random.next() as u8;
        }
        let _ = walk(&garbled, &limits);

        let mut garbled_zip = zip.clone();
        for _ in 0..1 + random.next() % 4 {
            let at = (random.next() as usize) % garbled_zip.len();
            garbled_zip[at] = random.next() as u8;
        }
        let _ = walk(
            &message_with_attachment("x.zip", "application/zip", &garbled_zip),
            &limits,
        );
    }

    for input in [&b""[..], b"\r\n", b"PK\x03\x04", b"--", b"From:\r\n\r\n--"] {
        let _ = walk(input, &limits);
    }
}
