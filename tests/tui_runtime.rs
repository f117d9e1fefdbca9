//! The terminal UI's runtime driven as the terminal loop drives it, with no threads and no
//! models: the test plays the workers, answering the searches the runtime asks for with
//! messages, and snapshots the frames on ratatui's `TestBackend` (as gitui's and television's
//! tests do). Review changes with `cargo insta review`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use picseek::library::Hit;
use picseek::library::Library;
use picseek::tui::app::{Action, Results, Row};
use picseek::tui::preview::{PreviewMode, Protocol};
use picseek::tui::worker::{Msg, SearchJob};
use picseek::tui::{Options, Runtime};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const MODEL: &str = "EfficientNet-Lite2 + e5-small · scorer 5×256 · preview off";

struct Ui {
    rt: Runtime,
    term: Terminal<TestBackend>,
    /// The runtime's clock: every step moves it on by a second, past any debounce.
    now: Instant,
    _tmp: tempfile::TempDir,
}

impl Ui {
    fn new() -> Ui {
        let tmp = tempfile::tempdir().unwrap();
        let options = Options {
            dir: PathBuf::from("/photos"),
            data: tmp.path().join("no-dataset"),
            annotations: tmp.path().join("annotations.tsv"),
            preview: PreviewMode::Off,
            debounce: Duration::from_millis(150),
            query: None,
        };
        let mut ui = Ui {
            rt: Runtime::without_workers(options, Protocol::Off, MODEL.into()),
            term: Terminal::new(TestBackend::new(100, 24)).unwrap(),
            now: Instant::now(),
            _tmp: tmp,
        };
        // What the index worker sends first: something to search.
        ui.rt.message(Msg::Library(Arc::new(Library::empty())));
        ui
    }

    fn step(&mut self) -> Instant {
        self.now += Duration::from_secs(1);
        self.now
    }

    /// Types `text` and lets the debounce fire; returns the search the runtime asked for.
    fn type_text(&mut self, text: &str) -> SearchJob {
        for c in text.chars() {
            let now = self.step();
            self.rt.act(Action::Insert(c), now);
        }
        let now = self.step();
        self.rt.tick(now);
        self.rt.search_request().expect("typing asks for a search")
    }

    fn act(&mut self, action: Action) {
        let now = self.step();
        self.rt.act(action, now);
    }

    fn frame(&mut self) -> TestBackend {
        self.rt.draw(&mut self.term).unwrap();
        self.term.backend().clone()
    }

    fn selected(&self) -> Option<PathBuf> {
        self.rt.app.selected_path().map(Path::to_path_buf)
    }
}

fn found(query: &str, names: &[&str]) -> Results {
    Results::Found {
        query: query.into(),
        rows: names
            .iter()
            .enumerate()
            .map(|(i, name)| Row {
                hit: Hit::plain(i + 1, 0.9 - 0.1 * i as f32, Path::new("/photos").join(name)),
                pixels: Some((640, 480)),
                bytes: Some(120_000),
                dataset: None,
            })
            .collect(),
        searched: 5,
        took: Duration::from_millis(4),
    }
}

fn screen_text(b: &TestBackend) -> String {
    b.buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect::<String>()
}

#[test]
fn a_stale_result_is_dropped() {
    let mut ui = Ui::new();
    let dog = ui.type_text("dog");
    assert_eq!(dog.query, "dog");
    let dogs = ui.type_text("s");
    assert_eq!(dogs.query, "dogs");
    assert!(dogs.seq > dog.seq);
    // The answer to "dog" arrives after "dogs" was asked: it is not shown.
    ui.rt.message(Msg::Searched {
        seq: dog.seq,
        results: found("dog", &["stale_dog.jpg"]),
    });
    let frame = ui.frame();
    assert!(!screen_text(&frame).contains("stale_dog"));
    assert!(matches!(ui.rt.app.results, Results::Empty));
    insta::assert_snapshot!("stale_dropped", frame);
    ui.rt.message(Msg::Searched {
        seq: dogs.seq,
        results: found("dogs", &["two_dogs.jpg", "dog_pack.jpg"]),
    });
    let frame = ui.frame();
    assert!(screen_text(&frame).contains("two_dogs.jpg"));
    insta::assert_snapshot!("newest_shown", frame);
}

#[test]
fn an_error_notice_clears_on_the_next_good_search() {
    let mut ui = Ui::new();
    let first = ui.type_text("cat");
    ui.rt.message(Msg::SearchFailed {
        seq: first.seq,
        error: "cache: no space left on device".into(),
    });
    let frame = ui.frame();
    assert!(screen_text(&frame).contains("no space left on device"));
    insta::assert_snapshot!("search_failed", frame);
    let second = ui.type_text("s");
    ui.rt.message(Msg::Searched {
        seq: second.seq,
        results: found("cats", &["cat_on_a_mat.jpg"]),
    });
    let frame = ui.frame();
    let text = screen_text(&frame);
    assert!(!text.contains("no space left"), "{text}");
    assert!(text.contains("cat_on_a_mat.jpg"));
    insta::assert_snapshot!("error_cleared", frame);
}

#[test]
fn a_library_refresh_keeps_the_selection() {
    let mut ui = Ui::new();
    let names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"];
    let first = ui.type_text("beach");
    ui.rt.message(Msg::Searched {
        seq: first.seq,
        results: found("beach", &names),
    });
    ui.act(Action::ToggleFocus);
    ui.act(Action::Down);
    ui.act(Action::Down);
    assert_eq!(ui.selected(), Some(PathBuf::from("/photos/c.jpg")));
    // Indexing moved on: a new library arrives and the same query is searched again over it.
    ui.rt.message(Msg::Library(Arc::new(Library::empty())));
    let again = ui
        .rt
        .search_request()
        .expect("a new library searches again");
    assert_eq!(again.query, "beach");
    // The new images rank in between; the selected one stays selected.
    ui.rt.message(Msg::Searched {
        seq: again.seq,
        results: found(
            "beach",
            &["new1.jpg", "a.jpg", "new2.jpg", "b.jpg", "c.jpg", "d.jpg"],
        ),
    });
    assert_eq!(ui.selected(), Some(PathBuf::from("/photos/c.jpg")));
    insta::assert_snapshot!("refresh_keeps_selection", ui.frame());
}
