//! The embedding cache: a sled database under `cache/`.
//!
//! Five trees:
//! - `embeddings`: encoder fingerprint (16 bytes) ++ BLAKE3 of the file content (32 bytes)
//!   → [`ImageRecord`]. A renamed or copied file is never encoded twice; a new model or new
//!   preprocessing has a new fingerprint, so it never reads stale vectors.
//! - `files`: absolute path → [`FileEntry`] (size, mtime, content hash), so an unchanged file
//!   costs one `stat` and is not even re-read.
//! - `verdicts`: legal image check fingerprint ++ content hash → its verdict (the stage that
//!   decided, the whole-image probability, the best person score), stored beside the embedding.
//! - `refused`: absolute path → [`Refusal`]: a file that is not a usable image (its size, mtime
//!   and why), so an unchanged one is not read again on every run.
//! - `encoded`: encoder fingerprint ++ content hash → nothing: which contents have an embedding.
//!   A small tree, so the warm path's "is it encoded?" does not read the big `embeddings` leaves
//!   (caches from before it are filled in on first use).
//!
//! One process at a time: a lock file beside the database makes a second picseek fail at once
//! with a clear message instead of hanging.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::ImageEmbedding;

/// Content hash of a file (BLAKE3).
pub type ContentHash = [u8; 32];

/// What the cache remembers about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    pub hash: ContentHash,
}

/// A file refused for what it contains (not an image, too large to decode), remembered with the
/// size and mtime it had: while both are unchanged it is reported without being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub size: u64,
    pub mtime_ns: i128,
    pub reason: String,
}

/// What the cache stores for one image content under one encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Pixel size after EXIF orientation.
    pub width: u32,
    pub height: u32,
    pub embedding: ImageEmbedding,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{}: cache is in use by another picseek{}; wait for it to finish or pass --cache DIR", crate::display::escape_path(dir), holder.as_deref().map(|p| format!(" (pid {})", crate::display::escape_control(p))).unwrap_or_default())]
    Locked {
        dir: PathBuf,
        holder: Option<String>,
    },
    #[error("{}: cannot open cache: {error}", crate::display::escape_path(dir))]
    Io { dir: PathBuf, error: std::io::Error },
    #[error(
        "{}: cache is damaged ({reason}); move it aside or pass --cache DIR to start a new one",
        crate::display::escape_path(dir)
    )]
    Damaged { dir: PathBuf, reason: String },
    #[error("{}: cache write failed: {reason}", crate::display::escape_path(dir))]
    Write { dir: PathBuf, reason: String },
}

pub struct Cache {
    dir: PathBuf,
    db: sled::Db,
    embeddings: sled::Tree,
    files: sled::Tree,
    verdicts: sled::Tree,
    encoded: sled::Tree,
    refused: sled::Tree,
    _lock: File,
}

const LOCK_FILE: &str = "picseek.lock";
const DB_DIR: &str = "db";

/// The cache folder held for this process (the lock file), before its database is opened: taking
/// the lock is instant, opening a large database is not, so a front end can take the lock first
/// (failing at once when another picseek has it) and open the database in the background.
pub struct CacheLock {
    dir: PathBuf,
    file: File,
}

impl CacheLock {
    /// Takes the cache folder `dir` (created if needed) for this process.
    pub fn take(dir: &Path) -> Result<Self, CacheError> {
        let io = |source| CacheError::Io {
            dir: dir.to_path_buf(),
            error: source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        if lock.try_lock().is_err() {
            // The pid another picseek wrote; whatever else is there is shown
            // escaped and cut short.
            let mut bytes = Vec::new();
            let _ = (&mut lock).take(40).read_to_end(&mut bytes);
            let holder = String::from_utf8_lossy(&bytes);
            let holder = holder.trim();
            return Err(CacheError::Locked {
                dir: dir.to_path_buf(),
                holder: (!holder.is_empty()).then(|| holder.to_string()),
            });
        }
        // Record who holds it, for the message another process shows.
        let _ = lock.set_len(0);
        let _ = lock.rewind();
        let _ = write!(lock, "{}", std::process::id());
        let _ = lock.flush();
        Ok(CacheLock {
            dir: dir.to_path_buf(),
            file: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens the database of the held folder.
    pub fn open(self) -> Result<Cache, CacheError> {
        Cache::open_locked(self)
    }
}

impl Cache {
    /// Opens (creating if needed) the cache in `dir`.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        CacheLock::take(dir)?.open()
    }

    fn open_locked(held: CacheLock) -> Result<Self, CacheError> {
        let CacheLock { dir, file: lock } = held;
        let dir = dir.as_path();
        // The database holds only what can be computed again (the owner's declarations and
        // judgements live elsewhere): a damaged one is set aside and a new one started.
        let (db, [embeddings, files, verdicts, encoded, refused]) = match open_db(dir) {
            Err(CacheError::Damaged { reason, .. }) => {
                let aside = set_aside(dir)?;
                tracing::warn!(
                    "{}: cache database damaged ({reason}); moved aside to {} and started anew: images will be read and encoded again",
                    crate::display::escape_path(dir),
                    crate::display::escape_path(&aside)
                );
                open_db(dir)?
            }
            other => other?,
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            db,
            embeddings,
            files,
            verdicts,
            encoded,
            refused,
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry for a path, if any; an unreadable entry counts as none.
    pub fn file(&self, path: &Path) -> Option<FileEntry> {
        let raw = self.files.get(path_key(path)).ok().flatten()?;
        postcard::from_bytes(&raw).ok()
    }

    pub fn put_file(&self, path: &Path, entry: &FileEntry) -> Result<(), CacheError> {
        let raw = postcard::to_stdvec(entry).map_err(|e| self.write_error(e))?;
        self.files
            .insert(path_key(path), raw)
            .map_err(|e| self.write_error(e))?;
        Ok(())
    }

    /// Why the file at `path` was refused last time, if it was.
    pub fn refusal(&self, path: &Path) -> Option<Refusal> {
        let raw = self.refused.get(path_key(path)).ok().flatten()?;
        postcard::from_bytes(&raw).ok()
    }

    pub fn put_refusal(&self, path: &Path, refusal: &Refusal) -> Result<(), CacheError> {
        let raw = postcard::to_stdvec(refusal).map_err(|e| self.write_error(e))?;
        self.refused
            .insert(path_key(path), raw)
            .map_err(|e| self.write_error(e))?;
        Ok(())
    }

    pub fn has_embedding(&self, fingerprint: &[u8; 16], hash: &ContentHash) -> bool {
        let key = embedding_key(fingerprint, hash);
        if self.encoded.contains_key(key).unwrap_or(false) {
            return true;
        }
        // A cache from before the `encoded` tree: look in the big tree once, and remember.
        let found = self.embeddings.contains_key(key).unwrap_or(false);
        if found {
            let _ = self.encoded.insert(key, &[]);
        }
        found
    }

    /// The stored record; a damaged record reads as missing (and is re-encoded by the next index).
    pub fn embedding(&self, fingerprint: &[u8; 16], hash: &ContentHash) -> Option<ImageRecord> {
        let raw = self
            .embeddings
            .get(embedding_key(fingerprint, hash))
            .ok()
            .flatten()?;
        match postcard::from_bytes(&raw) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(cache = %self.dir.display(), "unreadable cache record: {e}");
                None
            }
        }
    }

    pub fn put_embedding(
        &self,
        fingerprint: &[u8; 16],
        hash: &ContentHash,
        record: &ImageRecord,
    ) -> Result<(), CacheError> {
        let raw = postcard::to_stdvec(record).map_err(|e| self.write_error(e))?;
        let key = embedding_key(fingerprint, hash);
        self.embeddings
            .insert(key, raw)
            .map_err(|e| self.write_error(e))?;
        self.encoded
            .insert(key, &[])
            .map_err(|e| self.write_error(e))?;
        Ok(())
    }

    /// The stored legal-filter verdict for a content under a check's fingerprint; an unreadable
    /// one reads as missing (and is decided again).
    pub fn verdict<V: serde::de::DeserializeOwned>(
        &self,
        detector: &[u8; 16],
        hash: &ContentHash,
    ) -> Option<V> {
        let raw = self
            .verdicts
            .get(embedding_key(detector, hash))
            .ok()
            .flatten()?;
        postcard::from_bytes(&raw).ok()
    }

    pub fn put_verdict<V: Serialize>(
        &self,
        detector: &[u8; 16],
        hash: &ContentHash,
        verdict: &V,
    ) -> Result<(), CacheError> {
        let raw = postcard::to_stdvec(verdict).map_err(|e| self.write_error(e))?;
        self.verdicts
            .insert(embedding_key(detector, hash), raw)
            .map_err(|e| self.write_error(e))?;
        Ok(())
    }

    /// Every file recorded under the folder `root` (absolute), with its content hash, in path
    /// order: what an earlier run indexed there, before this run has scanned anything.
    pub fn files_under(&self, root: &Path) -> Vec<(PathBuf, ContentHash)> {
        let mut prefix = path_key(root).to_vec();
        if prefix.last() != Some(&b'/') {
            prefix.push(b'/');
        }
        self.files
            .scan_prefix(&prefix)
            .filter_map(Result::ok)
            .filter_map(|(k, v)| {
                let entry: FileEntry = postcard::from_bytes(&v).ok()?;
                let path = PathBuf::from(std::ffi::OsStr::from_bytes(&k));
                Some((path, entry.hash))
            })
            .collect()
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), CacheError> {
        self.db.flush().map_err(|e| self.write_error(e))?;
        Ok(())
    }

    fn write_error(&self, e: impl Into<Reason>) -> CacheError {
        CacheError::Write {
            dir: self.dir.clone(),
            reason: e.into().0,
        }
    }
}

/// The database in `dir` and its trees: embeddings, files, verdicts, encoded, refused.
fn open_db(dir: &Path) -> Result<(sled::Db, [sled::Tree; 5]), CacheError> {
    let db = sled::Config::new()
        .path(dir.join(DB_DIR))
        .cache_capacity(64 << 20)
        .flush_every_ms(Some(1000))
        .open()
        .map_err(|e| open_error(dir, e))?;
    let tree = |name: &str| db.open_tree(name).map_err(|e| open_error(dir, e));
    let trees = [
        tree("embeddings")?,
        tree("files")?,
        tree("verdicts")?,
        tree("encoded")?,
        tree("refused")?,
    ];
    Ok((db, trees))
}

/// Renames the database folder of `dir` to `db.damaged-SECONDS` (a new name if that is taken).
fn set_aside(dir: &Path) -> Result<PathBuf, CacheError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut aside = dir.join(format!("{DB_DIR}.damaged-{secs}"));
    let mut n = 1;
    while aside.exists() {
        aside = dir.join(format!("{DB_DIR}.damaged-{secs}-{n}"));
        n += 1;
    }
    std::fs::rename(dir.join(DB_DIR), &aside).map_err(|error| CacheError::Io {
        dir: dir.to_path_buf(),
        error,
    })?;
    Ok(aside)
}

impl Drop for Cache {
    fn drop(&mut self) {
        if let Err(e) = self.db.flush() {
            tracing::warn!(cache = %self.dir.display(), "final cache flush failed: {e}");
        }
    }
}

/// Why a cache operation failed, in words (never a Debug string).
pub struct Reason(String);

impl From<sled::Error> for Reason {
    fn from(e: sled::Error) -> Self {
        Reason(sled_words(&e))
    }
}

impl From<postcard::Error> for Reason {
    fn from(e: postcard::Error) -> Self {
        Reason(e.to_string())
    }
}

/// A sled error as a user reads it: an I/O error as the system words it ("No space left on
/// device (os error 28)"), corruption as such, never sled's Debug text.
fn sled_words(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => io_words(io),
        sled::Error::Corruption { .. } => "its files hold corrupted data".into(),
        sled::Error::CollectionNotFound(_) => "a part of it is missing".into(),
        sled::Error::Unsupported(s) | sled::Error::ReportableBug(s) => {
            crate::display::escape_control(s.lines().next().unwrap_or("")).to_string()
        }
    }
}

/// An I/O error in words: the system's message (`std::io::Error`'s Display), without the
/// `Custom { kind: .., error: .. }` form a wrapped error would print.
fn io_words(e: &std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}

/// An error opening the database: damaged (its files do not read as a database) or not.
fn open_error(dir: &Path, e: sled::Error) -> CacheError {
    match e {
        sled::Error::Io(source)
            if !matches!(
                source.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            CacheError::Io {
                dir: dir.to_path_buf(),
                error: source,
            }
        }
        other => CacheError::Damaged {
            dir: dir.to_path_buf(),
            reason: sled_words(&other),
        },
    }
}

fn path_key(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

fn embedding_key(fingerprint: &[u8; 16], hash: &ContentHash) -> [u8; 48] {
    let mut key = [0u8; 48];
    key[..16].copy_from_slice(fingerprint);
    key[16..].copy_from_slice(hash);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ImageRecord {
        ImageRecord {
            width: 640,
            height: 480,
            embedding: ImageEmbedding {
                features: vec![0.5, -1.25, 3.0],
                top_classes: vec![(281, 0.75), (282, 0.125)],
            },
        }
    }

    #[test]
    fn round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let fp = [7u8; 16];
        let hash = [9u8; 32];
        let entry = FileEntry {
            size: 123,
            mtime_ns: 1_700_000_000_123_456_789,
            hash,
        };
        {
            let cache = Cache::open(dir.path()).unwrap();
            assert!(!cache.has_embedding(&fp, &hash));
            cache.put_embedding(&fp, &hash, &record()).unwrap();
            cache
                .put_file(Path::new("/photos/a\nb.jpg"), &entry)
                .unwrap();
        }
        let cache = Cache::open(dir.path()).unwrap();
        assert!(cache.has_embedding(&fp, &hash));
        assert!(
            !cache.has_embedding(&[8u8; 16], &hash),
            "other encoder must not match"
        );
        assert_eq!(cache.embedding(&fp, &hash), Some(record()));
        assert_eq!(cache.file(Path::new("/photos/a\nb.jpg")), Some(entry));
        assert_eq!(cache.file(Path::new("/photos/other.jpg")), None);
    }

    #[test]
    fn second_open_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Cache::open(dir.path()).unwrap();
        let err = Cache::open(dir.path())
            .err()
            .expect("second open must fail");
        let msg = err.to_string();
        assert!(matches!(err, CacheError::Locked { .. }), "{msg}");
        assert!(
            msg.contains("in use") && msg.contains(&std::process::id().to_string()),
            "{msg}"
        );
    }

    #[test]
    fn sled_errors_read_in_words() {
        let full = sled_words(&sled::Error::Io(std::io::Error::from_raw_os_error(28)));
        assert_eq!(full, "No space left on device (os error 28)");
        let wrapped = sled_words(&sled::Error::Io(std::io::Error::other("disk gone")));
        assert_eq!(wrapped, "disk gone");
        let corrupt = sled_words(&sled::Error::Corruption { at: None, bt: () });
        assert!(
            !corrupt.contains("None") && !corrupt.contains("backtrace"),
            "{corrupt}"
        );
    }
}
