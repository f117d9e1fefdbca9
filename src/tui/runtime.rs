//! The TUI without a terminal: the state, the workers that feed it and their messages. The
//! terminal loop ([`super::terminal`]) and the latency benchmark both drive it; tests drive one
//! built without workers, answering its requests themselves.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use crossterm::event::KeyEvent;
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use super::app::{Action, App, Effect, Results, Review, Tone, View};
use super::debounce::Debounce;
use super::job::{Task, Worker};
use super::preview::Protocol;
use super::render::{self, Areas};
use super::worker::{self, Engine, Msg, PreviewImage, PreviewJob, SearchJob, PREVIEWS_KEPT};
use super::{keys, outside, Options};
use crate::annotations::{self, Knowledge};
use crate::library::Library;

/// The TUI without a terminal: state, workers and their messages. The terminal loop and the
/// latency benchmark both drive it.
pub struct Runtime {
    pub app: App,
    /// The models and the cache; `None` in a runtime built without workers.
    engine: Option<Engine>,
    options: Options,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    /// Searches, newest query first.
    search: Worker<SearchJob>,
    /// Previews of the selection and its neighbours.
    preview: Worker<PreviewJob>,
    /// The folder's index run and the dataset's loading, started with the runtime.
    tasks: Vec<Task>,
    /// The review's preparation, started when the review is first opened.
    review: Option<Task>,
    library: Option<Arc<Library>>,
    knowledge: Option<Arc<Knowledge>>,
    review_wanted: bool,
    seq: u64,
    /// The notice shows why the last search failed.
    search_failed: bool,
    debounce: Debounce,
    previews: VecDeque<Arc<PreviewImage>>,
    requested: Option<(PathBuf, u16, u16)>,
    protocol: Protocol,
    areas: Areas,
    /// Something changed since the last frame.
    pub dirty: bool,
    /// When the newest query edit happened, until its results are drawn.
    typed_at: Option<Instant>,
    /// Keystroke-to-list latencies measured so far.
    pub latencies: Vec<Duration>,
    /// Bytes for the terminal itself (the clipboard's OSC 52), written by the terminal loop
    /// after the next frame.
    pub to_terminal: Vec<u8>,
}

impl Runtime {
    /// Starts the workers: the models' loading, indexing of the folder, the dataset, searches
    /// and previews. Nothing is loaded here: the first frame is drawn at once.
    pub fn start(engine: Engine, options: Options, protocol: Protocol) -> Self {
        let model = worker::models_label(None, protocol.name());
        let mut rt = Runtime::without_workers(options, protocol, model);
        let tx = rt.tx.clone();
        rt.search = {
            let (e, t) = (engine.clone(), tx.clone());
            Worker::spawn("picseek-search", move |jobs| {
                worker::search_worker(e, jobs, t)
            })
        };
        rt.preview = {
            let t = tx.clone();
            Worker::spawn("picseek-preview", move |jobs| {
                worker::preview_worker(jobs, t)
            })
        };
        let (e, t) = (engine.clone(), tx.clone());
        rt.tasks.push(Task::spawn("picseek-models", move || {
            worker::models_worker(e, protocol.name(), t)
        }));
        let (e, d, t) = (engine.clone(), rt.options.dir.clone(), tx.clone());
        rt.tasks.push(Task::spawn("picseek-index", move || {
            worker::index_worker(e, d, t)
        }));
        let (e, d, t) = (engine.clone(), rt.options.data.clone(), tx.clone());
        rt.tasks.push(Task::spawn("picseek-dataset", move || {
            // The dataset only adds details and the review: it is read once the text encoder
            // is in, so it does not slow the first search's load on the same cores.
            let _ = e.text();
            worker::knowledge_worker(d, t)
        }));
        rt.engine = Some(engine);
        rt
    }

    /// The runtime with no workers and no models: what workers would do is up to the caller,
    /// who feeds [`Runtime::message`] and answers the requests it makes ([`Runtime::search_request`]).
    /// Tests drive it this way, frame by frame.
    pub fn without_workers(options: Options, protocol: Protocol, model: String) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut app = App::new(crate::display::escape_path(&options.dir), model);
        if let Some(q) = &options.query {
            app.query = q.clone();
            app.cursor = q.chars().count();
        }
        let mut rt = Runtime {
            app,
            debounce: Debounce::new(options.debounce),
            engine: None,
            options,
            tx,
            rx,
            search: Worker::unstarted(),
            preview: Worker::unstarted(),
            tasks: Vec::new(),
            review: None,
            library: None,
            knowledge: None,
            review_wanted: false,
            seq: 0,
            search_failed: false,
            previews: VecDeque::new(),
            requested: None,
            protocol,
            areas: Areas::default(),
            dirty: true,
            typed_at: None,
            latencies: Vec::new(),
            to_terminal: Vec::new(),
        };
        // A query given at start is searched as soon as there is a library.
        if rt.options.query.is_some() {
            rt.act(Action::SearchNow, Instant::now());
        }
        rt
    }

    /// The search asked for and not yet started (in a runtime without workers, every search).
    pub fn search_request(&self) -> Option<SearchJob> {
        self.search.take_request()
    }

    /// How long the loop may wait for input before it must look at the workers again: briefly
    /// while a search or a preview is on its way (their answers should show at once), else until
    /// the debounce is due, and never long.
    pub fn poll_timeout(&self, now: Instant) -> Duration {
        let busy = self.search.is_waiting() || self.preview_pending();
        let cap = if busy {
            Duration::from_millis(2)
        } else {
            Duration::from_millis(25)
        };
        self.debounce.wait(now).map_or(cap, |d| d.min(cap))
    }

    fn preview_pending(&self) -> bool {
        let Some(rect) = self.areas.preview else {
            return false;
        };
        self.app.selected_path().is_some() && self.preview_for(rect).is_none()
    }

    /// Handles every message waiting from the workers and starts a due search.
    pub fn pump(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            self.message(msg);
        }
        self.tick(Instant::now());
    }

    pub fn key(&mut self, key: KeyEvent, now: Instant) {
        if let Some(action) = keys::action(key, &self.app) {
            self.act(action, now);
        }
    }

    pub fn paste(&mut self, text: &str, now: Instant) {
        for c in text.chars().filter(|c| !c.is_control()) {
            self.act(Action::Insert(c), now);
        }
    }

    pub fn act(&mut self, action: Action, now: Instant) {
        let effect = self.app.update(action);
        self.dirty = true;
        match effect {
            Some(Effect::QueryChanged) => {
                self.typed_at = Some(now);
                if self.app.query.trim().is_empty() {
                    self.debounce.cancel();
                    self.seq += 1;
                    self.app.set_results(Results::Empty);
                } else {
                    self.debounce.changed(now);
                }
            }
            Some(Effect::SearchNow) => {
                self.typed_at.get_or_insert(now);
                self.debounce.fire_now(now);
            }
            Some(Effect::Judge { path, query, score }) => self.judge(&path, &query, score),
            Some(Effect::LoadReview) => {
                self.review_wanted = true;
                self.start_review();
            }
            Some(Effect::Copy(path)) => {
                self.to_terminal.extend(outside::osc52(&path));
                self.app.notice = Some((Tone::Info, outside::copied(&path)));
            }
            Some(Effect::Open(path)) => {
                self.app.notice = Some(match outside::open(&path, |v| std::env::var(v).ok()) {
                    Ok(done) => (Tone::Info, done),
                    Err(why) => (Tone::Error, why),
                });
            }
            Some(Effect::Export(paths)) => {
                // The current folder, else the cache folder (which picseek can write).
                let written = std::env::current_dir()
                    .and_then(|d| outside::export(&paths, &d))
                    .or_else(|e| match &self.engine {
                        Some(engine) => outside::export(&paths, engine.cache_dir()),
                        None => Err(e),
                    });
                self.app.notice = Some(match written {
                    Ok(file) => (Tone::Info, outside::exported(paths.len(), &file)),
                    Err(e) => (Tone::Error, format!("Cannot write the result list: {e}")),
                });
            }
            None => {}
        }
        self.tick(now);
    }

    fn judge(&mut self, path: &std::path::Path, query: &str, score: u8) {
        let judgement = match &self.knowledge {
            Some(k) => k.judgement(path, query, score),
            None => annotations::Judgement {
                image: path.to_string_lossy().into_owned(),
                query: query.trim().to_string(),
                score,
            },
        };
        let file = &self.options.annotations;
        self.app.notice = Some(match annotations::append(file, &judgement) {
            Ok(()) => {
                self.app.judged += 1;
                if self.app.view == View::Review {
                    let at = self.app.review_selected;
                    if let Review::Ready(items) = &mut self.app.review {
                        if let Some(item) = items.get_mut(at) {
                            item.judged = Some(score);
                        }
                    }
                    self.app.update(Action::Down);
                }
                (
                    Tone::Info,
                    format!(
                        "Recorded {score} for {} · {} → {}",
                        judgement.image,
                        judgement.query,
                        file.display()
                    ),
                )
            }
            Err(e) => (Tone::Error, e.to_string()),
        });
    }

    fn start_review(&mut self) {
        if !self.review_wanted || self.app.review != Review::NotLoaded {
            return;
        }
        let Some(k) = self.knowledge.clone() else {
            self.app.review = Review::Loading(format!(
                "looking for the annotated dataset in {}…",
                self.options.data.display()
            ));
            return;
        };
        let Some(engine) = self.engine.clone() else {
            self.app.review = Review::Unavailable("no models in this runtime".into());
            return;
        };
        self.app.review = Review::Loading("starting…".into());
        let t = self.tx.clone();
        self.review = Some(Task::spawn("picseek-review", move || {
            worker::review_worker(engine, k, t)
        }));
    }

    /// Starts a due search.
    pub fn tick(&mut self, now: Instant) {
        if !self.debounce.poll(now) {
            return;
        }
        self.submit();
    }

    fn submit(&mut self) {
        let Some(library) = self.library.clone() else {
            // Searched as soon as the first library arrives.
            return;
        };
        if self.app.query.trim().is_empty() {
            return;
        }
        self.seq += 1;
        self.search.request(SearchJob {
            seq: self.seq,
            query: self.app.query.clone(),
            library,
            knowledge: self.knowledge.clone(),
        });
    }

    pub fn message(&mut self, msg: Msg) {
        self.dirty = true;
        match msg {
            Msg::Index(status) => self.app.index = status,
            Msg::Library(lib) => {
                self.app.searchable = lib.len();
                self.app.legal = lib.legal();
                self.library = Some(lib);
                self.submit();
            }
            Msg::Searched { seq, results } => {
                if let Results::Found { took, .. } = &results {
                    self.debounce.cost = *took;
                }
                if seq == self.seq {
                    self.search.answered();
                    self.app.set_results(results);
                    // A failed search's message goes once a search succeeds.
                    if std::mem::take(&mut self.search_failed) {
                        self.app.notice = None;
                    }
                }
            }
            Msg::SearchFailed { seq, error } => {
                if seq == self.seq {
                    self.search.answered();
                    self.search_failed = true;
                    self.app.notice = Some((Tone::Error, error));
                }
            }
            Msg::Preview(p) => {
                // The decode tells the pixel size where the cache did not (yet).
                if let (Some(px), Results::Found { rows, .. }) = (p.pixels, &mut self.app.results) {
                    for r in rows
                        .iter_mut()
                        .filter(|r| r.pixels.is_none() && r.hit.path == p.path)
                    {
                        r.pixels = Some(px);
                    }
                }
                self.previews.retain(|q| !Arc::ptr_eq(q, &p));
                self.previews.push_back(p);
                if self.previews.len() > PREVIEWS_KEPT {
                    self.previews.pop_front();
                }
            }
            Msg::Knowledge(k) => {
                self.app.dataset = Some("annotated dataset loaded".into());
                self.knowledge = Some(k);
                self.start_review();
                self.submit();
            }
            Msg::Review(r) => self.app.review = r,
            Msg::Models(label) => self.app.model = label,
            Msg::Error(e) => self.app.notice = Some((Tone::Error, e)),
        }
    }

    /// Draws a frame; returns where things landed and, after a query edit, records the
    /// keystroke-to-list latency once that query's results are on screen.
    pub fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<Areas, B::Error> {
        let mut areas = Areas::default();
        terminal.draw(|f| areas = render::draw(f, &self.app))?;
        self.dirty = false;
        self.app.page = usize::from(areas.list_rows.max(1));
        self.app.help_max_scroll = areas.help_max_scroll;
        self.app.help_scroll = self.app.help_scroll.min(areas.help_max_scroll);
        self.app.follow();
        if let Some(t) = self.typed_at {
            let current = match &self.app.results {
                Results::Found { query, .. } | Results::Blocked { query, .. } => {
                    query == &self.app.query
                }
                Results::Empty => self.app.query.trim().is_empty(),
            };
            if current {
                self.latencies.push(t.elapsed());
                self.typed_at = None;
            }
        }
        self.areas = areas;
        self.request_previews();
        Ok(areas)
    }

    /// Asks the preview worker for the selected image and its neighbours.
    fn request_previews(&mut self) {
        let Some(rect) = self.areas.preview else {
            return;
        };
        let Some(path) = self.app.selected_path().map(PathBuf::from) else {
            return;
        };
        let key = (path.clone(), rect.width, rect.height);
        if self.requested.as_ref() == Some(&key) {
            return;
        }
        self.requested = Some(key);
        let neighbours: Vec<PathBuf> = match self.app.view {
            View::Results => {
                let rows = self.app.rows();
                let i = self.app.selected;
                [i + 1, i.wrapping_sub(1), i + 2]
                    .iter()
                    .filter_map(|&j| rows.get(j).map(|r| r.hit.path.clone()))
                    .collect()
            }
            View::Review => Vec::new(),
        };
        let mut paths = vec![path];
        paths.extend(neighbours);
        self.preview.request(PreviewJob {
            paths,
            cols: rect.width,
            rows: rect.height,
            cell_px: self.protocol.cell_px(),
        });
    }

    /// The ready preview for the selection in `rect`, if any.
    pub fn preview_for(&self, rect: Rect) -> Option<Arc<PreviewImage>> {
        let path = self.app.selected_path()?;
        self.previews
            .iter()
            .rev()
            .find(|p| p.matches(path, rect.width, rect.height))
            .cloned()
    }
}
