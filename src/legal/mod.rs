//! The legal rules: refuse queries about children, withhold images that show one.
//!
//! Some countries forbid search services to show, without a parent's or
//! guardian's consent, any material that describes or depicts a child
//! (anyone under 16). picseek therefore refuses such queries, withholds
//! images that show a child (the stages of [`check`]: the whole-image
//! detector of [`images`], then the people in view and the [`decision`]
//! where there are any), and keeps captions about children out of its
//! training data. The rules are pure: they read no files and no cache (the
//! engine feeds them). The CLI, the TUI and training all check queries with
//! [`check_query`] (or [`mentions_child`], the same test).
//!
//! The word lists are data: `src/legal/terms.txt`, embedded in the binary and
//! parsed once. The check matches whole words, never raw substrings
//! (`kidney` passes), and sees through disguises: case, spacing and
//! punctuation inside a word (`g i r l`, `k.i.d.s`), digits for letters
//! (`k1ds`), look-alike Cyrillic/Latin/Greek letters (`bоy`, `дeти`),
//! invisible and full-width characters. It also catches age phrases for ages
//! 0–15 (`7-year-old`, `aged 12`, `under 16`, `12 лет`).
//!
//! ```
//! use picseek::legal::{check_query, Rule, Verdict};
//! assert_eq!(check_query("a red car"), Verdict::Allowed);
//! assert!(check_query("two kids at the beach").is_blocked());
//! assert_eq!(
//!     check_query("g i r l on a swing"),
//!     Verdict::Blocked { term: "girl".into(), rule: Rule::Disguised }
//! );
//! ```

pub mod check;
mod checked;
pub mod decision;
mod figures;
pub mod images;
pub mod labels;
mod lexicon;
mod matcher;
mod normalize;
mod respell;
mod tokens;

use std::fmt;

pub use checked::{check_terms, CheckedQuery, Refusal};
pub use figures::{
    caption_figures, exclude_child_pairs, exclude_pairs_with, has_stop_word,
    is_plainly_child_related, source_image, CaptionFigures, Exclusion, SEED_STOP_WORDS,
};
pub use lexicon::{validate_terms, LexiconError};
pub use normalize::normalize;

/// Why a query is refused, for the user.
pub const REASON: &str = "Images or text about children under 16 may not be shown \
without the consent of a parent or guardian, so picseek does not search for them.";

/// Which rule blocked a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A word for a child, written plainly (`kids`, `мальчик`).
    Word,
    /// A word for a child in disguise: spaced or punctuated letters, digits
    /// for letters, look-alike letters, compounds, slang and typing slips
    /// (`g i r l`, `k1ds`, `bоy`, `school-girl`, `kidz`, `todler`).
    Disguised,
    /// A phrase about children (`little ones`, `elementary school`).
    Phrase,
    /// An age under 16 (`7-year-old`, `aged 12`, `under 16`, `12 лет`).
    Age,
    /// `minor` used as a noun (`a minor`, `minors`).
    MinorNoun,
}

impl Rule {
    /// Order among hits at the same place: plainer explanations first.
    pub(crate) fn priority(self) -> u8 {
        match self {
            Rule::Word => 0,
            Rule::Age => 1,
            Rule::Phrase => 2,
            Rule::MinorNoun => 3,
            Rule::Disguised => 4,
        }
    }

    /// A short description of the rule.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Word => "a word for a child",
            Rule::Disguised => "a disguised or misspelled word for a child",
            Rule::Phrase => "a phrase about children",
            Rule::Age => "an age under 16",
            Rule::MinorNoun => "'minor' meaning a child",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The outcome of [`check_query`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The query may be searched.
    Allowed,
    /// The query is about a child and must be refused.
    Blocked {
        /// The matched term, normalised (`girl` for `G i R l`, `7 year old`
        /// for `7-year-old`).
        term: String,
        /// The rule that matched.
        rule: Rule,
    },
}

impl Verdict {
    /// Whether the query is refused.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Verdict::Blocked { .. })
    }

    /// The user-facing reason, when blocked.
    pub fn reason(&self) -> Option<&'static str> {
        self.is_blocked().then_some(REASON)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allowed => f.write_str("allowed"),
            Verdict::Blocked { term, rule } => {
                write!(f, "blocked: '{term}' ({rule}). {REASON}")
            }
        }
    }
}

/// Check a search query. Never panics, for any input.
pub fn check_query(query: &str) -> Verdict {
    matcher::check(query)
}

/// For `scripts/near_words.sh`: the child word that the check would misread
/// `word`, a real word from a word list, as, if `near_words.txt` did not
/// allow it. `None` when the word passes, is itself a listed child word, or
/// is blocked by a rule other than a word rule (`minor`), or is a compound
/// that `[block_prefixes]` blocks.
#[doc(hidden)]
pub fn misread_real_word(word: &str) -> Option<String> {
    let lex = &*lexicon::BASE_LEXICON;
    let key = normalize(word);
    // Compounds of a `[block_prefixes]` entry found in a word list are
    // compounds about children ('Kinderarzt'); exceptions are listed by hand.
    if lex.block.contains(&key) || respell::compound_head(lex, &key).is_some() {
        return None;
    }
    match matcher::check_with(lex, word) {
        Verdict::Blocked {
            term,
            rule: Rule::Word | Rule::Disguised,
        } => Some(term),
        _ => None,
    }
}

/// Whether a text (a caption, a query) describes a child: the same test as
/// [`check_query`]. Used to keep such captions out of training.
pub fn mentions_child(text: &str) -> bool {
    check_query(text).is_blocked()
}
