//! Tokenising and matching a query against the lexicon.
//!
//! The text is normalised, cut into chunks (at whitespace and sentence
//! punctuation) and words (alphanumeric runs, also split where digits meet
//! letters). Candidates are then looked up as whole tokens:
//!
//! * every word, and its camelCase parts (`KidsParty`);
//! * every chunk whose words are joined by `. - _ * '` and the like
//!   (`k.i.d.s`, `school-girl`, `boy's`);
//! * every stretch of a run of one-character words (`g i r l`), so spelled-out
//!   words are found without gluing longer neighbouring words together;
//!
//! each in several readings: as written, with digits read as letters,
//! with look-alike letters folded to Latin or Cyrillic, with long letter
//! repeats shortened. Allowed words and phrases found over a span cancel the
//! blocked words inside that span (`boy-friend`, `k i d n e y`, `baby blue`).
//! Phrases, age patterns and the `minor` rule work on the word sequence.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::lexicon::{AgePattern, Elem, Lexicon, PatElem, Phrase, LEXICON};
use super::normalize::{fold_to_cyrillic, fold_to_latin, normalize_chars};
use super::respell::{compound_head, respelled, Reach};
use super::tokens::{readings, tokenize, FoldPolicy, Word};
use super::{Rule, Verdict};

/// Longest candidate string looked up at all (in chars). Longer strings
/// cannot be words of the lexicon even after shortening repeats.
const MAX_CANDIDATE: usize = 256;

#[derive(Debug, Clone)]
struct Hit {
    start: usize,
    end: usize,
    term: String,
    rule: Rule,
}

struct Matcher<'a> {
    lex: &'a Lexicon,
    words: Vec<Word>,
    /// Normalised forms of each word used by phrases and patterns.
    forms: Vec<Rc<Vec<String>>>,
    /// Forms already computed for this query, by word.
    form_cache: HashMap<String, Rc<Vec<String>>>,
    blocks: Vec<Hit>,
    allows: Vec<(usize, usize)>,
    /// Lookups already made for this query, by candidate string.
    cache: HashMap<String, Rc<Lookup>>,
    policy: FoldPolicy,
}

/// What the lexicon says about one candidate string, in any reading.
#[derive(Debug, Default)]
struct Lookup {
    /// Some reading is a prefix of a lexicon word.
    prefix: bool,
    /// The allowed word it reads as.
    allow: Option<String>,
    /// The blocked word it reads as, and whether it is the reading as written.
    block: Option<(String, bool)>,
}

/// Whether a candidate is one word (or a camelCase part of one), so that
/// respellings and compounds apply ([`super::respell`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Joined,
}

impl<'a> Matcher<'a> {
    fn new(lex: &'a Lexicon, text: &str) -> Self {
        let words = tokenize(&normalize_chars(text));
        let policy = FoldPolicy::for_words(&words);
        Matcher {
            lex,
            forms: Vec::with_capacity(words.len()),
            words,
            blocks: Vec::new(),
            allows: Vec::new(),
            cache: HashMap::new(),
            form_cache: HashMap::new(),
            policy,
        }
    }

    /// Look a candidate up in every reading; record block and allow hits.
    /// Returns whether any reading is a prefix of a lexicon word, and the
    /// lexicon word found (if any).
    fn candidate(
        &mut self,
        start: usize,
        end: usize,
        s: &str,
        plain: bool,
        kind: Kind,
    ) -> (bool, Option<String>) {
        let key = match kind {
            Kind::Word => format!("w{s}"),
            Kind::Joined => format!("j{s}"),
        };
        let lookup = match self.cache.get(&key) {
            Some(l) => Rc::clone(l),
            None => {
                let l = Rc::new(self.lookup(s, kind));
                self.cache.insert(key, Rc::clone(&l));
                l
            }
        };
        if lookup.allow.is_some() {
            self.allows.push((start, end));
        }
        if let Some((term, as_written)) = &lookup.block {
            let rule = if *as_written && plain {
                Rule::Word
            } else {
                Rule::Disguised
            };
            self.blocks.push(Hit {
                start,
                end,
                term: term.clone(),
                rule,
            });
        }
        let found = lookup
            .allow
            .clone()
            .or_else(|| lookup.block.as_ref().map(|(t, _)| t.clone()));
        (lookup.prefix, found)
    }

    fn lookup(&self, s: &str, kind: Kind) -> Lookup {
        let mut l = Lookup::default();
        if s.is_empty() || s.chars().count() > MAX_CANDIDATE {
            return l;
        }
        let mut allow_as_written = false;
        let readings = readings(s, self.policy);
        for (i, r) in readings.iter().enumerate() {
            if l.allow.is_none() && self.lex.allow.contains(r) {
                l.allow = Some(r.clone());
                allow_as_written = i == 0;
            }
            if l.block.is_none() && self.lex.block.contains(r) {
                l.block = Some((r.clone(), i == 0));
            }
            if !l.prefix && self.lex.prefixes.contains(r) {
                l.prefix = true;
            }
        }
        // A blocked word as written is not excused by a folded reading that
        // happens to be allowed ('tot' folds to the allowed Russian 'тот').
        if matches!(l.block, Some((_, true))) && !allow_as_written {
            l.allow = None;
        }
        if l.block.is_none() && l.allow.is_none() {
            l.block = readings.iter().enumerate().find_map(|(i, r)| match kind {
                Kind::Word => compound_head(self.lex, r)
                    .map(|t| (t, i == 0))
                    .or_else(|| respelled(self.lex, r, Reach::Word).map(|t| (t, false))),
                Kind::Joined => respelled(self.lex, r, Reach::Joined).map(|t| (t, false)),
            });
        }
        l
    }

    fn scan_words(&mut self) {
        for i in 0..self.words.len() {
            let text = std::mem::take(&mut self.words[i].text);
            let plain = !self.words[i].subst;
            let (_, found) = self.candidate(i, i + 1, &text, plain, Kind::Word);
            let read_l = (!self.words[i].capital_i.is_empty()).then(|| {
                let capital_i = &self.words[i].capital_i;
                text.chars()
                    .enumerate()
                    .map(|(k, c)| if capital_i.contains(&k) { 'l' } else { c })
                    .collect::<String>()
            });
            if let Some(read_l) = &read_l {
                self.candidate(i, i + 1, read_l, false, Kind::Word);
            }
            let form_key = match &read_l {
                Some(read_l) => format!("{text} {read_l}"),
                None => text.clone(),
            };
            let forms = match self.form_cache.get(&form_key) {
                Some(forms) => Rc::clone(forms),
                None => {
                    let mut forms = vec![text.clone()];
                    if text.chars().count() <= MAX_CANDIDATE {
                        forms.extend(fold_to_latin(&text));
                        forms.extend(fold_to_cyrillic(&text));
                    }
                    forms.extend(found);
                    forms.extend(read_l);
                    forms.dedup();
                    let forms = Rc::new(forms);
                    self.form_cache.insert(form_key, Rc::clone(&forms));
                    forms
                }
            };
            self.forms.push(forms);

            let camel = self.words[i].camel.clone();
            if !camel.is_empty() {
                let chars: Vec<char> = text.chars().collect();
                let mut cut = 0;
                for &b in camel.iter().chain(std::iter::once(&chars.len())) {
                    let part: String = chars[cut..b].iter().collect();
                    self.candidate(i, i + 1, &part, false, Kind::Word);
                    cut = b;
                }
            }
            self.words[i].text = text;
        }
    }

    fn scan_chunks(&mut self) {
        let mut i = 0;
        while i < self.words.len() {
            let chunk = self.words[i].chunk;
            let mut j = i;
            while j < self.words.len() && self.words[j].chunk == chunk {
                j += 1;
            }
            if j - i >= 2 {
                let total: usize = self.words[i..j].iter().map(|w| w.text.len()).sum();
                if total <= MAX_CANDIDATE * 4 {
                    let joined: String = self.words[i..j].iter().map(|w| w.text.as_str()).collect();
                    self.candidate(i, j, &joined, false, Kind::Joined);
                }
            }
            i = j;
        }
    }

    fn scan_letter_runs(&mut self) {
        let single = |w: &Word| w.text.chars().count() == 1;
        let mut i = 0;
        while i < self.words.len() {
            if !single(&self.words[i]) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < self.words.len() && single(&self.words[j]) {
                j += 1;
            }
            if j - i >= 2 {
                let limit = self.lex.max_len;
                for start in i..j {
                    let mut s = String::new();
                    s.push_str(&self.words[start].text);
                    for end in start + 2..=j.min(start + limit) {
                        s.push_str(&self.words[end - 1].text);
                        let (prefix, _) =
                            self.candidate(start, end, &s.clone(), false, Kind::Joined);
                        if !prefix {
                            break;
                        }
                    }
                }
            }
            i = j;
        }
    }

    fn word_in(&self, i: usize, set: &HashSet<String>) -> bool {
        self.forms
            .get(i)
            .is_some_and(|forms| forms.iter().any(|f| set.contains(f)))
    }

    fn raw_number(&self, i: usize) -> Option<u32> {
        let w = self.words.get(i)?;
        if w.money {
            return None;
        }
        if w.text.chars().all(|c| c.is_ascii_digit()) {
            if w.text.len() > 4 {
                return Some(u32::MAX);
            }
            return w.text.parse().ok();
        }
        self.forms[i]
            .iter()
            .find_map(|f| self.lex.numbers.get(f).copied())
    }

    /// The number a word stands for as an age, looking at the word before it:
    /// `twenty one` is 21, `2.5` is 2, `5-10` is 5.
    fn number(&self, i: usize) -> Option<u32> {
        let value = self.raw_number(i)?;
        if i > 0 {
            if let Some(prev) = self.raw_number(i - 1) {
                if (20..=90).contains(&prev) && prev % 10 == 0 && value < 10 {
                    return Some(prev + value);
                }
                if self.words[i - 1].chunk == self.words[i].chunk {
                    return Some(prev);
                }
            }
        }
        Some(value)
    }

    /// Match `elems` from word `i`; returns the end and the first number.
    fn match_elems(
        &self,
        elems: &[PatElem],
        i: usize,
        number: Option<u32>,
    ) -> Option<(usize, Option<u32>)> {
        let Some((first, rest)) = elems.split_first() else {
            return Some((i, number));
        };
        let here = if i < self.words.len() {
            match &first.elem {
                Elem::Words(set) => self.word_in(i, set).then_some(number),
                Elem::Number => self.number(i).map(|n| Some(number.unwrap_or(n))),
            }
        } else {
            None
        };
        if let Some(num) = here {
            if let Some(m) = self.match_elems(rest, i + 1, num) {
                return Some(m);
            }
        }
        if first.optional {
            return self.match_elems(rest, i, number);
        }
        None
    }

    fn span_text(&self, start: usize, end: usize) -> String {
        self.words[start..end]
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether a phrase or an age pattern can start at word `i`.
    fn can_start(&self, i: usize) -> bool {
        self.word_in(i, &self.lex.starters) || (self.lex.number_starts && self.number(i).is_some())
    }

    fn scan_phrases(&mut self) {
        let lex = self.lex;
        for i in 0..self.words.len() {
            if !self.can_start(i) {
                continue;
            }
            for Phrase { elems } in &lex.allow_phrases {
                if let Some((end, _)) = self.match_elems(elems, i, None) {
                    if end > i {
                        self.allows.push((i, end));
                    }
                }
            }
            for Phrase { elems } in &lex.block_phrases {
                if let Some((end, _)) = self.match_elems(elems, i, None) {
                    if end > i {
                        let term = self.span_text(i, end);
                        self.blocks.push(Hit {
                            start: i,
                            end,
                            term,
                            rule: Rule::Phrase,
                        });
                    }
                }
            }
        }
    }

    fn age_blocks(&self, p: &AgePattern, i: usize) -> Option<usize> {
        let (end, number) = self.match_elems(&p.elems, i, None)?;
        if end == i {
            return None;
        }
        if let Some(n) = number {
            if n < p.min || n > p.max {
                return None;
            }
        }
        if let Some(set) = &p.unless_next {
            if self.word_in(end, set) {
                return None;
            }
        }
        if let Some(set) = &p.unless_prev {
            if i > 0 && self.word_in(i - 1, set) {
                return None;
            }
        }
        Some(end)
    }

    fn scan_ages(&mut self) {
        let lex = self.lex;
        for i in 0..self.words.len() {
            if !self.can_start(i) {
                continue;
            }
            for p in &lex.age_patterns {
                if let Some(end) = self.age_blocks(p, i) {
                    let term = self.span_text(i, end);
                    self.blocks.push(Hit {
                        start: i,
                        end,
                        term,
                        rule: Rule::Age,
                    });
                    break;
                }
            }
        }
    }

    /// `minor` as a noun: at the end, or before a function word or an
    /// `-ing` verb; not a musical key (`E minor`, `in a minor`).
    fn scan_minor(&mut self) {
        for i in 0..self.words.len() {
            if !self.forms[i].iter().any(|f| f == "minor") {
                continue;
            }
            let noun = match self.words.get(i + 1) {
                None => true,
                Some(next) => {
                    self.word_in(i + 1, &self.lex.minor_noun_next)
                        || (next.text.ends_with("ing") && next.text.chars().count() > 4)
                }
            };
            let key = i > 0
                && (self.word_in(i - 1, &self.lex.music_key)
                    || (self.words[i - 1].text == "a"
                        && i > 1
                        && matches!(self.words[i - 2].text.as_str(), "in" | "key")));
            if noun && !key {
                self.blocks.push(Hit {
                    start: i,
                    end: i + 1,
                    term: "minor".into(),
                    rule: Rule::MinorNoun,
                });
            }
        }
    }

    fn verdict(mut self) -> Verdict {
        self.scan_words();
        self.scan_chunks();
        self.scan_letter_runs();
        self.scan_phrases();
        self.scan_ages();
        self.scan_minor();
        // covered[p]: the furthest end of an allowed span starting at or
        // before word p. A hit is inside an allowed span iff it ends there.
        let mut reach = vec![0usize; self.words.len() + 1];
        for &(s, e) in &self.allows {
            reach[s] = reach[s].max(e);
        }
        for p in 1..reach.len() {
            reach[p] = reach[p].max(reach[p - 1]);
        }
        let best = self
            .blocks
            .into_iter()
            .filter(|h| reach[h.start] < h.end)
            .min_by_key(|h| (h.start, h.rule.priority(), std::cmp::Reverse(h.end)));
        match best {
            Some(h) => Verdict::Blocked {
                term: h.term,
                rule: h.rule,
            },
            None => Verdict::Allowed,
        }
    }
}

pub(crate) fn check(text: &str) -> Verdict {
    check_with(&LEXICON, text)
}

pub(crate) fn check_with(lex: &Lexicon, text: &str) -> Verdict {
    Matcher::new(lex, text).verdict()
}

/// Whether `text` contains a lexicon word form as a plain token (no
/// disguise handling, no phrases, no ages).
pub(crate) fn has_plain_lexicon_word(text: &str) -> bool {
    let words = tokenize(&normalize_chars(text));
    words.iter().any(|w| LEXICON.block.contains(&w.text))
}

/// The plain tokens of a text after normalisation (lower case, no
/// diacritics), as the matcher sees them.
pub(crate) fn plain_tokens(text: &str) -> Vec<String> {
    tokenize(&normalize_chars(text))
        .into_iter()
        .map(|w| w.text)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        plain_tokens(s)
    }

    #[test]
    fn tokenizer_splits_digits_and_punctuation() {
        assert_eq!(texts("7-year-old"), ["7", "year", "old"]);
        assert_eq!(texts("k1ds"), ["k", "1", "ds"]);
        assert_eq!(texts("boy's toy"), ["boy", "s", "toy"]);
        assert_eq!(texts("12лет"), ["12", "лет"]);
    }

    #[test]
    fn chunks_and_money() {
        let words = tokenize(&normalize_chars("a $10 k.i.d, x"));
        let chunks: Vec<usize> = words.iter().map(|w| w.chunk).collect();
        assert_eq!(chunks[2], chunks[3]);
        assert_eq!(chunks[3], chunks[4]);
        assert!(chunks[0] < chunks[1] && chunks[1] < chunks[2] && chunks[4] < chunks[5]);
        assert!(words[1].money);
        assert!(!words[2].money);
    }

    #[test]
    fn readings_cover_disguises() {
        let p = FoldPolicy::default();
        let r = readings("k1ds", p);
        assert!(r.contains(&"kids".to_string()));
        let r = readings("d\u{0435}ti", p);
        assert!(r.contains(&"deti".to_string()));
        assert_eq!(readings("boy", p)[0], "boy");
        // A pure Cyrillic word is read as Latin only when the policy says so.
        assert!(!readings("тот", p).contains(&"tot".to_string()));
        let latin_query = FoldPolicy {
            pure_cyrillic_to_latin: true,
            ..p
        };
        assert!(readings("воу", latin_query).contains(&"boy".to_string()));
    }
}
