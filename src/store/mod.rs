//! The search store: the vectors a query is scored against, compact and memory-mapped.
//!
//! One file per searched folder under `<cache>/stores/`, derived from the sled cache (which stays
//! the source of truth: a store can always be rebuilt from it). For each searchable image:
//!
//! - a reduced vector: the scorer's compact image vector `z` (1665-d) projected onto an
//!   orthonormal basis `U` (rank × 1665, PCA fitted on the library's own vectors), `c = U(z − μ)`,
//!   stored as int8 with one f32 scale per image. A query `q` becomes `t = Uq` once, and every
//!   image costs `rank` int8 multiply-adds: `z·q ≈ μ·q + c·t`.
//! - the full vector `z` in f16, read only for the few hundred best candidates, which are then
//!   rescored exactly (so the reported scores and the final order are the full-precision ones).
//! - its path and content hash.
//!
//! The file starts with a fixed header: the store key (scorer, encoder, legal detector, format),
//! a digest of the folder's (path, content hash) list, sizes, and checksums. Everything except
//! the full vectors is covered by one BLAKE3 checksum verified at open; each full vector has its
//! own 8-byte tag, checked when it is read. A damaged or truncated file is reported as
//! [`StoreError::Damaged`] and rebuilt from the cache by the caller. Writes go to a temporary
//! file, renamed into place when complete.
//!
//! The parts: `format` (header and layout), `basis` (the PCA basis), `kernels` (quantisation and
//! dot products), `topk` (picking the best rows), `write` (building a store); the mapped reader
//! [`Store`] is here.

use std::fs::{File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::cache::ContentHash;
use crate::display::escape_path;
use half::f16;
use memmap2::Mmap;
use rayon::prelude::*;

mod basis;
mod format;
mod kernels;
mod topk;
mod write;

pub use basis::Basis;
pub use format::{Header, FORMAT_VERSION};
pub use kernels::{approx_dot, dot_f16, dot_f32, quantize, quantize_query};
pub use topk::TopK;
pub use write::{write, ChunkOut, LegalCounts, Mark};

use format::{row_tag, Layout, HEADER_LEN};
use kernels::score_rows;
use topk::best_of;

/// Width of the reduced vectors. Chosen with `picseek bench agreement` and `bench query`: the
/// scan is memory-bound (≈5 GB/s on the 2-core test machine), so 128 bytes per image keeps a
/// million images under 30 ms, and the exact rescoring of the shortlist restores the ranking.
pub const DEFAULT_RANK: usize = 128;
/// The basis is fitted on at most this many of the library's vectors.
pub const FIT_SAMPLE: usize = 4096;
/// Rows per parallel scoring task.
const SCAN_ROWS: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: search store is damaged ({reason})", escape_path(path))]
    Damaged { path: PathBuf, reason: String },
    #[error("{}: search store: {error}", escape_path(path))]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: cannot build search store: {reason}", escape_path(path))]
    Build { path: PathBuf, reason: String },
}

impl StoreError {
    /// No store there: the file is missing, or something that is not a folder sits where its
    /// folder should be (the build then says what is in the way).
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::Io { error, .. }
            if matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory))
    }
}

/// An open store: everything but the full vectors memory-mapped; full vectors are read with
/// `pread` when needed (mapping them would count every touched page cache folio, up to the
/// whole file, as this process's resident memory).
pub struct Store {
    path: PathBuf,
    file: File,
    map: Mmap,
    header: Header,
    layout: Layout,
    basis: Basis,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("header", &self.header)
            .finish()
    }
}

impl Store {
    /// Opens and verifies a store: header, sizes and the checksum of everything but the full
    /// vectors (those are checked row by row when read).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let damaged = |reason: String| StoreError::Damaged {
            path: path.to_path_buf(),
            reason,
        };
        // Non-blocking, so that a FIFO or a device put where the store belongs cannot hang the
        // search; anything but a regular file is then refused (and replaced by the next build).
        let io = |error| StoreError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(damaged("not a regular file".into()));
        }
        let file_len = meta.len();
        let mut head = [0u8; HEADER_LEN];
        let got = file.read_at(&mut head, 0).map_err(io)?;
        let (header, body_sum) = Header::decode(&head[..got]).map_err(damaged)?;
        let layout = Layout::of(&header).ok_or_else(|| damaged("impossible sizes".into()))?;
        if file_len != layout.len as u64 {
            return Err(damaged(format!(
                "{file_len} bytes, expected {} (truncated?)",
                layout.len
            )));
        }
        // SAFETY: the store is only written through a temporary file renamed into place, never
        // modified in place, and the cache lock keeps other picseek processes away.
        let map = unsafe { memmap2::MmapOptions::new().len(layout.full).map(&file) }.map_err(io)?;
        if blake3::hash(&map[HEADER_LEN..]).as_bytes() != &body_sum {
            return Err(damaged("checksum mismatch".into()));
        }
        let (r, d) = (header.rank as usize, header.dim as usize);
        let floats = |off: usize, n: usize| -> Vec<f32> {
            bytemuck::cast_slice::<u8, f32>(&map[off..off + n * 4]).to_vec()
        };
        let basis = Basis {
            dim: d,
            rank: r,
            mean: floats(layout.mean, d),
            rows: floats(layout.basis, r * d),
            fitted_on: header.fitted_on as usize,
        };
        let store = Store {
            path: path.to_path_buf(),
            file,
            map,
            header,
            layout,
            basis,
        };
        // Path offsets must be increasing and inside the blob.
        let offs = store.path_offsets();
        if offs.first() != Some(&0)
            || offs.last() != Some(&header.path_bytes)
            || offs.windows(2).any(|w| w[0] > w[1])
        {
            return Err(damaged("bad path table".into()));
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn basis(&self) -> &Basis {
        &self.basis
    }

    pub fn len(&self) -> usize {
        self.header.rows as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn bytes(&self, off: usize, len: usize) -> &[u8] {
        &self.map[off..off + len]
    }

    pub fn codes(&self) -> &[i8] {
        bytemuck::cast_slice(self.bytes(self.layout.codes, self.len() * self.basis.rank))
    }

    pub fn scales(&self) -> &[f32] {
        bytemuck::cast_slice(self.bytes(self.layout.scales, self.len() * 4))
    }

    fn tags(&self) -> &[[u8; 8]] {
        bytemuck::cast_slice(self.bytes(self.layout.tags, self.len() * 8))
    }

    pub fn hashes(&self) -> &[ContentHash] {
        bytemuck::cast_slice(self.bytes(self.layout.hashes, self.len() * 32))
    }

    /// Why row `i` is searchable (the check, or a declaration of the owner's).
    pub fn mark(&self, i: usize) -> Mark {
        Mark::from_byte(self.bytes(self.layout.marks, self.len())[i])
    }

    pub fn withheld_hashes(&self) -> &[ContentHash] {
        bytemuck::cast_slice(self.bytes(self.layout.withheld, self.header.withheld as usize * 32))
    }

    fn path_offsets(&self) -> &[u64] {
        bytemuck::cast_slice(self.bytes(self.layout.path_offsets, (self.len() + 1) * 8))
    }

    /// The path of row `i`.
    pub fn row_path(&self, i: usize) -> &Path {
        let offs = self.path_offsets();
        let (a, b) = (offs[i] as usize, offs[i + 1] as usize);
        Path::new(std::ffi::OsStr::from_bytes(
            &self.map[self.layout.path_blob + a..self.layout.path_blob + b],
        ))
    }

    /// Reads the full vector of row `i` (f16, `dim` values) into `out`; false when it cannot be
    /// read or fails its check (damaged).
    pub fn read_full(&self, i: usize, out: &mut [f16]) -> bool {
        let d = self.basis.dim;
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out[..d]);
        let off = (self.layout.full + i * d * 2) as u64;
        self.file.read_exact_at(bytes, off).is_ok() && row_tag(bytes) == self.tags()[i]
    }

    /// The full vector of row `i`, or `None` when damaged.
    pub fn full_row(&self, i: usize) -> Option<Vec<f16>> {
        let mut v = vec![f16::ZERO; self.basis.dim];
        self.read_full(i, &mut v).then_some(v)
    }

    /// The `k` best rows for a query's reduced vector `t = U q` by the int8 approximation,
    /// best first, as (approximate `z·q − μ·q`, row). The int8 pass writes one score per row,
    /// in parallel over the cores; [`best_of`] then picks the best `k` without sorting them all.
    pub fn shortlist(&self, t: &[f32], k: usize) -> Vec<(f32, usize)> {
        let r = self.basis.rank;
        let n = self.len();
        if n == 0 || k == 0 {
            return Vec::new();
        }
        if r == 0 {
            return (0..n.min(k)).map(|i| (0.0, i)).collect();
        }
        let (tq, inv) = quantize_query(t);
        let mut scores = vec![0.0f32; n];
        scores
            .par_chunks_mut(SCAN_ROWS)
            .zip(self.codes().par_chunks(SCAN_ROWS * r))
            .zip(self.scales().par_chunks(SCAN_ROWS))
            .for_each(|((out, codes), scales)| score_rows(codes, scales, r, &tq, out));
        let mut best = best_of(&scores, k);
        best.iter_mut().for_each(|(s, _)| *s *= inv);
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::slice::HalfFloatSliceExt;
    use rand::{Rng, SeedableRng};

    pub(super) fn random_rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // Low-rank structure plus noise, like real image vectors.
        let factors: Vec<f32> = (0..8 * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        (0..n)
            .flat_map(|_| {
                let w: Vec<f32> = (0..8).map(|_| rng.random_range(-1.0..1.0)).collect();
                (0..d)
                    .map(|j| {
                        (0..8).map(|f| w[f] * factors[f * d + j]).sum::<f32>()
                            + 0.01 * rng.random_range(-1.0f32..1.0)
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn write_test_store(dir: &Path, n: usize, d: usize) -> (PathBuf, Vec<f32>, Vec<PathBuf>) {
        let z = random_rows(n, d, 1);
        let basis = Basis::fit(&z, d, 16, 0);
        let paths: Vec<PathBuf> = (0..n)
            .map(|i| PathBuf::from(format!("/p/{i}.jpg")))
            .collect();
        let rows: Vec<(&Path, ContentHash)> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_path(), [i as u8; 32]))
            .collect();
        let file = dir.join("s.pstore");
        let mut marks = vec![Mark::Check; n];
        marks[5] = Mark::Consent;
        marks[6] = Mark::NoChild;
        marks[8] = Mark::NoChild;
        let legal = LegalCounts {
            withheld: &[[9; 32]],
            cleared: 3,
            adults: 2,
            marks: &marks,
            declared: [4; 16],
        };
        write(&file, [1; 16], [2; 32], &basis, &rows, legal, |c| {
            for (k, i) in c.rows.clone().enumerate() {
                c.full[k * d..(k + 1) * d].convert_from_f32_slice(&z[i * d..(i + 1) * d]);
            }
            Ok::<(), String>(())
        })
        .unwrap();
        (file, z, paths)
    }

    #[test]
    fn round_trip_and_ranking() {
        let dir = tempfile::tempdir().unwrap();
        let (n, d) = (300, 40);
        let (file, z, paths) = write_test_store(dir.path(), n, d);
        let s = Store::open(&file).unwrap();
        assert_eq!(s.len(), n);
        assert_eq!(s.header().key, [1; 16]);
        assert_eq!(s.header().digest, [2; 32]);
        assert_eq!(s.withheld_hashes(), &[[9u8; 32]]);
        assert_eq!(s.header().cleared, 3);
        let h = s.header();
        assert_eq!((h.adults, h.consented, h.declared_no_child), (2, 1, 2));
        assert_eq!(h.declared, [4; 16]);
        assert_eq!(
            (s.mark(5), s.mark(6), s.mark(7)),
            (Mark::Consent, Mark::NoChild, Mark::Check)
        );
        assert_eq!(s.row_path(7), paths[7]);
        assert_eq!(s.hashes()[7], [7u8; 32]);
        let row = s.full_row(3).unwrap();
        assert!((row[5].to_f32() - z[3 * d + 5]).abs() < 1e-2);
        // The int8 shortlist finds the exact top 5 among its best 20.
        let q: Vec<f32> = (0..d).map(|j| ((j * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let mut exact: Vec<(f32, usize)> = (0..n)
            .map(|i| {
                let s: f32 = z[i * d..(i + 1) * d]
                    .iter()
                    .zip(&q)
                    .map(|(a, b)| a * b)
                    .sum();
                (s, i)
            })
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (t, _) = s.basis().query(&q);
        let short: Vec<usize> = s.shortlist(&t, 20).iter().map(|x| x.1).collect();
        for (_, i) in &exact[..5] {
            assert!(short.contains(i), "{i} missing from {short:?}");
        }
    }

    #[test]
    fn damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let (file, ..) = write_test_store(dir.path(), 50, 16);
        let bytes = std::fs::read(&file).unwrap();
        // Truncated.
        std::fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
        assert!(matches!(
            Store::open(&file),
            Err(StoreError::Damaged { .. })
        ));
        // A flipped byte in the codes.
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + 16 * 4 + 16 * 16 * 4 + 3] ^= 0x40;
        std::fs::write(&file, &flipped).unwrap();
        let err = Store::open(&file).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        // A flipped byte in a full vector: the store opens, the row reads as damaged.
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 5] ^= 0x01;
        std::fs::write(&file, &flipped).unwrap();
        let s = Store::open(&file).unwrap();
        assert!(s.full_row(49).is_none());
        assert!(s.full_row(0).is_some());
        // Not a store at all, and an empty file.
        std::fs::write(&file, b"hello").unwrap();
        assert!(matches!(
            Store::open(&file),
            Err(StoreError::Damaged { .. })
        ));
    }

    #[test]
    fn topk_keeps_the_best_and_breaks_ties_by_index() {
        let mut t = TopK::new(3);
        for (i, s) in [0.5, 0.9, 0.1, 0.9, 0.7, f32::NAN].iter().enumerate() {
            t.push(*s, i);
        }
        assert_eq!(t.into_sorted(), vec![(0.9, 1), (0.9, 3), (0.7, 4)]);
        let (tq, inv) = quantize_query(&[0.5, -1.0, 0.25]);
        let mut codes = [0i8; 3];
        let s = quantize(&[1.0, 2.0, -4.0], &mut codes);
        let approx = approx_dot(&codes, s, &tq, inv);
        assert!((approx - (0.5 - 2.0 - 1.0)).abs() < 0.05, "{approx}");
    }
}
