//! `picseek [DIR]`: the terminal UI.
//!
//! - [`app`]: the state and how actions change it (no I/O);
//! - [`keys`]: keys become actions;
//! - [`render`]: draws the state;
//! - [`worker`]: indexing, searching, previews and the review, off the UI thread;
//! - [`preview`]: paints previews with viuer;
//! - this module: the [`Runtime`] that wires them together, and the terminal loop.
//!
//! Search as you type: the first keystroke after a pause searches at once, later ones at most
//! once per debounce gap (three times what a search costs, at most 150 ms by default), and the
//! search worker only ever runs the newest query, so typing never waits for the model.

pub mod app;
pub mod keys;
pub mod outside;
pub mod preview;
pub mod render;
pub mod worker;

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use crossterm::event::{self, Event, KeyEvent};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use crate::annotations::{self, Knowledge};
use crate::library::Library;
use app::{Action, App, Effect, Results, Review, Tone, View};
use preview::{Painter, PreviewMode, Protocol};
use render::Areas;
use worker::{Engine, Latest, Msg, PreviewImage, PreviewJob, SearchJob};

/// Default debounce interval of search as you type.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// Previews kept ready on the UI side.
const KEEP_PREVIEWS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("the terminal UI needs a terminal; use `picseek search QUERY DIR` in scripts")]
    NotATerminal,
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// What the TUI is asked to show.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder to search.
    pub dir: PathBuf,
    /// The annotated dataset (details and review), if present.
    pub data: PathBuf,
    /// Where judgements are appended.
    pub annotations: PathBuf,
    pub preview: PreviewMode,
    pub debounce: Duration,
    /// A query to start with.
    pub query: Option<String>,
}

/// Search-as-you-type pacing. A change starts a search at once when the last one started long
/// enough ago, else when that time has passed, so a burst of keys costs a few searches, not one
/// per key. "Long enough" grows with what a search costs (three times the last one, at least
/// [`MIN_GAP`]) up to the configured interval: a small folder updates on every keystroke, a
/// library of a million images is searched at most about seven times a second.
#[derive(Debug, Clone)]
struct Debounce {
    interval: Duration,
    /// What the last search took.
    cost: Duration,
    last_fire: Option<Instant>,
    due: Option<Instant>,
}

/// The shortest gap between two searches started by typing.
pub const MIN_GAP: Duration = Duration::from_millis(20);

impl Debounce {
    fn gap(&self) -> Duration {
        (self.cost * 3).clamp(MIN_GAP.min(self.interval), self.interval)
    }

    fn changed(&mut self, now: Instant) {
        let earliest = self.last_fire.map_or(now, |t| t + self.gap());
        self.due = Some(earliest.max(now));
    }

    fn fire_now(&mut self, now: Instant) {
        self.due = Some(now);
    }

    fn cancel(&mut self) {
        self.due = None;
    }

    /// Whether a search is due now.
    fn poll(&mut self, now: Instant) -> bool {
        match self.due {
            Some(due) if due <= now => {
                self.due = None;
                self.last_fire = Some(now);
                true
            }
            _ => false,
        }
    }

    fn wait(&self, now: Instant) -> Option<Duration> {
        self.due.map(|d| d.saturating_duration_since(now))
    }
}

/// The TUI without a terminal: state, workers and their messages. The terminal loop and the
/// latency benchmark both drive it.
pub struct Runtime {
    pub app: App,
    engine: Engine,
    options: Options,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    searches: Arc<Latest<SearchJob>>,
    previews_todo: Arc<Latest<PreviewJob>>,
    library: Option<Arc<Library>>,
    knowledge: Option<Arc<Knowledge>>,
    review_wanted: bool,
    seq: u64,
    /// A search has been handed to the worker and its answer has not arrived.
    in_flight: bool,
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
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Bytes for the terminal itself (the clipboard's OSC 52), written by the terminal loop
    /// after the next frame.
    pub to_terminal: Vec<u8>,
}

impl Runtime {
    /// Starts the workers: indexing of the folder, the dataset, searches and previews.
    pub fn start(engine: Engine, options: Options, protocol: Protocol) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        let dir = crate::display::escape_path(&options.dir);
        let scorer = &engine.scorer.meta;
        let model = format!(
            "EfficientNet-Lite2 + e5-small · scorer {}×{} · preview {}",
            scorer.members,
            scorer.proj_dim,
            protocol.name()
        );
        let searches: Arc<Latest<SearchJob>> = Arc::default();
        let previews_todo: Arc<Latest<PreviewJob>> = Arc::default();
        let mut threads = Vec::new();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .expect("spawning a thread")
        };
        {
            let (e, j, t) = (engine.clone(), searches.clone(), tx.clone());
            threads.push(spawn(
                "picseek-search",
                Box::new(move || worker::search_worker(e, j, t)),
            ));
        }
        {
            let (j, t) = (previews_todo.clone(), tx.clone());
            threads.push(spawn(
                "picseek-preview",
                Box::new(move || worker::preview_worker(j, t)),
            ));
        }
        {
            let (e, d, t) = (engine.clone(), options.dir.clone(), tx.clone());
            // Detached: an index run is not waited for on quit (the cache is consistent at
            // every step).
            spawn(
                "picseek-index",
                Box::new(move || worker::index_worker(e, d, t)),
            );
        }
        {
            let (d, t) = (options.data.clone(), tx.clone());
            spawn(
                "picseek-dataset",
                Box::new(move || worker::knowledge_worker(d, t)),
            );
        }
        let mut app = App::new(dir, model);
        if let Some(q) = &options.query {
            app.query = q.clone();
            app.cursor = q.chars().count();
        }
        let initial = options.query.is_some();
        let mut rt = Runtime {
            app,
            debounce: Debounce {
                interval: options.debounce,
                // Until a search has been timed, assume the worst.
                cost: options.debounce,
                last_fire: None,
                due: None,
            },
            engine,
            options,
            tx,
            rx,
            searches,
            previews_todo,
            library: None,
            knowledge: None,
            review_wanted: false,
            seq: 0,
            in_flight: false,
            search_failed: false,
            previews: VecDeque::new(),
            requested: None,
            protocol,
            areas: Areas::default(),
            dirty: true,
            typed_at: None,
            latencies: Vec::new(),
            threads,
            to_terminal: Vec::new(),
        };
        if initial {
            rt.act(Action::SearchNow, Instant::now());
        }
        rt
    }

    /// How long the loop may wait for input before it must look at the workers again: briefly
    /// while a search or a preview is on its way (their answers should show at once), else until
    /// the debounce is due, and never long.
    pub fn poll_timeout(&self, now: Instant) -> Duration {
        let busy = self.in_flight || self.preview_pending();
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
                    .or_else(|_| outside::export(&paths, &self.engine.cache_dir));
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
        self.app.review = Review::Loading("starting…".into());
        let (e, t) = (self.engine.clone(), self.tx.clone());
        std::thread::spawn(move || worker::review_worker(e, k, t));
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
        self.in_flight = true;
        self.searches.put(SearchJob {
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
                self.app.withheld = lib.withheld();
                self.app.cleared = lib.cleared();
                self.library = Some(lib);
                self.submit();
            }
            Msg::Searched { seq, results } => {
                if let Results::Found { took, .. } = &results {
                    self.debounce.cost = *took;
                }
                if seq == self.seq {
                    self.in_flight = false;
                    self.app.set_results(results);
                    // A failed search's message goes once a search succeeds.
                    if std::mem::take(&mut self.search_failed) {
                        self.app.notice = None;
                    }
                }
            }
            Msg::SearchFailed { seq, error } => {
                if seq == self.seq {
                    self.in_flight = false;
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
                if self.previews.len() > KEEP_PREVIEWS {
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
        self.previews_todo.put(PreviewJob {
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

impl Drop for Runtime {
    fn drop(&mut self) {
        self.searches.close();
        self.previews_todo.close();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Restores the terminal when dropped, and on a panic before the panic message is printed.
struct TerminalGuard;

fn restore_terminal() {
    let mut out = std::io::stdout();
    let _ = out.write_all(preview::KITTY_DELETE_ALL.as_bytes());
    let _ = crossterm::execute!(
        out,
        event::DisableBracketedPaste,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = crossterm::terminal::disable_raw_mode();
}

impl TerminalGuard {
    fn enter() -> std::io::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        crossterm::terminal::enable_raw_mode()?;
        let guard = TerminalGuard;
        crossterm::execute!(
            std::io::stdout(),
            crossterm::terminal::EnterAlternateScreen,
            event::EnableBracketedPaste
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Fails unless stdin and stdout are a terminal.
pub fn check_terminal() -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    Ok(())
}

/// SIGTERM, SIGHUP (the SSH connection dropped) and SIGINT end the UI: a watchdog thread sees
/// the signal within [`WATCH_EVERY`], restores the terminal and exits (see [`watch_for_the_end`]).
const QUIT_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGINT,
];

/// Runs the TUI until the user quits. A quit signal restores the terminal and ends the
/// process with the shell's code for it (128 + the signal number), without waiting for
/// workers: the cache survives being stopped at any point.
pub fn run(engine: Engine, options: Options) -> Result<(), TuiError> {
    check_terminal()?;
    let signal = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for sig in QUIT_SIGNALS {
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
    }
    std::thread::Builder::new()
        .name("picseek-watch".into())
        .spawn(move || watch_for_the_end(&signal))?;
    // Settled before anything reads the keyboard, so the terminal's answers never become keys.
    let protocol = preview::detect_quietly(options.preview);
    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    let mut rt = Runtime::start(engine, options, protocol);
    let mut painter = Painter::new(protocol);
    let mut painted_rect: Option<Rect> = None;
    loop {
        if rt.dirty {
            let mut areas = rt.draw(&mut terminal)?;
            if areas.preview != painted_rect {
                // The preview moved, appeared or went: repaint everything so no stale image
                // pixels remain outside ratatui's knowledge.
                terminal.clear()?;
                painter.forget();
                areas = rt.draw(&mut terminal)?;
                painted_rect = areas.preview;
            }
            if let Some(rect) = areas.preview {
                paint(&rt, &mut painter, rect)?;
            }
        } else if let Some(rect) = painted_rect {
            // A preview may have arrived without any other change.
            paint(&rt, &mut painter, rect)?;
        }
        if !rt.to_terminal.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(&std::mem::take(&mut rt.to_terminal))?;
            out.flush()?;
        }
        if rt.app.quit {
            break;
        }
        if event::poll(rt.poll_timeout(Instant::now()))? {
            loop {
                let now = Instant::now();
                match event::read()? {
                    Event::Key(k) => rt.key(k, now),
                    Event::Paste(s) => rt.paste(&s, now),
                    Event::Resize(..) => {
                        terminal.autoresize()?;
                        terminal.clear()?;
                        painter.forget();
                        painted_rect = None;
                        rt.dirty = true;
                    }
                    _ => {}
                }
                if rt.app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        rt.pump();
    }
    drop(rt);
    Ok(())
}

/// How often the watchdog looks for a quit signal or a terminal that is gone.
const WATCH_EVERY: Duration = Duration::from_millis(25);

/// Ends the process on a quit signal, or when the terminal has gone away without a SIGHUP
/// reaching picseek (its window or tmux server killed): reads from such a terminal return
/// nothing at once, forever, and crossterm's reader spins on them inside `event::poll`, so the
/// UI loop would never run again. Such a terminal answers no terminal request
/// (`isatty` fails), which is how it is told apart. The terminal is restored (where it still
/// exists) and the exit code is 128 + the signal (SIGHUP's for a terminal gone).
fn watch_for_the_end(signal: &std::sync::atomic::AtomicUsize) {
    loop {
        std::thread::sleep(WATCH_EVERY);
        let mut sig = signal.load(std::sync::atomic::Ordering::Relaxed);
        if sig == 0 && !std::io::stdin().is_terminal() {
            sig = signal_hook::consts::SIGHUP as usize;
        }
        if sig != 0 {
            restore_terminal();
            tracing::info!("signal {sig}: terminal restored, exiting");
            std::process::exit(128 + sig as i32);
        }
    }
}

fn paint(rt: &Runtime, painter: &mut Painter, rect: Rect) -> std::io::Result<()> {
    let Some(path) = rt.app.selected_path() else {
        return Ok(());
    };
    if painter.shows(path, rect) {
        return Ok(());
    }
    let Some(p) = rt.preview_for(rect) else {
        return Ok(());
    };
    let mut out = std::io::stdout().lock();
    match &p.image {
        Ok(img) => painter.paint(&mut out, rect, path, img),
        Err(_) => painter.blank(&mut out, rect, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_goes_at_once_after_a_pause_and_paces_bursts_by_cost() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Debounce {
            interval: ms(150),
            cost: ms(150),
            last_fire: None,
            due: None,
        };
        d.changed(t0);
        assert!(d.poll(t0), "first key searches at once");
        d.changed(t0 + ms(10));
        assert!(!d.poll(t0 + ms(10)));
        assert_eq!(d.wait(t0 + ms(10)), Some(ms(140)), "capped at the interval");
        assert!(d.poll(t0 + ms(150)));
        // Cheap searches: the gap shrinks to three times their cost.
        d.cost = ms(10);
        d.changed(t0 + ms(160));
        assert!(!d.poll(t0 + ms(160)));
        assert!(d.poll(t0 + ms(180)));
        // Never below the minimum gap.
        d.cost = ms(1);
        d.changed(t0 + ms(181));
        assert_eq!(d.wait(t0 + ms(181)), Some(MIN_GAP - ms(1)));
        d.cancel();
        assert!(!d.poll(t0 + ms(1000)));
    }
}
