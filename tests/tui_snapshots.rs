//! Snapshots of the TUI's screens on ratatui's `TestBackend`: the state is built by hand, the
//! frame drawn by the real renderer. Review changes with `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test --test tui_snapshots` and a look at the diff).

use std::path::PathBuf;
use std::time::Duration;

use picseek::annotations::{PairDetails, ReviewItem};
use picseek::declarations::{Kind, Mark};
use picseek::library::{Hit, LegalSummary};
use picseek::tui::app::{
    Action, App, Effect, Focus, IndexStatus, Results, Review, Row, Tone, View,
};
use picseek::tui::outside;
use picseek::tui::render;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const MODEL: &str = "EfficientNet-Lite2 + e5-small · scorer 5×256 · preview half-blocks";

fn app() -> App {
    let mut app = App::new("data/test_images".into(), MODEL.into());
    app.index = IndexStatus::Done {
        found: 100,
        encoded: 0,
        cached: 100,
        failed: 0,
        secs: 0.04,
    };
    app.searchable = 42;
    app.legal = LegalSummary {
        withheld: 55,
        no_person: 12,
        adults: 9,
        consented: 2,
        declared_no_child: 1,
    };
    app.dataset = Some("annotated dataset loaded".into());
    app
}

fn row(rank: usize, score: f32, name: &str) -> Row {
    Row {
        hit: Hit::plain(rank, score, PathBuf::from("/photos").join(name)),
        pixels: Some((500, 375)),
        bytes: Some(104_300),
        dataset: None,
    }
}

fn results_app() -> App {
    let mut app = app();
    for c in "dog running on grass".chars() {
        app.update(Action::Insert(c));
    }
    let mut rows = vec![
        row(1, 0.873, "3466891862_9afde75568.jpg"),
        row(2, 0.612, "dog\x1b[31m_red\nname.jpg"),
        row(
            3,
            0.405,
            "a_very_long_file_name_straight_from_a_phone_camera_2024-07-14_18-32-55_HDR.jpg",
        ),
        row(4, 0.130, "2709359730_13bca100af.jpg"),
        row(5, 0.021, "957682378_46c3b07bcd.jpg"),
    ];
    // Withheld by the check, shown by a guardian's consent.
    rows[1].hit.shown_by = picseek::store::Mark::Consent;
    rows[1].hit.declared = Some(Mark {
        id: "c1".into(),
        kind: Kind::Consent,
        by: "Anna \x1b[31mK.".into(),
        date: "2026-11-30".into(),
    });
    rows[1].dataset = Some(PairDetails {
        query_id: Some("2709359730_13bca100af.jpg#2".into()),
        expert: Some([3, 4, 3]),
        crowd: Some((2, 1)),
        target: Some(0.68),
        captions: vec!["A dog runs through the grass .".into()],
    });
    app.set_results(Results::Found {
        query: "dog running on grass".into(),
        rows,
        searched: 42,
        took: Duration::from_millis(7),
    });
    app.update(Action::ToggleFocus);
    app.update(Action::Down);
    app
}

fn screen(app: &App, width: u16, height: u16) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| {
            render::draw(f, app);
        })
        .unwrap();
    terminal.backend().clone()
}

#[test]
fn empty_start() {
    let mut app = App::new("data/test_images".into(), MODEL.into());
    app.index = IndexStatus::Encoding {
        done: 32,
        total: 100,
        found: 100,
    };
    insta::assert_snapshot!(screen(&app, 120, 40));
}

#[test]
fn results_with_a_selection() {
    let app = results_app();
    assert_eq!(app.focus, Focus::Results);
    assert_eq!(app.selected, 1);
    let backend = screen(&app, 120, 40);
    let text = format!("{backend}");
    assert!(!text.contains('\x1b'), "raw escape reached the screen");
    insta::assert_snapshot!(backend);
}

#[test]
fn blocked_query() {
    let mut app = app();
    for c in "two k1ds playing".chars() {
        app.update(Action::Insert(c));
    }
    app.set_results(Results::Blocked {
        query: app.query.clone(),
        term: "kids".into(),
        reason: picseek::legal::REASON.into(),
    });
    insta::assert_snapshot!(screen(&app, 120, 40));
}

#[test]
fn help_view() {
    let mut app = results_app();
    app.update(Action::ToggleHelp);
    insta::assert_snapshot!(screen(&app, 120, 40));
}

/// On a 60×15 terminal the legal notice is shown whole (the status pane grows for it).
#[test]
fn blocked_query_on_a_small_terminal() {
    let mut app = app();
    for c in "two kids playing".chars() {
        app.update(Action::Insert(c));
    }
    app.set_results(Results::Blocked {
        query: app.query.clone(),
        term: "kids".into(),
        reason: picseek::legal::REASON.into(),
    });
    let shown = screen(&app, 60, 15).to_string();
    let text: String = shown
        .lines()
        .map(|l| l.trim_matches('"').trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("so picseek does not search for them."),
        "{shown}"
    );
    insta::assert_snapshot!(shown);
}

/// On a 60×15 terminal the help scrolls: its last line can be reached, and the title says how.
#[test]
fn help_scrolls_on_a_small_terminal() {
    let mut app = results_app();
    app.update(Action::ToggleHelp);
    let top = screen(&app, 60, 15).to_string();
    assert!(top.contains("↑↓ scroll"), "{top}");
    assert!(!top.contains("Ctrl-C"), "the help fits after all:\n{top}");
    app.help_max_scroll = 40;
    for _ in 0..8 {
        app.update(Action::PageDown);
    }
    assert!(app.help, "scrolling closed the help");
    let bottom = screen(&app, 60, 15).to_string();
    assert!(bottom.contains("Ctrl-C"), "{bottom}");
    insta::assert_snapshot!(bottom);
    app.update(Action::Insert('x'));
    assert!(!app.help, "another key closes the help");
}

#[test]
fn annotation_review_view() {
    let mut app = results_app();
    app.update(Action::ToggleReview);
    assert_eq!(app.view, View::Review);
    let item = |image: &str, caption: &str, model: f32, target: f32| ReviewItem {
        image: image.into(),
        path: PathBuf::from("/data/train_images").join(image),
        query_id: format!("{image}#0"),
        caption: caption.into(),
        target,
        model,
        expert: Some([4, 4, 3]),
        crowd: Some((3, 0)),
        judged: None,
    };
    app.review = Review::Ready(vec![
        item(
            "542179694_e170e9e465.jpg",
            "A jogger with a dog approaches a ladder truck .",
            0.021,
            1.0,
        ),
        item(
            "3033612929_764d977bd5.jpg",
            "A man on top of a high mountain",
            0.08,
            1.0,
        ),
        item(
            "1745110280_0cbff5e273.jpg",
            "Two dogs in the snow .",
            0.71,
            0.11,
        ),
    ]);
    // The first pair was judged in this session: its row carries the mark.
    if let Review::Ready(items) = &mut app.review {
        items[0].judged = Some(3);
    }
    app.update(Action::Down);
    insta::assert_snapshot!(screen(&app, 120, 40));
}

#[test]
fn very_narrow_terminal() {
    let app = results_app();
    insta::assert_snapshot!(screen(&app, 40, 12));
}

/// `m` on a result: the query line becomes that image's path and a search starts at once; the
/// list then holds images like it, the example itself first.
#[test]
fn more_like_this() {
    let mut app = results_app();
    assert_eq!(app.update(Action::MoreLikeThis), Some(Effect::SearchNow));
    let example = "/photos/dog\x1b[31m_red\nname.jpg";
    assert_eq!(app.query, example);
    assert_eq!(app.focus, Focus::Results);
    app.set_results(Results::Found {
        query: example.into(),
        rows: vec![
            row(1, 1.0, "dog\x1b[31m_red\nname.jpg"),
            row(2, 0.912, "3466891862_9afde75568.jpg"),
            row(3, 0.274, "2709359730_13bca100af.jpg"),
        ],
        searched: 42,
        took: Duration::from_millis(9),
    });
    let backend = screen(&app, 120, 40);
    assert!(
        !format!("{backend}").contains('\x1b'),
        "raw escape reached the screen"
    );
    insta::assert_snapshot!(backend);
}

/// `y`, `o` and `x` ask the runtime to act on the selection or the list; their notices.
#[test]
fn acting_on_results_and_their_notices() {
    let mut app = results_app();
    let selected = app.selected_path().unwrap().to_path_buf();
    assert_eq!(
        app.update(Action::CopyPath),
        Some(Effect::Copy(selected.clone()))
    );
    assert_eq!(
        app.update(Action::OpenFile),
        Some(Effect::Open(selected.clone()))
    );
    let Some(Effect::Export(paths)) = app.update(Action::ExportList) else {
        panic!("x exports the list");
    };
    assert_eq!(paths.len(), 5);
    // The notices the runtime shows for each.
    app.notice = Some((Tone::Info, outside::copied(&selected)));
    insta::assert_snapshot!("copied", screen(&app, 120, 40));
    let no_display = outside::open(&selected, |_| None).unwrap_err();
    app.notice = Some((Tone::Error, no_display));
    insta::assert_snapshot!("cannot_open_without_display", screen(&app, 120, 40));
    let dir = tempfile::tempdir().unwrap();
    let file = outside::export(&paths, dir.path()).unwrap();
    let written = std::fs::read_to_string(&file).unwrap();
    let want: String = paths.iter().map(|p| format!("{}\n", p.display())).collect();
    assert_eq!(written, want, "the exact paths, one a line");
    app.notice = Some((
        Tone::Info,
        outside::exported(
            paths.len(),
            std::path::Path::new("/home/me/picseek-results-1764700000.txt"),
        ),
    ));
    insta::assert_snapshot!("list_written", screen(&app, 120, 40));
    // Nothing selected, nothing listed: no effect, and a word why for x.
    let mut empty = self::app();
    assert_eq!(empty.update(Action::CopyPath), None);
    assert_eq!(empty.update(Action::MoreLikeThis), None);
    assert_eq!(empty.update(Action::ExportList), None);
    assert!(empty.notice.is_some());
}
