//! Zip expansion: turns zip archives among the scan objects into one object
//! per member, within the archive limits of [`Limits`](super::Limits).
//!
//! Archives are recognised by content, never by file name: the local file
//! header signature `PK\x03\x04` at offset 0, or later in the data when it
//! ends in an end of central directory record (a self-extractor). Nested archives are queued on an
//! explicit stack, not expanded by recursion.

use std::io::{self, Cursor, Read};

use zip::ZipArchive;
use zip::read::{ZipFileEntry, read_zipfile_from_stream_with_compressed_size};
use zip::result::ZipError;

use super::collect::Collector;
use super::local_headers::{self, LOCAL_HEADER_SIGNATURE};
use super::{AnomalyKind, ObjectKind, ScanObject};

/// Members smaller than this are exempt from the compression ratio limit:
/// small runs of repeated bytes compress far beyond any sane ratio, and
/// they cannot exhaust memory.
const RATIO_EXEMPT_BYTES: u64 = 64 * 1024;

/// The facts about a member that decide how it is read.
struct Member {
    name: String,
    /// Offset of the member's local header in the archive.
    header_start: u64,
    encrypted: bool,
    compressed_size: u64,
    size: u64,
}

impl Member {
    fn from_entry(entry: &ZipFileEntry<'_>) -> Self {
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(_) => String::from_utf8_lossy(entry.name_raw()).into_owned(),
        };
        Member {
            name,
            header_start: entry.header_start(),
            encrypted: entry.encrypted(),
            compressed_size: entry.compressed_size(),
            size: entry.size(),
        }
    }
}

/// The end of central directory record is at most this far from the end:
/// 22 bytes of record plus a comment of up to 65,535 bytes.
const MAX_END_RECORD_DISTANCE: usize = 22 + 65_535;

/// Signature of the end of central directory record.
const END_RECORD_SIGNATURE: &[u8; 4] = b"PK\x05\x06";

/// Returns where the zip archive in `data` starts: 0 for a plain zip, the offset of
/// the first local header for a zip behind leading bytes (a self-extractor
/// stub), or `None` when `data` is no zip. A zip behind leading bytes must
/// also end in an end of central directory record, so text that merely
/// mentions `PK\x03\x04` is not taken for an archive.
pub(super) fn zip_start(data: &[u8]) -> Option<usize> {
    if data.starts_with(LOCAL_HEADER_SIGNATURE) {
        return Some(0);
    }
    let tail = &data[data.len().saturating_sub(MAX_END_RECORD_DISTANCE)..];
    tail.windows(END_RECORD_SIGNATURE.len())
        .any(|window| window == END_RECORD_SIGNATURE)
        .then(|| {
            data.windows(LOCAL_HEADER_SIGNATURE.len())
                .position(|window| window == LOCAL_HEADER_SIGNATURE)
        })
        .flatten()
}

/// Whether `data` is a zip archive, at its start or behind leading bytes.
pub(super) fn is_zip(data: &[u8]) -> bool {
    zip_start(data).is_some()
}

/// Expands the object at `index` if it is a zip archive, then every archive
/// found among its members, up to `max_archive_depth` levels.
pub(super) fn expand_if_archive(collector: &mut Collector<'_>, index: usize) {
    if !is_zip(&collector.walk.objects[index].data) {
        return;
    }
    let mut pending = vec![(index, 1)];

    while let Some((index, depth)) = pending.pop() {
        if collector.is_full() {
            return;
        }
        if depth > collector.limits.max_archive_depth {
            let path = collector.walk.objects[index].path.clone();
            collector.anomaly(&path, AnomalyKind::ArchiveTooDeep);
            continue;
        }

        // The archive bytes are moved out while its members are appended,
        // then put back, to avoid copying the archive.
        let data = std::mem::take(&mut collector.walk.objects[index].data);
        let path = collector.walk.objects[index].path.clone();
        if zip_start(&data).is_some_and(|start| start > 0) {
            collector.anomaly(&path, AnomalyKind::ArchiveLeadingBytes);
        }
        let first_member = collector.walk.objects.len();
        expand_one(collector, &data, &path);
        collector.walk.objects[index].data = data;

        for member in (first_member..collector.walk.objects.len()).rev() {
            if is_zip(&collector.walk.objects[member].data) {
                pending.push((member, depth + 1));
            }
        }
    }
}

fn expand_one(collector: &mut Collector<'_>, data: &[u8], path: &str) {
    match ZipArchive::new(Cursor::new(data)) {
        Ok(mut archive) => expand_by_central_directory(collector, &mut archive, path),
        Err(_) => {
            collector.anomaly(path, AnomalyKind::ArchiveDamaged);
            expand_by_local_headers(collector, data, path);
        }
    }
}

fn expand_by_central_directory(
    collector: &mut Collector<'_>,
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    path: &str,
) {
    // The crate keeps one entry per name, so later entries of a repeated
    // name are never seen. Entries that share compressed data are the
    // non-recursive zip bomb. Both are reported, and the archive byte
    // budget bounds what the shared data can expand to.
    if archive.has_duplicate_names() {
        collector.anomaly(path, AnomalyKind::ArchiveDuplicateNames);
    }
    if archive.has_overlapping_files().unwrap_or(true) {
        collector.anomaly(path, AnomalyKind::ArchiveOverlappingEntries);
    }
    let mut local_headers_read = std::collections::HashSet::new();
    for index in 0..archive.len() {
        if collector.is_full() {
            return;
        }
        if index >= collector.limits.max_archive_entries {
            collector.anomaly(path, AnomalyKind::ArchiveTooManyEntries);
            return;
        }
        let member = match archive.by_index_data(index) {
            Ok(entry) if entry.is_dir() => continue,
            Ok(entry) => Member::from_entry(&entry),
            Err(_) => {
                collector.anomaly(path, AnomalyKind::ArchiveDamaged);
                continue;
            }
        };
        let member_path = format!("{path}!{}", member.name);
        // An entry that points at a local header already read adds no
        // content, only expansion: keep its name, skip its data.
        if !local_headers_read.insert(member.header_start) {
            push_member(collector, member_path, member.name, Vec::new());
            continue;
        }

        let data = match read_allowance(collector, &member_path, &member) {
            None => Vec::new(),
            Some(allowance) => match archive.by_index(index) {
                Ok(file) => read_member(collector, &member_path, &member, file, allowance),
                Err(error) => {
                    collector.anomaly(&member_path, open_error_kind(&error));
                    Vec::new()
                }
            },
        };
        push_member(collector, member_path, member.name, data);
    }
}

fn expand_by_local_headers(collector: &mut Collector<'_>, data: &[u8], path: &str) {
    let max_entries = collector.limits.max_archive_entries;
    let entries = local_headers::scan(data, max_entries);

    for (index, entry) in entries.into_iter().enumerate() {
        if collector.is_full() {
            return;
        }
        if index >= max_entries {
            collector.anomaly(path, AnomalyKind::ArchiveTooManyEntries);
            return;
        }
        if entry.is_dir {
            continue;
        }
        let member = Member {
            name: entry.name,
            header_start: entry.header_start as u64,
            encrypted: entry.encrypted,
            compressed_size: entry.compressed_size,
            size: entry.size,
        };
        let member_path = format!("{path}!{}", member.name);

        let data = match read_allowance(collector, &member_path, &member) {
            None => Vec::new(),
            Some(allowance) => {
                let mut stream = &data[entry.header_start..entry.end];
                match read_zipfile_from_stream_with_compressed_size(
                    &mut stream,
                    member.compressed_size,
                ) {
                    Ok(Some(file)) => {
                        read_member(collector, &member_path, &member, file, allowance)
                    }
                    Ok(None) => {
                        collector.anomaly(&member_path, AnomalyKind::ArchiveDamaged);
                        Vec::new()
                    }
                    Err(error) => {
                        collector.anomaly(&member_path, open_error_kind(&error));
                        Vec::new()
                    }
                }
            }
        };
        push_member(collector, member_path, member.name, data);
    }
}

/// Returns how many bytes of the member may be read, or `None` after
/// recording why it must not be read at all.
fn read_allowance(
    collector: &mut Collector<'_>,
    member_path: &str,
    member: &Member,
) -> Option<u64> {
    let limits = collector.limits;
    if member.encrypted {
        collector.anomaly(member_path, AnomalyKind::ArchiveEncrypted);
        return None;
    }
    if member.size > RATIO_EXEMPT_BYTES
        && member.size
            > member
                .compressed_size
                .saturating_mul(limits.max_compression_ratio)
    {
        collector.anomaly(member_path, AnomalyKind::ArchiveRatioExceeded);
        return None;
    }
    if collector.archive_bytes_left == 0 {
        collector.anomaly(member_path, AnomalyKind::ArchiveTotalTooLarge);
        return None;
    }
    Some(
        limits
            .max_archive_member_bytes
            .min(collector.archive_bytes_left),
    )
}

/// Reads at most `allowance` bytes of a member, and no more than the
/// compression ratio allows for its compressed size, so a header that
/// understates the size is caught by the bytes actually produced.
fn read_member(
    collector: &mut Collector<'_>,
    member_path: &str,
    member: &Member,
    reader: impl Read,
    allowance: u64,
) -> Vec<u8> {
    let limits = collector.limits;
    let ratio_cap = member
        .compressed_size
        .saturating_mul(limits.max_compression_ratio)
        .max(RATIO_EXEMPT_BYTES);
    let cap = allowance.min(ratio_cap);

    // Reading one byte past the cap shows whether the member fits.
    let mut data = Vec::new();
    if let Err(error) = reader.take(cap.saturating_add(1)).read_to_end(&mut data) {
        // The crate reports a compression method it was built without only
        // when the first byte is read.
        let kind = if error.kind() == io::ErrorKind::Unsupported {
            AnomalyKind::ArchiveUnsupported
        } else {
            AnomalyKind::ArchiveDamaged
        };
        collector.anomaly(member_path, kind);
    }

    if data.len() as u64 > cap {
        data.truncate(cap as usize);
        let kind = if ratio_cap < allowance {
            AnomalyKind::ArchiveRatioExceeded
        } else if allowance == limits.max_archive_member_bytes {
            AnomalyKind::ArchiveMemberTooLarge
        } else {
            AnomalyKind::ArchiveTotalTooLarge
        };
        collector.anomaly(member_path, kind);
    }
    collector.archive_bytes_left = collector
        .archive_bytes_left
        .saturating_sub(data.len() as u64);
    data
}

fn open_error_kind(error: &ZipError) -> AnomalyKind {
    match error {
        ZipError::UnsupportedArchive(_) | ZipError::CompressionMethodNotSupported(_) => {
            AnomalyKind::ArchiveUnsupported
        }
        _ => AnomalyKind::ArchiveDamaged,
    }
}

fn push_member(collector: &mut Collector<'_>, path: String, name: String, data: Vec<u8>) {
    collector.push(ScanObject {
        path,
        kind: ObjectKind::ArchiveMember,
        file_name: Some(name),
        content_type: None,
        data,
    });
}
