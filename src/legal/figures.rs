//! Applying the query check to data: excluding child-related pairs from
//! training, and measuring the check on a set of captions.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::matcher::{has_plain_lexicon_word, plain_tokens};
use super::mentions_child;

/// The seed's stop words: a caption with one of these (whole word, any case)
/// must always be blocked.
pub const SEED_STOP_WORDS: &[&str] = &[
    "boy", "boys", "girl", "girls", "kid", "kids", "child", "children", "baby", "babies", "teen",
    "teenager",
];

/// Whether `text` contains one of [`SEED_STOP_WORDS`] as a whole word, in any
/// case.
pub fn has_stop_word(text: &str) -> bool {
    plain_tokens(text)
        .iter()
        .any(|t| SEED_STOP_WORDS.contains(&t.as_str()))
}

/// Whether `text` is plainly child-related: it has a stop word or a word form
/// of the filter's lexicon as a whole, undisguised token.
pub fn is_plainly_child_related(text: &str) -> bool {
    has_stop_word(text) || has_plain_lexicon_word(text)
}

/// The source image of a query id `<image>#<n>` (the whole id if it has no
/// `#`).
pub fn source_image(query_id: &str) -> &str {
    query_id
        .rsplit_once('#')
        .map_or(query_id, |(image, _)| image)
}

/// Which (image, query) training pairs survive the legal filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusion {
    /// Source images of captions that mention a child. Every pair that has
    /// one of these as its image or as its query's source is dropped.
    pub blocked_images: HashSet<String>,
    /// Query ids whose text mentions a child.
    pub blocked_queries: HashSet<String>,
    /// For each input pair, in order: whether it is kept.
    pub kept: Vec<bool>,
    /// Number of input pairs.
    pub pairs_total: usize,
    /// Number of kept pairs.
    pub pairs_kept: usize,
    /// Distinct images named by the input (image column and query sources).
    pub images_total: usize,
    /// Distinct images named by the input that are not blocked.
    pub images_kept: usize,
    /// Distinct images in the image column of the kept pairs.
    pub images_in_kept_pairs: usize,
    /// Distinct query ids in the input.
    pub captions_total: usize,
    /// Distinct query ids whose text is clean and whose source image is not
    /// blocked.
    pub captions_kept: usize,
    /// Distinct query ids in the kept pairs.
    pub captions_in_kept_pairs: usize,
}

impl Exclusion {
    /// Whether a pair survives (also for pairs that were not in the input).
    pub fn keeps(&self, image: &str, query_id: &str, query_text: &str) -> bool {
        !self.blocked_images.contains(image)
            && !self.blocked_images.contains(source_image(query_id))
            && !self.blocked_queries.contains(query_id)
            && !mentions_child(query_text)
    }
}

/// Decide which training pairs `(image, query_id, query_text)` survive:
/// drop every pair whose query text mentions a child, and every pair whose
/// image or query source is the source image of such a caption.
pub fn exclude_child_pairs<I, A, B, C>(pairs: I) -> Exclusion
where
    I: IntoIterator<Item = (A, B, C)>,
    A: AsRef<str>,
    B: AsRef<str>,
    C: AsRef<str>,
{
    exclude_pairs_with(pairs, mentions_child)
}

/// [`exclude_child_pairs`] with another test for "mentions a child" (for
/// example [`has_stop_word`], to compare with the seed's list).
pub fn exclude_pairs_with<I, A, B, C, F>(pairs: I, mut mentions: F) -> Exclusion
where
    I: IntoIterator<Item = (A, B, C)>,
    A: AsRef<str>,
    B: AsRef<str>,
    C: AsRef<str>,
    F: FnMut(&str) -> bool,
{
    let pairs: Vec<(String, String, String)> = pairs
        .into_iter()
        .map(|(a, b, c)| {
            (
                a.as_ref().to_string(),
                b.as_ref().to_string(),
                c.as_ref().to_string(),
            )
        })
        .collect();

    let mut verdicts: HashMap<&str, bool> = HashMap::new();
    let mut ex = Exclusion {
        pairs_total: pairs.len(),
        ..Exclusion::default()
    };
    for (_, query_id, text) in &pairs {
        let child = *verdicts
            .entry(text.as_str())
            .or_insert_with(|| mentions(text));
        if child {
            ex.blocked_queries.insert(query_id.clone());
            ex.blocked_images.insert(source_image(query_id).to_string());
        }
    }

    let mut images: HashSet<&str> = HashSet::new();
    let mut captions: HashSet<&str> = HashSet::new();
    let mut kept_images: HashSet<&str> = HashSet::new();
    let mut kept_captions: HashSet<&str> = HashSet::new();
    for (image, query_id, text) in &pairs {
        let source = source_image(query_id);
        images.insert(image);
        images.insert(source);
        captions.insert(query_id);
        let keep = !verdicts.get(text.as_str()).copied().unwrap_or(true)
            && !ex.blocked_queries.contains(query_id)
            && !ex.blocked_images.contains(image.as_str())
            && !ex.blocked_images.contains(source);
        ex.kept.push(keep);
        if keep {
            ex.pairs_kept += 1;
            kept_images.insert(image);
            kept_captions.insert(query_id);
        }
    }
    ex.images_total = images.len();
    ex.images_kept = images
        .iter()
        .filter(|i| !ex.blocked_images.contains(**i))
        .count();
    ex.images_in_kept_pairs = kept_images.len();
    ex.captions_total = captions.len();
    ex.captions_kept = captions
        .iter()
        .filter(|q| {
            !ex.blocked_queries.contains(**q) && !ex.blocked_images.contains(source_image(q))
        })
        .count();
    ex.captions_in_kept_pairs = kept_captions.len();
    ex
}

/// How the query check fares on a set of captions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptionFigures {
    /// Distinct captions checked.
    pub captions: usize,
    /// Captions blocked by the check.
    pub blocked: usize,
    /// Captions with a seed stop word.
    pub stop_word_captions: usize,
    /// Of those, how many are blocked.
    pub stop_word_blocked: usize,
    /// Captions with a stop word that were NOT blocked (should be empty).
    pub stop_word_missed: Vec<String>,
    /// Captions with no plain child-related word (see
    /// [`is_plainly_child_related`]).
    pub non_child_captions: usize,
    /// Of those, the ones blocked: possible false positives, for review.
    pub non_child_blocked: Vec<String>,
    /// Blocked captions that are child-related by the lexicon but have no
    /// stop word (what the broader lists add over the seed).
    pub blocked_beyond_stop_words: Vec<String>,
}

impl CaptionFigures {
    /// Percentage of stop-word captions that are blocked (100 when none).
    pub fn stop_word_block_percent(&self) -> f64 {
        percent(self.stop_word_blocked, self.stop_word_captions, 100.0)
    }

    /// Percentage of captions without child words that are blocked.
    pub fn false_positive_percent(&self) -> f64 {
        percent(self.non_child_blocked.len(), self.non_child_captions, 0.0)
    }
}

fn percent(part: usize, whole: usize, empty: f64) -> f64 {
    if whole == 0 {
        empty
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Measure the query check on captions (duplicates are counted once).
pub fn caption_figures<I, S>(captions: I) -> CaptionFigures
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let distinct: BTreeSet<String> = captions
        .into_iter()
        .map(|c| c.as_ref().to_string())
        .collect();
    let mut f = CaptionFigures {
        captions: distinct.len(),
        ..CaptionFigures::default()
    };
    for caption in distinct {
        let blocked = mentions_child(&caption);
        let stop = has_stop_word(&caption);
        let child = stop || has_plain_lexicon_word(&caption);
        if blocked {
            f.blocked += 1;
        }
        if stop {
            f.stop_word_captions += 1;
            if blocked {
                f.stop_word_blocked += 1;
            } else {
                f.stop_word_missed.push(caption.clone());
            }
        }
        if !child {
            f.non_child_captions += 1;
            if blocked {
                f.non_child_blocked.push(caption.clone());
            }
        } else if blocked && !stop {
            f.blocked_beyond_stop_words.push(caption);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_of_query_ids() {
        assert_eq!(source_image("a.jpg#2"), "a.jpg");
        assert_eq!(source_image("a#b.jpg#0"), "a#b.jpg");
        assert_eq!(source_image("plain"), "plain");
    }

    #[test]
    fn stop_words_are_whole_words() {
        assert!(has_stop_word("A Boy's kite"));
        assert!(has_stop_word("KIDS"));
        assert!(!has_stop_word("a kidney bean"));
        assert!(!has_stop_word("cowboys"));
    }

    #[test]
    fn exclusion_drops_child_sources() {
        let pairs = [
            ("a.jpg", "a.jpg#0", "A boy on a bike"),
            ("b.jpg", "a.jpg#0", "A boy on a bike"),
            ("a.jpg", "c.jpg#0", "A dog runs"),
            ("c.jpg", "c.jpg#0", "A dog runs"),
            ("d.jpg", "d.jpg#0", "A red car"),
            ("c.jpg", "d.jpg#0", "A red car"),
        ];
        let ex = exclude_child_pairs(pairs);
        assert_eq!(ex.kept, [false, false, false, true, true, true]);
        assert_eq!(ex.blocked_images, HashSet::from(["a.jpg".to_string()]));
        assert_eq!(ex.pairs_kept, 3);
        assert_eq!(ex.images_total, 4);
        assert_eq!(ex.images_kept, 3);
        assert_eq!(ex.images_in_kept_pairs, 2);
        assert_eq!(ex.captions_total, 3);
        assert_eq!(ex.captions_kept, 2);
        assert!(ex.keeps("d.jpg", "c.jpg#1", "a cat"));
        assert!(!ex.keeps("a.jpg", "c.jpg#1", "a cat"));
        assert!(!ex.keeps("d.jpg", "c.jpg#1", "a kid"));
    }

    #[test]
    fn figures_on_a_few_captions() {
        let f = caption_figures([
            "A boy runs",
            "A boy runs",
            "A toddler sleeps",
            "A dog runs",
            "Two men talk",
        ]);
        assert_eq!(f.captions, 4);
        assert_eq!(f.stop_word_captions, 1);
        assert_eq!(f.stop_word_blocked, 1);
        assert_eq!(f.non_child_captions, 2);
        assert!(f.non_child_blocked.is_empty());
        assert_eq!(f.blocked_beyond_stop_words, ["A toddler sleeps"]);
        assert_eq!(f.stop_word_block_percent(), 100.0);
        assert_eq!(f.false_positive_percent(), 0.0);
    }
}
