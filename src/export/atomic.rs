//! Atomic file replacement, so a reader such as rbldnsd reads either the old
//! or the new export, never a partial one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent calls within one process.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Replaces the file at `path` with `bytes` atomically: writes a temporary
/// file in the same directory, fsyncs it, renames it over `path` and fsyncs
/// the directory so the rename survives a crash. The temporary file is
/// removed if any step fails.
///
/// The new file gets the default permissions for new files (0666 minus the
/// umask), not those of the file it replaces.
///
/// # Errors
///
/// Any I/O error from creating, writing, syncing or renaming; its message
/// names the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("export path {} does not name a file", path.display()),
        )
    })?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    prefix.push(".tmp.");
    remove_stale_temporaries(&directory, &prefix);
    let mut temp_name = prefix;
    temp_name.push(format!(
        "{}.{}",
        process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let temp_path = directory.join(temp_name);

    let result = write_and_rename(&temp_path, &directory, path, bytes);
    if result.is_err() {
        // The original error matters more than a failed cleanup.
        let _ = fs::remove_file(&temp_path);
    }
    result?;
    sync_directory(&directory).map_err(|error| with_path(error, "sync directory", &directory))
}

/// Writes the temporary file and renames it over `path`. Error messages
/// name `directory` and `path` but not the temporary file, whose name
/// changes with every call, so a failure that repeats has the same message
/// each time (the periodic export logs only a changed one).
fn write_and_rename(
    temp_path: &Path,
    directory: &Path,
    path: &Path,
    bytes: &[u8],
) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp_path)
        .map_err(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    error.kind(),
                    format!(
                        "the directory {} of {} does not exist: create it",
                        directory.display(),
                        path.display()
                    ),
                )
            } else {
                with_path(error, "create a temporary file in", directory)
            }
        })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|error| with_path(error, "write the temporary file for", path))?;
    drop(file);
    fs::rename(temp_path, path).map_err(|error| with_path(error, "rename into", path))
}

/// Removes temporary files that an export killed before its rename left
/// in `directory`: those named `prefix` + PID + sequence whose process no
/// longer runs. Without /proc, nothing is removed. Failures are ignored,
/// since a leftover file only takes space.
fn remove_stale_temporaries(directory: &Path, prefix: &std::ffi::OsStr) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    let prefix = prefix.as_encoded_bytes();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.as_encoded_bytes().strip_prefix(prefix) else {
            continue;
        };
        let pid = rest.split(|&byte| byte == b'.').next().unwrap_or_default();
        let Some(pid) = std::str::from_utf8(pid)
            .ok()
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

/// Adds the action and the path to an I/O error's message, keeping its kind.
fn with_path(error: io::Error, action: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("failed to {action} {}: {error}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory_entries(directory: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_replaces_without_temp_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("list.txt");
        write_atomic(&path, b"old\n").unwrap();
        write_atomic(&path, b"new\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
        assert_eq!(directory_entries(directory.path()), ["list.txt"]);
    }

    #[test]
    fn write_atomic_missing_directory_fails_cleanly() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("missing").join("list.txt");
        let error = write_atomic(&path, b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        let message = error.to_string();
        let expected = format!(
            "the directory {} of {} does not exist: create it",
            directory.path().join("missing").display(),
            path.display()
        );
        assert_eq!(message, expected);
        assert!(directory_entries(directory.path()).is_empty());
    }

    #[test]
    fn write_atomic_removes_temp_files_of_dead_exports() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("list.txt");
        // A process that has exited, as an export killed before its rename.
        let mut child = process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = directory.path().join(format!(".list.txt.tmp.{dead}.0"));
        fs::write(&stale, b"half").unwrap();
        // This process still runs, and so does PID 1: their files stay.
        let own = directory
            .path()
            .join(format!(".list.txt.tmp.{}.99", process::id()));
        fs::write(&own, b"x").unwrap();
        let running = directory.path().join(".list.txt.tmp.1.0");
        fs::write(&running, b"x").unwrap();
        let other = directory.path().join(format!(".other.txt.tmp.{dead}.0"));
        fs::write(&other, b"x").unwrap();

        write_atomic(&path, b"new\n").unwrap();
        assert!(!stale.exists());
        assert!(own.exists(), "this process's temporary file was removed");
        assert!(running.exists(), "PID 1's temporary file was removed");
        assert!(
            other.exists(),
            "another export's temporary file was removed"
        );
    }

    #[test]
    fn write_atomic_failed_rename_removes_temp_file() {
        let directory = tempfile::tempdir().unwrap();
        // Renaming a file over a non-empty directory fails.
        let path = directory.path().join("occupied");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
        assert!(write_atomic(&path, b"x").is_err());
        assert_eq!(directory_entries(directory.path()), ["occupied"]);
    }
}
