//! Uuencoded files inside a part: `begin MODE NAME` lines, encoded lines,
//! then `end` (POSIX uuencode, historical format). Old mailers send
//! attachments this way inside a text body, or as a part with
//! `Content-Transfer-Encoding: x-uuencode`.

use super::collect::Collector;
use super::{AnomalyKind, ObjectKind, ScanObject};

/// Maximum number of uuencoded files taken from one part.
// TODO: files past this maximum are skipped without an anomaly.
const MAX_FILES_PER_PART: usize = 16;

/// One decoded file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct UuFile {
    pub(super) name: String,
    pub(super) data: Vec<u8>,
    /// False when the data ended before the `end` line or a line was invalid.
    pub(super) complete: bool,
}

/// Emits each uuencoded file in the object at `index` as an object
/// `<path>!<name>`, and records a [`AnomalyKind::BadEncoding`] for a file
/// that is damaged or has no `end` line.
pub(super) fn extract(collector: &mut Collector<'_>, index: usize) -> Vec<usize> {
    let object = &collector.walk.objects[index];
    if !contains_begin_line(&object.data) {
        return Vec::new();
    }
    let path = object.path.clone();
    let files = decode_all(&object.data);

    let mut pushed = Vec::new();
    for file in files {
        let member_path = format!("{path}!{}", file.name);
        if !file.complete {
            collector.anomaly(&member_path, AnomalyKind::BadEncoding);
        }
        let object = ScanObject {
            path: member_path,
            kind: ObjectKind::Part,
            file_name: Some(file.name),
            content_type: None,
            data: file.data,
        };
        match collector.push(object) {
            Some(new_index) => pushed.push(new_index),
            None => break,
        }
    }
    pushed
}

fn contains_begin_line(data: &[u8]) -> bool {
    data.starts_with(b"begin ") || data.windows(7).any(|w| w == b"\nbegin ")
}

/// Decodes every uuencoded file in `text`, at most [`MAX_FILES_PER_PART`].
pub(super) fn decode_all(text: &[u8]) -> Vec<UuFile> {
    let mut files = Vec::new();
    let mut lines = text.split(|&b| b == b'\n');

    while files.len() < MAX_FILES_PER_PART {
        let Some(name) = lines.by_ref().find_map(begin_line_name) else {
            break;
        };
        let mut file = UuFile {
            name,
            data: Vec::new(),
            complete: false,
        };
        for line in lines.by_ref() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.trim_ascii_end() == b"end" {
                file.complete = true;
                break;
            }
            if !decode_line(line, &mut file.data) {
                break;
            }
        }
        files.push(file);
    }
    files
}

/// Returns the file name of a `begin MODE NAME` line, where MODE is octal.
fn begin_line_name(line: &[u8]) -> Option<String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(b"begin ")?;
    let text = String::from_utf8_lossy(rest);
    let (mode, name) = text.trim_start().split_once(' ')?;
    let octal = !mode.is_empty() && mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
    let name = name.trim();
    (octal && !name.is_empty()).then(|| name.to_string())
}

/// Decodes one encoded line into `out`. Returns false when the line is not
/// uuencoded, which ends the file. A length character of 0 (space or
/// backquote) is the last line before `end`.
fn decode_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let Some((&length_char, encoded)) = line.split_first() else {
        // Some encoders leave an empty line before `end`.
        return true;
    };
    if !(0x20..=0x60).contains(&length_char) {
        return false;
    }
    let length = usize::from(sextet(length_char));
    let mut decoded = Vec::with_capacity(encoded.len() / 4 * 3);
    for group in encoded.chunks(4) {
        if group.len() < 2 {
            break;
        }
        let mut value: u32 = 0;
        for position in 0..4 {
            let sextet = group.get(position).map_or(0, |&c| sextet(c));
            value = value << 6 | u32::from(sextet);
        }
        decoded.extend_from_slice(&value.to_be_bytes()[1..]);
    }
    decoded.truncate(length);
    out.extend_from_slice(&decoded);
    true
}

/// Returns the 6-bit value of a uuencode character. The backquote stands for 0.
fn sextet(c: u8) -> u8 {
    c.wrapping_sub(0x20) & 0x3f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Name, data and whether the `end` line was seen.
    type Expected<'a> = &'a [(&'a str, &'a [u8], bool)];

    #[test]
    fn decode_all_table() {
        // "Cat" encodes as `#0V%T`; a backquote line of length 0 precedes `end`.
        let cases: &[(&[u8], Expected<'_>)] = &[
            (
                b"begin 644 cat.txt\n#0V%T\n`\nend\n",
                &[("cat.txt", b"Cat", true)],
            ),
            (
                b"text\r\nbegin 600 a b.exe\r\n#0V%T\r\nend\r\n",
                &[("a b.exe", b"Cat", true)],
            ),
            (b"begin 644 cut.bin\n#0V%T\n", &[("cut.bin", b"Cat", false)]),
            (b"begin 9z9 x\n#0V%T\nend\n", &[]),
            (b"no block here", &[]),
        ];
        for (input, expected) in cases {
            let files = decode_all(input);
            let actual: Vec<(&str, &[u8], bool)> = files
                .iter()
                .map(|f| (f.name.as_str(), f.data.as_slice(), f.complete))
                .collect();
            assert_eq!(actual, *expected, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
