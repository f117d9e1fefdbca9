//! `picseek search QUERY [DIR]`: rank the images of a folder, print rank, score and path.

use std::io::{IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use picseek::display::escape_path;
use picseek::example;
use picseek::query::Query;
use picseek::search::{self, Hit, Options, Outcome};
use picseek::tui::preview::{self, PreviewMode, Protocol};
use serde_json::json;

use super::Ctx;
use crate::cli::SearchArgs;

/// Exit code of a search the legal filter refused (documented in `picseek search --help`).
pub const EXIT_BLOCKED: u8 = 3;

pub fn run(a: &SearchArgs, ctx: &Ctx) -> Result<ExitCode> {
    // With --image, a lone positional that is a folder is the folder to search.
    let (text, dir) = match (&a.query, &a.dir) {
        (Some(q), None) if a.image.is_some() && Path::new(q).is_dir() => (None, Path::new(q)),
        (q, d) => (q.as_deref(), d.as_deref().unwrap_or(Path::new("."))),
    };
    let query = Query::build(text.unwrap_or(""), &a.not, a.image.as_deref())?;
    // The legal filter runs before anything is loaded, indexed or logged.
    if let Some(Outcome::Blocked { term, reason }) = search::check_terms(&query)? {
        return Ok(blocked(&term, reason, a.json));
    }
    let text_encoder = ctx.text()?;
    let indexed = super::index::index_library(dir, ctx)?;
    let check = indexed.check();
    let (cache, image_encoder, scorer) = (&indexed.cache, &indexed.encoder, &indexed.scorer);
    let library = &indexed.library;
    let search_options = Options {
        top: a.top,
        min_score: a.min_score,
    };
    let started = std::time::Instant::now();
    let example = |p: &Path| {
        example::prepare(p, cache, image_encoder, check.as_ref(), &ctx.index).map_err(Into::into)
    };
    let features = search::cached_features(cache, &indexed.fingerprint);
    let outcome = search::search_query(
        &query,
        library,
        &text_encoder,
        scorer,
        &example,
        &features,
        search_options,
    )?;
    let (hits, withheld, cleared, searched) = match outcome {
        Outcome::Blocked { term, reason } => return Ok(blocked(&term, reason, a.json)),
        Outcome::Results {
            hits,
            withheld,
            cleared,
            searched,
        } => (hits, withheld, cleared, searched),
    };
    let mut out = std::io::stdout().lock();
    let written = if a.json {
        write_json(&mut out, text, a.image.as_deref(), &hits, withheld, cleared)
    } else if a.files {
        write_files(&mut out, &hits, a.null)
    } else {
        write_lines(&mut out, &hits, a.preview)
    };
    match written {
        // A reader that stopped early (`| head -1`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r.context("writing the results")?,
    }
    if !a.json {
        eprintln!(
            "picseek: {} result(s) from {searched} image(s) in {:.0} ms",
            hits.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        eprintln!(
            "picseek: legal filter: {}",
            withheld_summary(withheld, cleared)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn write_json(
    out: &mut impl Write,
    query: Option<&str>,
    image: Option<&Path>,
    hits: &[Hit],
    withheld: usize,
    cleared: usize,
) -> std::io::Result<()> {
    let results: Vec<_> = hits
        .iter()
        .map(|h| with_path(json!({"rank": h.rank, "score": h.score}), &h.path))
        .collect();
    let mut v = json!({"query": query, "blocked": false, "results": results, "withheld": withheld,
        "legal_check": {"withheld_child_among_people": withheld, "shown_no_person": cleared}});
    if let Some(p) = image {
        v["image"] = p.to_string_lossy().into();
    }
    writeln!(out, "{v}")
}

/// `v` (an object) with `"path"` added, and `"path_bytes"` (base64) when the name is not UTF-8:
/// such a name cannot be written exactly as a JSON string, so its raw bytes go alongside and a
/// script can still open the file.
pub fn with_path(mut v: serde_json::Value, path: &Path) -> serde_json::Value {
    v["path"] = path.to_string_lossy().into();
    if path.to_str().is_none() {
        use base64::Engine;
        v["path_bytes"] = base64::engine::general_purpose::STANDARD
            .encode(path.as_os_str().as_bytes())
            .into();
    }
    v
}

/// Paths only: exactly as they are for a pipe (`| xargs`), escaped for a terminal.
fn write_files(out: &mut impl Write, hits: &[Hit], null: bool) -> std::io::Result<()> {
    let terminal = std::io::stdout().is_terminal();
    for h in hits {
        if terminal {
            write!(out, "{}", escape_path(&h.path))?;
        } else {
            out.write_all(h.path.as_os_str().as_bytes())?;
        }
        out.write_all(if null { b"\0" } else { b"\n" })?;
    }
    out.flush()
}

fn write_lines(out: &mut impl Write, hits: &[Hit], want_preview: bool) -> std::io::Result<()> {
    // Previews are for a person at a terminal: into a file or a pipe they would be escape codes.
    let protocol = match (want_preview, std::io::stdout().is_terminal()) {
        (false, _) => Protocol::Off,
        (true, false) => {
            eprintln!("picseek: --preview needs a terminal on stdout; no previews written");
            Protocol::Off
        }
        (true, true) => preview::detect_quietly(PreviewMode::Auto),
    };
    for h in hits {
        writeln!(
            out,
            "{:>3}  {:.3}  {}",
            h.rank,
            h.score,
            escape_path(&h.path)
        )?;
        if protocol != Protocol::Off {
            out.flush()?;
            preview(&h.path, protocol);
        }
    }
    out.flush()
}

/// What the legal image check did, in one line.
pub fn withheld_summary(withheld: usize, cleared: usize) -> String {
    let mut s = format!("{withheld} image(s) withheld (child detected among people)");
    if cleared > 0 {
        s += &format!("; {cleared} flagged by the whole-image check but shown (no person in view)");
    }
    s
}

fn blocked(term: &str, reason: &str, as_json: bool) -> ExitCode {
    if as_json {
        println!(
            "{}",
            json!({"blocked": true, "term": term, "reason": reason})
        );
    } else {
        eprintln!(
            "picseek: query blocked by the legal filter (matched '{}'): {reason}",
            picseek::display::escape_control(term)
        );
    }
    ExitCode::from(EXIT_BLOCKED)
}

/// A thumbnail under the result line: half-blocks over SSH and in tmux, kitty/iTerm2/sixel
/// where the terminal supports them.
fn preview(path: &Path, protocol: Protocol) {
    let width = terminal_width().min(60);
    let config = viuer::Config {
        absolute_offset: false,
        width: Some(width),
        transparent: true,
        ..preview::viuer_config(protocol)
    };
    // Decoded with picseek's own limits and EXIF orientation.
    let shown = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| picseek::model::preprocess::decode(&bytes).map_err(|e| e.to_string()))
        .and_then(|img| {
            viuer::print(&image::DynamicImage::ImageRgb8(img), &config).map_err(|e| e.to_string())
        });
    if let Err(e) = shown {
        eprintln!("picseek: no preview for {}: {e}", escape_path(path));
    }
}

fn terminal_width() -> u32 {
    if !std::io::stdout().is_terminal() {
        return 40;
    }
    u32::from(viuer::terminal_size().0) / 2
}
