//! `picseek bench warm`: re-indexing unchanged files, and with `--synthetic N` the search
//! store's first build and unchanged re-open for N files.

use std::time::Instant;

use anyhow::{Context, Result};
use picseek::engine::Session;
use picseek::index::view_fingerprint;
use serde_json::json;

use super::report::{merge_report, ms, percentile};
use super::synthetic;
use crate::cli::BenchWarmArgs;
use crate::commands::Ctx;

/// Warm re-indexing: every file unchanged since the last index. With `synthetic`, `n` empty
/// files registered in the cache with synthetic embeddings (derived from the real ones of `dir`),
/// then the library's first store build and its unchanged re-open are timed too.
pub fn run(a: &BenchWarmArgs, ctx: &Ctx) -> Result<()> {
    let (dir, synthetic) = (&a.dir, a.synthetic);
    let cores = picseek::model::cores();
    let encoder = ctx.image_encoder()?;
    let fingerprint = view_fingerprint(&encoder, false);
    let tmp = tempfile::tempdir().context("temporary cache")?;
    let session = Session::open(
        ctx.models()?.clone(),
        &tmp.path().join("cache"),
        ctx.index.clone(),
        None,
    )?;
    let cache = session.cache()?;
    let mut bar = crate::commands::index::Bar::new();
    let first = session.index_files(dir, &mut |p| bar.show(p));
    bar.done();
    let first = first?;
    let root = match synthetic {
        None => dir.to_path_buf(),
        Some(n) => {
            let bases: Vec<_> = first
                .indexed
                .iter()
                .filter_map(|(_, h)| cache.embedding(&fingerprint, h))
                .collect();
            anyhow::ensure!(!bases.is_empty(), "no images indexed in {}", dir.display());
            let photos = tmp.path().join("photos");
            synthetic::folder(&photos, n, &cache, &fingerprint, &bases)?;
            photos
        }
    };
    let mut results = Vec::new();
    for run in 1..=a.runs.max(1) {
        let r = session.index_files(&root, &mut |_| {})?;
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
        let build_for = || session.library(&root, &best.indexed);
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
    }
    let key = if synthetic.is_some() {
        "warm_index_synthetic"
    } else {
        "warm_index"
    };
    merge_report(key, entry)
}
