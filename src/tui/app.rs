//! The TUI's state and how actions change it. No I/O here: the runtime turns the returned
//! [`Effect`]s into work (searches, judgements, previews), and rendering only reads the state.

use std::path::PathBuf;
use std::time::Duration;

use crate::annotations::{PairDetails, ReviewItem};
use crate::library::{Hit, LegalSummary};

/// Rows PgUp/PgDn move (the runtime sets it from the list's height).
const DEFAULT_PAGE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Query,
    Results,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Results,
    Review,
}

/// Everything a key can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Insert(char),
    Backspace,
    Delete,
    CursorLeft,
    CursorRight,
    CursorStart,
    CursorEnd,
    ClearQuery,
    SearchNow,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    ToggleFocus,
    ToggleHelp,
    ToggleReview,
    /// A judgement on the experts' 1–4 scale for the selected image and the current query.
    Judge(u8),
    /// Search by the selected image ("more like this").
    MoreLikeThis,
    /// Copy the selected image's path to the clipboard.
    CopyPath,
    /// Open the selected image with the desktop's viewer.
    OpenFile,
    /// Write the result list to a file.
    ExportList,
    /// Esc: closes the help or the review, else quits.
    Back,
    Quit,
}

/// Work an action asks the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The query text changed: search after the debounce.
    QueryChanged,
    /// Search now (Enter).
    SearchNow,
    /// Record a judgement.
    Judge {
        path: PathBuf,
        query: String,
        score: u8,
    },
    /// The review view was opened and has nothing yet.
    LoadReview,
    /// Copy a path to the clipboard (OSC 52, through the terminal).
    Copy(PathBuf),
    /// Open a file with the desktop's viewer.
    Open(PathBuf),
    /// Write these paths to a file, one a line.
    Export(Vec<PathBuf>),
}

/// Where indexing of the folder stands.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum IndexStatus {
    #[default]
    Starting,
    Scanning,
    Encoding {
        done: usize,
        total: usize,
        found: usize,
    },
    Done {
        found: usize,
        encoded: usize,
        cached: usize,
        failed: usize,
        secs: f64,
    },
    Failed(String),
}

/// A result line with what the details pane shows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub hit: Hit,
    /// Pixel size after EXIF orientation, when known.
    pub pixels: Option<(u32, u32)>,
    pub bytes: Option<u64>,
    /// What the annotated dataset knows about this image and the query.
    pub dataset: Option<PairDetails>,
}

/// What the results pane shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Results {
    /// Nothing searched yet.
    #[default]
    Empty,
    Blocked {
        query: String,
        term: String,
        reason: String,
    },
    Found {
        query: String,
        rows: Vec<Row>,
        searched: usize,
        took: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Review {
    #[default]
    NotLoaded,
    Loading(String),
    Ready(Vec<ReviewItem>),
    Unavailable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Error,
}

#[derive(Debug, Clone, Default)]
pub struct App {
    pub dir: String,
    pub query: String,
    /// Cursor position in the query, in characters.
    pub cursor: usize,
    pub focus: Focus,
    pub view: View,
    pub help: bool,
    /// Rows the help is scrolled by (a small terminal shows part of it).
    pub help_scroll: u16,
    /// How far the help can scroll at the current size (set by each draw).
    pub help_max_scroll: u16,
    pub results: Results,
    pub selected: usize,
    /// First row shown in the results list (kept so the list scrolls only as needed).
    pub offset: usize,
    pub review: Review,
    pub review_selected: usize,
    pub review_offset: usize,
    pub index: IndexStatus,
    /// Images that can be searched now.
    pub searchable: usize,
    /// What the legal check and the owner's declarations made of the folder.
    pub legal: LegalSummary,
    /// Model line for the status pane.
    pub model: String,
    /// Whether the annotated dataset was found (details and review).
    pub dataset: Option<String>,
    /// The last notice for the status pane (judgement recorded, an error).
    pub notice: Option<(Tone, String)>,
    /// Rows a page moves.
    pub page: usize,
    /// Judgements recorded in this session.
    pub judged: usize,
    pub quit: bool,
}

impl App {
    pub fn new(dir: String, model: String) -> Self {
        App {
            dir,
            model,
            page: DEFAULT_PAGE,
            ..Default::default()
        }
    }

    /// The rows of the results pane.
    pub fn rows(&self) -> &[Row] {
        match &self.results {
            Results::Found { rows, .. } => rows,
            _ => &[],
        }
    }

    fn list_len(&self) -> usize {
        match self.view {
            View::Results => self.rows().len(),
            View::Review => match &self.review {
                Review::Ready(items) => items.len(),
                _ => 0,
            },
        }
    }

    fn selection_mut(&mut self) -> &mut usize {
        match self.view {
            View::Results => &mut self.selected,
            View::Review => &mut self.review_selected,
        }
    }

    /// The selected result, when the results view shows one.
    pub fn selected_row(&self) -> Option<&Row> {
        self.rows().get(self.selected)
    }

    /// The selected review item, when the review view shows one.
    pub fn selected_review(&self) -> Option<&ReviewItem> {
        match &self.review {
            Review::Ready(items) => items.get(self.review_selected),
            _ => None,
        }
    }

    /// The image the preview should show.
    pub fn selected_path(&self) -> Option<&std::path::Path> {
        if self.help {
            return None;
        }
        match self.view {
            View::Results => self.selected_row().map(|r| r.hit.path.as_path()),
            View::Review => self.selected_review().map(|r| r.path.as_path()),
        }
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.query
            .char_indices()
            .nth(chars)
            .map_or(self.query.len(), |(i, _)| i)
    }

    fn query_chars(&self) -> usize {
        self.query.chars().count()
    }

    /// Applies an action; returns the work it asks for.
    pub fn update(&mut self, action: Action) -> Option<Effect> {
        if self.help && !matches!(action, Action::Quit) {
            // Arrows and pages scroll the help when it does not fit; any other key closes it.
            let step = |by: i32, s: &mut Self| {
                s.help_scroll =
                    (i32::from(s.help_scroll) + by).clamp(0, i32::from(s.help_max_scroll)) as u16;
            };
            match action {
                Action::Up => step(-1, self),
                Action::Down => step(1, self),
                Action::PageUp => step(-5, self),
                Action::PageDown => step(5, self),
                _ => self.help = false,
            }
            return None;
        }
        match action {
            Action::Insert(c) => {
                if c.is_control() {
                    return None;
                }
                let at = self.byte_at(self.cursor);
                self.query.insert(at, c);
                self.cursor += 1;
                self.focus = Focus::Query;
                self.view = View::Results;
                Some(Effect::QueryChanged)
            }
            Action::Backspace => {
                if self.cursor == 0 {
                    return None;
                }
                let at = self.byte_at(self.cursor - 1);
                self.query.remove(at);
                self.cursor -= 1;
                self.view = View::Results;
                Some(Effect::QueryChanged)
            }
            Action::Delete => {
                if self.cursor >= self.query_chars() {
                    return None;
                }
                let at = self.byte_at(self.cursor);
                self.query.remove(at);
                Some(Effect::QueryChanged)
            }
            Action::ClearQuery => {
                if self.query.is_empty() {
                    return None;
                }
                self.query.clear();
                self.cursor = 0;
                Some(Effect::QueryChanged)
            }
            Action::CursorLeft => {
                self.cursor = self.cursor.saturating_sub(1);
                None
            }
            Action::CursorRight => {
                self.cursor = (self.cursor + 1).min(self.query_chars());
                None
            }
            Action::CursorStart => {
                self.cursor = 0;
                None
            }
            Action::CursorEnd => {
                self.cursor = self.query_chars();
                None
            }
            Action::SearchNow => {
                self.view = View::Results;
                if self.query.trim().is_empty() {
                    return None;
                }
                self.focus = Focus::Results;
                Some(Effect::SearchNow)
            }
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page.max(1) as isize)),
            Action::PageDown => self.move_by(self.page.max(1) as isize),
            Action::First => self.move_to(0),
            Action::Last => self.move_to(usize::MAX),
            Action::ToggleFocus => {
                self.focus = match self.focus {
                    Focus::Query => Focus::Results,
                    Focus::Results => Focus::Query,
                };
                None
            }
            Action::ToggleHelp => {
                self.help = true;
                self.help_scroll = 0;
                None
            }
            Action::ToggleReview => {
                if self.view == View::Review {
                    self.view = View::Results;
                    return None;
                }
                self.view = View::Review;
                self.focus = Focus::Results;
                (self.review == Review::NotLoaded).then_some(Effect::LoadReview)
            }
            Action::Judge(score) => self.judge(score),
            Action::MoreLikeThis => {
                let path = self.selected_path()?.to_path_buf();
                let Some(text) = path.to_str() else {
                    self.notice = Some((
                        Tone::Error,
                        "This image's name is not UTF-8: it cannot be written in the query line"
                            .into(),
                    ));
                    return None;
                };
                self.query = text.to_string();
                self.cursor = self.query_chars();
                self.view = View::Results;
                self.focus = Focus::Results;
                Some(Effect::SearchNow)
            }
            Action::CopyPath => Some(Effect::Copy(self.selected_path()?.to_path_buf())),
            Action::OpenFile => Some(Effect::Open(self.selected_path()?.to_path_buf())),
            Action::ExportList => {
                let paths: Vec<PathBuf> = self.rows().iter().map(|r| r.hit.path.clone()).collect();
                if paths.is_empty() {
                    self.notice = Some((Tone::Info, "No results to write".into()));
                    return None;
                }
                Some(Effect::Export(paths))
            }
            Action::Back => {
                if self.view == View::Review {
                    self.view = View::Results;
                } else {
                    self.quit = true;
                }
                None
            }
            Action::Quit => {
                self.quit = true;
                None
            }
        }
    }

    fn judge(&mut self, score: u8) -> Option<Effect> {
        match self.view {
            View::Results => {
                let Results::Found { query, rows, .. } = &self.results else {
                    self.notice = Some((Tone::Info, "Search first, then judge a result".into()));
                    return None;
                };
                let row = rows.get(self.selected)?;
                Some(Effect::Judge {
                    path: row.hit.path.clone(),
                    query: query.clone(),
                    score,
                })
            }
            View::Review => {
                let item = self.selected_review()?;
                Some(Effect::Judge {
                    path: item.path.clone(),
                    query: item.caption.clone(),
                    score,
                })
            }
        }
    }

    fn move_by(&mut self, delta: isize) -> Option<Effect> {
        let len = self.list_len();
        if len == 0 {
            return None;
        }
        let sel = self.selection_mut();
        *sel = sel.saturating_add_signed(delta).min(len - 1);
        self.follow();
        None
    }

    fn move_to(&mut self, index: usize) -> Option<Effect> {
        let len = self.list_len();
        if len == 0 {
            return None;
        }
        *self.selection_mut() = index.min(len - 1);
        self.follow();
        None
    }

    /// Scrolls the list as little as needed to keep the selection in view.
    pub fn follow(&mut self) {
        let page = self.page.max(1);
        let (sel, off) = match self.view {
            View::Results => (self.selected, &mut self.offset),
            View::Review => (self.review_selected, &mut self.review_offset),
        };
        if sel < *off {
            *off = sel;
        } else if sel >= *off + page {
            *off = sel + 1 - page;
        }
    }

    /// New results arrived. For the same query (a refreshed library) the selection stays on
    /// the same file when it is still listed; otherwise it goes to the top.
    pub fn set_results(&mut self, results: Results) {
        let same_query = matches!(
            (&self.results, &results),
            (Results::Found { query: a, .. }, Results::Found { query: b, .. }) if a == b
        );
        let keep = self
            .selected_row()
            .filter(|_| same_query)
            .map(|r| r.hit.path.clone());
        self.results = results;
        self.selected = keep
            .and_then(|p| self.rows().iter().position(|r| r.hit.path == p))
            .unwrap_or(0);
        if !same_query {
            self.offset = 0;
        }
        self.follow();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(app: &mut App, s: &str) {
        for c in s.chars() {
            app.update(Action::Insert(c));
        }
    }

    fn found(n: usize) -> Results {
        Results::Found {
            query: "dog".into(),
            rows: (0..n)
                .map(|i| Row {
                    hit: Hit::plain(
                        i + 1,
                        1.0 - i as f32 / 100.0,
                        PathBuf::from(format!("{i}.jpg")),
                    ),
                    pixels: None,
                    bytes: None,
                    dataset: None,
                })
                .collect(),
            searched: n,
            took: Duration::from_millis(3),
        }
    }

    #[test]
    fn editing_the_query_moves_the_cursor_by_characters() {
        let mut app = App::new(".".into(), String::new());
        typed(&mut app, "сад");
        assert_eq!(app.cursor, 3);
        app.update(Action::CursorLeft);
        app.update(Action::Backspace);
        assert_eq!(app.query, "сд");
        assert_eq!(app.update(Action::Insert('x')), Some(Effect::QueryChanged));
        assert_eq!(app.query, "сxд");
        app.update(Action::CursorEnd);
        app.update(Action::Delete);
        assert_eq!(app.query, "сxд");
        assert_eq!(app.update(Action::Insert('\x1b')), None);
    }

    #[test]
    fn moving_stays_in_the_list_and_selection_follows_the_file() {
        let mut app = App::new(".".into(), String::new());
        app.update(Action::Down);
        assert_eq!(app.selected, 0);
        app.set_results(found(30));
        app.update(Action::PageDown);
        app.update(Action::Down);
        assert_eq!(app.selected, 11);
        app.update(Action::Last);
        assert_eq!(app.selected, 29);
        app.update(Action::PageDown);
        assert_eq!(app.selected, 29);
        app.update(Action::First);
        app.update(Action::Up);
        assert_eq!(app.selected, 0);
        app.selected = 5;
        let mut fewer = found(30);
        if let Results::Found { rows, .. } = &mut fewer {
            rows.remove(0);
        }
        app.set_results(fewer);
        assert_eq!(app.selected, 4, "still on 5.jpg");
    }

    #[test]
    fn judging_needs_a_result_and_help_swallows_one_key() {
        let mut app = App::new(".".into(), String::new());
        assert_eq!(app.update(Action::Judge(3)), None);
        app.set_results(found(3));
        app.update(Action::Down);
        assert_eq!(
            app.update(Action::Judge(3)),
            Some(Effect::Judge {
                path: PathBuf::from("1.jpg"),
                query: "dog".into(),
                score: 3
            })
        );
        app.update(Action::ToggleHelp);
        assert!(app.help);
        assert_eq!(app.update(Action::Judge(2)), None);
        assert!(!app.help);
        app.update(Action::Back);
        assert!(app.quit);
    }
}
