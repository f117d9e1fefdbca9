//! How a blocked word looks when typed in slang or in a hurry, and
//! compounds that begin with one.
//!
//! The rules, for a word in one script that the lexicon neither blocks nor
//! allows as written:
//!
//! * `z` for `s`: `kidz`, `gurlz`, `babiez`;
//! * a doubled letter: `kiddz`, `chilldren`, `toddlerr`;
//! * in the `[respell]` words of at least [`RESPELL_MIN_TERM`] letters (common
//!   long words for a child, in Latin or Cyrillic letters): one dropped
//!   letter (`todler`, `малчик`), two neighbours swapped (`childern`,
//!   `chlidren`), one extra letter (`toddlrer`) or one vowel for another
//!   (`teanager`, `девачка`);
//! * a compound that begins with a `[block_prefixes]` entry
//!   (`Kinderzimmer`, `Mädchenschule`), unless it begins with an
//!   `[allow_prefixes]` entry (`dzięcioł`, a woodpecker, is not `dzieci`).
//!
//! Real words that a rule would misread (`kidd`; `files` is not `filles`)
//! are allowed by `near_words.txt`, generated from word lists in ten
//! languages by `scripts/near_words.sh`, and the matcher only asks here when
//! no allowed word matched.

use super::lexicon::{one_script, vowel_slip_key, Lexicon, RESPELL_MIN_TERM};

/// How much of a candidate may be respelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// A word as typed: every rule.
    Word,
    /// Letters joined across punctuation or digits (`g1rlz`): only `z` for
    /// `s` and doubled letters, which cannot turn two words into one.
    Joined,
}

/// The blocked word that `word` is a respelling of, if any.
pub(crate) fn respelled(lex: &Lexicon, word: &str, reach: Reach) -> Option<String> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 3 || !one_script(&chars) {
        return None;
    }
    let mut bases = vec![chars.clone()];
    if chars.contains(&'z') {
        bases.push(
            chars
                .iter()
                .map(|&c| if c == 'z' { 's' } else { c })
                .collect(),
        );
    }
    let found = |v: &[char]| -> Option<String> {
        let s: String = v.iter().collect();
        lex.block.contains(&s).then_some(s)
    };
    for (n, base) in bases.iter().enumerate() {
        if n > 0 {
            if let Some(t) = found(base) {
                return Some(t);
            }
        }
        if let Some(t) = undoubled(base).iter().find_map(|v| found(v)) {
            return Some(t);
        }
        if reach == Reach::Word {
            if let Some(t) = near(lex, base) {
                return Some(t);
            }
        }
    }
    None
}

/// `word` with one doubled letter made single, for each doubled letter, and
/// with every doubled letter made single.
fn undoubled(word: &[char]) -> Vec<Vec<char>> {
    let mut out = Vec::new();
    for i in 1..word.len() {
        if word[i] == word[i - 1] {
            let mut v = word.to_vec();
            v.remove(i);
            out.push(v);
        }
    }
    if out.len() > 1 {
        let mut all = word.to_vec();
        all.dedup();
        out.push(all);
    }
    out
}

/// A `[respell]` word of at least [`RESPELL_MIN_TERM`] letters that `word`
/// is one dropped, swapped, extra or other vowel away from.
fn near(lex: &Lexicon, word: &[char]) -> Option<String> {
    let len = word.len();
    if len + 1 < RESPELL_MIN_TERM {
        return None;
    }
    let s: String = word.iter().collect();
    if let Some(t) = lex.dropped_letter.get(&s) {
        return Some(t.clone());
    }
    if len >= RESPELL_MIN_TERM {
        for i in 0..len {
            if let Some(t) = vowel_slip_key(word, i).and_then(|k| lex.vowel_slip.get(&k)) {
                return Some(t.clone());
            }
        }
        for i in 1..len {
            if word[i] != word[i - 1] {
                let mut v = word.to_vec();
                v.swap(i - 1, i);
                let v: String = v.into_iter().collect();
                if lex.respell.contains(&v) {
                    return Some(v);
                }
            }
        }
    }
    if len > RESPELL_MIN_TERM {
        for i in 0..len {
            let v: String = word
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, c)| c)
                .collect();
            if lex.respell.contains(&v) {
                return Some(v);
            }
        }
    }
    None
}

/// The `[block_prefixes]` entry that `word` is a longer compound of
/// (`kinderzimmer` → `kinder`).
pub(crate) fn compound_head(lex: &Lexicon, word: &str) -> Option<String> {
    if lex
        .allow_prefixes
        .iter()
        .any(|p| word.starts_with(p.as_str()))
    {
        return None;
    }
    lex.block_prefixes
        .iter()
        .find(|p| word.len() > p.len() && word.starts_with(p.as_str()))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERMS: &str = "[block]\nkid kids toddler children girls мальчик девочка\n\
        [block_prefixes]\nkinder\n\
        [respell]\ntoddler children мальчик девочка\n\
        [allow_prefixes]\nkinderh\n\
        [class minor_noun_next]\na\n[class music_key]\nb\n";

    fn lex() -> Lexicon {
        Lexicon::parse(TERMS).expect("test terms parse")
    }

    #[test]
    fn slang_and_typing_slips() {
        let lex = lex();
        let r = |w: &str| respelled(&lex, w, Reach::Word);
        assert_eq!(r("kidz").as_deref(), Some("kids"));
        assert_eq!(r("kiddz").as_deref(), Some("kids"));
        assert_eq!(r("girlz").as_deref(), Some("girls"));
        assert_eq!(r("todler").as_deref(), Some("toddler"));
        assert_eq!(r("toddlerr").as_deref(), Some("toddler"));
        assert_eq!(r("childern").as_deref(), Some("children"));
        assert_eq!(r("chlidren").as_deref(), Some("children"));
        assert_eq!(r("chilkdren").as_deref(), Some("children"));
        assert_eq!(r("toddlar").as_deref(), Some("toddler"));
        assert_eq!(r("малчик").as_deref(), Some("мальчик"));
        assert_eq!(r("девачка").as_deref(), Some("девочка"));
        // Joined letters get only the rules that keep a word one word.
        assert_eq!(
            respelled(&lex, "girlz", Reach::Joined).as_deref(),
            Some("girls")
        );
        assert_eq!(respelled(&lex, "todler", Reach::Joined), None);
    }

    #[test]
    fn short_words_and_other_scripts_are_left_alone() {
        let lex = lex();
        let r = |w: &str| respelled(&lex, w, Reach::Word);
        // One letter from 'kids' but too short to guess at.
        assert_eq!(r("kis"), None);
        assert_eq!(r("kdis"), None);
        // Two edits away.
        assert_eq!(r("chldern"), None);
        // Consonants are not exchanged; mixed scripts and digits are not
        // respelled.
        assert_eq!(r("toddled"), None);
        assert_eq!(r("кidz"), None);
        assert_eq!(r("kid5"), None);
    }

    #[test]
    fn compounds() {
        let lex = lex();
        assert_eq!(
            compound_head(&lex, "kinderzimmer").as_deref(),
            Some("kinder")
        );
        assert_eq!(compound_head(&lex, "kinder"), None);
        assert_eq!(compound_head(&lex, "kind"), None);
        assert_eq!(compound_head(&lex, "kinderhook"), None);
    }
}
