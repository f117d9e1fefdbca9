//! `picseek bench tui`: the terminal UI's latency, measured by running its own loop (workers,
//! debounce, drawing) on an off-screen 120×40 terminal with scripted keystrokes.
//!
//! - start: from loading the models to the first frame showing results for a preset query
//!   (with `--synthetic N`, over N cached files);
//! - typing: the query is typed one key at a time at several speeds; the figure is the time
//!   from the last keystroke to the frame that shows that query's results.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use picseek::engine::Session;
use picseek::tui::app::{Action, IndexStatus, Results};
use picseek::tui::preview::{PreviewMode, Protocol};
use picseek::tui::{self, Runtime};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::json;

use super::report::{merge_report, ms, percentile};
use super::synthetic;
use crate::cli::BenchTuiArgs;
use crate::commands::Ctx;

/// Milliseconds between keystrokes: a fast typist, an average one, a slow one.
const SPEEDS_MS: [u64; 3] = [80, 150, 250];
/// Longest wait for anything in the benchmark.
const PATIENCE: Duration = Duration::from_secs(120);

type Screen = Terminal<TestBackend>;

/// Runs the UI loop until `done` holds after a frame, or fails after [`PATIENCE`].
fn run_until(
    rt: &mut Runtime,
    term: &mut Screen,
    mut done: impl FnMut(&Runtime) -> bool,
) -> Result<()> {
    let started = Instant::now();
    loop {
        rt.pump();
        if rt.dirty {
            rt.draw(term)?;
        }
        if done(rt) {
            return Ok(());
        }
        if started.elapsed() > PATIENCE {
            bail!("the UI did not get there within {} s", PATIENCE.as_secs());
        }
        std::thread::sleep(rt.poll_timeout(Instant::now()));
    }
}

/// Runs the UI loop until `until`.
fn idle(rt: &mut Runtime, term: &mut Screen, until: Instant) -> Result<()> {
    while Instant::now() < until {
        rt.pump();
        if rt.dirty {
            rt.draw(term)?;
        }
        let left = until.saturating_duration_since(Instant::now());
        std::thread::sleep(rt.poll_timeout(Instant::now()).min(left));
    }
    Ok(())
}

/// What `picseek DIR -q QUERY` does until its first frame with results: take the cache folder,
/// start the UI's workers (the models load in the background; the stored library of DIR is
/// opened before any scan) and draw. Returns the UI (still indexing in the background) and,
/// from the start, the time to take the cache folder, to the first frame and to the first
/// frame with results.
fn start_to_results(
    dir: &Path,
    query: &str,
    data: &Path,
    annotations: &Path,
    debounce: Duration,
    ctx: &Ctx,
) -> Result<(Runtime, Screen, Start)> {
    let load_started = Instant::now();
    // Models of its own, as a fresh process would load them.
    let fresh = ctx.with_cache(ctx.cache_dir());
    let engine = std::sync::Arc::clone(fresh.session()?);
    let load = load_started.elapsed();
    let options = tui::Options {
        dir: dir.to_path_buf(),
        data: data.to_path_buf(),
        annotations: annotations.to_path_buf(),
        preview: PreviewMode::Off,
        debounce,
        query: Some(query.to_string()),
    };
    let mut term = Terminal::new(TestBackend::new(120, 40))?;
    let mut rt = Runtime::start(engine, options, Protocol::Off);
    rt.draw(&mut term)?;
    let first_frame = load_started.elapsed();
    run_until(&mut rt, &mut term, |rt| {
        !rt.dirty && matches!(&rt.app.results, Results::Found { rows, .. } if !rows.is_empty())
    })?;
    let start = Start {
        session: load,
        first_frame,
        first_results: load_started.elapsed(),
    };
    Ok((rt, term, start))
}

/// The UI's start, each time from its beginning.
struct Start {
    /// Taking the cache folder (the models are not loaded yet).
    session: Duration,
    first_frame: Duration,
    first_results: Duration,
}

/// Runs the UI until its background indexing has finished.
fn finish_indexing(rt: &mut Runtime, term: &mut Screen) -> Result<()> {
    run_until(rt, term, |rt| {
        matches!(
            rt.app.index,
            IndexStatus::Done { .. } | IndexStatus::Failed(_)
        )
    })
}

/// Warms a cache for the benchmark: everything in `a.dir` encoded and its search store
/// written, as after any earlier session; with `--synthetic N`, a folder of N files cached from
/// `a.dir`'s images under `tmp` instead. Returns the folder the UI is to open.
fn warm_cache(a: &BenchTuiArgs, ctx: &Ctx, tmp: &Path) -> Result<PathBuf> {
    // A session with models of its own, all let go before the UI takes the cache folder (as
    // an earlier process would have).
    let own = ctx.with_cache(ctx.cache_dir());
    let session = Session::open(
        own.models()?.clone(),
        ctx.cache_dir(),
        ctx.index.clone(),
        ctx.declarations(),
    )?;
    // An earlier session that searched has loaded the text encoder once (its tokenizer's
    // compact form is in the cache folder since).
    session.text()?;
    let fingerprint = session.image_fingerprint()?;
    let cache = session.cache()?;
    let report = session.index_files(&a.dir, &mut |_| {})?;
    let root = match a.synthetic {
        None => a.dir.clone(),
        Some(n) => {
            let bases: Vec<_> = report
                .indexed
                .iter()
                .filter_map(|(_, h)| cache.embedding(&fingerprint, h))
                .collect();
            let photos = tmp.join("photos");
            synthetic::folder(&photos, n, &cache, &fingerprint, &bases)?;
            photos
        }
    };
    session.index(&root, &mut |_| {})?;
    Ok(root)
}

pub fn run(a: &BenchTuiArgs, ctx: &Ctx) -> Result<()> {
    let cores = picseek::model::cores();
    let tmp = tempfile::tempdir()?;
    // A synthetic library lives in a cache of its own, removed afterwards.
    let synthetic_ctx = a
        .synthetic
        .map(|_| ctx.with_cache(&tmp.path().join("cache")));
    let ctx = synthetic_ctx.as_ref().unwrap_or(ctx);
    let dir = warm_cache(a, ctx, tmp.path())?;
    let (text, runs, args) = (&a.text, a.runs, &a.tui);
    let (mut rt, mut term, start) = start_to_results(
        &dir,
        text,
        &args.data,
        &tmp.path().join("annotations.tsv"),
        Duration::from_millis(args.debounce_ms),
        ctx,
    )?;
    finish_indexing(&mut rt, &mut term)?;
    let images = rt.app.searchable;
    let source = match a.synthetic {
        Some(n) => format!(
            "{n} synthetic files made from {}",
            picseek::display::escape_path(&a.dir)
        ),
        None => picseek::display::escape_path(&dir).to_string(),
    };
    println!(
        "picseek bench tui: {source} ({images} searchable, {} withheld, warm cache), {cores} core(s)",
        rt.app.legal.withheld
    );
    println!(
        "start → first frame: {:.0} ms (cache folder taken in {:.0} ms); → first frame with results: {:.0} ms (models loaded in the background meanwhile)",
        ms(start.first_frame),
        ms(start.session),
        ms(start.first_results),
    );
    println!("targets: first frame ≤ 150 ms, first results ≤ 400 ms");
    println!(
        "{:>10} {:>6} {:>9} {:>9} {:>9}",
        "key every", "runs", "p50 ms", "p95 ms", "max ms"
    );
    let mut typing = Vec::new();
    for speed in SPEEDS_MS {
        let mut latencies = Vec::new();
        for _ in 0..runs.max(1) {
            rt.act(Action::ClearQuery, Instant::now());
            idle(
                &mut rt,
                &mut term,
                Instant::now() + Duration::from_millis(400),
            )?;
            let t0 = Instant::now();
            let mut before_last = 0;
            for (i, c) in text.chars().enumerate() {
                idle(
                    &mut rt,
                    &mut term,
                    t0 + Duration::from_millis(speed * i as u64),
                )?;
                before_last = rt.latencies.len();
                rt.act(Action::Insert(c), Instant::now());
                if rt.dirty {
                    rt.draw(&mut term)?;
                }
            }
            run_until(&mut rt, &mut term, |rt| rt.latencies.len() > before_last)?;
            let last = *rt.latencies.last().expect("a latency was recorded");
            latencies.push(ms(last));
        }
        latencies.sort_by(f64::total_cmp);
        let (p50, p95, max) = (
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.95),
            latencies[latencies.len() - 1],
        );
        println!(
            "{:>8} ms {:>6} {p50:>9.1} {p95:>9.1} {max:>9.1}",
            speed,
            latencies.len()
        );
        typing.push(json!({"key_interval_ms": speed, "runs": latencies.len(),
            "p50_ms": p50, "p95_ms": p95, "max_ms": max}));
    }
    println!("target: last keystroke → updated list < 150 ms");
    drop(rt);
    let key = match a.synthetic {
        Some(_) => "tui_latency_synthetic",
        None => "tui_latency",
    };
    merge_report(
        key,
        json!({
            "dir": match a.synthetic {
                Some(_) => format!("synthetic (empty files, cache entries written directly from {})", a.dir.display()),
                None => dir.to_string_lossy().into_owned(),
            },
            "cores": cores,
            "images": images,
            "query": text,
            "debounce_ms": args.debounce_ms,
            "start_to_first_frame_ms": ms(start.first_frame),
            "start_to_first_results_ms": ms(start.first_results),
            "session_ms": ms(start.session),
            "start": "from taking the cache folder; the models load in the background",
            "last_key_to_list": typing,
        }),
    )
}
