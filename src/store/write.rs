//! Building a store: [`write()`] fills a temporary file chunk by chunk and renames it into place.

use std::fs::OpenOptions;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::cache::ContentHash;
use crate::display::escape_path;
use half::f16;
use half::slice::HalfFloatSliceExt;
use memmap2::Mmap;
use ndarray::Array2;
use rayon::prelude::*;

use super::format::{row_tag, Header, Layout, HEADER_LEN};
use super::{quantize, Basis, StoreError};

/// Rows written per chunk.
const CHUNK_ROWS: usize = 4096;

/// One chunk of rows to fill: `full` (rows × dim, f16) must be filled; rows whose reduced
/// vector is already known (same basis) may fill `codes`/`scales` and set `have_codes`.
pub struct ChunkOut<'a> {
    pub rows: Range<usize>,
    pub full: &'a mut [f16],
    pub codes: &'a mut [i8],
    pub scales: &'a mut [f32],
    pub have_codes: &'a mut [bool],
}

/// What the legal image check and the owner's declarations made of a folder: the withheld
/// images' content hashes, how many searchable images the check flagged but cleared (nobody in
/// view; adults only), and which rows the owner's declarations show ([`Mark`] per row, empty
/// for none), under the declarations' digest.
#[derive(Debug, Clone, Copy, Default)]
pub struct LegalCounts<'a> {
    pub withheld: &'a [ContentHash],
    pub cleared: usize,
    pub adults: usize,
    pub marks: &'a [Mark],
    pub declared: [u8; 16],
}

/// Why a row is searchable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Mark {
    /// The legal check shows it.
    #[default]
    Check = 0,
    /// The check withholds it; a guardian's consent shows it.
    Consent = 1,
    /// The check withholds it; the owner declared that no child is shown.
    NoChild = 2,
}

impl Mark {
    pub(super) fn from_byte(b: u8) -> Mark {
        match b {
            1 => Mark::Consent,
            2 => Mark::NoChild,
            _ => Mark::Check,
        }
    }
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
    let LegalCounts {
        withheld,
        cleared,
        adults,
        marks,
        declared,
    } = legal;
    let count = |m: Mark| marks.iter().filter(|x| **x == m).count() as u64;
    let (r, d) = (basis.rank, basis.dim);
    let n = rows.len();
    let path_bytes: usize = rows.iter().map(|(p, _)| p.as_os_str().len()).sum();
    let header = Header {
        key,
        digest,
        rows: n as u64,
        withheld: withheld.len() as u64,
        cleared: cleared as u64,
        adults: adults as u64,
        consented: count(Mark::Consent),
        declared_no_child: count(Mark::NoChild),
        declared,
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
        let mut mark_bytes = vec![0u8; n];
        for (b, m) in mark_bytes.iter_mut().zip(marks) {
            *b = *m as u8;
        }
        at(&mark_bytes, layout.marks)?;
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
