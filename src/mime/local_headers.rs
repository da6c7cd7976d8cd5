//! A fallback reader for zip archives whose central directory is missing or
//! unreadable, e.g. because the message was truncated: finds members by
//! their local file headers (PKWARE APPNOTE 6.3.10, section 4.3.7).
//!
//! Local header layout, little endian: signature `PK\x03\x04` (4 bytes),
//! version needed (2), flags (2), method (2), time (2), date (2), CRC-32 (4),
//! compressed size (4), uncompressed size (4), name length (2), extra field
//! length (2), then the name, the extra field and the member data.

pub(super) const LOCAL_HEADER_SIGNATURE: &[u8; 4] = b"PK\x03\x04";

const FIXED_HEADER_LEN: usize = 30;
const FLAG_ENCRYPTED: u16 = 1 << 0;
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
/// A 32-bit size field with this value defers to a zip64 extra field.
const ZIP64_MARKER: u32 = u32::MAX;

/// One member found by its local header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LocalEntry {
    pub(super) name: String,
    pub(super) encrypted: bool,
    pub(super) is_dir: bool,
    /// The header's compressed size, or the distance to the next local
    /// header when the size is deferred to a data descriptor or zip64 field.
    pub(super) compressed_size: u64,
    /// The header's uncompressed size; 0 when it is deferred to a data
    /// descriptor or a zip64 extra field.
    pub(super) size: u64,
    /// Offset of the local header in the archive.
    pub(super) header_start: usize,
    /// Offset just past the member's data, at most the archive length.
    pub(super) end: usize,
}

/// Finds up to `max_entries + 1` members, so the caller can tell that the
/// limit was exceeded. Stops at the first truncated header.
pub(super) fn scan(data: &[u8], max_entries: usize) -> Vec<LocalEntry> {
    let mut entries = Vec::new();
    let mut position = 0;

    while entries.len() <= max_entries {
        let Some(start) = find_signature(data, position) else {
            break;
        };
        let Some(entry) = parse_entry(data, start) else {
            break;
        };
        // Always move forward, even past a header whose data is empty.
        position = entry.end.max(start + LOCAL_HEADER_SIGNATURE.len());
        entries.push(entry);
    }
    entries
}

fn parse_entry(data: &[u8], start: usize) -> Option<LocalEntry> {
    let header = data.get(start..start.checked_add(FIXED_HEADER_LEN)?)?;
    let flags = read_u16(header, 6);
    let compressed_size = read_u32(header, 18);
    let size = read_u32(header, 22);
    let name_len = usize::from(read_u16(header, 26));
    let extra_len = usize::from(read_u16(header, 28));

    let name_start = start + FIXED_HEADER_LEN;
    let raw_name = data.get(name_start..name_start + name_len)?;
    let name = String::from_utf8_lossy(raw_name).into_owned();
    let data_start = (name_start + name_len + extra_len).min(data.len());

    let size_known = flags & FLAG_DATA_DESCRIPTOR == 0 && compressed_size != ZIP64_MARKER;
    let end = if size_known {
        data_start
            .saturating_add(compressed_size as usize)
            .min(data.len())
    } else {
        find_signature(data, data_start).unwrap_or(data.len())
    };

    Some(LocalEntry {
        is_dir: name.ends_with('/'),
        name,
        encrypted: flags & FLAG_ENCRYPTED != 0,
        compressed_size: if size_known {
            u64::from(compressed_size)
        } else {
            (end - data_start) as u64
        },
        size: if size_known { u64::from(size) } else { 0 },
        header_start: start,
        end,
    })
}

fn find_signature(data: &[u8], from: usize) -> Option<usize> {
    let tail = data.get(from..)?;
    tail.windows(LOCAL_HEADER_SIGNATURE.len())
        .position(|window| window == LOCAL_HEADER_SIGNATURE)
        .map(|offset| from + offset)
}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a stored local header followed by `body`.
    fn local_member(name: &str, flags: u16, body: &[u8]) -> Vec<u8> {
        let mut bytes = LOCAL_HEADER_SIGNATURE.to_vec();
        bytes.extend_from_slice(&20u16.to_le_bytes());
        bytes.extend_from_slice(&flags.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn scan_finds_members_in_order() {
        let mut data = local_member("a.txt", 0, b"hello");
        data.extend(local_member("dir/", 0, b""));
        data.extend(local_member("b.exe", FLAG_ENCRYPTED, b"MZxx"));

        let entries = scan(&data, 10);

        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "dir/", "b.exe"]);
        assert_eq!(entries[0].compressed_size, 5);
        assert!(entries[1].is_dir);
        assert!(entries[2].encrypted);
        assert_eq!(entries[2].end, data.len());
    }

    #[test]
    fn scan_skips_zip_stored_inside_member() {
        let inner = local_member("inner.exe", 0, b"MZ");
        let mut data = local_member("inner.zip", 0, &inner);
        data.extend(local_member("after.txt", 0, b"x"));

        let names: Vec<String> = scan(&data, 10).into_iter().map(|e| e.name).collect();

        assert_eq!(names, ["inner.zip", "after.txt"]);
    }

    #[test]
    fn scan_clamps_truncated_member() {
        let mut data = local_member("cut.exe", 0, &[0x4d; 100]);
        data.truncate(60);

        let entries = scan(&data, 10);

        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].end, 60);
        assert_eq!(entries[0].compressed_size, 100);
    }

    #[test]
    fn scan_stops_at_truncated_header() {
        let mut data = local_member("a.txt", 0, b"hello");
        data.extend_from_slice(&LOCAL_HEADER_SIGNATURE[..]);
        data.extend_from_slice(&[0; 10]);

        assert_eq!(scan(&data, 10).len(), 1);
    }

    #[test]
    fn scan_returns_one_past_limit() {
        let mut data = Vec::new();
        for index in 0..5 {
            data.extend(local_member(&format!("{index}.txt"), 0, b"x"));
        }

        assert_eq!(scan(&data, 2).len(), 3);
    }

    #[test]
    fn scan_uses_next_header_for_data_descriptor() {
        let mut data = local_member("a.bin", FLAG_DATA_DESCRIPTOR, b"");
        let first_data_start = data.len();
        data.extend_from_slice(b"payload");
        data.extend(local_member("b.bin", 0, b"y"));

        let entries = scan(&data, 10);

        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].compressed_size, 7);
        assert_eq!(entries[0].end, first_data_start + 7);
    }
}
