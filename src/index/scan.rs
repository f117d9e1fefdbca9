//! Finding image files under a folder: recursive, hidden entries skipped, symlinks followed
//! with loops detected and reported rather than followed forever.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use walkdir::WalkDir;

use super::Failure;
use crate::formats::has_image_extension;

/// An image file found by the scan, with what `stat` said of it.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i128,
}

/// What a scan found: candidate files, and entries it could not read.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<Found>,
    pub failures: Vec<Failure>,
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Walks `root` (made absolute, not canonicalised, so paths stay as the user sees them).
/// Files come sorted by path within each folder, so runs are repeatable.
pub fn scan(root: &Path) -> std::io::Result<Scan> {
    let root = std::path::absolute(root)?;
    let meta = std::fs::metadata(&root)?;
    if meta.is_dir() {
        // An unreadable root is an error, not an empty folder.
        std::fs::read_dir(&root)?;
    } else if !(meta.is_file() && has_image_extension(&root)) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder or an image file",
        ));
    }
    let mut out = Scan::default();
    let walker = WalkDir::new(&root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err.path().map_or_else(|| root.clone(), Path::to_path_buf);
                let reason = if let Some(ancestor) = err.loop_ancestor() {
                    format!("symlink loop back to {}", ancestor.display())
                } else if let Some(io) = err.io_error() {
                    io.to_string()
                } else {
                    err.to_string()
                };
                out.failures.push(Failure { path, reason });
                continue;
            }
        };
        if !entry.file_type().is_file() || !has_image_extension(entry.path()) {
            continue;
        }
        match entry.metadata() {
            Ok(meta) => {
                let mtime_ns = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i128);
                out.files.push(Found {
                    path: entry.into_path(),
                    size: meta.len(),
                    mtime_ns,
                });
            }
            Err(err) => out.failures.push(Failure {
                path: entry.path().to_path_buf(),
                reason: err.to_string(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_that_is_neither_a_folder_nor_an_image_is_refused() {
        let err = scan(Path::new("/dev/null")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotADirectory);
        assert_eq!(err.to_string(), "not a folder or an image file");
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("notes.txt");
        std::fs::write(&notes, "x").unwrap();
        assert!(scan(&notes).is_err());
        assert!(scan(&dir.path().join("missing")).is_err());
        // A folder, and a single image file, are scanned.
        assert!(scan(dir.path()).is_ok());
        let img = dir.path().join("a.jpg");
        std::fs::write(&img, "x").unwrap();
        assert_eq!(scan(&img).unwrap().files.len(), 1);
    }

    #[test]
    fn finds_images_skips_hidden_and_survives_loops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(d.join(".hidden")).unwrap();
        for f in [
            "a.JPG",
            "sub/b.png",
            "sub/deeper/c.webp",
            ".hidden/d.jpg",
            "notes.txt",
            ".e.jpg",
        ] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        std::os::unix::fs::symlink(d, d.join("sub/loop")).unwrap();
        let scan = scan(d).unwrap();
        let names: Vec<String> = scan
            .files
            .iter()
            .map(|f| f.path.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.JPG", "sub/b.png", "sub/deeper/c.webp"]);
        assert_eq!(scan.failures.len(), 1, "{:?}", scan.failures);
        assert!(scan.failures[0].reason.contains("symlink loop"));
    }

    #[test]
    fn missing_root_is_an_error() {
        assert!(scan(Path::new("/definitely/not/here")).is_err());
    }
}
