//! `picseek bench ...`: figures printed as a table and merged into reports/bench.json.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use half::slice::HalfFloatSliceExt;
use ndarray::{Array2, ArrayView1};
use picseek::index::{
    self, view_fingerprint, Cache, ContentHash, FileEntry, ImageRecord, IndexOptions, IndexReport,
};
use picseek::library::{self, Library};
use picseek::model::scorer::cosine;
use picseek::model::{preprocess, ImageEmbedding, ImageEncoder, Scorer, TextEncoder};
use picseek::search::{self, Options, Outcome, Plan, TermVector};
use picseek::store::{self, Basis, TopK};
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::cli::Common;
use picseek::legal::check::ImageCheck;

const REPORT: &str = "reports/bench.json";

/// Cold indexing: each run into a fresh temporary cache.
pub fn index(dir: &Path, runs: usize, common: &Common) -> Result<()> {
    let encoder = super::image_encoder(common)?;
    let (scorer, people) = super::legal_models(&super::models_dir(common)?)?;
    let check = ImageCheck::new(&scorer, &people);
    let cores = picseek::model::cores();
    let mut results = Vec::new();
    for run in 1..=runs.max(1) {
        let tmp = tempfile::tempdir().context("temporary cache")?;
        let cache = Cache::open(tmp.path())?;
        let r = super::index::index_with_progress(
            dir,
            &cache,
            &encoder,
            check.as_ref(),
            &super::index_options(common),
        )?;
        print_index_run(run, &r);
        results.push(r);
    }
    let best = fastest(&results);
    println!(
        "cold index of {}: best {:.1} images/s over {} run(s) on {cores} core(s)",
        picseek::display::escape_path(dir),
        best.rate(),
        results.len()
    );
    merge_report(
        "cold_index",
        json!({
            "dir": dir.display().to_string(),
            "cores": cores,
            "batch": common.batch,
            "images": best.found,
            "encoded": best.encoded,
            "failed": best.failures.len(),
            "runs_images_per_s": results.iter().map(IndexReport::rate).collect::<Vec<_>>(),
            "images_per_s": best.rate(),
            "seconds": best.elapsed.as_secs_f64(),
            "ms_per_image": ms_per_image_json(best),
            "legal_check": legal_json(best),
        }),
    )
}

/// How many newly encoded images each stage of the legal image check decided.
fn legal_json(r: &IndexReport) -> Value {
    let v = &r.verdicts;
    json!({
        "clear": v.clear, "gate_run": v.no_person + v.child_among_people + v.unverified,
        "no_person": v.no_person, "withheld": v.withheld(),
    })
}

/// The run with the highest rate.
fn fastest(results: &[IndexReport]) -> &IndexReport {
    results
        .iter()
        .max_by(|a, b| a.rate().total_cmp(&b.rate()))
        .expect("at least one run")
}

/// Milliseconds per encoded image spent in each stage, summed over threads.
fn ms_per_image(r: &IndexReport) -> [(&'static str, f64); 8] {
    let n = r.encoded.max(1) as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / n;
    let s = &r.stages;
    [
        ("scan", ms(s.scan)),
        ("read", ms(s.read)),
        ("hash", ms(s.hash)),
        ("decode", ms(s.decode)),
        ("resize", ms(s.resize)),
        ("encode", ms(s.encode)),
        ("check", ms(s.check)),
        ("store", ms(s.store)),
    ]
}

/// [`ms_per_image`] as the report has it: without the folder scan.
fn ms_per_image_json(r: &IndexReport) -> Value {
    ms_per_image(r)
        .into_iter()
        .filter(|(name, _)| *name != "scan")
        .map(|(name, ms)| (name.to_string(), json!(ms)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn print_index_run(run: usize, r: &IndexReport) {
    println!(
        "run {run}: {} images, {} encoded, {} failed, {:.2} s, {:.1} images/s",
        r.found,
        r.encoded,
        r.failures.len(),
        r.elapsed.as_secs_f64(),
        r.rate()
    );
    let v = &r.verdicts;
    println!(
        "  legal check: {} clear by the whole-image check, person gate run on {} ({} no person, {} withheld)",
        v.clear,
        v.no_person + v.child_among_people + v.unverified,
        v.no_person,
        v.withheld()
    );
    println!("  stage      ms/image (summed over threads)");
    for (name, ms) in ms_per_image(r) {
        println!("  {name:<10} {ms:>8.2}");
    }
}

/// Writes `value` under `key` in reports/bench.json, keeping the other keys.
pub fn merge_report(key: &str, value: Value) -> Result<()> {
    let path = Path::new(REPORT);
    let mut all: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| json!({}));
    all[key] = value;
    std::fs::create_dir_all("reports")?;
    std::fs::write(path, serde_json::to_string_pretty(&all)? + "\n")
        .with_context(|| format!("writing {REPORT}"))?;
    println!("wrote {REPORT}");
    Ok(())
}

/// Peak and current resident memory of this process, in MiB (from /proc/self/status).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The `p` quantile (0–1) of `values`, nearest rank; NaN when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The test queries the legal filter lets through, with the name of their source image.
fn allowed_queries(data: &Path) -> Result<Vec<(String, String)>> {
    let ds = picseek::dataset::load(data)?;
    Ok(ds
        .test_queries
        .iter()
        .filter(|q| matches!(search::check(&q.query_text), Ok(None)))
        .map(|q| (q.query_text.clone(), q.image.clone()))
        .collect())
}

/// Writes a store of `n` synthetic images (random directions, scaled like real compact vectors)
/// for the folder `root`, keyed for the real scorer and encoder, through the same writer as a
/// real library.
fn synthetic_store(
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
                synthetic_hash(i),
            )
        })
        .collect();
    let rows: Vec<(&Path, ContentHash)> = indexed.iter().map(|(p, h)| (p.as_path(), *h)).collect();
    store::write(
        &library::store_path(cache_dir, root),
        library::store_key(scorer, fingerprint, check),
        library::folder_digest(&indexed),
        &basis,
        &rows,
        store::LegalCounts::default(),
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

/// Synthetic image features of the `i`-th synthetic image (non-negative, like EfficientNet's).
fn synthetic_features(i: usize) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64 ^ 0x5eed);
    (0..picseek::model::image::IMAGE_DIM)
        .map(|_| rng.random_range(0.0f32..1.0).powi(3))
        .collect()
}

/// Writes cached features (as indexing would) for every image of a synthetic store of `n`.
fn synthetic_cache_entries(cache_dir: &Path, n: usize, fingerprint: &[u8; 16]) -> Result<()> {
    let cache = Cache::open(cache_dir)?;
    (0..n).into_par_iter().try_for_each(|i| -> Result<()> {
        let record = ImageRecord {
            width: 4000,
            height: 3000,
            embedding: picseek::model::ImageEmbedding {
                features: synthetic_features(i),
                top_classes: Vec::new(),
            },
        };
        cache.put_embedding(fingerprint, &synthetic_hash(i), &record)?;
        Ok(())
    })?;
    cache.flush()?;
    Ok(())
}

/// The content hash of the `i`-th synthetic image.
fn synthetic_hash(i: usize) -> ContentHash {
    *blake3::hash(&(i as u64).to_le_bytes()).as_bytes()
}

/// The start-up path of a front end, in a fresh process (`picseek bench probe`): load the
/// models, open the stored library of `root` without scanning, run the first query; then time
/// `queries` more and report the peak resident memory. Prints one JSON line.
pub fn probe(
    root: &Path,
    data: &Path,
    queries: usize,
    examples: usize,
    top: usize,
    common: &Common,
) -> Result<()> {
    let t0 = Instant::now();
    let models = super::models_dir(common)?;
    let scorer = Scorer::load(&models)?;
    let text = TextEncoder::load(&models)?;
    let fingerprint = picseek::model::image::fingerprint_of(&models)?;
    let check = check_fingerprint(&models, &scorer)?;
    let cache = Cache::open(&super::cache_dir(common))?;
    let loaded = t0.elapsed();
    let rss_loaded = memory_mib().1;
    let library = Library::open_stored(cache.dir(), root, &fingerprint, &scorer, check.as_ref())
        .with_context(|| format!("no stored library for {}", root.display()))?;
    let opened = t0.elapsed();
    let rss_opened = memory_mib().1;
    let qs = allowed_queries(data)?;
    let options = Options {
        top,
        min_score: 0.0,
    };
    let first = search::search(&qs[0].0, &library, &text, &scorer, options)?;
    let first_results = t0.elapsed();
    let rss_first = memory_mib().1;
    let Outcome::Results { hits, .. } = first else {
        anyhow::bail!("the first query was blocked");
    };
    let (mut check, mut encode, mut rank, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (q, _) in qs.iter().cycle().skip(1).take(queries) {
        let t = Instant::now();
        if search::check(q)?.is_some() {
            continue;
        }
        check.push(ms(t.elapsed()));
        let y = text.encode_one(q.trim())?;
        let qv = scorer.query_vector(&y);
        let te = t.elapsed();
        let hits = library.rank(&scorer, &qv, options);
        let tt = t.elapsed();
        std::hint::black_box(hits);
        encode.push(ms(te));
        rank.push(ms(tt - te));
        total.push(ms(tt));
    }
    let example_ms = time_examples(&library, &scorer, &cache, &fingerprint, examples, options)?;
    let (hwm, rss) = memory_mib();
    println!(
        "{}",
        json!({
            "examples": example_ms.len(),
            "example_ms_p50": percentile(&example_ms, 0.5),
            "example_ms_p95": percentile(&example_ms, 0.95),
            "images": library.len(),
            "load_ms": ms(loaded), "open_ms": ms(opened - loaded),
            "first_query_ms": ms(first_results - opened), "first_results_ms": ms(first_results),
            "first_hits": hits.len(),
            "queries": total.len(),
            "check_ms_p50": percentile(&check, 0.5),
            "encode_ms_p50": percentile(&encode, 0.5), "rank_ms_p50": percentile(&rank, 0.5),
            "total_ms_p50": percentile(&total, 0.5), "total_ms_p95": percentile(&total, 0.95),
            "rank_ms_p95": percentile(&rank, 0.95),
            "peak_rss_mib": hwm, "rss_mib": rss,
            "rss_mib_after": {"models": rss_loaded, "store_open": rss_opened, "first_query": rss_first},
        })
    );
    Ok(())
}

/// Times `n` searches by example over `library` (ms each): the example is a stored image with
/// its features changed a little (a copy), its compact vector the stored one; features of the
/// candidates come from the cache. The example's own encoding is not part of it.
fn time_examples(
    library: &Library,
    scorer: &Scorer,
    cache: &Cache,
    fingerprint: &[u8; 16],
    n: usize,
    options: Options,
) -> Result<Vec<f64>> {
    use rand::{Rng, SeedableRng};
    let Some(store) = library.store() else {
        return Ok(Vec::new());
    };
    let features = search::cached_features(cache, fingerprint);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut half = vec![half::f16::ZERO; store.basis().dim];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let row = rng.random_range(0..store.len());
        anyhow::ensure!(
            store.read_full(row, &mut half),
            "stored row {row} is damaged"
        );
        let compact: Vec<f32> = half.iter().map(|v| v.to_f32()).collect();
        let mut example = features(&store.hashes()[row])
            .with_context(|| format!("no cached features for stored row {row}"))?;
        example
            .iter_mut()
            .for_each(|v| *v *= 1.0 + 0.1 * rng.random_range(-1.0f32..1.0));
        let t = Instant::now();
        let plan = Plan {
            plus: vec![TermVector::image_from(scorer, compact, example)],
            minus: Vec::new(),
        };
        let hits = library.rank_plan(scorer, &plan, &features, options);
        times.push(ms(t.elapsed()));
        anyhow::ensure!(
            hits.first().map(|h| h.path.as_path()) == Some(store.row_path(row)),
            "the example's own image did not come first"
        );
    }
    Ok(times)
}

/// Runs `picseek bench probe` in a fresh process; returns its JSON and the process wall time.
fn run_probe(
    cache_dir: &Path,
    root: &Path,
    queries: usize,
    examples: usize,
    top: usize,
    common: &Common,
) -> Result<(Value, Duration)> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("--cache").arg(cache_dir);
    if let Some(m) = &common.models {
        cmd.arg("--models").arg(m);
    }
    if let Some(o) = &common.ort_lib {
        cmd.arg("--ort-lib").arg(o);
    }
    cmd.args(["bench", "probe", "--root"]).arg(root).args([
        "--queries",
        &queries.to_string(),
        "--examples",
        &examples.to_string(),
        "--top",
        &top.to_string(),
    ]);
    let t = Instant::now();
    let out = cmd.output().context("running picseek bench probe")?;
    let wall = t.elapsed();
    if !out.status.success() {
        anyhow::bail!(
            "picseek bench probe failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.trim().lines().last().unwrap_or(""))
        .context("parsing the probe's output")?;
    Ok((v, wall))
}

/// The legal image check's fingerprint, without starting the person detector.
fn check_fingerprint(models: &Path, scorer: &Scorer) -> Result<Option<[u8; 16]>> {
    let person = picseek::legal::gate::fingerprint_of(models)?;
    Ok(picseek::legal::check::fingerprint_of(scorer, &person))
}

fn synthetic_setup(
    images: usize,
    examples: bool,
    common: &Common,
) -> Result<(tempfile::TempDir, PathBuf)> {
    let models = super::models_dir(common)?;
    let scorer = Scorer::load(&models)?;
    let fingerprint = picseek::model::image::fingerprint_of(&models)?;
    let check = check_fingerprint(&models, &scorer)?;
    let mut tmp = tempfile::tempdir().context("temporary cache")?;
    // For profiling the probe by hand: keep the synthetic cache.
    if std::env::var_os("PICSEEK_BENCH_KEEP").is_some() {
        tmp.disable_cleanup(true);
        eprintln!("picseek: keeping {}", tmp.path().display());
    }
    let root = PathBuf::from(format!("/synthetic/{images}"));
    let t = Instant::now();
    eprintln!("picseek: writing a synthetic store of {images} images…");
    synthetic_store(
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
        synthetic_cache_entries(tmp.path(), images, &fingerprint)?;
        eprintln!(
            "picseek: features written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok((tmp, root))
}

/// Query latency (and peak memory) over a synthetic library of `images` images.
pub fn query(
    images: usize,
    queries: usize,
    top: usize,
    examples: usize,
    key: &str,
    common: &Common,
) -> Result<()> {
    let cores = picseek::model::cores();
    let (tmp, root) = synthetic_setup(images, examples > 0, common)?;
    let (v, _) = run_probe(tmp.path(), &root, queries, examples, top, common)?;
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "resident memory after each step (MiB): {}",
        v["rss_mib_after"]
    );
    println!(
        "query latency, {images} synthetic images, top {top}, {cores} core(s), {} queries",
        v["queries"]
    );
    println!("  {:<28} {:>9}", "measure", "value");
    for (name, k, unit) in [
        ("legal check p50", "check_ms_p50", "ms"),
        ("text encoding p50", "encode_ms_p50", "ms"),
        ("scoring + top-k p50", "rank_ms_p50", "ms"),
        ("scoring + top-k p95", "rank_ms_p95", "ms"),
        ("query total p50", "total_ms_p50", "ms"),
        ("query total p95", "total_ms_p95", "ms"),
        ("by example p50", "example_ms_p50", "ms"),
        ("by example p95", "example_ms_p95", "ms"),
        ("peak resident memory", "peak_rss_mib", "MiB"),
    ] {
        if k.starts_with("example") && examples == 0 {
            continue;
        }
        println!("  {name:<28} {:>9.1} {unit}", f(k));
    }
    let store_mib = std::fs::metadata(library::store_path(tmp.path(), &root))
        .map(|m| m.len() as f64 / (1 << 20) as f64)
        .unwrap_or(f64::NAN);
    merge_report(
        key,
        json!({
            "images": images, "cores": cores, "top": top, "queries": v["queries"],
            "rank": store::DEFAULT_RANK, "shortlist": search::shortlist_len(top, images),
            "data": "synthetic: random unit directions scaled like real compact vectors; real text encoder and queries",
            "legal_check_ms_p50": f("check_ms_p50"),
            "text_encoding_ms_p50": f("encode_ms_p50"),
            "scoring_topk_ms_p50": f("rank_ms_p50"), "scoring_topk_ms_p95": f("rank_ms_p95"),
            "total_ms_p50": f("total_ms_p50"), "total_ms_p95": f("total_ms_p95"),
            "peak_rss_mib": f("peak_rss_mib"), "store_file_mib": store_mib,
            "examples": v["examples"],
            "example_ms_p50": if examples > 0 { v["example_ms_p50"].clone() } else { Value::Null },
            "example_ms_p95": if examples > 0 { v["example_ms_p95"].clone() } else { Value::Null },
            "example": "a stored image, features changed ±10%, as the example (`--image`); scoring, features of the best 200 from the cache, top-k; its own encoding not timed",
        }),
    )
}

/// Start-up: a fresh process opens the stored library of `images` images and shows results.
pub fn start(images: usize, runs: usize, common: &Common) -> Result<()> {
    let cores = picseek::model::cores();
    let (tmp, root) = synthetic_setup(images, false, common)?;
    let mut first = Vec::new();
    let mut wall = Vec::new();
    let mut last = Value::Null;
    for run in 1..=runs.max(1) {
        let (v, w) = run_probe(tmp.path(), &root, 0, 0, 50, common)?;
        println!(
            "run {run}: first results {:.0} ms after start (models {:.0} ms, store open {:.1} ms, first query {:.1} ms); process {:.0} ms",
            v["first_results_ms"].as_f64().unwrap_or(f64::NAN),
            v["load_ms"].as_f64().unwrap_or(f64::NAN),
            v["open_ms"].as_f64().unwrap_or(f64::NAN),
            v["first_query_ms"].as_f64().unwrap_or(f64::NAN),
            ms(w)
        );
        first.push(v["first_results_ms"].as_f64().unwrap_or(f64::NAN));
        wall.push(ms(w));
        last = v;
    }
    println!(
        "start to first results, {images} images stored, {cores} core(s): p50 {:.0} ms (whole process incl. exit: {:.0} ms)",
        percentile(&first, 0.5),
        percentile(&wall, 0.5)
    );
    merge_report(
        "start",
        json!({
            "images": images, "cores": cores, "runs": first.len(),
            "path": "fresh process: ONNX Runtime + scorer + text encoder load, encoder fingerprint, Library::open_stored (no scan), first query top 50",
            "first_results_ms_p50": percentile(&first, 0.5),
            "process_wall_ms_p50": percentile(&wall, 0.5),
            "load_ms": last["load_ms"], "open_ms": last["open_ms"], "first_query_ms": last["first_query_ms"],
            "page_cache": "warm (store just written)",
        }),
    )
}

/// Warm re-indexing: every file unchanged since the last index. With `synthetic`, `n` empty
/// files registered in the cache with synthetic embeddings (derived from the real ones of `dir`),
/// then the library's first store build and its unchanged re-open are timed too.
pub fn warm(dir: &Path, synthetic: Option<usize>, runs: usize, common: &Common) -> Result<()> {
    use rand::{Rng, SeedableRng};
    let cores = picseek::model::cores();
    let models = super::models_dir(common)?;
    let encoder = ImageEncoder::load(&models)?;
    let fingerprint = view_fingerprint(&encoder, false);
    let tmp = tempfile::tempdir().context("temporary cache")?;
    let cache = Cache::open(&tmp.path().join("cache"))?;
    let (scorer, people) = super::legal_models(&models)?;
    let check = ImageCheck::new(&scorer, &people);
    let first = super::index::index_with_progress(
        dir,
        &cache,
        &encoder,
        check.as_ref(),
        &super::index_options(common),
    )?;
    let root = match synthetic {
        None => dir.to_path_buf(),
        Some(n) => {
            let bases: Vec<ImageRecord> = first
                .indexed
                .iter()
                .filter_map(|(_, h)| cache.embedding(&fingerprint, h))
                .collect();
            anyhow::ensure!(!bases.is_empty(), "no images indexed in {}", dir.display());
            let photos = tmp.path().join("photos");
            eprintln!("picseek: creating {n} synthetic files and cache entries…");
            let t = Instant::now();
            (0..n).into_par_iter().try_for_each(|i| -> Result<()> {
                let path = photos.join(format!("DCIM/{:04}/IMG_{i:07}.jpg", i / 1000));
                if i % 1000 == 0 {
                    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
                }
                Ok(())
            })?;
            (0..n).into_par_iter().try_for_each(|i| -> Result<()> {
                let path = photos.join(format!("DCIM/{:04}/IMG_{i:07}.jpg", i / 1000));
                std::fs::write(&path, b"")?;
                let mtime_ns = std::fs::metadata(&path)?
                    .modified()?
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_nanos() as i128;
                let hash = *blake3::hash(&(i as u64).to_le_bytes()).as_bytes();
                let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
                let base = &bases[i % bases.len()];
                let mut record = base.clone();
                for v in record.embedding.features.iter_mut() {
                    *v = *v * (1.0 + 0.2 * rng.random_range(-1.0f32..1.0))
                        + 0.05 * rng.random_range(-1.0f32..1.0);
                }
                cache.put_embedding(&fingerprint, &hash, &record)?;
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
            photos
        }
    };
    let mut results = Vec::new();
    for run in 1..=runs.max(1) {
        let r = index::index_dir(
            &root,
            &cache,
            &encoder,
            check.as_ref(),
            &IndexOptions::default(),
            &mut |_| {},
        )?;
        anyhow::ensure!(r.encoded == 0, "warm run encoded {} images", r.encoded);
        println!(
            "run {run}: {} files, {} unchanged, {:.3} s (scan/stat {:.3} s, cache lookups {:.3} s)",
            r.found,
            r.cached,
            r.elapsed.as_secs_f64(),
            r.stages.scan.as_secs_f64(),
            r.stages.lookup.as_secs_f64()
        );
        results.push(r);
    }
    let best = results
        .iter()
        .min_by_key(|r| r.elapsed)
        .expect("at least one run");
    let secs: Vec<f64> = results.iter().map(|r| r.elapsed.as_secs_f64()).collect();
    println!(
        "warm re-index of {} unchanged files on {cores} core(s): best {:.3} s, median {:.3} s",
        best.found,
        best.elapsed.as_secs_f64(),
        percentile(&secs, 0.5)
    );
    let mut entry = json!({
        "dir": if synthetic.is_some() { "synthetic (empty files, cache entries written directly)".to_string() } else { dir.display().to_string() },
        "cores": cores, "files": best.found, "runs_s": secs,
        "best_s": best.elapsed.as_secs_f64(), "median_s": percentile(&secs, 0.5),
        "scan_stat_s": best.stages.scan.as_secs_f64(), "cache_lookup_s": best.stages.lookup.as_secs_f64(),
    });
    if synthetic.is_some() {
        let t = Instant::now();
        let build_for = || {
            Library::build_for(
                &root,
                &best.indexed,
                &cache,
                &fingerprint,
                &scorer,
                check.as_ref(),
            )
        };
        let lib = build_for()?;
        let build = t.elapsed();
        let (len, withheld) = (lib.len(), lib.withheld());
        drop(lib);
        let t = Instant::now();
        let lib = build_for()?;
        let reopen = t.elapsed();
        println!(
            "search store for {} files: first build {:.1} s ({len} searchable, {withheld} withheld), unchanged re-open {:.0} ms ({:?})",
            best.found,
            build.as_secs_f64(),
            ms(reopen),
            lib.origin
        );
        entry["store_first_build_s"] = json!(build.as_secs_f64());
        entry["store_unchanged_reopen_ms"] = json!(ms(reopen));
        entry["searchable"] = json!(len);
        entry["withheld"] = json!(withheld);
        // The terminal UI started over this folder, as `picseek DIR -q QUERY`: the cache (its
        // sled database holds every synthetic entry) is opened afresh.
        drop(lib);
        drop(cache);
        let mut ui_common = common.clone();
        ui_common.cache = Some(tmp.path().join("cache"));
        let (mut rt, mut term, load, first) = super::bench_tui::start_to_results(
            &root,
            "dog running on grass",
            Path::new("data"),
            &tmp.path().join("annotations.tsv"),
            picseek::tui::DEBOUNCE,
            &ui_common,
        )?;
        // Its background re-index of the folder ends before the folder is removed.
        super::bench_tui::finish_indexing(&mut rt, &mut term)?;
        drop(rt);
        let total = load + first;
        println!(
            "terminal UI over {} cached files: first frame with results {:.0} ms after start (cache folder and models {:.0} ms, stored library and first search {:.0} ms)",
            best.found,
            ms(total),
            ms(load),
            ms(first)
        );
        entry["tui_first_results_ms"] = json!(ms(total));
        entry["tui_load_ms"] = json!(ms(load));
    }
    let key = if synthetic.is_some() {
        "warm_index_synthetic"
    } else {
        "warm_index"
    };
    merge_report(key, entry)
}

/// Ranking agreement of the store with full precision on the real data: the test queries over
/// data/train_images + data/test_images, plus a sweep of the reduced rank.
pub fn agreement(data: &Path, scale: usize, common: &Common) -> Result<()> {
    let cores = picseek::model::cores();
    let models = super::models_dir(common)?;
    let encoder = ImageEncoder::load(&models)?;
    let text = TextEncoder::load(&models)?;
    let (scorer, people) = super::legal_models(&models)?;
    let check = ImageCheck::new(&scorer, &people);
    let fingerprint = view_fingerprint(&encoder, false);
    let tmp = tempfile::tempdir().context("temporary cache")?;
    let cache_dir = common
        .cache
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let cache = Cache::open(&cache_dir)?;
    let mut indexed = Vec::new();
    for sub in ["train_images", "test_images"] {
        let r = super::index::index_with_progress(
            &data.join(sub),
            &cache,
            &encoder,
            check.as_ref(),
            &super::index_options(common),
        )?;
        indexed.extend(r.indexed);
    }
    let library = Library::build_for(
        data,
        &indexed,
        &cache,
        &fingerprint,
        &scorer,
        check.as_ref(),
    )?;
    let st = library.store().context("nothing searchable")?;
    let n = library.len();
    let hash_of: HashMap<&Path, &ContentHash> =
        indexed.iter().map(|(p, h)| (p.as_path(), h)).collect();
    let dim = scorer.compact_dim();
    let rows: Vec<Vec<f32>> = (0..n)
        .into_par_iter()
        .map(|i| -> Result<Vec<f32>> {
            let h = hash_of[library.path(i)];
            let rec = cache
                .embedding(&fingerprint, h)
                .context("embedding missing")?;
            Ok(scorer.image_vector(&rec.embedding))
        })
        .collect::<Result<_>>()?;
    let zmat = Array2::from_shape_vec((n, dim), rows.concat())?;
    let names: Vec<String> = library
        .paths()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let is_test: Vec<bool> = library
        .paths()
        .map(|p| p.parent().and_then(|d| d.file_name()) == Some("test_images".as_ref()))
        .collect();
    let all: Vec<usize> = (0..n).collect();
    let test_rows: Vec<usize> = all.iter().copied().filter(|&i| is_test[i]).collect();
    let train_rows: Vec<usize> = all.iter().copied().filter(|&i| !is_test[i]).collect();
    let qs = allowed_queries(data)?;
    eprintln!("picseek: encoding {} queries…", qs.len());
    let queries: Vec<(Vec<f32>, Option<usize>)> = qs
        .iter()
        .map(|(q, image)| {
            Ok((
                scorer.query_vector(&text.encode_one(q.trim())?),
                names.iter().position(|nm| nm == image),
            ))
        })
        .collect::<Result<_>>()?;
    let index_of: HashMap<&Path, usize> =
        library.paths().enumerate().map(|(i, p)| (p, i)).collect();

    // Best k of `rows` by score (ties to the lower index), and reciprocal rank of `rel`.
    let top_of = |scores: &[f32], rows: &[usize], k: usize| -> Vec<usize> {
        let mut t = TopK::new(k);
        for &i in rows {
            t.push(scores[i], i);
        }
        t.into_sorted().into_iter().map(|(_, i)| i).collect()
    };
    let rr = |scores: &[f32], rows: &[usize], rel: Option<usize>, cutoff: usize| -> f64 {
        let Some(rel) = rel.filter(|r| rows.contains(r)) else {
            return 0.0;
        };
        let rank = 1 + rows
            .iter()
            .filter(|&&j| j != rel && scores[j] >= scores[rel])
            .count();
        if rank <= cutoff {
            1.0 / rank as f64
        } else {
            0.0
        }
    };
    let overlap = |a: &[usize], b: &[usize]| -> f64 {
        a.iter().filter(|x| b.contains(x)).count() as f64 / a.len().max(1) as f64
    };
    let exact: Vec<Vec<f32>> = queries
        .iter()
        .map(|(q, _)| zmat.dot(&ArrayView1::from(q)).to_vec())
        .collect();

    // 1. The product path over all images.
    let (mut ov_store, mut ov_int8, mut mrr_exact, mut mrr_int8, mut mrr10_exact, mut mrr10_store) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let opts = Options {
        top: 10,
        min_score: 0.0,
    };
    for ((q, rel), ex) in queries.iter().zip(&exact) {
        let want = top_of(ex, &all, 10);
        let got: Vec<usize> = library
            .rank(&scorer, q, opts)
            .iter()
            .map(|h| index_of[h.path.as_path()])
            .collect();
        let (t, _) = st.basis().query(q);
        let approx = approx_scores(st.codes(), st.scales(), st.basis().rank, &t);
        ov_store += overlap(&want, &got);
        ov_int8 += overlap(&want, &top_of(&approx, &all, 10));
        mrr_exact += rr(ex, &all, *rel, usize::MAX);
        mrr_int8 += rr(&approx, &all, *rel, usize::MAX);
        mrr10_exact += rr(ex, &all, *rel, 10);
        let store_rr = rel
            .and_then(|r| got.iter().position(|&g| g == r))
            .map_or(0.0, |p| 1.0 / (p + 1) as f64);
        mrr10_store += store_rr;
    }
    let nq = queries.len() as f64;
    println!(
        "ranking agreement, {} allowed test queries over {n} searchable images ({} withheld), rank {}, {cores} core(s)",
        queries.len(),
        library.withheld(),
        st.basis().rank
    );
    println!("  {:<44} {:>8}", "measure", "value");
    for (name, v) in [
        (
            "top-10 overlap, store (int8 + exact rescoring)",
            ov_store / nq,
        ),
        ("top-10 overlap, int8 alone", ov_int8 / nq),
        ("MRR@10 exact", mrr10_exact / nq),
        ("MRR@10 store", mrr10_store / nq),
        ("MRR exact (full ranking)", mrr_exact / nq),
        ("MRR int8 alone (full ranking)", mrr_int8 / nq),
    ] {
        println!("  {name:<44} {v:>8.4}");
    }

    // 2. Rank sweep, int8 alone: basis fitted on the library (as the product does), and
    //    out of sample: fitted on the training images, ranking the 100 test images.
    println!("  rank sweep, int8 alone (no rescoring): top-10 overlap / MRR");
    println!(
        "  {:>5} {:>16} {:>16} {:>20}",
        "rank", "library fit", "", "train fit → test"
    );
    let mut sweep = Vec::new();
    let sample_of = |rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .take(store::FIT_SAMPLE)
            .flat_map(|&i| zmat.row(i).to_vec())
            .collect()
    };
    let lib_sample = sample_of(&all);
    let train_sample = sample_of(&train_rows);
    for rank in [32usize, 64, 128, 192, 256, 384, 512] {
        let mut fig = Vec::new();
        for (sample, rows) in [(&lib_sample, &all), (&train_sample, &test_rows)] {
            let basis = Basis::fit(sample, dim, rank, 0);
            let c = basis.project(zmat.view());
            let mut codes = vec![0i8; n * basis.rank];
            let mut scales = vec![0f32; n];
            for (i, row) in c.rows().into_iter().enumerate() {
                scales[i] = store::quantize(
                    row.as_slice().expect("contiguous"),
                    &mut codes[i * basis.rank..(i + 1) * basis.rank],
                );
            }
            let (mut ov, mut mrr) = (0.0, 0.0);
            for ((q, rel), ex) in queries.iter().zip(&exact) {
                let (t, _) = basis.query(q);
                let approx = approx_scores(&codes, &scales, basis.rank, &t);
                ov += overlap(&top_of(ex, rows, 10), &top_of(&approx, rows, 10));
                mrr += rr(&approx, rows, *rel, usize::MAX);
            }
            fig.push((ov / nq, mrr / nq));
        }
        let mrr_test_exact: f64 = queries
            .iter()
            .zip(&exact)
            .map(|((_, rel), ex)| rr(ex, &test_rows, *rel, usize::MAX))
            .sum::<f64>()
            / nq;
        println!(
            "  {rank:>5} {:>8.4} / {:.4} {:>9} {:>8.4} / {:.4} (exact MRR {:.4})",
            fig[0].0, fig[0].1, "", fig[1].0, fig[1].1, mrr_test_exact
        );
        sweep.push(json!({
            "rank": rank,
            "library_fit": {"top10_overlap": fig[0].0, "mrr": fig[0].1},
            "train_fit_test_images": {"top10_overlap": fig[1].0, "mrr": fig[1].1, "exact_mrr": mrr_test_exact},
        }));
    }
    // 3. At scale: `scale` images made from the real embeddings (perturbed features through the
    //    real scorer); the store's path (int8 shortlist, exact rescoring) against exact top 10.
    let base: Vec<ImageEmbedding> = indexed
        .iter()
        .filter_map(|(_, h)| cache.embedding(&fingerprint, h).map(|r| r.embedding))
        .collect();
    let scale_fig = scale_agreement(&base, &scorer, &queries, scale, &[64, 128, 256]);
    merge_report(
        "agreement",
        json!({
            "at_scale": scale_fig,
            "cores": cores, "queries": queries.len(), "searchable": n, "withheld": library.withheld(),
            "rank": st.basis().rank, "fitted_on": st.basis().fitted_on,
            "shortlist_top10": search::shortlist_len(10, n),
            "top10_overlap_store": ov_store / nq, "top10_overlap_int8_alone": ov_int8 / nq,
            "mrr10_exact": mrr10_exact / nq, "mrr10_store": mrr10_store / nq,
            "mrr_exact": mrr_exact / nq, "mrr_int8_alone": mrr_int8 / nq,
            "rank_sweep_int8_alone": sweep,
        }),
    )
}

/// Top-10 agreement at scale: `n` synthetic images made by perturbing real embeddings, ranked
/// exactly and by each rank's int8 shortlist + exact rescoring (as `Library::rank` does).
fn scale_agreement(
    base: &[ImageEmbedding],
    scorer: &Scorer,
    queries: &[(Vec<f32>, Option<usize>)],
    n: usize,
    ranks: &[usize],
) -> Value {
    use rand::{Rng, SeedableRng};
    if n == 0 || base.is_empty() {
        return Value::Null;
    }
    eprintln!("picseek: agreement at scale: {n} images from perturbed real embeddings…");
    let dim = scorer.compact_dim();
    let embeddings: Vec<ImageEmbedding> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
            let mut e = base[i % base.len()].clone();
            for v in e.features.iter_mut() {
                *v = *v * (1.0 + 0.2 * rng.random_range(-1.0f32..1.0))
                    + 0.05 * rng.random_range(-1.0f32..1.0);
            }
            e
        })
        .collect();
    let refs: Vec<&ImageEmbedding> = embeddings.iter().collect();
    let parts: Vec<Array2<f32>> = refs
        .par_chunks(1024)
        .map(|c| scorer.image_vectors(c))
        .collect();
    drop(embeddings);
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let zmat = ndarray::concatenate(ndarray::Axis(0), &views).expect("same widths");
    drop(parts);
    let qs: Vec<&Vec<f32>> = queries.iter().map(|(q, _)| q).take(100).collect();
    let exact: Vec<Vec<usize>> = qs
        .par_iter()
        .map(|q| {
            let s = zmat.dot(&ArrayView1::from(q.as_slice()));
            let mut t = TopK::new(10);
            for (i, v) in s.iter().enumerate() {
                t.push(*v, i);
            }
            t.into_sorted().into_iter().map(|(_, i)| i).collect()
        })
        .collect();
    let shorts = [200usize, 500, 1000, 3000, 5000, 10000];
    println!(
        "  at scale: {n} images from perturbed real embeddings, {} queries; top-10 overlap with exact",
        qs.len()
    );
    println!(
        "  {:>5} {:>10} {}",
        "rank",
        "int8 alone",
        shorts
            .iter()
            .map(|s| format!("{:>12}", format!("rescore {s}")))
            .collect::<String>()
    );
    let sample: Vec<f32> = zmat
        .rows()
        .into_iter()
        .step_by((n / store::FIT_SAMPLE).max(1))
        .take(store::FIT_SAMPLE)
        .flat_map(|r| r.to_vec())
        .collect();
    let mut out = Vec::new();
    for &rank in ranks {
        let basis = Basis::fit(&sample, dim, rank, 0);
        let mut codes = vec![0i8; n * basis.rank];
        let mut scales = vec![0f32; n];
        codes
            .par_chunks_mut(basis.rank * 1024)
            .zip(scales.par_chunks_mut(1024))
            .enumerate()
            .for_each(|(c, (codes, scales))| {
                let start = c * 1024;
                let z = zmat.slice(ndarray::s![start..start + scales.len(), ..]);
                let proj = basis.project(z);
                for (i, row) in proj.rows().into_iter().enumerate() {
                    scales[i] = store::quantize(
                        row.as_slice().expect("contiguous"),
                        &mut codes[i * basis.rank..(i + 1) * basis.rank],
                    );
                }
            });
        let mut ov_int8 = 0.0;
        let mut ov_store = vec![0.0; shorts.len()];
        for (q, want) in qs.iter().zip(&exact) {
            let (t, _) = basis.query(q);
            let approx = approx_scores(&codes, &scales, basis.rank, &t);
            let mut t1 = TopK::new(*shorts.last().expect("non-empty"));
            for (i, v) in approx.iter().enumerate() {
                t1.push(*v, i);
            }
            let cands = t1.into_sorted();
            let ov = |a: &[usize]| a.iter().filter(|x| want.contains(x)).count() as f64 / 10.0;
            let int8_top: Vec<usize> = cands.iter().take(10).map(|c| c.1).collect();
            ov_int8 += ov(&int8_top);
            for (k, &short) in shorts.iter().enumerate() {
                let mut t2 = TopK::new(10);
                for &(_, i) in cands.iter().take(short) {
                    t2.push(zmat.row(i).dot(&ArrayView1::from(q.as_slice())), i);
                }
                let store_top: Vec<usize> = t2.into_sorted().into_iter().map(|(_, i)| i).collect();
                ov_store[k] += ov(&store_top);
            }
        }
        let nq = qs.len() as f64;
        println!(
            "  {rank:>5} {:>10.4} {}",
            ov_int8 / nq,
            ov_store
                .iter()
                .map(|v| format!("{:>12.4}", v / nq))
                .collect::<String>()
        );
        out.push(json!({
            "rank": rank, "top10_overlap_int8_alone": ov_int8 / nq,
            "top10_overlap_rescored": shorts.iter().zip(&ov_store).map(|(s, v)| json!({"shortlist": s, "overlap": v / nq})).collect::<Vec<_>>(),
        }));
    }
    json!({"images": n, "queries": qs.len(), "data": "perturbed real embeddings (features x (1 +/- 0.2) +/- 0.05) through the real scorer", "by_rank": out})
}

fn approx_scores(codes: &[i8], scales: &[f32], rank: usize, t: &[f32]) -> Vec<f32> {
    let (tq, inv) = store::quantize_query(t);
    codes
        .chunks_exact(rank.max(1))
        .zip(scales)
        .map(|(c, &s)| store::approx_dot(c, s, &tq, inv))
        .collect()
}

/// Writes `n` phone-camera-size JPEGs (4000×3000, quality 90) made from the images of `dir`:
/// upscaled, with sensor-like noise, so they decode like real photos rather than flat colour.
pub fn generate_jpegs(dir: &Path, n: usize, out: &Path) -> Result<()> {
    use rand::{Rng, SeedableRng};
    let sources = picseek::index::scan(dir)?.files;
    anyhow::ensure!(!sources.is_empty(), "no images in {}", dir.display());
    std::fs::create_dir_all(out)?;
    (0..n).into_par_iter().try_for_each(|i| -> Result<()> {
        let src = &sources[i % sources.len()].path;
        let img = preprocess::decode(&std::fs::read(src)?)?;
        let (w, h) = if img.width() >= img.height() {
            (4000, 3000)
        } else {
            (3000, 4000)
        };
        let mut big = image::imageops::resize(&img, w, h, image::imageops::FilterType::CatmullRom);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
        for v in big.iter_mut() {
            *v = (f32::from(*v) + rng.random_range(-6.0f32..6.0)).clamp(0.0, 255.0) as u8;
        }
        let file = std::fs::File::create(out.join(format!("IMG_{i:05}.jpg")))?;
        let mut enc =
            image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90);
        enc.encode_image(&big)?;
        Ok(())
    })
}

/// Cold indexing of generated 12-megapixel JPEGs, and how close the DCT-scaled decode's
/// embeddings are to a full decode's.
pub fn index_12mp(source: &Path, n: usize, runs: usize, common: &Common) -> Result<()> {
    let tmp = tempfile::tempdir().context("temporary folder")?;
    let dir = tmp.path().join("12mp");
    eprintln!("picseek: generating {n} 12-megapixel JPEGs…");
    let t = Instant::now();
    generate_jpegs(source, n, &dir)?;
    let files = picseek::index::scan(&dir)?.files;
    let mean_mib =
        files.iter().map(|f| f.size as f64).sum::<f64>() / files.len() as f64 / 1048576.0;
    eprintln!(
        "picseek: generated in {:.1} s, {mean_mib:.1} MiB each on average",
        t.elapsed().as_secs_f64()
    );
    let encoder = super::image_encoder(common)?;
    let (scorer, people) = super::legal_models(&super::models_dir(common)?)?;
    let check = ImageCheck::new(&scorer, &people);
    // Embedding agreement, DCT-scaled vs full decode, on the first few.
    let mut cosines = Vec::new();
    let mut same_top = 0;
    let mut resizer = fast_image_resize::Resizer::new();
    for f in files.iter().take(8) {
        let bytes = std::fs::read(&f.path)?;
        let scaled = preprocess::tensor_from_bytes(&bytes, &mut resizer)?.tensor;
        let img = preprocess::decode(&bytes)?;
        let square = preprocess::to_square(&img, &mut resizer)?;
        let mut full = vec![0.0; preprocess::TENSOR_LEN];
        preprocess::write_tensor(&square, false, &mut full);
        let e = encoder.encode(&[&scaled, &full])?;
        cosines.push(cosine(&e[0].features, &e[1].features));
        same_top += usize::from(e[0].top_classes[0].0 == e[1].top_classes[0].0);
    }
    let mut results = Vec::new();
    for run in 1..=runs.max(1) {
        let cache_tmp = tempfile::tempdir().context("temporary cache")?;
        let cache = Cache::open(cache_tmp.path())?;
        let r = super::index::index_with_progress(
            &dir,
            &cache,
            &encoder,
            check.as_ref(),
            &super::index_options(common),
        )?;
        print_index_run(run, &r);
        results.push(r);
    }
    let best = fastest(&results);
    let cores = picseek::model::cores();
    let min_cos = cosines.iter().copied().fold(f64::INFINITY, f64::min);
    let mean_cos = cosines.iter().sum::<f64>() / cosines.len().max(1) as f64;
    println!(
        "cold index of {n} generated 12 MP JPEGs: best {:.1} images/s on {cores} core(s); DCT-scaled vs full decode: feature cosine mean {mean_cos:.4}, min {min_cos:.4}, same top class {same_top}/{}",
        best.rate(),
        cosines.len()
    );
    merge_report(
        "cold_index_12mp",
        json!({
            "images": n, "size": "4000x3000 (or 3000x4000), JPEG quality 90, upscaled data/train_images + noise",
            "mean_file_mib": mean_mib, "cores": cores, "batch": common.batch,
            "runs_images_per_s": results.iter().map(IndexReport::rate).collect::<Vec<_>>(),
            "images_per_s": best.rate(), "seconds": best.elapsed.as_secs_f64(),
            "ms_per_image": ms_per_image_json(best),
            "dct_vs_full_decode": {"images": cosines.len(), "feature_cosine_mean": mean_cos, "feature_cosine_min": min_cos, "same_top_class": same_top},
        }),
    )
}
