//! Hostile archives: each bomb, evasion and damaged zip, one test each.
//! Every case runs the built `wormsign scan` binary and checks its peak RSS
//! (VmHWM) stays under 256 MiB, and the verdict notes what was not read.

mod hostile_support;

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use hostile_support::{
    NAME_RULE, PAYLOAD, PAYLOAD_NAME, PAYLOAD_RULE, ScanRun, analyse, assert_anomaly,
    assert_matched, assert_matched_anywhere, assert_small, describe, has_anomaly, matched,
    message_with_attachment, scan_binary,
};

fn zip_of(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let options = SimpleFileOptions::default().compression_method(method);
    zip_with(members, options)
}

fn zip_with(members: &[(&str, &[u8])], options: SimpleFileOptions) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        writer.start_file(*name, options).expect("start zip member");
        writer.write_all(data).expect("write zip member");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// Offset of the first occurrence of `needle`.
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .unwrap_or_else(|| panic!("{needle:?} not found"))
}

/// Scans `raw` through the binary, asserts the memory bound, and returns
/// the run for further checks.
fn scan_small(raw: &[u8]) -> ScanRun {
    let run = scan_binary(raw);
    assert_small(&run);
    run
}

#[test]
fn nested_past_depth_limit() {
    let mut archive = zip_of(
        &[("payload.bin", PAYLOAD.as_bytes())],
        CompressionMethod::Stored,
    );
    for level in 0..10 {
        archive = zip_of(
            &[(&format!("level{level}.zip"), &archive)],
            CompressionMethod::Deflated,
        );
    }
    let raw = message_with_attachment("nested.zip", &archive);

    let verdict = analyse(&raw);

    assert_anomaly(&verdict, "archive-too-deep", "2!");
    let run = scan_small(&raw);
    assert!(run.line.contains("archive-too-deep"), "{}", run.line);
}

/// Builds a 42.zip-style recursive bomb: each level contains 16 copies of
/// the level below, and the bottom contains 16 members of 1 MiB of zeros.
/// Fully expanded it is 16^5 MiB (1 TiB).
fn recursive_bomb() -> Vec<u8> {
    let zeros = vec![0u8; 1024 * 1024];
    let names: Vec<String> = (0..16).map(|index| format!("{index:x}.bin")).collect();
    let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &zeros[..])).collect();
    let mut layer = zip_of(&members, CompressionMethod::Deflated);
    for level in 0..4 {
        let names: Vec<String> = (0..16)
            .map(|index| format!("l{level}-{index:x}.zip"))
            .collect();
        let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &layer[..])).collect();
        layer = zip_of(&members, CompressionMethod::Deflated);
    }
    layer
}

#[test]
fn recursive_zip_bomb() {
    let bomb = recursive_bomb();
    assert!(bomb.len() < 1024 * 1024, "bomb is {} bytes", bomb.len());
    let raw = message_with_attachment("42.zip", &bomb);

    let verdict = analyse(&raw);

    // The depth limit stops the walk three archives down, and the object
    // limit stops it before all 16^3 members at that depth are listed.
    assert_anomaly(&verdict, "archive-too-deep", "2!");
    assert_anomaly(&verdict, "too-many-parts", "2!");
    let run = scan_small(&raw);
    assert!(run.line.contains("incomplete"), "{}", run.line);
}

/// Builds a non-recursive zip bomb in David Fifield's style: one local
/// member (the kernel) and `entries` central directory entries that all
/// point at it, so each entry expands the same bytes again.
fn overlapping_bomb(kernel: &[u8], entries: usize) -> Vec<u8> {
    let single = zip_of(&[("kernel.bin", kernel)], CompressionMethod::Deflated);
    let central_start = find(&single, b"PK\x01\x02");
    let end_start = find(&single, b"PK\x05\x06");
    let entry = &single[central_start..end_start];

    // Each entry gets its own name of the kernel's length, so a reader that
    // keeps one entry per name still lists them all.
    let name_at = 46;
    let mut bomb = single[..central_start].to_vec();
    let central_offset = bomb.len();
    for index in 0..entries {
        let mut renamed = entry.to_vec();
        renamed[name_at..name_at + 10].copy_from_slice(format!("k{index:05}.bin").as_bytes());
        bomb.extend_from_slice(&renamed);
    }
    let central_size = bomb.len() - central_offset;

    let mut end = b"PK\x05\x06".to_vec();
    end.extend_from_slice(&[0; 4]);
    let count = u16::try_from(entries).expect("entry count fits the classic record");
    end.extend_from_slice(&count.to_le_bytes());
    end.extend_from_slice(&count.to_le_bytes());
    end.extend_from_slice(&u32::try_from(central_size).expect("size").to_le_bytes());
    end.extend_from_slice(&u32::try_from(central_offset).expect("offset").to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    bomb.extend_from_slice(&end);
    bomb
}

/// 1 MiB that deflates about 30:1, under the ratio limit: zeros with one
/// pseudo-random byte in 64, and the payload marker at the start.
fn kernel() -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    let mut data: Vec<u8> = (0..1024 * 1024)
        .map(|index| {
            if index % 64 == 0 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            } else {
                0
            }
        })
        .collect();
    data[..PAYLOAD.len()].copy_from_slice(PAYLOAD.as_bytes());
    data
}

#[test]
fn overlapping_entry_zip_bomb() {
    let bomb = overlapping_bomb(&kernel(), 2000);
    let raw = message_with_attachment("overlap.zip", &bomb);

    let verdict = analyse(&raw);

    assert_matched_anywhere(&verdict, PAYLOAD_RULE);
    assert_anomaly(&verdict, "archive-overlapping-entries", "2");
    // The kernel is read once; the other entries keep only their names.
    let kernels_read = verdict
        .matches
        .iter()
        .filter(|m| m.rule == PAYLOAD_RULE)
        .count();
    assert_eq!(kernels_read, 1, "{}", describe(&verdict));
    assert_anomaly(&verdict, "too-many-parts", "2!");
    let run = scan_small(&raw);
    assert!(run.line.contains("incomplete"), "{}", run.line);
}

#[test]
fn huge_ratio_member() {
    let zeros = vec![0u8; 100 * 1024 * 1024];
    let archive = zip_of(&[("zeros.bin", &zeros)], CompressionMethod::Deflated);
    drop(zeros);
    let raw = message_with_attachment("ratio.zip", &archive);

    let verdict = analyse(&raw);

    assert_anomaly(&verdict, "archive-ratio-exceeded", "2!zeros.bin");
    let run = scan_small(&raw);
    assert!(run.line.contains("archive-ratio-exceeded"), "{}", run.line);
}

/// Sets the encryption flag of every member, in the local headers and the
/// central directory.
fn mark_encrypted(mut archive: Vec<u8>) -> Vec<u8> {
    let mut offsets = Vec::new();
    for (at, window) in archive.windows(4).enumerate() {
        match window {
            b"PK\x03\x04" => offsets.push(at + 6),
            b"PK\x01\x02" => offsets.push(at + 8),
            _ => {}
        }
    }
    for at in offsets {
        archive[at] |= 1;
    }
    archive
}

#[test]
fn encrypted_member_name_still_scanned() {
    let archive = mark_encrypted(zip_of(
        &[(&format!("docs/{PAYLOAD_NAME}"), b"MZ\x90\x00")],
        CompressionMethod::Stored,
    ));
    let raw = message_with_attachment("secret.zip", &archive);

    let verdict = analyse(&raw);

    let member = format!("2!docs/{PAYLOAD_NAME}");
    assert_matched(&verdict, NAME_RULE, &member);
    assert_anomaly(&verdict, "archive-encrypted", &member);
    let run = scan_small(&raw);
    assert!(run.line.contains("archive-encrypted"), "{}", run.line);
}

#[test]
fn zip64_archive_read() {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    let archive = zip_with(&[("payload.bin", PAYLOAD.as_bytes())], options);
    assert!(
        archive.windows(2).any(|w| w == [0x01, 0x00]),
        "no zip64 extra field written"
    );
    let raw = message_with_attachment("z64.zip", &archive);

    let verdict = analyse(&raw);

    assert_matched(&verdict, PAYLOAD_RULE, "2!payload.bin");
    assert!(verdict.anomalies.is_empty(), "{}", describe(&verdict));
    scan_small(&raw);
}

#[test]
fn damaged_central_directory_falls_back() {
    let mut archive = zip_of(
        &[("first.txt", b"hello"), ("payload.bin", PAYLOAD.as_bytes())],
        CompressionMethod::Deflated,
    );
    // Break the end of central directory record and every central entry.
    let end = find(&archive, b"PK\x05\x06");
    archive[end..end + 4].copy_from_slice(b"XXXX");
    let central = find(&archive, b"PK\x01\x02");
    archive[central..central + 4].copy_from_slice(b"XXXX");
    let raw = message_with_attachment("broken.zip", &archive);

    let verdict = analyse(&raw);

    assert_matched(&verdict, PAYLOAD_RULE, "2!payload.bin");
    assert_anomaly(&verdict, "archive-damaged", "2");
    scan_small(&raw);
}

#[test]
fn zip_behind_leading_bytes() {
    // A self-extractor: an executable stub, then the archive.
    let mut archive = b"MZ\x90\x00 self-extractor stub ".repeat(40);
    archive.extend(zip_of(
        &[("payload.bin", PAYLOAD.as_bytes())],
        CompressionMethod::Deflated,
    ));
    let raw = message_with_attachment("setup.exe", &archive);

    let verdict = analyse(&raw);

    assert_matched(&verdict, PAYLOAD_RULE, "2!payload.bin");
    assert_anomaly(&verdict, "archive-leading-bytes", "2");
    scan_small(&raw);
}

#[test]
fn bzip2_and_lzma_members_reported() {
    for method in [12u8, 14] {
        let mut archive = zip_of(&[(PAYLOAD_NAME, b"MZ\x90\x00")], CompressionMethod::Stored);
        let central = find(&archive, b"PK\x01\x02");
        archive[8] = method;
        archive[central + 10] = method;
        let raw = message_with_attachment("packed.zip", &archive);

        let verdict = analyse(&raw);

        let member = format!("2!{PAYLOAD_NAME}");
        assert!(
            has_anomaly(&verdict, "archive-unsupported", &member),
            "method {method}: {}",
            describe(&verdict)
        );
        assert!(
            matched(&verdict, NAME_RULE, &member),
            "method {method}: {}",
            describe(&verdict)
        );
    }
}
