//! `picseek --index DIR`: pre-warm the cache, with a progress bar on a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use picseek::display::escape_path;
use picseek::index::{self, view_fingerprint, IndexOptions, IndexReport, Progress};
use picseek::cache::Cache;
use picseek::legal::check::ImageCheck;
use picseek::legal::gate::PersonGate;
use picseek::library::Library;
use picseek::model::{ImageEncoder, Scorer};

use super::Ctx;

pub fn run(dir: &Path, ctx: &Ctx) -> Result<()> {
    let encoder = ctx.image_encoder()?;
    let (scorer, people) = ctx.check_models()?;
    let check = ImageCheck::new(&scorer, &people);
    let cache = ctx.open_cache()?;
    let report = index_with_progress(dir, &cache, &encoder, check.as_ref(), &ctx.index)?;
    print_report(dir, &report);
    Ok(())
}

/// A folder indexed and its library up to date, with what it took: the start of every command
/// that works on a folder's images.
pub struct Indexed {
    pub cache: Cache,
    pub encoder: Arc<ImageEncoder>,
    pub scorer: Arc<Scorer>,
    people: Arc<PersonGate>,
    pub library: Library,
    /// The image encoder's fingerprint in the cache.
    pub fingerprint: [u8; 16],
}

impl Indexed {
    /// The legal image check, as the library was built with.
    pub fn check(&self) -> Option<ImageCheck<'_>> {
        ImageCheck::new(&self.scorer, &self.people)
    }
}

/// Indexes what under `dir` is not cached yet (with progress; files skipped are reported on
/// stderr) and brings the folder's library up to date.
pub fn index_library(dir: &Path, ctx: &Ctx) -> Result<Indexed> {
    let encoder = ctx.image_encoder()?;
    let (scorer, people) = ctx.check_models()?;
    let cache = ctx.open_cache()?;
    let check = ImageCheck::new(&scorer, &people);
    let report = index_with_progress(dir, &cache, &encoder, check.as_ref(), &ctx.index)?;
    for f in &report.failures {
        eprintln!("picseek: skipped: {f}");
    }
    let fingerprint = view_fingerprint(&encoder, false);
    let library = Library::build_for(
        dir,
        &report.indexed,
        &cache,
        &fingerprint,
        &scorer,
        check.as_ref(),
    )?;
    Ok(Indexed {
        cache,
        encoder,
        scorer,
        people,
        library,
        fingerprint,
    })
}

/// Runs an index, showing progress on stderr: a bar with rate and ETA on a terminal, a plain
/// line every two seconds otherwise.
pub fn index_with_progress(
    dir: &Path,
    cache: &Cache,
    encoder: &ImageEncoder,
    check: Option<&ImageCheck>,
    options: &IndexOptions,
) -> Result<IndexReport> {
    let tty = std::io::stderr().is_terminal();
    let bar = ProgressBar::hidden();
    let mut last_line = Instant::now();
    let mut on_progress = |p: Progress| match p {
        Progress::Scanned { found, to_process } => {
            if tty && to_process > 0 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(to_process as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} encoding [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
            } else if !tty {
                eprintln!("picseek: {found} images found, {to_process} to process");
            }
        }
        Progress::Processed { done, total } => {
            if tty {
                bar.set_position(done as u64);
            } else if done == total || last_line.elapsed() >= Duration::from_secs(2) {
                eprintln!("picseek: processed {done}/{total}");
                last_line = Instant::now();
            }
        }
    };
    let report = index::index_dir(dir, cache, encoder, check, options, &mut on_progress);
    bar.finish_and_clear();
    Ok(report?)
}

pub fn print_report(dir: &Path, r: &IndexReport) {
    for f in &r.failures {
        eprintln!("picseek: failed: {f}");
    }
    println!("{}", summary(dir, r));
}

/// The one-line summary of an index run. The pace is that of the images encoded; a run that
/// encoded nothing says so instead of dividing by a few milliseconds.
fn summary(dir: &Path, r: &IndexReport) -> String {
    let secs = r.elapsed.as_secs_f64();
    let pace = match (r.encoded, r.failures.len()) {
        (0, 0) if r.cached == r.found => format!("all {} cached", r.cached),
        (0, _) => "nothing newly encoded".to_string(),
        (n, _) if secs > 0.0 => format!("{:.1} images/s encoded", n as f64 / secs),
        _ => "encoded".to_string(),
    };
    format!(
        "indexed {}: {} found, {} newly encoded, {} cached, {} failed in {:.2} s ({pace})",
        escape_path(dir),
        r.found,
        r.encoded,
        r.cached,
        r.failures.len(),
        secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(found: usize, encoded: usize, cached: usize, ms: u64) -> IndexReport {
        IndexReport {
            found,
            encoded,
            cached,
            elapsed: Duration::from_millis(ms),
            ..IndexReport::default()
        }
    }

    #[test]
    fn a_warm_run_says_all_cached_instead_of_a_rate() {
        let s = summary(Path::new("photos"), &report(1000, 0, 1000, 3));
        assert!(s.ends_with("in 0.00 s (all 1000 cached)"), "{s}");
        assert!(!s.contains("images/s"), "{s}");
        let s = summary(Path::new("photos"), &report(1000, 200, 800, 4000));
        assert!(s.ends_with("in 4.00 s (50.0 images/s encoded)"), "{s}");
        assert!(s.contains("1000 found, 200 newly encoded, 800 cached, 0 failed"));
    }
}
