//! `picseek bench ...`: figures printed as a table and merged into reports/bench.json.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use picseek::index::{Cache, IndexReport};
use serde_json::{json, Value};

use crate::cli::Common;

const REPORT: &str = "reports/bench.json";

/// Cold indexing: each run into a fresh temporary cache.
pub fn index(dir: &Path, runs: usize, common: &Common) -> Result<()> {
    let encoder = super::image_encoder(common)?;
    let cores = picseek::model::cores();
    let mut results = Vec::new();
    for run in 1..=runs.max(1) {
        let tmp = tempfile::tempdir().context("temporary cache")?;
        let cache = Cache::open(tmp.path())?;
        let r = super::index::index_with_progress(dir, &cache, &encoder, common.batch)?;
        print_index_run(run, &r);
        results.push(r);
    }
    let best = results
        .iter()
        .max_by(|a, b| a.rate().total_cmp(&b.rate()))
        .expect("at least one run");
    println!(
        "cold index of {}: best {:.1} images/s over {} run(s) on {cores} core(s)",
        picseek::display::escape_path(dir),
        best.rate(),
        results.len()
    );
    let per_image = |d: Duration| d.as_secs_f64() * 1000.0 / best.encoded.max(1) as f64;
    let s = &best.stages;
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
            "ms_per_image": {
                "read": per_image(s.read), "hash": per_image(s.hash), "decode": per_image(s.decode),
                "resize": per_image(s.resize), "encode": per_image(s.encode), "store": per_image(s.store),
            },
        }),
    )
}

fn print_index_run(run: usize, r: &IndexReport) {
    let n = r.encoded.max(1) as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / n;
    let s = &r.stages;
    println!(
        "run {run}: {} images, {} encoded, {} failed, {:.2} s, {:.1} images/s",
        r.found,
        r.encoded,
        r.failures.len(),
        r.elapsed.as_secs_f64(),
        r.rate()
    );
    println!("  stage      ms/image (summed over threads)");
    for (name, d) in [
        ("scan", s.scan),
        ("read", s.read),
        ("hash", s.hash),
        ("decode", s.decode),
        ("resize", s.resize),
        ("encode", s.encode),
        ("store", s.store),
    ] {
        println!("  {name:<10} {:>8.2}", ms(d));
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
