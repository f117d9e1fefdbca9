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
use super::normalize::{
    collapse_repeats, fold_to_cyrillic, fold_to_latin, normalize_chars, unleet, Leet, NChar,
};
use super::respell::{compound_head, respelled, Reach};
use super::{Rule, Verdict};

/// Longest candidate string looked up at all (in chars). Longer strings
/// cannot be words of the lexicon even after shortening repeats.
const MAX_CANDIDATE: usize = 256;

#[derive(Debug)]
struct Word {
    text: String,
    chunk: usize,
    subst: bool,
    money: bool,
    /// Char offsets inside `text` where an upper-case letter follows a
    /// lower-case one (camelCase boundaries).
    camel: Vec<usize>,
    /// Char offsets of a capital `I` after a lower-case letter, which may
    /// stand for a lower-case `l` (`chiId`).
    capital_i: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Hit {
    start: usize,
    end: usize,
    term: String,
    rule: Rule,
}

/// Chunk separators: whitespace and sentence punctuation. Every other
/// non-alphanumeric character joins the words on either side into a chunk.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ';'
                | ':'
                | '?'
                | '!'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '"'
                | '«'
                | '»'
                | '“'
                | '”'
                | '„'
                | '<'
                | '>'
                | '…'
                | '/'
                | '\\'
                | '–'
                | '—'
                | '¿'
                | '¡'
        )
}

fn tokenize(chars: &[NChar]) -> Vec<Word> {
    let mut words = Vec::new();
    let mut chunk = 0usize;
    let mut chunk_money = false;
    let mut chunk_first_word = 0usize;
    let mut current: Vec<NChar> = Vec::new();

    fn flush(current: &mut Vec<NChar>, words: &mut Vec<Word>, chunk: usize) {
        if current.is_empty() {
            return;
        }
        let mut camel = Vec::new();
        let mut capital_i = Vec::new();
        for i in 1..current.len() {
            if current[i].upper
                && !current[i - 1].upper
                && current[i].c.is_alphabetic()
                && current[i - 1].c.is_alphabetic()
            {
                camel.push(i);
                if current[i].c == 'i' {
                    capital_i.push(i);
                }
            }
        }
        // 'IittIe': once a word has a capital I inside, one that starts it
        // before a lower-case letter reads as 'l' too.
        if !capital_i.is_empty()
            && current[0].upper
            && current[0].c == 'i'
            && current.get(1).is_some_and(|n| !n.upper)
        {
            capital_i.insert(0, 0);
        }
        words.push(Word {
            text: current.iter().map(|n| n.c).collect(),
            chunk,
            subst: current.iter().any(|n| n.subst),
            money: false,
            camel,
            capital_i,
        });
        current.clear();
    }

    let close_chunk = |words: &mut Vec<Word>, first: usize, money: bool| {
        if money {
            for w in &mut words[first..] {
                w.money = true;
            }
        }
    };

    for n in chars {
        if is_separator(n.c) {
            flush(&mut current, &mut words, chunk);
            close_chunk(&mut words, chunk_first_word, chunk_money);
            chunk += 1;
            chunk_money = false;
            chunk_first_word = words.len();
            continue;
        }
        if n.money {
            chunk_money = true;
        }
        if !n.c.is_alphanumeric() {
            flush(&mut current, &mut words, chunk);
            continue;
        }
        if let Some(last) = current.last() {
            if last.c.is_numeric() != n.c.is_numeric() {
                flush(&mut current, &mut words, chunk);
            }
        }
        current.push(*n);
    }
    flush(&mut current, &mut words, chunk);
    close_chunk(&mut words, chunk_first_word, chunk_money);
    words
}

/// When a word written wholly in one script may be read as look-alike
/// letters of the other. Words that mix scripts are always folded both ways;
/// a pure word only when the rest of the query is mostly in the other script
/// or as much (so the Russian `тот` in a Russian query is not read as
/// `tot`), or when
/// the word is all the query has.
#[derive(Debug, Clone, Copy, Default)]
struct FoldPolicy {
    pure_latin_to_cyrillic: bool,
    pure_cyrillic_to_latin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Other,
}

fn script(c: char) -> Script {
    match c as u32 {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F => Script::Latin,
        0x400..=0x52F => Script::Cyrillic,
        0x370..=0x3FF => Script::Greek,
        _ => Script::Other,
    }
}

impl FoldPolicy {
    fn for_words(words: &[Word]) -> FoldPolicy {
        let (mut latin, mut cyrillic) = (0usize, 0usize);
        let mut lettered = 0usize;
        let mut all_single = true;
        for w in words {
            let mut has_letter = false;
            for c in w.text.chars() {
                match script(c) {
                    Script::Latin => latin += 1,
                    Script::Cyrillic => cyrillic += 1,
                    _ => {}
                }
                has_letter |= c.is_alphabetic();
            }
            if has_letter {
                lettered += 1;
                all_single &= w.text.chars().count() == 1;
            }
        }
        let alone = lettered <= 1 || all_single;
        FoldPolicy {
            pure_latin_to_cyrillic: alone || cyrillic >= latin,
            pure_cyrillic_to_latin: alone || latin >= cyrillic,
        }
    }
}

/// The readings of a candidate string: as written, digits as letters,
/// look-alikes folded, repeats shortened. The first one is `s` itself.
fn readings(s: &str, policy: FoldPolicy) -> Vec<String> {
    let mut bases = vec![s.to_string()];
    for mode in [Leet::LatinI, Leet::LatinL, Leet::Cyrillic] {
        if let Some(v) = unleet(s, mode) {
            bases.push(v);
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(bases.len() * 3);
    let push = |v: String, out: &mut Vec<String>| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    for b in bases {
        let (mut latin, mut cyrillic, mut greek) = (false, false, false);
        for c in b.chars() {
            match script(c) {
                Script::Latin => latin = true,
                Script::Cyrillic => cyrillic = true,
                Script::Greek => greek = true,
                Script::Other => {}
            }
        }
        let to_latin = (cyrillic || greek) && (latin || greek || policy.pure_cyrillic_to_latin);
        let to_cyrillic = (latin || greek) && (cyrillic || policy.pure_latin_to_cyrillic);
        let latin_form = if to_latin { fold_to_latin(&b) } else { None };
        let cyrillic_form = if to_cyrillic {
            fold_to_cyrillic(&b)
        } else {
            None
        };
        for v in [Some(b), latin_form, cyrillic_form].into_iter().flatten() {
            for keep in [1, 2] {
                if let Some(c) = collapse_repeats(&v, keep) {
                    push(c, &mut out);
                }
            }
            push(v, &mut out);
        }
    }
    // Keep the reading "as written" first.
    if let Some(pos) = out.iter().position(|v| v == s) {
        out.swap(0, pos);
    }
    out
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
