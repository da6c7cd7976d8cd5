//! The message files under a set of paths, found the same way for
//! `wormsign scan` and `wormsign bench`.
//!
//! A path that is a file is read as given. A directory is read as a Maildir
//! when it has a `cur` or `new` subdirectory: every file in those is a
//! message, and Maildir++ folders (subdirectories named `.Name`) are read
//! the same way. Any other directory is searched recursively and every
//! regular file in it is a message file, whatever its name (the
//! SpamAssassin public corpus names its files `00001.7848dde1...`).
//!
//! Inside a directory two kinds of file are passed over: hidden files
//! (`.DS_Store`, editor swap files) and `.json` files. The npm package of
//! the SpamAssassin corpus keeps a JSON copy beside each message, and test
//! corpora keep their expected results in JSON.

use std::path::{Path, PathBuf};

/// One source of messages found under the given paths.
#[derive(Debug)]
pub enum Source {
    /// A file to read: one message, or an mbox of several.
    File(PathBuf),
    /// A path that could not be read, with the error.
    Unreadable(PathBuf, String),
    /// A directory given on the command line that contains no message file.
    Empty(PathBuf),
}

/// Collects the message files under `paths`, in a stable order: each path
/// in turn, and the entries of each directory sorted by name.
pub fn collect(paths: &[PathBuf]) -> Vec<Source> {
    let mut sources = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => collect_dir(path, &mut sources),
            Ok(_) => sources.push(Source::File(path.clone())),
            Err(error) => sources.push(Source::Unreadable(path.clone(), error.to_string())),
        }
    }
    sources
}

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// True for a file inside a directory that is not a message (see the
/// module documentation).
fn is_skipped_file(path: &Path) -> bool {
    is_hidden(path)
        || path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
}

fn collect_dir(dir: &Path, sources: &mut Vec<Source>) {
    let before = sources.len();
    collect_dir_into(dir, sources);
    let found = sources[before..]
        .iter()
        .any(|s| matches!(s, Source::File(_)));
    if !found {
        sources.push(Source::Empty(dir.to_path_buf()));
    }
}

fn collect_dir_into(dir: &Path, sources: &mut Vec<Source>) {
    if is_maildir(dir) {
        // A copied Maildir may lack one of the two folders.
        for sub in ["new", "cur"].map(|sub| dir.join(sub)) {
            if !sub.is_dir() {
                continue;
            }
            let mut files = list_dir(&sub, sources);
            files.retain(|p| p.is_file() && !is_skipped_file(p));
            sources.extend(files.into_iter().map(Source::File));
        }
        // Maildir++ folders: .Sent, .Junk, .Archive.2024, ...
        for path in list_dir(dir, sources) {
            if is_hidden(&path) && path.is_dir() && is_maildir(&path) {
                collect_dir_into(&path, sources);
            }
        }
        return;
    }
    for path in list_dir(dir, sources) {
        if is_hidden(&path) {
            continue;
        }
        if path.is_dir() {
            collect_dir_into(&path, sources);
        } else if path.is_file() && !is_skipped_file(&path) {
            sources.push(Source::File(path));
        }
    }
}

fn list_dir(dir: &Path, sources: &mut Vec<Source>) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            paths
        }
        Err(error) => {
            sources.push(Source::Unreadable(dir.to_path_buf(), error.to_string()));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_and_maildirs_are_collected() {
        let root = tempfile::tempdir().unwrap();
        let maildir = root.path().join("Maildir");
        for sub in ["new", "cur", "tmp", ".Junk/cur", ".Junk/tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        std::fs::write(maildir.join("new/1700000001.M2P2.mx.example.com:2,S"), b"a").unwrap();
        std::fs::write(maildir.join(".Junk/cur/1700000002.M3P3.mx:2,S"), b"b").unwrap();
        std::fs::write(maildir.join("tmp/half-written"), b"c").unwrap();
        let plain = root.path().join("plain");
        std::fs::create_dir_all(plain.join("sub")).unwrap();
        std::fs::write(plain.join("sub/00001.abc"), b"d").unwrap();
        std::fs::write(plain.join(".hidden"), b"e").unwrap();
        std::fs::write(plain.join("00002.def.txt"), b"f").unwrap();
        std::fs::write(plain.join("00002.def.json"), b"{}").unwrap();
        std::fs::write(plain.join("expected.JSON"), b"[]").unwrap();
        let empty = root.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let json_only = root.path().join("json-only");
        std::fs::create_dir_all(&json_only).unwrap();
        std::fs::write(json_only.join("expected.json"), b"[]").unwrap();

        let sources = collect(&[maildir, plain, empty.clone(), json_only.clone()]);
        let unreadable = sources
            .iter()
            .filter(|s| matches!(s, Source::Unreadable(..)))
            .count();
        assert_eq!(unreadable, 0, "{sources:?}");
        let files: Vec<String> = sources
            .iter()
            .filter_map(|s| match s {
                Source::File(p) => Some(p.file_name().unwrap().to_string_lossy().into_owned()),
                Source::Unreadable(..) | Source::Empty(_) => None,
            })
            .collect();
        assert_eq!(
            files,
            vec![
                "1700000001.M2P2.mx.example.com:2,S",
                "1700000002.M3P3.mx:2,S",
                "00002.def.txt",
                "00001.abc"
            ]
        );
        let empties: Vec<&PathBuf> = sources
            .iter()
            .filter_map(|s| match s {
                Source::Empty(p) => Some(p),
                Source::File(_) | Source::Unreadable(..) => None,
            })
            .collect();
        assert_eq!(empties, vec![&empty, &json_only]);
    }

    #[test]
    fn given_file_is_read_whatever_its_name() {
        let root = tempfile::tempdir().unwrap();
        let json = root.path().join("message.json");
        std::fs::write(&json, b"Subject: x\n\ny\n").unwrap();
        let missing = root.path().join("missing.eml");

        let sources = collect(&[json.clone(), missing.clone()]);
        assert!(
            matches!(&sources[0], Source::File(p) if *p == json),
            "{sources:?}"
        );
        assert!(
            matches!(&sources[1], Source::Unreadable(p, _) if *p == missing),
            "{sources:?}"
        );
    }
}
