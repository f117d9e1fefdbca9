//! Cutting a normalised query into words, and the readings a word is looked up in (as
//! written, digits read as letters, look-alike letters folded to the other script, repeats
//! shortened): the first half of [`super::matcher`].

use super::normalize::{collapse_repeats, fold_to_cyrillic, fold_to_latin, unleet, Leet, NChar};

#[derive(Debug)]
pub(super) struct Word {
    pub(super) text: String,
    pub(super) chunk: usize,
    pub(super) subst: bool,
    pub(super) money: bool,
    /// Char offsets inside `text` where an upper-case letter follows a
    /// lower-case one (camelCase boundaries).
    pub(super) camel: Vec<usize>,
    /// Char offsets of a capital `I` after a lower-case letter, which may
    /// stand for a lower-case `l` (`chiId`).
    pub(super) capital_i: Vec<usize>,
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

pub(super) fn tokenize(chars: &[NChar]) -> Vec<Word> {
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
pub(super) struct FoldPolicy {
    pub(super) pure_latin_to_cyrillic: bool,
    pub(super) pure_cyrillic_to_latin: bool,
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
    pub(super) fn for_words(words: &[Word]) -> FoldPolicy {
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
pub(super) fn readings(s: &str, policy: FoldPolicy) -> Vec<String> {
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
