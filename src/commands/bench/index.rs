//! `picseek bench index`: cold indexing throughput and per-stage times, on a folder or on
//! generated 12-megapixel JPEGs.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use picseek::engine::Session;
use picseek::index::IndexReport;
use picseek::model::preprocess;
use picseek::model::scorer::cosine;
use rayon::prelude::*;
use serde_json::{json, Value};

use super::report::merge_report;
use crate::cli::BenchIndexArgs;
use crate::commands::Ctx;

pub fn run(a: &BenchIndexArgs, ctx: &Ctx) -> Result<()> {
    match a.generate_12mp {
        Some(n) => index_12mp(&a.dir, n, a.runs, ctx),
        None => index(&a.dir, a.runs, ctx),
    }
}

/// Indexes `dir` `runs` times (at least once), each run into a fresh temporary cache with the
/// models already loaded, printing each run's figures.
fn cold_runs(dir: &Path, runs: usize, ctx: &Ctx) -> Result<Vec<IndexReport>> {
    let models = ctx.models()?;
    // Loaded before the clock starts, as in a warm process.
    models.image()?;
    models.scorer()?;
    models.people()?;
    let mut results = Vec::new();
    for run in 1..=runs.max(1) {
        let tmp = tempfile::tempdir().context("temporary cache")?;
        let session = Session::open(models.clone(), tmp.path(), ctx.index.clone(), None)?;
        let mut bar = crate::commands::index::Bar::new();
        let r = session.index_files(dir, &mut |p| bar.show(p));
        bar.done();
        let r = r?;
        print_index_run(run, &r);
        results.push(r);
    }
    Ok(results)
}

/// Cold indexing: each run into a fresh temporary cache.
fn index(dir: &Path, runs: usize, ctx: &Ctx) -> Result<()> {
    let cores = picseek::model::cores();
    let results = cold_runs(dir, runs, ctx)?;
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
            "batch": ctx.index.batch_size,
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
    let looked = v.no_person + v.adults + v.child_among_people + v.unverified;
    json!({
        "clear": v.clear, "gate_run": looked, "no_person": v.no_person, "adults": v.adults,
        "ages_estimated": v.aged, "withheld": v.withheld(),
        "check_ms_per_image": r.stages.check.as_secs_f64() * 1000.0 / r.encoded.max(1) as f64,
        "check_ms_per_looked_image": r.stages.check.as_secs_f64() * 1000.0 / looked.max(1) as f64,
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
        "  legal check: {} clear by the whole-image check, people looked for in {} ({} no person, {} adults only, {} withheld; faces aged in {})",
        v.clear,
        v.no_person + v.adults + v.child_among_people + v.unverified,
        v.no_person,
        v.adults,
        v.withheld(),
        v.aged
    );
    println!("  stage      ms/image (summed over threads)");
    for (name, ms) in ms_per_image(r) {
        println!("  {name:<10} {ms:>8.2}");
    }
}

/// Writes `n` phone-camera-size JPEGs (4000×3000, quality 90) made from the images of `dir`:
/// upscaled, with sensor-like noise, so they decode like real photos rather than flat colour.
fn generate_jpegs(dir: &Path, n: usize, out: &Path) -> Result<()> {
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
fn index_12mp(source: &Path, n: usize, runs: usize, ctx: &Ctx) -> Result<()> {
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
    let encoder = ctx.image_encoder()?;
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
    let results = cold_runs(&dir, runs, ctx)?;
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
            "mean_file_mib": mean_mib, "cores": cores, "batch": ctx.index.batch_size,
            "runs_images_per_s": results.iter().map(IndexReport::rate).collect::<Vec<_>>(),
            "images_per_s": best.rate(), "seconds": best.elapsed.as_secs_f64(),
            "ms_per_image": ms_per_image_json(best),
            "dct_vs_full_decode": {"images": cosines.len(), "feature_cosine_mean": mean_cos, "feature_cosine_min": min_cos, "same_top_class": same_top},
        }),
    )
}
