//! Keys become actions. Which action a key means depends on the focus: in the query line
//! printable keys are text; in the list, 1–4 record a judgement and `?` opens the help.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, Focus};

/// The key help, as the help view lists it.
pub const HELP: &[(&str, &str)] = &[
    (
        "type",
        "search as you type (debounced); Enter searches at once",
    ),
    ("↑ ↓", "move through the results"),
    ("PgUp PgDn", "move a page"),
    (
        "Home End",
        "first / last result (in the query line: start / end of the text)",
    ),
    ("Tab", "switch focus between the query line and the results"),
    (
        "1 2 3 4",
        "in the results: record a judgement for the selected image and the query",
    ),
    (
        "",
        "1 = no match, 2 = weak, 3 = good, 4 = exact match → data/annotations.tsv",
    ),
    (
        "r",
        "in the results: review annotated pairs, worst disagreement first",
    ),
    (
        "m",
        "in the results: more like this (search by the selected image)",
    ),
    (
        "y",
        "in the results: copy the selected path to the clipboard (OSC 52, works over SSH)",
    ),
    (
        "o",
        "in the results: open the selected image with the desktop's viewer",
    ),
    (
        "x",
        "in the results: write the result list to a file (paths, one a line)",
    ),
    (
        "a + b - c",
        "query syntax: want a and b, not c; a term naming an image file is an example",
    ),
    ("Ctrl-U", "clear the query"),
    (
        "F1 ?",
        "this help (F1 anywhere; ? in the results or with an empty query)",
    ),
    ("Esc", "close the review; else quit"),
    ("Ctrl-C", "quit"),
];

/// The action a key asks for, if any.
pub fn action(key: KeyEvent, app: &App) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl {
        return match key.code {
            KeyCode::Char('c') | KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Char('u') => Some(Action::ClearQuery),
            KeyCode::Home => Some(Action::First),
            KeyCode::End => Some(Action::Last),
            _ => None,
        };
    }
    let in_query = app.focus == Focus::Query;
    Some(match key.code {
        KeyCode::Esc => Action::Back,
        KeyCode::Enter => Action::SearchNow,
        KeyCode::Tab | KeyCode::BackTab => Action::ToggleFocus,
        KeyCode::F(1) => Action::ToggleHelp,
        KeyCode::Up => Action::Up,
        KeyCode::Down => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home if in_query => Action::CursorStart,
        KeyCode::End if in_query => Action::CursorEnd,
        KeyCode::Home => Action::First,
        KeyCode::End => Action::Last,
        KeyCode::Left if in_query => Action::CursorLeft,
        KeyCode::Right if in_query => Action::CursorRight,
        KeyCode::Backspace => Action::Backspace,
        KeyCode::Delete if in_query => Action::Delete,
        KeyCode::Char('?') if !in_query || app.query.is_empty() => Action::ToggleHelp,
        KeyCode::Char(c @ '1'..='4') if !in_query => Action::Judge(c as u8 - b'0'),
        KeyCode::Char('r') if !in_query => Action::ToggleReview,
        KeyCode::Char('m') if !in_query => Action::MoreLikeThis,
        KeyCode::Char('y') if !in_query => Action::CopyPath,
        KeyCode::Char('o') if !in_query => Action::OpenFile,
        KeyCode::Char('x') if !in_query => Action::ExportList,
        KeyCode::Char(c) => Action::Insert(c),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn digits_are_text_in_the_query_and_judgements_in_the_list() {
        let mut app = App::new(".".into(), String::new());
        assert_eq!(
            action(key(KeyCode::Char('3')), &app),
            Some(Action::Insert('3'))
        );
        assert_eq!(
            action(key(KeyCode::Char('?')), &app),
            Some(Action::ToggleHelp)
        );
        app.query = "what?".into();
        assert_eq!(
            action(key(KeyCode::Char('?')), &app),
            Some(Action::Insert('?'))
        );
        // F1 opens the help whatever the query line holds.
        assert_eq!(action(key(KeyCode::F(1)), &app), Some(Action::ToggleHelp));
        app.focus = Focus::Results;
        assert_eq!(
            action(key(KeyCode::Char('3')), &app),
            Some(Action::Judge(3))
        );
        assert_eq!(
            action(key(KeyCode::Char('5')), &app),
            Some(Action::Insert('5'))
        );
        assert_eq!(
            action(
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                &app
            ),
            Some(Action::Quit)
        );
    }
}
