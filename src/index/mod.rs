//! Indexing: scan → hash → cache → encode. `picseek --index DIR` runs this to pre-warm the cache;
//! searches run it first for anything not cached yet.
//!
//! Unchanged files (same path, size and mtime as recorded) cost one `stat`. Changed or new files
//! are read and hashed; content already encoded (a copy, a rename) is not encoded again. The rest
//! is decoded and preprocessed in parallel while the previous batch runs through the encoder.
//! A bad file is recorded as a [`Failure`] and never stops the run.

pub mod scan;
pub mod verdicts;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fast_image_resize::Resizer;
use rayon::prelude::*;

pub use scan::{scan, Found, Scan};
pub use verdicts::Checker;

use crate::cache::{Cache, CacheError, ContentHash, FileEntry, ImageRecord, Refusal};
use crate::display::escape_path;
use crate::model::preprocess::{self, TENSOR_LEN};
use crate::model::ImageEncoder;
use crate::people::GateInput;

/// Files larger than this are not read (no photo is this big; it protects memory).
pub const MAX_FILE_BYTES: u64 = 512 << 20;
/// Images per encoder batch.
pub const DEFAULT_BATCH: usize = 32;
/// How often the cache is flushed during a run.
const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// A file that could not be indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", escape_path(&self.path), self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{}: cannot scan folder: {error}", escape_path(root))]
    Scan {
        root: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Where time went, summed over all threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub scan: Duration,
    /// Looking up unchanged files in the cache (the warm path).
    pub lookup: Duration,
    pub read: Duration,
    pub hash: Duration,
    pub decode: Duration,
    pub resize: Duration,
    pub encode: Duration,
    /// The legal image check on newly encoded images (the person gate, where it runs).
    pub check: Duration,
    pub store: Duration,
}

/// The outcome of an index run.
#[derive(Debug, Clone, Default)]
pub struct IndexReport {
    /// Image files found by the scan.
    pub found: usize,
    /// Encoded by this run.
    pub encoded: usize,
    /// Already in the cache (unchanged, or same content as an indexed file).
    pub cached: usize,
    pub failures: Vec<Failure>,
    /// Every file that is in the cache after the run, with its content hash, in scan order.
    pub indexed: Vec<(PathBuf, ContentHash)>,
    pub elapsed: Duration,
    pub stages: StageTimes,
    /// What the legal image check decided for the images this run encoded (when it ran).
    pub verdicts: crate::legal::check::StageCounts,
}

impl IndexReport {
    /// Images per second over the whole run.
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.encoded + self.cached) as f64 / s
        } else {
            0.0
        }
    }
}

/// Progress of a run, for a progress bar or a status line.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// The scan is done: this many image files, of which this many need work.
    Scanned { found: usize, to_process: usize },
    /// This many of the files needing work are done.
    Processed { done: usize, total: usize },
}

#[derive(Debug, Clone)]
pub struct IndexOptions {
    pub batch_size: usize,
    /// Encode the mirror image instead (training augmentation); stored under its own fingerprint.
    pub flip: bool,
    /// Read and hash every file, trusting no remembered size and mtime.
    pub rehash: bool,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH,
            flip: false,
            rehash: false,
        }
    }
}

/// The cache key prefix for an encoder and view: the encoder's fingerprint, or for the mirrored
/// view a fingerprint derived from it.
pub fn view_fingerprint(encoder: &ImageEncoder, flip: bool) -> [u8; 16] {
    let base = encoder.fingerprint();
    if !flip {
        return base;
    }
    let mut h = blake3::Hasher::new();
    h.update(&base);
    h.update(b"flip-horizontal");
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

/// What preparing one file came to.
enum Prepared {
    /// Content already encoded under another path (or earlier, under this path).
    Known {
        path: PathBuf,
        entry: FileEntry,
    },
    /// Same content as a file this run is already encoding: it waits for that vector.
    Copy {
        path: PathBuf,
        entry: FileEntry,
    },
    Ready {
        path: PathBuf,
        entry: FileEntry,
        width: u32,
        height: u32,
        tensor: Vec<f32>,
        /// The person gate's view of the image, kept in case the legal check needs it.
        gate: Option<GateInput>,
    },
    Failed(Failure),
    /// Not a usable image, for what it contains: remembered, so it is not read again.
    Refused(Failure, Refusal),
}

/// What the cache already knows about a found file.
enum Known {
    Encoded(ContentHash),
    Refused(String),
    Unknown,
}

#[derive(Default)]
struct Clock {
    read: AtomicU64,
    hash: AtomicU64,
    decode: AtomicU64,
    resize: AtomicU64,
}

fn timed<T>(slot: &AtomicU64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    slot.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    out
}

fn ns(a: &AtomicU64) -> Duration {
    Duration::from_nanos(a.load(Ordering::Relaxed))
}

/// Indexes every image under `root` into `cache`. With a legal `check`, each newly encoded image
/// is also checked while its pixels are at hand, and the verdict stored beside its vector
/// (images encoded before are checked when a library is built from them).
pub fn index_dir(
    root: &Path,
    cache: &Cache,
    encoder: &ImageEncoder,
    check: Option<&Checker>,
    options: &IndexOptions,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<IndexReport, IndexError> {
    let started = Instant::now();
    let found = scan(root).map_err(|source| IndexError::Scan {
        root: root.to_path_buf(),
        error: source,
    })?;
    let scan_time = started.elapsed();
    let fingerprint = view_fingerprint(encoder, options.flip);
    let flip = options.flip;

    let mut report = IndexReport {
        found: found.files.len(),
        failures: found.failures,
        ..Default::default()
    };
    // Warm path: unchanged files whose content is encoded cost nothing more.
    let lookup_started = Instant::now();
    let known: Vec<Known> = found
        .files
        .par_iter()
        .map(|f| {
            if options.rehash {
                return Known::Unknown;
            }
            match cache.file(&f.path) {
                Some(e)
                    if e.size == f.size
                        && e.mtime_ns == f.mtime_ns
                        && cache.has_embedding(&fingerprint, &e.hash) =>
                {
                    return Known::Encoded(e.hash);
                }
                _ => {}
            }
            match cache.refusal(&f.path) {
                Some(r) if r.size == f.size && r.mtime_ns == f.mtime_ns => Known::Refused(r.reason),
                _ => Known::Unknown,
            }
        })
        .collect();
    let mut todo: Vec<Found> = Vec::new();
    for (f, known) in found.files.into_iter().zip(known) {
        match known {
            Known::Encoded(hash) => {
                report.cached += 1;
                report.indexed.push((f.path, hash));
            }
            Known::Refused(reason) => report.failures.push(Failure {
                path: f.path,
                reason: format!("{reason} (as last time; the file is unchanged)"),
            }),
            Known::Unknown => todo.push(f),
        }
    }
    let lookup_time = lookup_started.elapsed();
    on_progress(Progress::Scanned {
        found: report.found,
        to_process: todo.len(),
    });

    let clock = Clock::default();
    // Contents this run has taken on, and by which file: a copy is encoded once.
    let claimed: Mutex<HashMap<ContentHash, PathBuf>> = Mutex::default();
    let mut copies: Vec<(PathBuf, FileEntry)> = Vec::new();
    let mut encode_time = Duration::ZERO;
    let mut check_time = Duration::ZERO;
    // The gate's input is made only when a check will use it (never for mirrored views).
    let check = check.filter(|_| !flip);
    let want_gate = check.is_some();
    let mut store_time = Duration::ZERO;
    let batch_size = options.batch_size.max(1);
    let total = todo.len();
    let mut done = 0;
    let mut last_flush = Instant::now();

    std::thread::scope(|s| -> Result<(), IndexError> {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Prepared>>(1);
        let clock = &clock;
        let todo = &todo;
        let claimed = &claimed;
        s.spawn(move || {
            for chunk in todo.chunks(batch_size) {
                let prepared: Vec<Prepared> = chunk
                    .par_iter()
                    .map_init(Resizer::new, |resizer, f| {
                        prepare(
                            f,
                            cache,
                            &fingerprint,
                            flip,
                            want_gate,
                            resizer,
                            clock,
                            claimed,
                        )
                    })
                    .collect();
                if tx.send(prepared).is_err() {
                    break;
                }
            }
        });
        for chunk in rx {
            let n = chunk.len();
            let mut ready = Vec::new();
            let t = Instant::now();
            for item in chunk {
                match item {
                    Prepared::Known { path, entry } => {
                        cache.put_file(&path, &entry)?;
                        report.cached += 1;
                        report.indexed.push((path, entry.hash));
                    }
                    Prepared::Copy { path, entry } => copies.push((path, entry)),
                    Prepared::Failed(f) => report.failures.push(f),
                    Prepared::Refused(f, refusal) => {
                        cache.put_refusal(&f.path, &refusal)?;
                        report.failures.push(f);
                    }
                    Prepared::Ready {
                        path,
                        entry,
                        width,
                        height,
                        tensor,
                        gate,
                    } => ready.push((path, entry, width, height, tensor, gate)),
                }
            }
            store_time += t.elapsed();
            if !ready.is_empty() {
                let t = Instant::now();
                let inputs: Vec<&[f32]> = ready.iter().map(|r| r.4.as_slice()).collect();
                let result = encoder.encode(&inputs);
                encode_time += t.elapsed();
                let t = Instant::now();
                let checked_before = check_time;
                match result {
                    Ok(embeddings) => {
                        for ((path, entry, width, height, _, gate), embedding) in
                            ready.into_iter().zip(embeddings)
                        {
                            if let Some(check) = check {
                                let t = Instant::now();
                                let mut gate = gate;
                                let verdict =
                                    check.decide(cache, &entry.hash, &embedding, &mut || {
                                        gate.take()
                                    })?;
                                check_time += t.elapsed();
                                report.verdicts.add(&verdict);
                            }
                            let record = ImageRecord {
                                width,
                                height,
                                embedding,
                            };
                            cache.put_embedding(&fingerprint, &entry.hash, &record)?;
                            cache.put_file(&path, &entry)?;
                            report.encoded += 1;
                            report.indexed.push((path, entry.hash));
                        }
                    }
                    Err(e) => {
                        for (path, ..) in ready {
                            report.failures.push(Failure {
                                path,
                                reason: e.to_string(),
                            });
                        }
                    }
                }
                // The check ran inside this block; its time is counted apart.
                store_time += t.elapsed().saturating_sub(check_time - checked_before);
            }
            // Copies whose content is now encoded are known files.
            let mut waiting = Vec::new();
            for (path, entry) in copies.drain(..) {
                if cache.has_embedding(&fingerprint, &entry.hash) {
                    cache.put_file(&path, &entry)?;
                    report.cached += 1;
                    report.indexed.push((path, entry.hash));
                } else {
                    waiting.push((path, entry));
                }
            }
            copies = waiting;
            if last_flush.elapsed() >= FLUSH_EVERY {
                let t = Instant::now();
                cache.flush()?;
                store_time += t.elapsed();
                last_flush = Instant::now();
            }
            done += n;
            on_progress(Progress::Processed { done, total });
        }
        Ok(())
    })?;
    // Copies of a file that could not be encoded share its fate.
    let claimed = claimed.into_inner().unwrap_or_else(|e| e.into_inner());
    for (path, entry) in copies {
        let reason = match claimed.get(&entry.hash) {
            Some(first) => format!(
                "same content as {}, which could not be indexed",
                escape_path(first)
            ),
            None => "could not be indexed".to_string(),
        };
        report.failures.push(Failure { path, reason });
    }
    let t = Instant::now();
    cache.flush()?;
    store_time += t.elapsed();

    report.elapsed = started.elapsed();
    report.stages = StageTimes {
        scan: scan_time,
        lookup: lookup_time,
        read: ns(&clock.read),
        hash: ns(&clock.hash),
        decode: ns(&clock.decode),
        resize: ns(&clock.resize),
        encode: encode_time,
        check: check_time,
        store: store_time,
    };
    Ok(report)
}

/// Reads, hashes, and (unless the content is known, or another file of this run has it)
/// decodes and preprocesses one file.
#[allow(clippy::too_many_arguments)]
fn prepare(
    f: &Found,
    cache: &Cache,
    fingerprint: &[u8; 16],
    flip: bool,
    want_gate: bool,
    resizer: &mut Resizer,
    clock: &Clock,
    claimed: &Mutex<HashMap<ContentHash, PathBuf>>,
) -> Prepared {
    let fail = |reason: String| {
        Prepared::Failed(Failure {
            path: f.path.clone(),
            reason,
        })
    };
    // Refused for its content: the same file is not read again while unchanged.
    let refuse = |reason: String| {
        let refusal = Refusal {
            size: f.size,
            mtime_ns: f.mtime_ns,
            reason: reason.clone(),
        };
        Prepared::Refused(
            Failure {
                path: f.path.clone(),
                reason,
            },
            refusal,
        )
    };
    if f.size > MAX_FILE_BYTES {
        return refuse(format!(
            "file is {} MiB, over the {} MiB limit",
            f.size >> 20,
            MAX_FILE_BYTES >> 20
        ));
    }
    // The first bytes say whether it is an image at all, before a large file is read whole.
    match timed(&clock.read, || sniff(&f.path)) {
        Ok(true) => {}
        Ok(false) => return refuse(preprocess::DecodeError::UnknownFormat.to_string()),
        Err(e) => return fail(format!("cannot read: {e}")),
    }
    let bytes = match timed(&clock.read, || std::fs::read(&f.path)) {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot read: {e}")),
    };
    let hash: ContentHash = timed(&clock.hash, || *blake3::hash(&bytes).as_bytes());
    let entry = FileEntry {
        size: bytes.len() as u64,
        mtime_ns: f.mtime_ns,
        hash,
    };
    if cache.has_embedding(fingerprint, &hash) {
        return Prepared::Known {
            path: f.path.clone(),
            entry,
        };
    }
    {
        let mut claimed = claimed.lock().unwrap_or_else(|e| e.into_inner());
        if claimed.contains_key(&hash) {
            return Prepared::Copy {
                path: f.path.clone(),
                entry,
            };
        }
        claimed.insert(hash, f.path.clone());
    }
    let img = match timed(&clock.decode, || preprocess::decode_for_encoder(&bytes)) {
        Ok(img) => img,
        Err(e) => return refuse(e.to_string()),
    };
    drop(bytes);
    let tensor = timed(&clock.resize, || {
        let square = preprocess::to_square(&img.image, resizer)?;
        let mut tensor = vec![0.0; TENSOR_LEN];
        preprocess::write_tensor(&square, flip, &mut tensor);
        let gate = want_gate
            .then(|| GateInput::from_image(img.image, resizer).ok())
            .flatten();
        Ok::<_, preprocess::DecodeError>((tensor, gate))
    });
    match tensor {
        Ok((tensor, gate)) => Prepared::Ready {
            path: f.path.clone(),
            entry,
            width: img.width,
            height: img.height,
            tensor,
            gate,
        },
        Err(e) => refuse(e.to_string()),
    }
}

/// Whether a file starts like an image in a supported format (an empty file passes: the
/// decoder names that case). Reads at most the first 64 KiB.
fn sniff(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 << 10);
    std::fs::File::open(path)?
        .take(64 << 10)
        .read_to_end(&mut head)?;
    Ok(head.is_empty() || image::guess_format(&head).is_ok())
}
