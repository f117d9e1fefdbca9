//! Synthetic libraries for the benchmarks at scale: a search store of random vectors shaped like
//! real ones, cached features for it, and folders of empty files whose cache entries are written
//! directly (features derived from a real folder's).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use half::slice::HalfFloatSliceExt;
use picseek::cache::{Cache, ContentHash, FileEntry, ImageRecord};
use picseek::library;
use picseek::model::Scorer;
use picseek::store::{self, Basis};
use rayon::prelude::*;

use crate::commands::Ctx;

/// Writes a store of `n` synthetic images (random directions, scaled like real compact vectors)
/// for the folder `root`, keyed for the real scorer and encoder, through the same writer as a
/// real library.
fn store(
    cache_dir: &Path,
    root: &Path,
    n: usize,
    scorer: &Scorer,
    fingerprint: &[u8; 16],
    check: Option<&[u8; 16]>,
) -> Result<()> {
    use rand::{Rng, SeedableRng};
    let dim = scorer.compact_dim();
    let norm = (scorer.meta.a.powi(2) + scorer.meta.c.powi(2)).sqrt();
    let row = |i: usize, out: &mut [f32]| {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
        out.iter_mut()
            .for_each(|v| *v = rng.random_range(-1.0f32..1.0));
        let s = norm / out.iter().map(|v| v * v).sum::<f32>().sqrt();
        out.iter_mut().for_each(|v| *v *= s);
    };
    let m = store::FIT_SAMPLE.min(n);
    let mut sample = vec![0.0f32; m * dim];
    sample
        .par_chunks_mut(dim)
        .enumerate()
        .for_each(|(i, out)| row(i, out));
    let basis = Basis::fit(&sample, dim, store::DEFAULT_RANK, 0);
    drop(sample);
    let indexed: Vec<(PathBuf, ContentHash)> = (0..n)
        .map(|i| {
            (
                root.join(format!("DCIM/{:04}/IMG_{i:07}.jpg", i / 1000)),
                hash(i),
            )
        })
        .collect();
    library::write_store(
        &library::store_path(cache_dir, root),
        &indexed,
        library::MadeFor {
            scorer,
            fingerprint,
            check,
            declared: no_declarations(),
        },
        &basis,
        |c| {
            c.full
                .par_chunks_mut(dim)
                .zip(c.rows.clone().into_par_iter())
                .for_each_init(
                    || vec![0.0f32; dim],
                    |buf, (out, i)| {
                        row(i, buf);
                        out.convert_from_f32_slice(buf);
                    },
                );
            Ok::<(), String>(())
        },
    )?;
    Ok(())
}

/// The digest of "nothing declared": synthetic stores are opened by processes given an empty
/// declarations file ([`NO_DECLARATIONS`] in the temporary cache).
pub fn no_declarations() -> [u8; 16] {
    picseek::declarations::Declarations::default()
        .cover(&picseek::declarations::today())
        .digest()
}

/// The declarations file given to the processes that open a synthetic store (never written).
pub const NO_DECLARATIONS: &str = "no-declarations.jsonl";

/// Synthetic image features of the `i`-th synthetic image (non-negative, like EfficientNet's).
pub fn features(i: usize) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64 ^ 0x5eed);
    (0..picseek::model::image::IMAGE_DIM)
        .map(|_| rng.random_range(0.0f32..1.0).powi(3))
        .collect()
}

/// Writes cached features (as indexing would) for every image of a synthetic store of `n`.
fn cache_entries(cache_dir: &Path, n: usize, fingerprint: &[u8; 16]) -> Result<()> {
    let cache = Cache::open(cache_dir)?;
    (0..n).into_par_iter().try_for_each(|i| -> Result<()> {
        let record = ImageRecord {
            width: 4000,
            height: 3000,
            embedding: picseek::model::ImageEmbedding {
                features: features(i),
                top_classes: Vec::new(),
            },
        };
        cache.put_embedding(fingerprint, &hash(i), &record)?;
        Ok(())
    })?;
    cache.flush()?;
    Ok(())
}

/// The content hash of the `i`-th synthetic image.
pub fn hash(i: usize) -> ContentHash {
    *blake3::hash(&(i as u64).to_le_bytes()).as_bytes()
}

/// A temporary cache holding a synthetic store of `images` images (and, with `examples`, their
/// cached features), keyed for the real models. Returns it and the store's folder.
pub fn setup(images: usize, examples: bool, ctx: &Ctx) -> Result<(tempfile::TempDir, PathBuf)> {
    let models = ctx.models()?;
    let scorer = models.scorer()?;
    let fingerprint = models.image_fingerprint()?;
    let check = models.check_fingerprint()?;
    let mut tmp = tempfile::tempdir().context("temporary cache")?;
    // For profiling the probe by hand: keep the synthetic cache.
    if std::env::var_os("PICSEEK_BENCH_KEEP").is_some() {
        tmp.disable_cleanup(true);
        eprintln!("picseek: keeping {}", tmp.path().display());
    }
    let root = PathBuf::from(format!("/synthetic/{images}"));
    let t = Instant::now();
    eprintln!("picseek: writing a synthetic store of {images} images…");
    store(
        tmp.path(),
        &root,
        images,
        &scorer,
        &fingerprint,
        check.as_ref(),
    )?;
    eprintln!(
        "picseek: store written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    if examples {
        let t = Instant::now();
        eprintln!("picseek: writing cached features of {images} images…");
        cache_entries(tmp.path(), images, &fingerprint)?;
        eprintln!(
            "picseek: features written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok((tmp, root))
}

/// Makes `n` empty files under `root`, each registered in `cache` as indexed and unchanged,
/// with the features of one of `bases` changed a little (as many distinct images as files).
pub fn folder(
    root: &Path,
    n: usize,
    cache: &Cache,
    fingerprint: &[u8; 16],
    bases: &[ImageRecord],
) -> Result<()> {
    use rand::{Rng, SeedableRng};
    anyhow::ensure!(!bases.is_empty(), "no images to derive synthetic ones from");
    eprintln!("picseek: creating {n} synthetic files and cache entries…");
    let t = Instant::now();
    let path_of = |i: usize| root.join(format!("DCIM/{:04}/IMG_{i:07}.jpg", i / 1000));
    (0..n).into_par_iter().try_for_each(|i| -> Result<()> {
        if i % 1000 == 0 {
            std::fs::create_dir_all(path_of(i).parent().expect("has a parent"))?;
        }
        Ok(())
    })?;
    (0..n).into_par_iter().try_for_each(|i| -> Result<()> {
        let path = path_of(i);
        std::fs::write(&path, b"")?;
        let mtime_ns = std::fs::metadata(&path)?
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as i128;
        let hash = hash(i);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
        let mut record = bases[i % bases.len()].clone();
        for v in record.embedding.features.iter_mut() {
            *v = *v * (1.0 + 0.2 * rng.random_range(-1.0f32..1.0))
                + 0.05 * rng.random_range(-1.0f32..1.0);
        }
        cache.put_embedding(fingerprint, &hash, &record)?;
        cache.put_file(
            &path,
            &FileEntry {
                size: 0,
                mtime_ns,
                hash,
            },
        )?;
        Ok(())
    })?;
    cache.flush()?;
    eprintln!("picseek: done in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}
