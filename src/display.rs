//! Showing untrusted text (file names, queries) on a terminal: control characters are escaped,
//! never sent raw, so a file name cannot move the cursor or change colours.

use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

/// Escapes control characters (C0, DEL, C1) and invisible format characters as `\n`, `\t`,
/// `\x1b`, `\u{200b}`; other text is unchanged.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// A path for a terminal or a log line: lossy UTF-8, control characters escaped.
pub fn escape_path(path: &Path) -> String {
    escape_control(&path.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_only() {
        assert_eq!(escape_control("plain café.jpg"), "plain café.jpg");
        assert_eq!(escape_control("a\nb\x1b[31m.jpg"), "a\\nb\\x1b[31m.jpg");
        assert_eq!(escape_control("x\u{9b}y\u{202e}z"), "x\\x9by\\u{202e}z");
    }
}
