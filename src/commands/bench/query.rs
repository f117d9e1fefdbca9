//! `picseek bench query`, `memory` and `start`: a fresh process (`bench probe`) opens a
//! synthetic stored library, shows the first results, then times queries and searches by
//! example and reports its peak memory.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use picseek::engine::{Outcome, Session};
use picseek::legal;
use picseek::library::{self, Library, Options};
use picseek::model::Scorer;
use picseek::query::Query;
use picseek::search::{Plan, TermVector};
use picseek::store;
use serde_json::{json, Value};

use super::report::{memory_mib, merge_report, ms, percentile};
use super::synthetic;
use crate::cli::{BenchQueryArgs, BenchStartArgs, ProbeArgs};
use crate::commands::Ctx;

/// The test queries the legal filter lets through, with the name of their source image.
pub(super) fn allowed_queries(data: &Path) -> Result<Vec<(String, String)>> {
    let ds = picseek::dataset::load(data)?;
    Ok(ds
        .test_queries
        .iter()
        .filter(|q| !legal::check_query(&q.query_text).is_blocked())
        .map(|q| (q.query_text.clone(), q.image.clone()))
        .collect())
}

/// The start-up path of a front end, in a fresh process (`picseek bench probe`): load the
/// models, open the stored library of `root` without scanning, run the first query; then time
/// `queries` more and report the peak resident memory. Prints one JSON line.
pub fn probe(a: &ProbeArgs, ctx: &Ctx) -> Result<()> {
    let (root, data, queries, examples, top) =
        (&a.root, &a.data.data, a.queries, a.examples, a.top);
    // The bench's own input, read before the clock starts: a user's query comes from the
    // command line.
    let qs = allowed_queries(data)?;
    let t0 = Instant::now();
    let models = ctx.models()?;
    let scorer = models.scorer()?;
    let text = models.text()?;
    let session = ctx.session()?;
    let loaded = t0.elapsed();
    let rss_loaded = memory_mib().1;
    let library = session
        .stored(root)?
        .with_context(|| format!("no stored library for {}", root.display()))?;
    let opened = t0.elapsed();
    let rss_opened = memory_mib().1;
    let options = Options {
        top,
        min_score: 0.0,
    };
    let first_query = legal::check_terms(Query::text(&qs[0].0))
        .map_err(|r| anyhow::anyhow!("the first query was refused: {r}"))?;
    let first = session.search(&first_query, &library, options)?;
    let first_results = t0.elapsed();
    let rss_first = memory_mib().1;
    let Outcome::Results { hits, .. } = first else {
        anyhow::bail!("the first query was blocked");
    };
    let (mut check, mut encode, mut rank, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (q, _) in qs.iter().cycle().skip(1).take(queries) {
        let t = Instant::now();
        if legal::check_terms(Query::text(q)).is_err() {
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
    let (pass, floor) = if queries > 0 {
        int8_pass_and_floor(&library, &scorer, &text, &qs, options)?
    } else {
        (Vec::new(), Vec::new())
    };
    let example_ms = time_examples(&library, &scorer, session, examples, options)?;
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
            "int8_pass_ms_p50": percentile(&pass, 0.5),
            "bandwidth_floor_ms_p50": percentile(&floor, 0.5),
            "peak_rss_mib": hwm, "rss_mib": rss,
            "rss_mib_after": {"models": rss_loaded, "store_open": rss_opened, "first_query": rss_first},
        })
    );
    Ok(())
}

/// Where scoring's time goes: the int8 pass alone (the shortlist of a text query, as
/// `Library::rank` makes it), and the floor any pass has here: reading the store's int8 codes
/// and scales once on all cores (summing them, nothing else). Milliseconds, 30 runs each.
fn int8_pass_and_floor(
    library: &Library,
    scorer: &Scorer,
    text: &picseek::model::TextEncoder,
    qs: &[(String, String)],
    options: Options,
) -> Result<(Vec<f64>, Vec<f64>)> {
    use rayon::prelude::*;
    let Some(store) = library.store() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let k = picseek::search::shortlist_len(options.top, store.len());
    let mut pass = Vec::new();
    for (q, _) in qs.iter().take(30) {
        let plan = Plan {
            plus: vec![TermVector::Text(
                scorer.query_vector(&text.encode_one(q.trim())?),
            )],
            minus: Vec::new(),
        };
        let (t, _) = store.basis().query(&plan.proxy(scorer));
        let started = Instant::now();
        std::hint::black_box(store.shortlist(&t, k));
        pass.push(ms(started.elapsed()));
    }
    let mut floor = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        // Wrapping byte sums: vectorised to 32 bytes an instruction, so memory is the limit.
        let codes: i8 = store
            .codes()
            .par_chunks(1 << 16)
            .map(|c| c.iter().fold(0i8, |a, &b| a.wrapping_add(b)))
            .reduce(|| 0, i8::wrapping_add);
        let scales: f32 = store
            .scales()
            .par_chunks(1 << 14)
            .map(|c| c.iter().sum::<f32>())
            .sum();
        std::hint::black_box((codes, scales));
        floor.push(ms(started.elapsed()));
    }
    Ok((pass, floor))
}

/// Times `n` searches by example over `library` (ms each): the example is a stored image with
/// its features changed a little (a copy), its compact vector the stored one; features of the
/// candidates come from the cache. The example's own encoding is not part of it.
fn time_examples(
    library: &Library,
    scorer: &Scorer,
    session: &Session,
    n: usize,
    options: Options,
) -> Result<Vec<f64>> {
    use rand::{Rng, SeedableRng};
    let Some(store) = library.store() else {
        return Ok(Vec::new());
    };
    session.cache()?;
    let features = |h: &[u8; 32]| session.features(h);
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
    ctx: &Ctx,
) -> Result<(Value, Duration)> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("--cache").arg(cache_dir);
    cmd.arg("--declarations")
        .arg(cache_dir.join(synthetic::NO_DECLARATIONS));
    if let Some(m) = &ctx.common.models {
        cmd.arg("--models").arg(m);
    }
    if let Some(o) = &ctx.common.ort_lib {
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

/// Query latency (and peak memory) over a synthetic library of `images` images.
pub fn run(a: &BenchQueryArgs, key: &str, ctx: &Ctx) -> Result<()> {
    let (images, queries, top, examples) = (a.images, a.queries, a.top, a.examples);
    let cores = picseek::model::cores();
    let (tmp, root) = synthetic::setup(images, examples > 0, ctx)?;
    let (v, _) = run_probe(tmp.path(), &root, queries, examples, top, ctx)?;
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
        ("  of which int8 pass p50", "int8_pass_ms_p50", "ms"),
        ("  bandwidth floor p50", "bandwidth_floor_ms_p50", "ms"),
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
            "rank": store::DEFAULT_RANK, "shortlist": picseek::search::shortlist_len(top, images),
            "data": "synthetic: random unit directions scaled like real compact vectors; real text encoder and queries",
            "legal_check_ms_p50": f("check_ms_p50"),
            "text_encoding_ms_p50": f("encode_ms_p50"),
            "scoring_topk_ms_p50": f("rank_ms_p50"), "scoring_topk_ms_p95": f("rank_ms_p95"),
            "int8_pass_ms_p50": f("int8_pass_ms_p50"),
            "bandwidth_floor_ms_p50": f("bandwidth_floor_ms_p50"),
            "bandwidth_floor": "the store's int8 codes and scales read once on all cores (summed)",
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
pub fn start(a: &BenchStartArgs, ctx: &Ctx) -> Result<()> {
    let (images, runs) = (a.images, a.runs);
    let cores = picseek::model::cores();
    let (tmp, root) = synthetic::setup(images, false, ctx)?;
    let mut first = Vec::new();
    let mut wall = Vec::new();
    let mut last = Value::Null;
    for run in 1..=runs.max(1) {
        let (v, w) = run_probe(tmp.path(), &root, 0, 0, 50, ctx)?;
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
