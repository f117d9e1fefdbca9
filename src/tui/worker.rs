//! Slow work off the UI thread: indexing the folder, searching, decoding previews, preparing the
//! review. Each worker reports through one channel of [`Msg`]; the search and preview workers
//! keep only the latest request (a newer query replaces one that has not started).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use image::DynamicImage;

use super::app::{IndexStatus, Results, Review, Row};
use super::job::Latest;
use crate::annotations::{self, Knowledge, ReviewItem};
use crate::example;
use crate::index::{self, view_fingerprint, IndexOptions, Progress};
use crate::cache::{Cache, ContentHash};
use crate::legal::check::ImageCheck;
use crate::legal::gate::PersonGate;
use crate::library::Library;
use crate::model::{ImageEncoder, Models, Scorer, TextEncoder};
use crate::query::Query;
use crate::search::{self, Options, Outcome, SearchError};

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
    /// A worker hit a problem worth a status line.
    Error(String),
}

/// What searching needs, shared by the workers: the cache and the models (loaded once, by
/// whichever worker needs each first).
#[derive(Clone)]
pub struct Engine {
    /// The cache folder, held by this process from the start.
    pub cache_dir: PathBuf,
    /// The cache database, opened by whichever worker needs it first (a large one takes a while
    /// to open, and the stored library of the folder can be searched without it).
    cache: Arc<std::sync::OnceLock<Result<Arc<Cache>, String>>>,
    held: Arc<Mutex<Option<crate::cache::CacheLock>>>,
    pub text: Arc<TextEncoder>,
    pub scorer: Arc<Scorer>,
    /// The image encoder's cache fingerprint (known without starting its session).
    pub fingerprint: [u8; 16],
    /// The legal image check's fingerprint (known without starting the person detector).
    pub check_fingerprint: Option<[u8; 16]>,
    /// Batch size and `--rehash` for every index run.
    pub index: IndexOptions,
    /// Every model, the image encoder and the person detector started on first use.
    models: Arc<Models>,
}

impl Engine {
    /// Takes the text encoder and the scorer now (every search needs them); the others wait.
    pub fn new(
        cache: crate::cache::CacheLock,
        models: Arc<Models>,
        index: IndexOptions,
    ) -> Result<Self, crate::model::ModelError> {
        Ok(Engine {
            fingerprint: models.image_fingerprint()?,
            check_fingerprint: models.check_fingerprint()?,
            cache_dir: cache.dir().to_path_buf(),
            cache: Arc::default(),
            held: Arc::new(Mutex::new(Some(cache))),
            text: models.text()?,
            scorer: models.scorer()?,
            index,
            models,
        })
    }

    /// The cache database, opened on first use.
    pub fn cache(&self) -> Result<Arc<Cache>, String> {
        self.cache
            .get_or_init(|| {
                let held = self
                    .held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .ok_or_else(|| "the cache was not held".to_string())?;
                held.open().map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
    }

    /// The cache database if it is open already (never waits for it).
    pub fn cache_if_open(&self) -> Option<Arc<Cache>> {
        self.cache.get().and_then(|c| c.as_ref().ok()).cloned()
    }

    /// The image encoder, loaded on first use (searching a stored library does not need it, so
    /// the first results do not wait for it).
    pub fn image_encoder(&self) -> Result<Arc<ImageEncoder>, String> {
        self.models.image().map_err(|e| e.to_string())
    }

    /// The legal check's person detector, loaded on first use.
    pub fn people(&self) -> Result<Arc<PersonGate>, String> {
        self.models.people().map_err(|e| e.to_string())
    }
}

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
        let msg = match run_query(&engine, &job, options) {
            Ok(Outcome::Blocked { term, reason }) => Msg::Searched {
                seq: job.seq,
                results: Results::Blocked {
                    query: job.query.clone(),
                    term,
                    reason: reason.to_string(),
                },
            },
            Ok(Outcome::Results { hits, searched, .. }) => {
                let rows = hits
                    .into_iter()
                    .map(|hit| describe(&engine, &job, hit))
                    .collect();
                let took = started.elapsed();
                Msg::Searched {
                    seq: job.seq,
                    results: Results::Found {
                        query: job.query.clone(),
                        rows,
                        searched,
                        took,
                    },
                }
            }
            Err(e) => Msg::SearchFailed {
                seq: job.seq,
                error: e.to_string(),
            },
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// Runs a job's query line: terms added and taken away, texts and example images (an image
/// from the list, for "more like this", is in the cache already, checked and shown).
fn run_query(engine: &Engine, job: &SearchJob, options: Options) -> Result<Outcome, SearchError> {
    let query = Query::parse(&job.query, &[])?;
    if let Some(text) = query.plain_text() {
        return search::search(text, &job.library, &engine.text, &engine.scorer, options);
    }
    let example = |path: &Path| {
        let cache = engine.cache().map_err(SearchError::Unavailable)?;
        let encoder = engine.image_encoder().map_err(SearchError::Unavailable)?;
        let people = engine.people().map_err(SearchError::Unavailable)?;
        let check = ImageCheck::new(&engine.scorer, &people);
        Ok(example::prepare(
            path,
            &cache,
            &encoder,
            check.as_ref(),
            &engine.index,
        )?)
    };
    // The cache is needed only to compare example images (a query of texts alone must not wait
    // for a large cache to open); the example closure above has opened it by then.
    let features = |h: &ContentHash| {
        let cache = engine.cache().ok()?;
        let read = search::cached_features(&cache, &engine.fingerprint);
        read(h)
    };
    search::search_query(
        &query,
        &job.library,
        &engine.text,
        &engine.scorer,
        &example,
        &features,
        options,
    )
}

/// A result with what the details pane shows: pixel size, file size, dataset annotations.
fn describe(engine: &Engine, job: &SearchJob, hit: search::Hit) -> Row {
    // Details the cache knows; the first searches may run before the cache is open.
    let cache = engine.cache_if_open();
    let entry = cache.as_ref().and_then(|c| c.file(&hit.path));
    let pixels = entry
        .as_ref()
        .zip(cache.as_ref())
        .and_then(|(e, c)| c.embedding(&engine.fingerprint, &e.hash))
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

/// Builds the searchable library of `root` from indexed files (legal verdicts stored on the
/// way), reusing its stored search vectors where the content is unchanged.
fn library(
    engine: &Engine,
    root: &Path,
    fp: &[u8; 16],
    indexed: &[(PathBuf, ContentHash)],
    check: Option<&ImageCheck>,
) -> Result<Library, String> {
    let cache = engine.cache()?;
    Library::build_for(root, indexed, &cache, fp, &engine.scorer, check).map_err(|e| e.to_string())
}

/// Indexes `root`: first offers the library stored by an earlier run (no scan needed), then
/// refreshes it every few seconds while encoding, and once more at the end.
pub fn index_worker(engine: Engine, root: PathBuf, tx: Sender<Msg>) {
    let fp = engine.fingerprint;
    let abs = std::path::absolute(&root).unwrap_or_else(|_| root.clone());
    if let Some(lib) = Library::open_stored(
        &engine.cache_dir,
        &abs,
        &fp,
        &engine.scorer,
        engine.check_fingerprint.as_ref(),
    ) {
        let _ = tx.send(Msg::Library(Arc::new(lib)));
    }
    let cache = match engine.cache() {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Msg::Index(IndexStatus::Failed(e)));
            return;
        }
    };
    let encoder = match engine.image_encoder() {
        Ok(e) => e,
        Err(e) => {
            let _ = tx.send(Msg::Index(IndexStatus::Failed(e)));
            return;
        }
    };
    let people = match engine.people() {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(Msg::Index(IndexStatus::Failed(e)));
            return;
        }
    };
    let check = ImageCheck::new(&engine.scorer, &people);
    let check = check.as_ref();
    let known = || {
        let mut files = cache.files_under(&abs);
        files.retain(|(p, _)| p.is_file());
        files
    };
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
                    if let Ok(lib) = library(&engine, &abs, &fp, &known(), check) {
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
    match index::index_dir(
        &root,
        &cache,
        &encoder,
        check,
        &engine.index,
        &mut on_progress,
    ) {
        Ok(report) => {
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
            match library(&engine, &abs, &fp, &report.indexed, check) {
                Ok(lib) => {
                    let _ = tx.send(Msg::Library(Arc::new(lib)));
                }
                Err(e) => {
                    let _ = tx.send(Msg::Error(e.to_string()));
                }
            }
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

/// Loads the annotated dataset, if `data` holds one.
pub fn knowledge_worker(data: PathBuf, tx: Sender<Msg>) {
    match crate::dataset::load(&data) {
        Ok(ds) => {
            let _ = tx.send(Msg::Knowledge(Arc::new(Knowledge::new(&ds))));
        }
        Err(e) => tracing::info!("no annotated dataset: {e}"),
    }
}

/// Scores every reviewable annotated pair and sorts them worst first. Indexes the dataset's
/// train images first if they are not cached yet.
pub fn review_worker(engine: Engine, knowledge: Arc<Knowledge>, tx: Sender<Msg>) {
    let status = |s: String| {
        let _ = tx.send(Msg::Review(Review::Loading(s)));
    };
    let result = (|| -> Result<Vec<ReviewItem>, String> {
        let dir = std::path::absolute(&knowledge.train_images).map_err(|e| e.to_string())?;
        let encoder = &*engine.image_encoder()?;
        status("indexing the dataset's train images…".into());
        let options = engine.index.clone();
        let cache = engine.cache()?;
        // The review leaves out every image the whole-image check flags (stricter than search).
        let report = index::index_dir(&dir, &cache, encoder, None, &options, &mut |_| {})
            .map_err(|e| e.to_string())?;
        let fp = view_fingerprint(encoder, false);
        let detector = crate::legal::images::ChildDetector::new(&engine.scorer);
        let mut vectors = std::collections::HashMap::new();
        for (path, hash) in &report.indexed {
            let Some(record) = cache.embedding(&fp, hash) else {
                continue;
            };
            if detector
                .as_ref()
                .is_none_or(|d| d.is_child(&record.embedding))
            {
                continue;
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if let Some(name) = name {
                vectors.insert(
                    name,
                    (path.clone(), engine.scorer.image_vector(&record.embedding)),
                );
            }
        }
        let pairs = knowledge.reviewable();
        let mut captions: Vec<&str> = pairs.iter().map(|t| t.query_id.as_str()).collect();
        captions.sort_unstable();
        captions.dedup();
        let mut queries = std::collections::HashMap::new();
        for (i, id) in captions.iter().enumerate() {
            if i % 50 == 0 {
                status(format!("embedding captions {i}/{}…", captions.len()));
            }
            let text = &knowledge.caption_text[*id];
            let y = engine.text.encode_one(text).map_err(|e| e.to_string())?;
            queries.insert(*id, engine.scorer.query_vector(&y));
        }
        let mut items: Vec<ReviewItem> = pairs
            .iter()
            .filter_map(|t| {
                let (path, z) = vectors.get(&t.image)?;
                let q = queries.get(t.query_id.as_str())?;
                let (expert, crowd) = knowledge.judgements(&t.image, &t.query_id);
                Some(ReviewItem {
                    image: t.image.clone(),
                    path: path.clone(),
                    query_id: t.query_id.clone(),
                    caption: knowledge.caption_text[&t.query_id].clone(),
                    target: t.value,
                    model: engine.scorer.score(z, q),
                    expert,
                    crowd,
                    judged: None,
                })
            })
            .collect();
        annotations::sort_for_review(&mut items);
        Ok(items)
    })();
    let _ = tx.send(Msg::Review(match result {
        Ok(items) => Review::Ready(items),
        Err(e) => Review::Unavailable(e),
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
