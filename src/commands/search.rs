//! `picseek search QUERY [DIR]`: rank the images of a folder, print rank, score and path.

use std::io::{IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use picseek::display::escape_path;
use picseek::engine::Outcome;
use picseek::legal;
use picseek::library::{Hit, LegalSummary, Options};
use picseek::query::Query;
use picseek::tui::preview::{self, PreviewMode, Protocol};
use serde_json::json;

use super::report::{legal_json, legal_summary, with_path};
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
    let query = match legal::check_terms(query) {
        Ok(q) => q,
        Err(r) => return Ok(blocked(&r.term, r.reason, a.json)),
    };
    let indexed = super::index::index_library(dir, ctx)?;
    let session = ctx.session()?;
    let options = Options {
        top: a.top,
        min_score: a.min_score,
    };
    let started = std::time::Instant::now();
    let (hits, legal, searched) = match session.search(&query, &indexed.library, options)? {
        Outcome::Refused { term, reason } => return Ok(blocked(&term, reason, a.json)),
        Outcome::Results {
            hits,
            legal,
            searched,
        } => (hits, legal, searched),
    };
    let mut out = std::io::stdout().lock();
    let written = if a.json {
        write_json(&mut out, text, a.image.as_deref(), &hits, &legal)
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
        eprintln!("picseek: legal filter: {}", legal_summary(&legal));
    }
    Ok(ExitCode::SUCCESS)
}

fn write_json(
    out: &mut impl Write,
    query: Option<&str>,
    image: Option<&Path>,
    hits: &[Hit],
    legal: &LegalSummary,
) -> std::io::Result<()> {
    let results: Vec<_> = hits
        .iter()
        .map(|h| {
            let mut v = json!({"rank": h.rank, "score": h.score});
            if let Some(m) = &h.declared {
                v["shown_by"] = json!({"declaration": m.id, "kind": m.kind, "by": m.by,
                                       "date": m.date, "text": m.describe()});
            }
            with_path(v, &h.path)
        })
        .collect();
    let mut v = json!({"query": query, "blocked": false, "results": results,
        "withheld": legal.withheld, "legal_check": legal_json(legal)});
    if let Some(p) = image {
        v["image"] = p.to_string_lossy().into();
    }
    writeln!(out, "{v}")
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
        match &h.declared {
            Some(m) => writeln!(
                out,
                "{:>3}  {:.3}  {}  [{}]",
                h.rank,
                h.score,
                escape_path(&h.path),
                picseek::display::escape_control(&m.describe())
            )?,
            None => writeln!(
                out,
                "{:>3}  {:.3}  {}",
                h.rank,
                h.score,
                escape_path(&h.path)
            )?,
        }
        if protocol != Protocol::Off {
            out.flush()?;
            preview(&h.path, protocol);
        }
    }
    out.flush()
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
