//! Reads a benchmark corpus and splits each message into the pieces an MTA
//! sends to a milter: header fields, then the body in CRLF form.
//!
//! A corpus is a single file, or a directory read as `wormsign scan` reads
//! it (see [`crate::message_files`]): Maildirs, and every regular file of
//! any other directory, recursively, except hidden and `.json` files. A
//! file that starts with an mbox `From ` line is split into its messages;
//! any other file is one message.

use std::path::{Path, PathBuf};

use crate::message_files::{self, Source};

/// One message, split for the milter protocol.
#[derive(Debug, Clone)]
pub struct CorpusMessage {
    /// Header fields in order, name and value as the MTA sends them: the
    /// value without the space after the colon, folded lines joined by CRLF.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Body with CRLF line endings, as in SMTP DATA.
    pub body: Vec<u8>,
}

/// Errors reading a corpus.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorpusError {
    #[error("cannot read corpus path {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A path or folder of the corpus that could not be listed.
    #[error("cannot read corpus path {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "corpus {path} contains no messages: give a folder of message files (hidden and .json files are skipped), an mbox file or one message file"
    )]
    Empty { path: PathBuf },
}

/// Reads every message under `path`, in a stable order (directory entries
/// sorted by name) so that runs are repeatable.
///
/// # Errors
/// A path cannot be read, or the corpus contains no message.
pub fn load(path: &Path) -> Result<Vec<CorpusMessage>, CorpusError> {
    let mut files = Vec::new();
    for source in message_files::collect(&[path.to_path_buf()]) {
        match source {
            Source::File(file) => files.push(file),
            Source::Unreadable(path, reason) => {
                return Err(CorpusError::Unreadable { path, reason });
            }
            Source::Empty(_) => {}
        }
    }
    let mut messages = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|source| CorpusError::Read {
            path: file.clone(),
            source,
        })?;
        for raw in split_mbox(&bytes) {
            messages.push(split_message(raw));
        }
    }
    if messages.is_empty() {
        return Err(CorpusError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(messages)
}

/// Splits an mbox into its messages, without the `From ` separator lines and
/// with `>From ` unquoted. A file without a leading `From ` line is returned
/// whole.
pub fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    if !bytes.starts_with(b"From ") {
        return vec![bytes.to_vec()];
    }
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut previous_blank = true;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if previous_blank && line.starts_with(b"From ") {
            if let Some(message) = current.take() {
                messages.push(message);
            }
            current = Some(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = line == b"\n" || line == b"\r\n";
        let line = match line.strip_prefix(b">") {
            Some(rest) if rest.starts_with(b"From ") || rest.starts_with(b">From ") => rest,
            _ => line,
        };
        if let Some(message) = current.as_mut() {
            message.extend_from_slice(line);
        }
    }
    messages.extend(current);
    messages
}

/// Splits one message into header fields and a CRLF body. Malformed input
/// is kept as far as it goes: a line without a colon in the header block
/// ends the headers and starts the body, as an MTA would treat it.
pub fn split_message(raw: Vec<u8>) -> CorpusMessage {
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut rest = raw.as_slice();
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = trim_eol(&rest[..end]);
        if line.is_empty() {
            rest = &rest[end..];
            break;
        }
        if matches!(line[0], b' ' | b'\t')
            && let Some((_, value)) = headers.last_mut()
        {
            value.extend_from_slice(b"\r\n");
            value.extend_from_slice(line);
            rest = &rest[end..];
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            break;
        };
        let name = trim_end(&line[..colon]).to_vec();
        let value = line[colon + 1..]
            .strip_prefix(b" ")
            .unwrap_or(&line[colon + 1..]);
        headers.push((name, value.to_vec()));
        rest = &rest[end..];
    }
    CorpusMessage {
        headers,
        body: to_crlf(rest),
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

fn to_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 32);
    for line in body.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(trim_eol(line));
        if line.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_is_split_and_unquoted() {
        let mbox = b"From a@b Thu Aug 22 12:36:23 2002\nSubject: one\n\n>From here\n\nFrom c@d Fri Aug 23 00:00:00 2002\nSubject: two\n\nbody\n";
        let messages = split_mbox(mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], b"Subject: one\n\nFrom here\n\n");
        assert_eq!(messages[1], b"Subject: two\n\nbody\n");
    }

    #[test]
    fn plain_file_is_one_message() {
        assert_eq!(split_mbox(b"Subject: x\n\nFrom me\n").len(), 1);
    }

    #[test]
    fn headers_are_unfolded_and_body_is_crlf() {
        let message = split_message(b"Subject: a\n\tb\nTo:c\n\nline1\nline2".to_vec());
        assert_eq!(
            message.headers,
            vec![
                (b"Subject".to_vec(), b"a\r\n\tb".to_vec()),
                (b"To".to_vec(), b"c".to_vec()),
            ]
        );
        assert_eq!(message.body, b"line1\r\nline2");
    }

    #[test]
    fn directory_is_read_like_scan() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.eml"), "Subject: a\n\nx\n").unwrap();
        std::fs::write(dir.path().join("expected.json"), "[]").unwrap();
        std::fs::write(dir.path().join(".a.eml.swp"), "swap").unwrap();
        std::fs::create_dir_all(dir.path().join("box/cur")).unwrap();
        std::fs::write(dir.path().join("box/cur/1:2,S"), "Subject: b\n\ny\n").unwrap();
        // The SpamAssassin corpus: original tarball names have no extension,
        // and the npm package puts a .json copy beside each .txt file.
        std::fs::create_dir(dir.path().join("sa")).unwrap();
        std::fs::write(
            dir.path().join("sa/00001.7848dde101aa985090474a91ec93fcf0"),
            "Subject: c\n\nz\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("sa/00002.abc.txt"), "Subject: d\n\nw\n").unwrap();
        std::fs::write(dir.path().join("sa/00002.abc.json"), "{}").unwrap();

        let messages = load(dir.path()).unwrap();
        let subjects: Vec<&[u8]> = messages.iter().map(|m| m.headers[0].1.as_slice()).collect();
        assert_eq!(subjects, vec![&b"a"[..], b"b", b"c", b"d"]);
    }

    #[test]
    fn missing_or_empty_corpus_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(&dir.path().join("box/new")),
            Err(CorpusError::Unreadable { .. })
        ));
        std::fs::write(dir.path().join("expected.json"), "[]").unwrap();
        assert!(matches!(load(dir.path()), Err(CorpusError::Empty { .. })));
    }

    #[test]
    fn line_without_colon_starts_body() {
        let message = split_message(b"Subject: a\nnot a header\nmore\n".to_vec());
        assert_eq!(message.headers.len(), 1);
        assert_eq!(message.body, b"not a header\r\nmore\r\n");
    }
}
