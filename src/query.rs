//! What a query asks for: terms added and taken away (`dog + beach - snow`, `--not snow`), each
//! a text or an example image. Parsing only: the legal check of every term is
//! [`crate::legal::check_terms`], and what the terms become for ranking is [`crate::search`].
//!
//! Terms are separated by ` + ` and ` - ` with a space on both sides, so hyphenated words
//! (`t-shirt`, `black-and-white`) stay whole. A term that names an existing image file (by its
//! ending: `.jpg`, `.png`, …) is an example image: images that look like it rank high.

use std::path::{Path, PathBuf};

use crate::formats::has_image_extension;

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Text(String),
    /// An example image (an absolute path).
    Image(PathBuf),
}

/// A parsed query: what the images should show (`plus`, at least one term) and what they should
/// not (`minus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub plus: Vec<Term>,
    pub minus: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("empty query: type what the images should show")]
    Empty,
    #[error("nothing to search for: every term is taken away (-); add one without a minus")]
    OnlyMinus,
    #[error("query too long ({0} characters; the limit is {MAX_QUERY_CHARS})")]
    TooLong(usize),
}

/// Longest query accepted, in characters (the text encoder reads at most 256 tokens anyway).
pub const MAX_QUERY_CHARS: usize = 1000;

impl Query {
    /// One text, as it is: no `+`/`-` reading.
    pub fn text(text: &str) -> Query {
        Query {
            plus: vec![Term::Text(text.trim().to_string())],
            minus: Vec::new(),
        }
    }

    /// One example image.
    pub fn image(path: &Path) -> Query {
        Query {
            plus: vec![Term::Image(absolute(path))],
            minus: Vec::new(),
        }
    }

    /// Reads a query line: terms joined by ` + ` and ` - `, and each of `not` taken away.
    /// Relative image paths are read from the current folder.
    pub fn parse(line: &str, not: &[String]) -> Result<Query, QueryError> {
        Self::build(line, not, None)
    }

    /// As [`Query::parse`], with an example image wanted as well (`search --image`).
    pub fn build(line: &str, not: &[String], image: Option<&Path>) -> Result<Query, QueryError> {
        let chars = line.chars().count() + not.iter().map(|n| n.chars().count()).sum::<usize>();
        if chars > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong(chars));
        }
        let mut q = Query {
            plus: Vec::new(),
            minus: Vec::new(),
        };
        let line = line.trim();
        // A whole line naming an image is that image, even when its name holds " - ".
        if let Some(image) = as_image(line) {
            q.plus.push(image);
        } else {
            for (minus, text) in split_terms(line) {
                let term = as_image(text).unwrap_or_else(|| Term::Text(text.to_string()));
                if minus {
                    q.minus.push(term);
                } else {
                    q.plus.push(term);
                }
            }
        }
        q.plus.extend(image.map(|p| Term::Image(absolute(p))));
        for n in not {
            let n = n.trim();
            if !n.is_empty() {
                q.minus
                    .push(as_image(n).unwrap_or_else(|| Term::Text(n.to_string())));
            }
        }
        match (q.plus.is_empty(), q.minus.is_empty()) {
            (true, true) => Err(QueryError::Empty),
            (true, false) => Err(QueryError::OnlyMinus),
            _ => Ok(q),
        }
    }

    /// The query's only text, when it is one plain text term.
    pub fn plain_text(&self) -> Option<&str> {
        match (self.plus.as_slice(), self.minus.is_empty()) {
            ([Term::Text(t)], true) => Some(t),
            _ => None,
        }
    }

    /// The text terms, added and taken away (for the legal filter).
    pub fn texts(&self) -> impl Iterator<Item = &str> + '_ {
        self.plus.iter().chain(&self.minus).filter_map(|t| match t {
            Term::Text(s) => Some(s.as_str()),
            Term::Image(_) => None,
        })
    }

    /// The example images, added and taken away.
    pub fn images(&self) -> impl Iterator<Item = &Path> + '_ {
        self.plus.iter().chain(&self.minus).filter_map(|t| match t {
            Term::Image(p) => Some(p.as_path()),
            Term::Text(_) => None,
        })
    }
}

/// Splits a line at ` + ` and ` - ` (whitespace on both sides); a line may start with `- `
/// or `+ `. Empty terms are dropped. Each term comes with whether it is taken away.
fn split_terms(line: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut minus = false;
    let mut start = 0;
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let sign = b[i] == b'+' || b[i] == b'-';
        let spaced_before = i == 0 || b[i - 1].is_ascii_whitespace();
        let spaced_after = i + 1 == b.len() || b[i + 1].is_ascii_whitespace();
        if sign && spaced_before && spaced_after {
            push_term(&mut out, minus, &line[start..i]);
            minus = b[i] == b'-';
            start = i + 1;
        }
        i += 1;
    }
    push_term(&mut out, minus, &line[start..]);
    out
}

fn push_term<'a>(out: &mut Vec<(bool, &'a str)>, minus: bool, text: &'a str) {
    let text = text.trim();
    if !text.is_empty() {
        out.push((minus, text));
    }
}

/// The term as an example image, when it names an existing image file.
fn as_image(text: &str) -> Option<Term> {
    let p = Path::new(text.trim());
    (has_image_extension(p) && p.is_file()).then(|| Term::Image(absolute(p)))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Term {
        Term::Text(s.into())
    }

    #[test]
    fn terms_are_split_at_spaced_signs_only() {
        let q = Query::parse("dog + beach - snow", &[]).unwrap();
        assert_eq!(q.plus, vec![text("dog"), text("beach")]);
        assert_eq!(q.minus, vec![text("snow")]);
        let q = Query::parse("a t-shirt with black-and-white stripes", &[]).unwrap();
        assert_eq!(q.plus, vec![text("a t-shirt with black-and-white stripes")]);
        assert!(q.minus.is_empty());
        let q = Query::parse("  - snow + mountains  -  fog ", &[]).unwrap();
        assert_eq!(q.plus, vec![text("mountains")]);
        assert_eq!(q.minus, vec![text("snow"), text("fog")]);
        let q = Query::parse("c++ code + -5 degrees", &[]).unwrap();
        assert_eq!(q.plus, vec![text("c++ code"), text("-5 degrees")]);
        let q = Query::parse("собака + пляж - снег", &[]).unwrap();
        assert_eq!(q.plus, vec![text("собака"), text("пляж")]);
        assert_eq!(q.minus, vec![text("снег")]);
    }

    #[test]
    fn not_adds_terms_taken_away() {
        let q = Query::parse("dog", &["snow".into(), "  ".into(), "cat".into()]).unwrap();
        assert_eq!(q.plus, vec![text("dog")]);
        assert_eq!(q.minus, vec![text("snow"), text("cat")]);
        assert_eq!(Query::parse("dog", &[]).unwrap().plain_text(), Some("dog"));
        assert_eq!(q.plain_text(), None);
    }

    #[test]
    fn nothing_to_find_is_an_error() {
        assert_eq!(
            Query::parse(&"a".repeat(2000), &[]),
            Err(QueryError::TooLong(2000))
        );
        assert_eq!(Query::parse("   ", &[]), Err(QueryError::Empty));
        assert_eq!(Query::parse(" + - ", &[]), Err(QueryError::Empty));
        assert_eq!(Query::parse("- snow", &[]), Err(QueryError::OnlyMinus));
        assert_eq!(
            Query::parse("", &["snow".into()]),
            Err(QueryError::OnlyMinus)
        );
    }

    #[test]
    fn existing_image_files_are_example_terms() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("Trip - Day 1.jpg");
        std::fs::write(&img, b"not really a jpeg, the parser does not read it").unwrap();
        let other = dir.path().join("beach.png");
        std::fs::write(&other, b"x").unwrap();
        let line = img.to_str().unwrap();
        // The whole line names a file, " - " and all.
        assert_eq!(
            Query::parse(line, &[]).unwrap().plus,
            vec![Term::Image(img.clone())]
        );
        let q = Query::parse(&format!("{} - snow", other.display()), &[]).unwrap();
        assert_eq!(q.plus, vec![Term::Image(other.clone())]);
        assert_eq!(q.images().collect::<Vec<_>>(), vec![other.as_path()]);
        assert_eq!(q.texts().collect::<Vec<_>>(), vec!["snow"]);
        // A name that is not a file, or not an image, stays text.
        let missing = dir.path().join("missing.jpg");
        let q = Query::parse(missing.to_str().unwrap(), &[]).unwrap();
        assert_eq!(q.plus, vec![text(missing.to_str().unwrap())]);
    }
}
