//! Hand-checked ground truth for the image legal check (`src/legal/child_labels.tsv`, embedded):
//! for every test image and for the training images whose captions mention a child or a young
//! person, whether a person under 16 is visible, judged by looking at the image. Captions are
//! noisy ("girl" for young women, "teenagers" for groups of any age), so the child detector is
//! trained and measured against these where they exist.

use std::collections::HashMap;
use std::sync::OnceLock;

const TSV: &str = include_str!("child_labels.tsv");

/// One hand-checked image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// `train` or `test`.
    pub split: &'static str,
    /// A person under 16 is visible.
    pub child: bool,
    /// What is seen, and why it differs from the captions where it does.
    pub note: &'static str,
}

/// Image file name → its hand-checked label.
pub fn hand_labels() -> &'static HashMap<&'static str, Label> {
    static LABELS: OnceLock<HashMap<&'static str, Label>> = OnceLock::new();
    LABELS.get_or_init(|| parse(TSV))
}

fn parse(text: &'static str) -> HashMap<&'static str, Label> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (image, split, child, note) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let child = match child {
                "1" => true,
                "0" => false,
                _ => return None,
            };
            Some((image, Label { split, child, note }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses() {
        let rows = TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        let labels = hand_labels();
        assert_eq!(
            labels.len(),
            rows,
            "a line of child_labels.tsv does not parse"
        );
        let test = labels.values().filter(|l| l.split == "test").count();
        assert_eq!(test, 100, "every test image is hand-checked");
        assert!(labels
            .values()
            .all(|l| l.split == "test" || l.split == "train"));
    }
}
