//! MIME walk and archive expansion: turns one raw message into scan objects.
//!
//! Pure and synchronous: no I/O, no logging, no panics on any input.
//!
//! # Object paths
//!
//! Paths follow IMAP part numbers (RFC 3501, section 6.4.5):
//!
//! - `message` is the top-level header block plus the decoded text of the
//!   top-level text bodies.
//! - The children of the top-level multipart are `1`, `2` and so on, and
//!   the children of a nested multipart at `2` are `2.1`, `2.2` and so on. A
//!   single-part message has one part, `1`.
//! - A `message/rfc822` part at `3` becomes a [`ObjectKind::Message`] object
//!   at path `3`, built like the top-level `message` object. Its own parts
//!   continue the numbering: `3.1`, `3.2` for a multipart body, or `3.1`
//!   alone for a single-part body.
//! - A zip archive member is `<container>!<member name>`, e.g. `2!a.exe`,
//!   and a member of a nested zip is `2!a.zip!b.exe`. The member name keeps
//!   its directory prefix. A uuencoded file inside a part is named the
//!   same way: `1!name.exe`.
//! - Parts recovered from a multipart with a missing or wrong boundary are
//!   numbered below the part that contained them (`1.1`, `1.2`). Parts
//!   after a closing boundary continue the numbering of that multipart.

mod archive;
mod body;
mod collect;
mod local_headers;
mod repair;
mod uuencode;
mod walk;

pub use repair::{normalize_line_endings, structure_end};

#[cfg(test)]
mod tests;

/// What a scan object is, exposed to rules as the `object_kind` variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A header block plus its top-level text: the message itself (path
    /// `message`) or an embedded `message/rfc822` part (path `3`, `2.1`).
    Message,
    /// One decoded MIME part (path `2`, `2.1`, ...).
    Part,
    /// One member of an archive (path `2!name.exe`, `2!a.zip!b.exe`).
    ArchiveMember,
}

impl ObjectKind {
    /// The name rules see in the `object_kind` external variable.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Message => "message",
            ObjectKind::Part => "part",
            ObjectKind::ArchiveMember => "archive_member",
        }
    }
}

/// One thing the scanner looks at.
#[derive(Debug, Clone)]
pub struct ScanObject {
    /// Where the object came from, e.g. `message`, `2`, `2.1!File.exe`.
    pub path: String,
    /// Whether this is a message, a MIME part or an archive member.
    pub kind: ObjectKind,
    /// File name from Content-Disposition `filename` or Content-Type `name`
    /// (RFC 2231 and encoded words decoded), or the full archive member name.
    pub file_name: Option<String>,
    /// Declared Content-Type (type/subtype, lower case), if any.
    /// `message/rfc822` for the top-level `message` object.
    pub content_type: Option<String>,
    /// Decoded bytes.
    ///
    /// For a [`ObjectKind::Message`] object: the raw header block, ending in
    /// its blank line, followed by the UTF-8 text of each top-level
    /// text/plain and text/html body. For a part: the transfer-decoded bytes
    /// (base64 or quoted-printable removed, no charset conversion). For an
    /// archive member: the decompressed bytes, empty when the member was
    /// encrypted or skipped because a limit tripped.
    pub data: Vec<u8>,
}

/// Bounds on the walk. Every bound that trips is reported as an [`Anomaly`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Maximum number of scan objects per message, counting message, part
    /// and archive member objects together.
    pub max_parts: usize,
    /// Maximum nesting of multiparts and embedded messages.
    pub max_mime_depth: usize,
    /// Maximum nesting of archives: 1 opens archives attached to the
    /// message but not archives inside them, and 0 opens none.
    pub max_archive_depth: usize,
    /// Maximum number of members read from one archive.
    pub max_archive_entries: usize,
    /// Maximum decompressed bytes over all archives of one message.
    pub max_archive_total_bytes: u64,
    /// Maximum decompressed bytes kept of one archive member. A larger
    /// member is truncated to this size.
    pub max_archive_member_bytes: u64,
    /// Maximum ratio of decompressed to compressed size of one member.
    /// Members smaller than 64 KiB are exempt because small runs of
    /// repeated bytes compress far beyond any sane ratio.
    pub max_compression_ratio: u64,
}

impl Limits {
    /// Maximum number of header-like and delimiter-like lines given to the
    /// MIME parser: 50 per allowed object, so 50,000 by default. The
    /// message is cut before the line that exceeds it (see
    /// [`structure_end`]).
    pub fn max_structure_lines(&self) -> usize {
        self.max_parts.saturating_mul(50)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parts: 1000,
            max_mime_depth: 20,
            max_archive_depth: 3,
            max_archive_entries: 1000,
            max_archive_total_bytes: 64 * 1024 * 1024,
            max_archive_member_bytes: 32 * 1024 * 1024,
            max_compression_ratio: 200,
        }
    }
}

/// Something the walk could not read or chose not to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// Path of the object concerned.
    pub path: String,
    /// The cause.
    pub kind: AnomalyKind,
}

/// The reason for an [`Anomaly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnomalyKind {
    /// [`Limits::max_parts`] reached. The path is the first object dropped.
    TooManyParts,
    /// [`Limits::max_mime_depth`] reached. The part and its children were skipped.
    MimeTooDeep,
    /// [`Limits::max_archive_depth`] reached. The member was emitted but not opened.
    ArchiveTooDeep,
    /// [`Limits::max_archive_entries`] reached. Later members were skipped.
    ArchiveTooManyEntries,
    /// [`Limits::max_archive_total_bytes`] reached. The member was truncated
    /// or emitted without data.
    ArchiveTotalTooLarge,
    /// [`Limits::max_archive_member_bytes`] reached. The member was truncated.
    ArchiveMemberTooLarge,
    /// [`Limits::max_compression_ratio`] exceeded by the declared or the
    /// actual size. The member was truncated or emitted without data.
    ArchiveRatioExceeded,
    /// The member is encrypted. It was emitted with its name and no data.
    ArchiveEncrypted,
    /// The archive or member could not be read completely. Whatever could
    /// be read was emitted.
    ArchiveDamaged,
    /// The member uses a compression method or feature that this build
    /// cannot read, because only stored and deflate are built in. The member
    /// was emitted with its name and no data.
    ArchiveUnsupported,
    /// Invalid base64 or quoted-printable, or an embedded message that could
    /// not be parsed. The bytes were decoded leniently or kept as they were.
    BadEncoding,
    /// No header could be parsed. The whole input became the `message` object.
    MalformedMessage,
    /// A multipart whose boundary parameter is missing or never used in
    /// its body. It was split at the first line that looks like a delimiter.
    BadBoundary,
    /// Parts follow the closing boundary of a multipart. They were walked
    /// and numbered after its last regular part.
    ContentAfterClosingBoundary,
    /// The message has more header-like and delimiter-like lines than
    /// [`Limits::max_structure_lines`]. It was cut before the line that
    /// exceeds it, and the rest was not scanned.
    StructureTooLarge,
    /// Lines end in a bare CR. They were read as CRLF.
    BareCrLineEndings,
    /// A part has several Content-Transfer-Encoding headers that disagree;
    /// it was emitted once per decoding, all at the same path.
    DuplicateTransferEncoding,
    /// The archive starts after leading bytes, as a self-extractor does;
    /// it was opened all the same.
    ArchiveLeadingBytes,
    /// The central directory repeats a member name. Only the first entry
    /// of each name was read.
    ArchiveDuplicateNames,
    /// Several members share compressed data, the shape of a
    /// non-recursive zip bomb. The archive byte limits bound its expansion.
    ArchiveOverlappingEntries,
}

impl AnomalyKind {
    /// A short name for logs, headers and evidence, e.g. `archive-ratio-exceeded`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::TooManyParts => "too-many-parts",
            AnomalyKind::MimeTooDeep => "mime-too-deep",
            AnomalyKind::ArchiveTooDeep => "archive-too-deep",
            AnomalyKind::ArchiveTooManyEntries => "archive-too-many-entries",
            AnomalyKind::ArchiveTotalTooLarge => "archive-total-too-large",
            AnomalyKind::ArchiveMemberTooLarge => "archive-member-too-large",
            AnomalyKind::ArchiveRatioExceeded => "archive-ratio-exceeded",
            AnomalyKind::ArchiveEncrypted => "archive-encrypted",
            AnomalyKind::ArchiveDamaged => "archive-damaged",
            AnomalyKind::ArchiveUnsupported => "archive-unsupported",
            AnomalyKind::BadEncoding => "bad-encoding",
            AnomalyKind::MalformedMessage => "malformed-message",
            AnomalyKind::BadBoundary => "bad-boundary",
            AnomalyKind::ContentAfterClosingBoundary => "content-after-closing-boundary",
            AnomalyKind::StructureTooLarge => "structure-too-large",
            AnomalyKind::BareCrLineEndings => "bare-cr-line-endings",
            AnomalyKind::DuplicateTransferEncoding => "duplicate-transfer-encoding",
            AnomalyKind::ArchiveLeadingBytes => "archive-leading-bytes",
            AnomalyKind::ArchiveDuplicateNames => "archive-duplicate-names",
            AnomalyKind::ArchiveOverlappingEntries => "archive-overlapping-entries",
        }
    }
}

/// The result of a walk: every object read, plus what could not be read.
#[derive(Debug, Default)]
pub struct Walk {
    /// Scan objects in document order, except that the members of a nested
    /// archive follow all members of the archive that contains it.
    pub objects: Vec<ScanObject>,
    /// Limits that tripped and content that could not be decoded.
    pub anomalies: Vec<Anomaly>,
}

/// Walks a raw RFC 5322 message into scan objects.
///
/// Never fails: unreadable content is reported in [`Walk::anomalies`] and
/// whatever could be read is still returned as objects.
pub fn walk(raw: &[u8], limits: &Limits) -> Walk {
    walk::walk_message(raw, limits)
}
