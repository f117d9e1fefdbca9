//! `picseek --index DIR`: pre-warm the cache, with a progress bar on a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use picseek::display::escape_path;
use picseek::engine::Indexed;
use picseek::index::{IndexReport, Progress};

use super::Ctx;

/// `picseek --index DIR`: index, check and store the folder's library, so that the next search
/// or UI start has it at once.
pub fn run(dir: &Path, ctx: &Ctx) -> Result<()> {
    let indexed = index_with_bar(dir, ctx)?;
    print_report(dir, &indexed.report);
    Ok(())
}

/// Indexes what under `dir` is not cached yet (with progress; files skipped are reported on
/// stderr) and brings the folder's library up to date: the start of every command that works
/// on a folder's images.
pub fn index_library(dir: &Path, ctx: &Ctx) -> Result<Indexed> {
    let indexed = index_with_bar(dir, ctx)?;
    for f in &indexed.report.failures {
        eprintln!("picseek: skipped: {f}");
    }
    Ok(indexed)
}

/// Indexes `dir` and brings its library up to date, with progress on stderr.
fn index_with_bar(dir: &Path, ctx: &Ctx) -> Result<Indexed> {
    let session = ctx.session()?;
    let mut progress = Bar::new();
    let indexed = session.index(dir, &mut |p| progress.show(p));
    progress.done();
    Ok(indexed?)
}

/// Progress on stderr: a bar with rate and ETA on a terminal, a plain line every two seconds
/// otherwise.
pub struct Bar {
    tty: bool,
    bar: ProgressBar,
    last_line: Instant,
}

impl Bar {
    pub fn new() -> Self {
        Bar {
            tty: std::io::stderr().is_terminal(),
            bar: ProgressBar::hidden(),
            last_line: Instant::now(),
        }
    }

    pub fn show(&mut self, p: Progress) {
        match p {
            Progress::Scanned { found, to_process } => {
                if self.tty && to_process > 0 {
                    self.bar
                        .set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    self.bar.set_length(to_process as u64);
                    self.bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} encoding [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                } else if !self.tty {
                    eprintln!("picseek: {found} images found, {to_process} to process");
                }
            }
            Progress::Processed { done, total } => {
                if self.tty {
                    self.bar.set_position(done as u64);
                } else if done == total || self.last_line.elapsed() >= Duration::from_secs(2) {
                    eprintln!("picseek: processed {done}/{total}");
                    self.last_line = Instant::now();
                }
            }
        }
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
    }
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
