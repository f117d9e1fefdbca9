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

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::display::escape_path;
use crate::index::ContentHash;
use half::f16;
use half::slice::HalfFloatSliceExt;
use memmap2::Mmap;
use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

#[cfg(target_endian = "big")]
compile_error!("the search store format is little-endian");

const MAGIC: &[u8; 8] = b"PSKSTORE";
/// Bumped whenever the layout changes.
pub const FORMAT_VERSION: u32 = 3;
const HEADER_LEN: usize = 256;
const ALIGN: usize = 64;
/// Width of the reduced vectors. Chosen with `picseek bench agreement` and `bench query`: the
/// scan is memory-bound (≈5 GB/s on the 2-core test machine), so 128 bytes per image keeps a
/// million images under 30 ms, and the exact rescoring of the shortlist restores the ranking.
pub const DEFAULT_RANK: usize = 128;
/// The basis is fitted on at most this many of the library's vectors.
pub const FIT_SAMPLE: usize = 4096;
/// Rows written per chunk.
const CHUNK_ROWS: usize = 4096;
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

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Identifies everything the vectors depend on (scorer, encoder, detector, format).
    pub key: [u8; 16],
    /// Digest of the folder's (path, content hash) list the store was built from.
    pub digest: [u8; 32],
    /// Searchable images.
    pub rows: u64,
    /// Images withheld by the legal filter (their hashes are kept, never their vectors).
    pub withheld: u64,
    /// Searchable images the whole-image check flagged but the person gate cleared (nobody in
    /// view): for telling the user what the legal check did.
    pub cleared: u64,
    pub rank: u32,
    pub dim: u32,
    /// How many vectors the basis was fitted on.
    pub fitted_on: u64,
    /// Total bytes of all paths.
    pub path_bytes: u64,
}

/// Byte offsets of the sections.
#[derive(Debug, Clone, Copy)]
struct Layout {
    mean: usize,
    basis: usize,
    codes: usize,
    scales: usize,
    tags: usize,
    hashes: usize,
    withheld: usize,
    path_offsets: usize,
    path_blob: usize,
    full: usize,
    len: usize,
}

fn align(x: usize) -> Option<usize> {
    x.checked_add(ALIGN - 1).map(|v| v / ALIGN * ALIGN)
}

impl Layout {
    fn of(h: &Header) -> Option<Layout> {
        let rows = usize::try_from(h.rows).ok()?;
        let withheld = usize::try_from(h.withheld).ok()?;
        let (r, d) = (h.rank as usize, h.dim as usize);
        let path_bytes = usize::try_from(h.path_bytes).ok()?;
        let mut at = HEADER_LEN;
        let mut next = |len: usize| -> Option<usize> {
            let start = at;
            at = align(start.checked_add(len)?)?;
            Some(start)
        };
        let mean = next(d.checked_mul(4)?)?;
        let basis = next(r.checked_mul(d)?.checked_mul(4)?)?;
        let codes = next(rows.checked_mul(r)?)?;
        let scales = next(rows.checked_mul(4)?)?;
        let tags = next(rows.checked_mul(8)?)?;
        let hashes = next(rows.checked_mul(32)?)?;
        let withheld = next(withheld.checked_mul(32)?)?;
        let path_offsets = next(rows.checked_add(1)?.checked_mul(8)?)?;
        let path_blob = next(path_bytes)?;
        let full = next(rows.checked_mul(d)?.checked_mul(2)?)?;
        Some(Layout {
            mean,
            basis,
            codes,
            scales,
            tags,
            hashes,
            withheld,
            path_offsets,
            path_blob,
            full,
            len: at,
        })
    }
}

impl Header {
    fn encode(&self, body_sum: &[u8; 32]) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..28].copy_from_slice(&self.key);
        b[28..60].copy_from_slice(&self.digest);
        b[60..68].copy_from_slice(&self.rows.to_le_bytes());
        b[68..76].copy_from_slice(&self.withheld.to_le_bytes());
        b[76..80].copy_from_slice(&self.rank.to_le_bytes());
        b[80..84].copy_from_slice(&self.dim.to_le_bytes());
        b[84..92].copy_from_slice(&self.fitted_on.to_le_bytes());
        b[92..100].copy_from_slice(&self.path_bytes.to_le_bytes());
        b[100..132].copy_from_slice(body_sum);
        b[132..140].copy_from_slice(&self.cleared.to_le_bytes());
        let check = blake3::hash(&b[..HEADER_LEN - 16]);
        b[HEADER_LEN - 16..].copy_from_slice(&check.as_bytes()[..16]);
        b
    }

    fn decode(b: &[u8]) -> Result<(Header, [u8; 32]), String> {
        if b.len() < HEADER_LEN {
            return Err(format!("{} bytes, shorter than its header", b.len()));
        }
        if &b[0..8] != MAGIC {
            return Err("not a picseek search store".into());
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(format!(
                "format version {version}, expected {FORMAT_VERSION}"
            ));
        }
        let check = blake3::hash(&b[..HEADER_LEN - 16]);
        if check.as_bytes()[..16] != b[HEADER_LEN - 16..HEADER_LEN] {
            return Err("header checksum mismatch".into());
        }
        let h = Header {
            key: b[12..28].try_into().expect("16 bytes"),
            digest: b[28..60].try_into().expect("32 bytes"),
            rows: u64_at(60),
            withheld: u64_at(68),
            rank: u32_at(76),
            dim: u32_at(80),
            fitted_on: u64_at(84),
            path_bytes: u64_at(92),
            cleared: u64_at(132),
        };
        Ok((h, b[100..132].try_into().expect("32 bytes")))
    }
}

/// The orthonormal basis the reduced vectors live in: `c = U (z − μ)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    pub dim: usize,
    pub rank: usize,
    pub mean: Vec<f32>,
    /// `rank × dim`, row-major, orthonormal rows.
    pub rows: Vec<f32>,
    pub fitted_on: usize,
}

impl Basis {
    /// PCA of `sample` (`m × dim`, row-major): the mean and the `rank` leading principal
    /// directions, by subspace iteration on the covariance with a Rayleigh–Ritz step
    /// (deterministic for a given `seed`). `rank` is capped at `dim`.
    pub fn fit(sample: &[f32], dim: usize, rank: usize, seed: u64) -> Basis {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let rank = rank.min(dim);
        let m = sample.len() / dim.max(1);
        if m == 0 || rank == 0 {
            return Basis {
                dim,
                rank: 0,
                mean: vec![0.0; dim],
                rows: Vec::new(),
                fitted_on: 0,
            };
        }
        let x = ArrayView2::from_shape((m, dim), &sample[..m * dim]).expect("sample shape");
        let mean = x.mean_axis(ndarray::Axis(0)).expect("non-empty sample");
        let centred = &x - &mean;
        let cov = centred.t().dot(&centred) / m as f32;
        let k = (rank + 16).min(dim);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let normal = rand_distr::StandardNormal;
        let mut q = Array2::from_shape_simple_fn((dim, k), || normal.sample(&mut rng));
        for _ in 0..5 {
            q = orthonormal_columns(&cov.dot(&q));
        }
        // Rayleigh–Ritz: the leading eigenvectors of the covariance within the subspace.
        let small = q.t().dot(&cov.dot(&q));
        let small = nalgebra::DMatrix::from_fn(k, k, |i, j| f64::from(small[[i, j]]));
        let eig = nalgebra::SymmetricEigen::new(small);
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let v = Array2::from_shape_fn((k, rank), |(i, j)| eig.eigenvectors[(i, order[j])] as f32);
        let u = q.dot(&v); // dim × rank
        Basis {
            dim,
            rank,
            mean: mean.to_vec(),
            rows: u.t().iter().copied().collect(),
            fitted_on: m,
        }
    }

    fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.rank, self.dim), &self.rows).expect("basis shape")
    }

    /// Projects rows (`n × dim`) to reduced vectors (`n × rank`).
    pub fn project(&self, z: ArrayView2<'_, f32>) -> Array2<f32> {
        let mean = ArrayView1::from(&self.mean);
        (&z - &mean).dot(&self.view().t())
    }

    /// The query side: `(U q, μ·q)`.
    pub fn query(&self, q: &[f32]) -> (Vec<f32>, f32) {
        let q = ArrayView1::from(q);
        (
            self.view().dot(&q).to_vec(),
            ArrayView1::from(&self.mean).dot(&q),
        )
    }
}

/// Orthonormalises the columns (thin QR).
fn orthonormal_columns(y: &Array2<f32>) -> Array2<f32> {
    let (n, k) = y.dim();
    let m = nalgebra::DMatrix::from_fn(n, k, |i, j| f64::from(y[[i, j]]));
    let q = m.qr().q();
    Array2::from_shape_fn((n, k), |(i, j)| q[(i, j)] as f32)
}

/// Quantises a reduced vector to int8 with one scale: `c ≈ scale · codes`.
pub fn quantize(c: &[f32], codes: &mut [i8]) -> f32 {
    let max = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        codes.iter_mut().for_each(|x| *x = 0);
        return 0.0;
    }
    let s = 127.0 / max;
    for (o, v) in codes.iter_mut().zip(c) {
        *o = (v * s).round().clamp(-127.0, 127.0) as i8;
    }
    max / 127.0
}

/// The query's reduced vector as i16, with the factor that undoes the quantisation. Chosen so
/// a full row of int8 × i16 products cannot overflow an i32.
pub fn quantize_query(t: &[f32]) -> (Vec<i16>, f32) {
    let max = t.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let limit = ((i32::MAX as f64) / (127.0 * t.len().max(1) as f64)).min(32767.0) as f32;
    if max == 0.0 || !max.is_finite() {
        return (vec![0; t.len()], 0.0);
    }
    let s = limit / max;
    (t.iter().map(|v| (v * s).round() as i16).collect(), 1.0 / s)
}

#[inline(always)]
fn dot_i8_i16(a: &[i8], b: &[i16]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// Approximate dot product of a stored row with a quantised query (without the mean term).
pub fn approx_dot(codes: &[i8], scale: f32, tq: &[i16], tq_inv: f32) -> f32 {
    dot_i8_i16(codes, tq) as f32 * scale * tq_inv
}

/// A bounded min-heap keeping the `k` best (score, index); ties favour the lower index.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry(f32, usize);
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed, so the heap's top is the worst kept entry.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
        }
    }

    #[inline]
    pub fn push(&mut self, score: f32, index: usize) {
        if self.k == 0 || score.is_nan() {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Entry(score, index));
        } else if let Some(worst) = self.heap.peek() {
            if Entry(score, index) < *worst {
                self.heap.pop();
                self.heap.push(Entry(score, index));
            }
        }
    }

    pub fn merge(mut self, other: TopK) -> TopK {
        for e in other.heap {
            self.push(e.0, e.1);
        }
        self
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<(f32, usize)> {
        let mut v = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|Entry(s, i)| (s, i)).collect()
    }
}

/// Scores rows into `out` (one approximate score per row, before the query's scale).
#[inline(always)]
fn score_with(
    codes: &[i8],
    scales: &[f32],
    rank: usize,
    out: &mut [f32],
    dot: impl Fn(&[i8]) -> i32,
) {
    for ((row, &scale), o) in codes.chunks_exact(rank).zip(scales).zip(out) {
        *o = dot(row) as f32 * scale;
    }
}

/// `dot_i8_i16` with AVX2: 16 products per instruction (sign-extend, multiply-add pairs).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_i8_i16_avx2(a: &[i8], b: &[i16]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let whole = n / 32 * 32;
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 32 <= n, so both 16-element loads at i and i + 16 are in bounds.
        unsafe {
            let a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.as_ptr().add(i).cast()));
            let a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.as_ptr().add(i + 16).cast()));
            let b0 = _mm256_loadu_si256(b.as_ptr().add(i).cast());
            let b1 = _mm256_loadu_si256(b.as_ptr().add(i + 16).cast());
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(a1, b1));
        }
        i += 32;
    }
    let acc = _mm256_add_epi32(acc0, acc1);
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(acc),
        _mm256_extracti128_si256::<1>(acc),
    );
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    let tail: i32 = dot_i8_i16(&a[whole..n], &b[whole..n]);
    _mm_cvtsi128_si32(s) + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn score_rows_avx2(codes: &[i8], scales: &[f32], rank: usize, tq: &[i16], out: &mut [f32]) {
    score_with(codes, scales, rank, out, |row| dot_i8_i16_avx2(row, tq))
}

/// The int8 pass: every row's approximate score (before the query's scale) into `out`.
fn score_rows(codes: &[i8], scales: &[f32], rank: usize, tq: &[i16], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { score_rows_avx2(codes, scales, rank, tq, out) };
    }
    score_with(codes, scales, rank, out, |row| dot_i8_i16(row, tq))
}

/// The `k` best of `scores` as (score, index), best first, ties to the lower index; NaN never
/// kept. A threshold is read off every 16th score (a little below the `k`-th best there), the
/// scores at or above it are gathered in parallel, and the best `k` selected among them; if the
/// threshold let fewer than `k` through, it is lowered and the gathering repeated. The result
/// is exact whatever the threshold: everything in the top `k` is at or above it.
fn best_of(scores: &[f32], k: usize) -> Vec<(f32, usize)> {
    const STRIDE: usize = 16;
    let n = scores.len();
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    let mut sample: Vec<f32> = scores
        .iter()
        .step_by(STRIDE)
        .copied()
        .filter(|s| !s.is_nan())
        .collect();
    sample.sort_unstable_by(|a, b| b.total_cmp(a));
    // Expected k / STRIDE of the sample above the true k-th best; aim lower, by a margin that
    // doubles whenever too few pass.
    let mut want = k / STRIDE + 2 * (k / STRIDE).isqrt() + 8;
    loop {
        let threshold = sample.get(want).copied().unwrap_or(f32::NEG_INFINITY);
        let mut found: Vec<(f32, usize)> = scores
            .par_chunks(SCAN_ROWS)
            .enumerate()
            .flat_map_iter(|(c, chunk)| {
                chunk
                    .iter()
                    .enumerate()
                    .filter(move |(_, s)| **s >= threshold)
                    .map(move |(j, &s)| (s, c * SCAN_ROWS + j))
            })
            .collect();
        if found.len() >= k || threshold == f32::NEG_INFINITY {
            keep_best(&mut found, k);
            return found;
        }
        want = want.saturating_mul(2);
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

/// Keeps the best `k` of (score, index), best first; ties favour the lower index.
fn keep_best(v: &mut Vec<(f32, usize)>, k: usize) {
    let order = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if v.len() > k {
        v.select_nth_unstable_by(k - 1, order);
        v.truncate(k);
    }
    v.sort_unstable_by(order);
}

/// Dot product with 16 independent accumulators, so it vectorises (a plain `sum` of f32 does
/// not, its order being fixed).
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Dot product of a stored f16 row with an f32 vector, converting as it goes (F16C and FMA
/// where the CPU has them, so the row is read once and never written out as f32).
pub fn dot_f16(a: &[f16], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        // SAFETY: the CPU supports AVX2, FMA and F16C, checked just above.
        return unsafe { dot_f16_avx2(a, b) };
    }
    dot_f16_plain(a, b)
}

fn dot_f16_plain(a: &[f16], b: &[f32]) -> f32 {
    let mut buf = [0.0f32; 64];
    a.chunks(64)
        .zip(b.chunks(64))
        .map(|(x, y)| {
            let n = x.len().min(y.len());
            x[..n].convert_to_f32_slice(&mut buf[..n]);
            dot_f32(&buf[..n], &y[..n])
        })
        .sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_f16_avx2(a: &[f16], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let whole = n / 16 * 16;
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 16 <= n, so the 8-element loads at i and i + 8 are in bounds of both.
        unsafe {
            let a0 = _mm256_cvtph_ps(_mm_loadu_si128(a.as_ptr().add(i).cast()));
            let a1 = _mm256_cvtph_ps(_mm_loadu_si128(a.as_ptr().add(i + 8).cast()));
            acc0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b.as_ptr().add(i)), acc0);
            acc1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b.as_ptr().add(i + 8)), acc1);
        }
        i += 16;
    }
    let acc = _mm256_add_ps(acc0, acc1);
    let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s) + dot_f16_plain(&a[whole..n], &b[whole..n])
}

/// A row's check value: its CRC-32 (hardware-accelerated, so checking a shortlisted row costs
/// far less than reading it) and its length.
fn row_tag(bytes: &[u8]) -> [u8; 8] {
    let tag = u64::from(crc32fast::hash(bytes)) | ((bytes.len() as u64) << 32);
    tag.to_le_bytes()
}

/// One chunk of rows to fill: `full` (rows × dim, f16) must be filled; rows whose reduced
/// vector is already known (same basis) may fill `codes`/`scales` and set `have_codes`.
pub struct ChunkOut<'a> {
    pub rows: Range<usize>,
    pub full: &'a mut [f16],
    pub codes: &'a mut [i8],
    pub scales: &'a mut [f32],
    pub have_codes: &'a mut [bool],
}

/// What the legal image check left out of a store: the withheld images' content hashes, and how
/// many searchable images it flagged but cleared (nobody in view).
#[derive(Debug, Clone, Copy, Default)]
pub struct LegalCounts<'a> {
    pub withheld: &'a [ContentHash],
    pub cleared: usize,
}

/// Writes a store to `path` atomically (temporary file, then rename).
///
/// `paths`/`hashes` give the searchable rows in order; `fill` is called once per chunk of rows,
/// in order, to provide their full vectors.
pub fn write<E: std::fmt::Display>(
    path: &Path,
    key: [u8; 16],
    digest: [u8; 32],
    basis: &Basis,
    rows: &[(&Path, ContentHash)],
    legal: LegalCounts<'_>,
    mut fill: impl FnMut(ChunkOut<'_>) -> Result<(), E>,
) -> Result<(), StoreError> {
    let LegalCounts { withheld, cleared } = legal;
    let (r, d) = (basis.rank, basis.dim);
    let n = rows.len();
    let path_bytes: usize = rows.iter().map(|(p, _)| p.as_os_str().len()).sum();
    let header = Header {
        key,
        digest,
        rows: n as u64,
        withheld: withheld.len() as u64,
        cleared: cleared as u64,
        rank: r as u32,
        dim: d as u32,
        fitted_on: basis.fitted_on as u64,
        path_bytes: path_bytes as u64,
    };
    let build_err = |reason: String| StoreError::Build {
        path: path.to_path_buf(),
        reason,
    };
    let layout = Layout::of(&header).ok_or_else(|| build_err("too large".into()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |error: std::io::Error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    };
    std::fs::create_dir_all(dir).map_err(|e| match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => build_err(format!(
            "{} is in the way: it should be a folder",
            escape_path(dir)
        )),
        _ => io(e),
    })?;
    // A fresh temporary file: whatever a failed run (or anyone) left at its name goes first, so
    // the write never lands in a FIFO or through a link.
    let tmp = path.with_extension("tmp");
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io)?;
    let result = (|| {
        let at = |buf: &[u8], off: usize| file.write_all_at(buf, off as u64).map_err(io);
        at(bytemuck::cast_slice(&basis.mean), layout.mean)?;
        at(bytemuck::cast_slice(&basis.rows), layout.basis)?;
        let hashes: Vec<u8> = rows.iter().flat_map(|(_, h)| *h).collect();
        at(&hashes, layout.hashes)?;
        let withheld_bytes: Vec<u8> = withheld.iter().flatten().copied().collect();
        at(&withheld_bytes, layout.withheld)?;
        let mut offsets = Vec::with_capacity(n + 1);
        let mut blob = Vec::with_capacity(path_bytes);
        offsets.push(0u64);
        for (p, _) in rows {
            blob.extend_from_slice(p.as_os_str().as_bytes());
            offsets.push(blob.len() as u64);
        }
        at(bytemuck::cast_slice(&offsets), layout.path_offsets)?;
        at(&blob, layout.path_blob)?;
        drop(blob);

        let mut full = vec![f16::ZERO; CHUNK_ROWS * d];
        let mut codes = vec![0i8; CHUNK_ROWS * r];
        let mut scales = vec![0f32; CHUNK_ROWS];
        let mut have = vec![false; CHUNK_ROWS];
        let mut tags = vec![[0u8; 8]; CHUNK_ROWS];
        for start in (0..n).step_by(CHUNK_ROWS) {
            let m = CHUNK_ROWS.min(n - start);
            have[..m].iter_mut().for_each(|h| *h = false);
            fill(ChunkOut {
                rows: start..start + m,
                full: &mut full[..m * d],
                codes: &mut codes[..m * r],
                scales: &mut scales[..m],
                have_codes: &mut have[..m],
            })
            .map_err(|e| build_err(e.to_string()))?;
            // Reduce the rows whose codes are not known yet, in parallel.
            let todo: Vec<usize> = (0..m).filter(|&i| !have[i]).collect();
            if !todo.is_empty() && r > 0 {
                let reduced: Vec<(Vec<i8>, f32)> = todo
                    .par_chunks(256)
                    .flat_map_iter(|idx| {
                        let mut z = Array2::<f32>::zeros((idx.len(), d));
                        for (row, &i) in z.rows_mut().into_iter().zip(idx) {
                            full[i * d..(i + 1) * d]
                                .convert_to_f32_slice(row.into_slice().expect("contiguous"));
                        }
                        let c = basis.project(z.view());
                        c.rows()
                            .into_iter()
                            .map(|row| {
                                let mut q = vec![0i8; r];
                                let s = quantize(row.as_slice().expect("contiguous"), &mut q);
                                (q, s)
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect();
                for (&i, (q, s)) in todo.iter().zip(reduced) {
                    codes[i * r..(i + 1) * r].copy_from_slice(&q);
                    scales[i] = s;
                }
            }
            tags[..m]
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, t)| *t = row_tag(bytemuck::cast_slice(&full[i * d..(i + 1) * d])));
            at(
                bytemuck::cast_slice(&full[..m * d]),
                layout.full + start * d * 2,
            )?;
            at(
                bytemuck::cast_slice(&codes[..m * r]),
                layout.codes + start * r,
            )?;
            at(
                bytemuck::cast_slice(&scales[..m]),
                layout.scales + start * 4,
            )?;
            at(bytemuck::cast_slice(&tags[..m]), layout.tags + start * 8)?;
        }
        file.set_len(layout.len as u64).map_err(io)?;
        // The checksum of what is on disk now.
        // SAFETY: the temporary file is ours alone until it is renamed.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let body_sum = *blake3::hash(&map[HEADER_LEN..layout.full]).as_bytes();
        drop(map);
        at(&header.encode(&body_sum), 0)?;
        file.sync_data().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
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
        let legal = LegalCounts {
            withheld: &[[9; 32]],
            cleared: 3,
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
    fn basis_is_orthonormal_and_captures_low_rank_data() {
        let d = 30;
        let z = random_rows(200, d, 3);
        let b = Basis::fit(&z, d, 10, 0);
        for i in 0..b.rank {
            for j in 0..b.rank {
                let dot: f32 = (0..d).map(|k| b.rows[i * d + k] * b.rows[j * d + k]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-4, "({i},{j}) {dot}");
            }
        }
        // Eight factors: ten directions reconstruct the rows almost exactly.
        let zv = ArrayView2::from_shape((200, d), &z).unwrap();
        let c = b.project(zv);
        let back = c.dot(&b.view()) + ArrayView1::from(&b.mean);
        let err = (&back - &zv).mapv(|v| v * v).sum() / zv.mapv(|v| v * v).sum();
        assert!(err < 1e-3, "relative error {err}");
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

    #[test]
    fn selection_and_heap_agree() {
        let scores: Vec<(f32, usize)> = (0..1000)
            .map(|i| ((((i * 7919) % 1000) as f32 / 10.0).floor(), i))
            .collect();
        let mut sel = scores.clone();
        keep_best(&mut sel, 25);
        let mut heap = TopK::new(25);
        for (s, i) in &scores {
            heap.push(*s, *i);
        }
        assert_eq!(sel, heap.into_sorted());
    }

    /// The threshold selection gives exactly the `k` best, ties to the lower index, whatever
    /// the scores' order and however many ties sit at the threshold; NaN is never kept.
    #[test]
    fn best_of_is_exact() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for (n, k, levels) in [
            (100_000, 10_000, 0),
            (100_000, 200, 0),
            (50_000, 5_000, 7),
            (1_000, 1_000, 3),
            (30, 50, 0),
        ] {
            let mut scores: Vec<f32> = (0..n)
                .map(|_| match levels {
                    0 => rng.random_range(-1.0f32..1.0),
                    l => rng.random_range(0..l) as f32,
                })
                .collect();
            // Best scores bunched at the end, where a strided sample sees few of them.
            scores
                .iter_mut()
                .rev()
                .take(n / 50)
                .for_each(|s| *s += 10.0);
            scores[n / 2] = f32::NAN;
            let mut want: Vec<(f32, usize)> = scores
                .iter()
                .copied()
                .zip(0..)
                .filter(|(s, _)| !s.is_nan())
                .collect();
            keep_best(&mut want, k);
            assert_eq!(best_of(&scores, k), want, "n {n}, k {k}, levels {levels}");
        }
    }

    /// Dot product of f32 vectors with independent accumulators (vectorisable).
    #[test]
    fn fast_dot_matches() {
        let a: Vec<f32> = (0..1664).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..1664).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot_f32(&a, &b) - plain).abs() < 1e-3);
        for n in [0, 5, 16, 100, 1663] {
            let h: Vec<f16> = a[..n].iter().map(|&x| f16::from_f32(x)).collect();
            let want: f64 = h
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(x.to_f32()) * f64::from(*y))
                .sum();
            for got in [dot_f16(&h, &b[..n]), dot_f16_plain(&h, &b[..n])] {
                assert!(
                    (f64::from(got) - want).abs() < 1e-3,
                    "n {n}: {got} against {want}"
                );
            }
        }
    }

    #[test]
    fn simd_dot_equals_plain_dot() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for n in [0, 7, 32, 100, 256, 300] {
            let a: Vec<i8> = (0..n).map(|_| rng.random_range(-127..=127)).collect();
            let b: Vec<i16> = (0..n).map(|_| rng.random_range(-32767..=32767)).collect();
            let want = dot_i8_i16(&a, &b);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 checked just above.
                assert_eq!(unsafe { dot_i8_i16_avx2(&a, &b) }, want, "n = {n}");
            }
            let mut out = [0.0f32];
            score_rows(&a, &[1.0], n.max(1), &b, &mut out);
            if n > 0 {
                assert_eq!(out[0], want as f32);
            }
        }
    }
}
