//! Slow work off the UI thread: indexing the folder, searching, decoding previews, preparing the
//! review. Each worker reports through one channel of [`Msg`]; the search and preview workers
//! keep only the latest request (a newer query replaces one that has not started).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use image::DynamicImage;

use super::app::{IndexStatus, Results, Review, Row};
use super::job::Latest;
use crate::annotations::Knowledge;
use crate::engine::{Indexed, Outcome, Session};
use crate::index::Progress;
use crate::legal;
use crate::library::{Hit, Library, Options};
use crate::query::Query;

/// How many results the list holds.
pub const LIST_LEN: usize = 100;
/// Previews kept decoded, by the preview worker and by the UI each: the selection and its
/// neighbours at a few sizes.
pub const PREVIEWS_KEPT: usize = 16;
/// How often the library is refreshed while indexing, so results appear for what is done.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// What workers report to the UI thread.
pub enum Msg {
    Index(IndexStatus),
    /// A library to search (what is indexed so far, or all of it).
    Library(Arc<Library>),
    Searched {
        seq: u64,
        results: Results,
    },
    SearchFailed {
        seq: u64,
        error: String,
    },
    Preview(Arc<PreviewImage>),
    Knowledge(Arc<Knowledge>),
    Review(Review),
    /// The text encoder and the scorer are loaded: what the status line names them by.
    Models(String),
    /// A worker hit a problem worth a status line.
    Error(String),
}

/// What the workers share: the engine's session (models loaded once, by whichever worker needs
/// each first; the cache opened by the first that needs it).
pub type Engine = Arc<Session>;

pub struct SearchJob {
    pub seq: u64,
    pub query: String,
    pub library: Arc<Library>,
    pub knowledge: Option<Arc<Knowledge>>,
}

/// Runs searches, newest request first; stops when the mailbox closes.
pub fn search_worker(engine: Engine, jobs: Arc<Latest<SearchJob>>, tx: Sender<Msg>) {
    while let Some(job) = jobs.take() {
        let started = Instant::now();
        let options = Options {
            top: LIST_LEN,
            min_score: 0.0,
        };
        let blocked = |term: String, reason: &str| Msg::Searched {
            seq: job.seq,
            results: Results::Blocked {
                query: job.query.clone(),
                term,
                reason: reason.to_string(),
            },
        };
        let failed = |error: String| Msg::SearchFailed {
            seq: job.seq,
            error,
        };
        // The legal filter reads the query before anything else happens to it.
        let msg = match Query::parse(&job.query, &[]).map(legal::check_terms) {
            Err(e) => failed(e.to_string()),
            Ok(Err(refusal)) => blocked(refusal.term, refusal.reason),
            Ok(Ok(query)) => match engine.search(&query, &job.library, options) {
                Ok(Outcome::Refused { term, reason }) => blocked(term, reason),
                Ok(Outcome::Results { hits, searched, .. }) => {
                    let fp = engine.image_fingerprint().ok();
                    let rows = hits
                        .into_iter()
                        .map(|hit| describe(&engine, fp, &job, hit))
                        .collect();
                    Msg::Searched {
                        seq: job.seq,
                        results: Results::Found {
                            query: job.query.clone(),
                            rows,
                            searched,
                            took: started.elapsed(),
                        },
                    }
                }
                Err(e) => failed(e.to_string()),
            },
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// A result with what the details pane shows: pixel size, file size, dataset annotations.
fn describe(engine: &Engine, fp: Option<[u8; 16]>, job: &SearchJob, hit: Hit) -> Row {
    // Details the cache knows; the first searches may run before the cache is open.
    let cache = engine.cache_if_open();
    let entry = cache.as_ref().and_then(|c| c.file(&hit.path));
    let pixels = entry
        .as_ref()
        .zip(cache.as_ref())
        .zip(fp)
        .and_then(|((e, c), fp)| c.embedding(&fp, &e.hash))
        .map(|r| (r.width, r.height));
    let dataset = job.knowledge.as_ref().and_then(|k| {
        k.image_name(&hit.path)
            .map(|name| k.details(&name, &job.query))
    });
    Row {
        bytes: entry
            .map(|e| e.size)
            .or_else(|| std::fs::metadata(&hit.path).ok().map(|m| m.len())),
        pixels,
        dataset,
        hit,
    }
}

/// Indexes `root`: first offers the library stored by an earlier run (no scan needed), then
/// refreshes it every few seconds while encoding, and once more at the end.
pub fn index_worker(engine: Engine, root: PathBuf, tx: Sender<Msg>) {
    let abs = std::path::absolute(&root).unwrap_or_else(|_| root.clone());
    match engine.stored(&abs) {
        Ok(Some(lib)) => {
            let _ = tx.send(Msg::Library(Arc::new(lib)));
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("stored library: {e}"),
    }
    // The first search needs the text encoder, which the models worker is loading; the index
    // run would load the image encoder and the people models beside it on the same cores, so
    // it waits for that load (or does it, and a failure is the models worker's to report).
    let _ = engine.text();
    let _ = tx.send(Msg::Index(IndexStatus::Scanning));
    let mut last_refresh = Instant::now();
    let mut found_count = 0;
    let mut on_progress = |p: Progress| {
        let status = match p {
            Progress::Scanned { found, to_process } => {
                found_count = found;
                IndexStatus::Encoding {
                    done: 0,
                    total: to_process,
                    found,
                }
            }
            Progress::Processed { done, total } => {
                if last_refresh.elapsed() >= REFRESH_EVERY && done < total {
                    let lib = engine
                        .known_files(&abs)
                        .and_then(|files| engine.library(&abs, &files));
                    if let Ok(lib) = lib {
                        let _ = tx.send(Msg::Library(Arc::new(lib)));
                    }
                    last_refresh = Instant::now();
                }
                IndexStatus::Encoding {
                    done,
                    total,
                    found: found_count,
                }
            }
        };
        let _ = tx.send(Msg::Index(status));
    };
    match engine.index(&root, &mut on_progress) {
        Ok(Indexed { report, library }) => {
            for f in &report.failures {
                tracing::warn!("skipped: {f}");
            }
            if let Some(f) = report.failures.first() {
                let more = report.failures.len() - 1;
                let _ = tx.send(Msg::Error(if more > 0 {
                    format!("skipped {f} (and {more} more; see picseek.log in the cache folder)")
                } else {
                    format!("skipped {f}")
                }));
            }
            let _ = tx.send(Msg::Library(Arc::new(library)));
            let _ = tx.send(Msg::Index(IndexStatus::Done {
                found: report.found,
                encoded: report.encoded,
                cached: report.cached,
                failed: report.failures.len(),
                secs: report.elapsed.as_secs_f64(),
            }));
        }
        Err(e) => {
            let _ = tx.send(Msg::Index(IndexStatus::Failed(e.to_string())));
        }
    }
}

/// A preview decoded and shrunk to fit a box of `cols` × `rows` cells.
pub struct PreviewImage {
    pub path: PathBuf,
    pub cols: u16,
    pub rows: u16,
    pub image: Result<DynamicImage, String>,
    /// Pixel size of the file after EXIF orientation.
    pub pixels: Option<(u32, u32)>,
}

impl PreviewImage {
    pub fn matches(&self, path: &Path, cols: u16, rows: u16) -> bool {
        self.path == path && self.cols == cols && self.rows == rows
    }
}

/// Previews to prepare: the selected one first, then its neighbours.
pub struct PreviewJob {
    pub paths: Vec<PathBuf>,
    pub cols: u16,
    pub rows: u16,
    /// Pixels per cell the preview is made for: 1×2 for half-blocks, more for graphics.
    pub cell_px: (u32, u32),
}

/// Decodes previews off the UI thread, keeping the last few ready.
pub fn preview_worker(jobs: Arc<Latest<PreviewJob>>, tx: Sender<Msg>) {
    let mut ready: VecDeque<Arc<PreviewImage>> = VecDeque::new();
    while let Some(job) = jobs.take() {
        for path in job.paths {
            if let Some(p) = ready.iter().find(|p| p.matches(&path, job.cols, job.rows)) {
                if tx.send(Msg::Preview(p.clone())).is_err() {
                    return;
                }
                continue;
            }
            let preview = Arc::new(make_preview(&path, job.cols, job.rows, job.cell_px));
            ready.push_back(preview.clone());
            if ready.len() > PREVIEWS_KEPT {
                ready.pop_front();
            }
            if tx.send(Msg::Preview(preview)).is_err() {
                return;
            }
        }
    }
}

fn make_preview(path: &Path, cols: u16, rows: u16, cell_px: (u32, u32)) -> PreviewImage {
    let decoded = std::fs::read(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|bytes| crate::model::preprocess::decode(&bytes).map_err(|e| e.to_string()));
    let pixels = decoded.as_ref().ok().map(|i| (i.width(), i.height()));
    let image = decoded.map(|img| {
        let (w, h) = fit(
            (img.width(), img.height()),
            (u32::from(cols) * cell_px.0, u32::from(rows) * cell_px.1),
        );
        DynamicImage::ImageRgb8(img).resize_exact(w, h, image::imageops::FilterType::Triangle)
    });
    PreviewImage {
        path: path.to_path_buf(),
        cols,
        rows,
        image,
        pixels,
    }
}

/// The largest size with the image's aspect ratio that fits in `bounds` (at least 1×1).
pub fn fit((w, h): (u32, u32), (bw, bh): (u32, u32)) -> (u32, u32) {
    if w == 0 || h == 0 {
        return (1, 1);
    }
    let scale = (bw as f64 / w as f64).min(bh as f64 / h as f64);
    (
        ((w as f64 * scale).floor() as u32).max(1),
        ((h as f64 * scale).floor() as u32).max(1),
    )
}

/// What the status line calls the models before the scorer is loaded.
pub fn models_label(scorer: Option<&crate::model::Scorer>, protocol: &str) -> String {
    match scorer {
        Some(s) => format!(
            "EfficientNet-Lite2 + e5-small · scorer {}×{} · preview {protocol}",
            s.meta.members, s.meta.proj_dim
        ),
        None => format!("EfficientNet-Lite2 + e5-small · preview {protocol}"),
    }
}

/// Loads the text encoder and the scorer in the background as the UI opens, so the first
/// search (typed or given with `-q`) waits only for what is not loaded yet; a search that comes
/// first waits for the same load instead of starting another.
pub fn models_worker(engine: Engine, protocol: &'static str, tx: Sender<Msg>) {
    if let Err(e) = engine.text() {
        let _ = tx.send(Msg::Error(crate::model::first_line(&e.to_string())));
        return;
    }
    match engine.scorer() {
        Ok(s) => {
            let _ = tx.send(Msg::Models(models_label(Some(&s), protocol)));
        }
        Err(e) => {
            let _ = tx.send(Msg::Error(crate::model::first_line(&e.to_string())));
        }
    }
}

/// Loads the annotated dataset, if `data` holds one.
pub fn knowledge_worker(data: PathBuf, tx: Sender<Msg>) {
    match crate::dataset::load(&data) {
        Ok(ds) => {
            let _ = tx.send(Msg::Knowledge(Arc::new(Knowledge::new(&ds))));
        }
        Err(e) => tracing::info!("no annotated dataset: {e}"),
    }
}

/// Scores every reviewable annotated pair and sorts them worst first (see
/// [`Session::review`]).
pub fn review_worker(engine: Engine, knowledge: Arc<Knowledge>, tx: Sender<Msg>) {
    let mut status = |s: String| {
        let _ = tx.send(Msg::Review(Review::Loading(s)));
    };
    let result = engine.review(&knowledge, &mut status);
    let _ = tx.send(Msg::Review(match result {
        Ok(items) => Review::Ready(items),
        Err(e) => Review::Unavailable(e.to_string()),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_ratio() {
        assert_eq!(fit((500, 375), (40, 40)), (40, 30));
        assert_eq!(fit((375, 500), (40, 40)), (30, 40));
        assert_eq!(fit((0, 5), (40, 40)), (1, 1));
    }
}
