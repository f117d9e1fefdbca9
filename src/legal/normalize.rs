//! Text normalisation for the legal filter: NFKC, removal of invisible
//! characters, lower case, diacritics, look-alike letters and leetspeak.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::UnicodeNormalization;

/// One character of normalised text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NChar {
    /// The normalised (lower-case, mark-free) character.
    pub c: char,
    /// The source character was upper case (for camelCase splitting).
    pub upper: bool,
    /// The character was substituted by a disguise rule (symbol leetspeak,
    /// small capitals, regional indicators...).
    pub subst: bool,
    /// The source character was a currency or percent sign.
    pub money: bool,
}

/// Characters that are invisible or only steer layout (Unicode category Cf
/// and a few invisible fillers). They are removed, joining their neighbours.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x034F
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x08E2
            | 0x115F
            | 0x1160
            | 0x17B4
            | 0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0x2800
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xE0100..=0xE01EF
    )
}

fn is_money(c: char) -> bool {
    matches!(
        c,
        '$' | '€' | '£' | '¥' | '₽' | '₴' | '¢' | '₹' | '₩' | '₺' | '%' | '‰'
    )
}

/// Letters that NFKC leaves alone but that read as plain Latin letters:
/// small capitals, dotless i, regional indicators and enclosed letters.
fn special_latin(c: char) -> Option<char> {
    let mapped = match c {
        'ᴀ' => 'a',
        'ʙ' => 'b',
        'ᴄ' => 'c',
        'ᴅ' => 'd',
        'ᴇ' => 'e',
        'ꜰ' => 'f',
        'ɢ' => 'g',
        'ʜ' => 'h',
        'ɪ' | 'ı' => 'i',
        'ᴊ' | 'ȷ' => 'j',
        'ᴋ' => 'k',
        'ʟ' => 'l',
        'ᴍ' => 'm',
        'ɴ' => 'n',
        'ᴏ' => 'o',
        'ᴘ' => 'p',
        'ʀ' => 'r',
        'ꜱ' => 's',
        'ᴛ' => 't',
        'ᴜ' => 'u',
        'ᴠ' => 'v',
        'ᴡ' => 'w',
        'ʏ' => 'y',
        'ᴢ' => 'z',
        _ => {
            let u = c as u32;
            let base = match u {
                0x1F1E6..=0x1F1FF => 0x1F1E6, // regional indicators
                0x1F130..=0x1F149 => 0x1F130, // squared letters
                0x1F150..=0x1F169 => 0x1F150, // negative circled letters
                0x1F170..=0x1F189 => 0x1F170, // negative squared letters
                _ => return None,
            };
            char::from_u32(u32::from(b'a') + (u - base))?
        }
    };
    Some(mapped)
}

/// Normalise text into a sequence of [`NChar`]s.
///
/// NFKC first (full-width and mathematical letters become plain), then
/// invisible characters and control characters are dropped (control
/// whitespace becomes a space), letters are lower-cased and stripped of
/// diacritics (`ё` → `е`, `й` → `и`, `ó` → `o`, `ł` → `l`; `ñ` is kept), and `@ ! | $` written inside
/// a word are read as the letters they imitate.
pub(crate) fn normalize_chars(input: &str) -> Vec<NChar> {
    let mut out: Vec<NChar> = Vec::with_capacity(input.len());
    for c in input.nfkc() {
        if is_invisible(c) {
            continue;
        }
        if c.is_control() {
            if c.is_whitespace() {
                out.push(NChar {
                    c: ' ',
                    upper: false,
                    subst: false,
                    money: false,
                });
            }
            continue;
        }
        let money = is_money(c);
        let (source, subst) = match special_latin(c) {
            Some(m) => (m, true),
            None => (c, false),
        };
        let upper = source.is_uppercase();
        for lc in source.to_lowercase() {
            // 'ñ' is a letter of its own in Spanish ('niña' is not the name
            // 'Nina'); 'ł' has no decomposition but is read as 'l'.
            if matches!(lc, 'ñ' | 'ł') {
                out.push(NChar {
                    c: if lc == 'ł' { 'l' } else { lc },
                    upper,
                    subst,
                    money,
                });
                continue;
            }
            decompose_canonical(lc, |d| {
                if !is_combining_mark(d) {
                    out.push(NChar {
                        c: d,
                        upper,
                        subst,
                        money,
                    });
                }
            });
        }
    }
    symbol_leet(&mut out);
    out
}

/// `b@by`, `k!ds`, `chi|d`, `kid$`: symbols inside a word read as letters.
fn symbol_leet(chars: &mut [NChar]) {
    let alnum = |x: Option<&NChar>| x.is_some_and(|n| n.c.is_alphanumeric());
    for i in 0..chars.len() {
        let prev = if i > 0 { chars.get(i - 1) } else { None };
        let next = chars.get(i + 1);
        let inside = alnum(prev) && alnum(next);
        let replacement = match chars[i].c {
            '@' if inside => 'a',
            '!' if inside => 'i',
            '|' if inside => 'l',
            '$' if prev.is_some_and(|n| n.c.is_alphabetic()) => 's',
            _ => continue,
        };
        chars[i].c = replacement;
        chars[i].subst = true;
        chars[i].money = false;
    }
}

/// Normalise a string (see [`normalize_chars`]).
pub fn normalize(input: &str) -> String {
    normalize_chars(input).into_iter().map(|n| n.c).collect()
}

/// Cyrillic and Greek letters that look like Latin ones.
fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'в' | 'ь' | 'β' => 'b',
        'с' | 'ς' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' => 'l',
        'м' => 'm',
        'н' | 'η' => 'h',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        _ => return None,
    })
}

/// Latin (and Greek) letters that look like Cyrillic ones.
fn cyrillic_lookalike(c: char) -> Option<char> {
    Some(match c {
        'a' | 'α' => 'а',
        'b' | 'β' => 'в',
        'c' | 'ς' => 'с',
        'e' | 'ε' => 'е',
        'h' | 'η' => 'н',
        'i' | 'ι' => 'і',
        'k' | 'κ' => 'к',
        'm' => 'м',
        'o' | 'ο' | 'σ' => 'о',
        'p' | 'ρ' => 'р',
        't' | 'τ' => 'т',
        'x' | 'χ' => 'х',
        'y' | 'γ' => 'у',
        _ => return None,
    })
}

/// Replace look-alike letters by Latin ones (`bоy` with a Cyrillic `о` →
/// `boy`). Returns `None` when nothing changes.
pub(crate) fn fold_to_latin(s: &str) -> Option<String> {
    fold_with(s, latin_lookalike)
}

/// Replace look-alike letters by Cyrillic ones (`дeти` with a Latin `e` →
/// `дети`). Returns `None` when nothing changes.
pub(crate) fn fold_to_cyrillic(s: &str) -> Option<String> {
    fold_with(s, cyrillic_lookalike)
}

fn fold_with(s: &str, map: fn(char) -> Option<char>) -> Option<String> {
    let mut changed = false;
    let out: String = s
        .chars()
        .map(|c| match map(c) {
            Some(m) => {
                changed = true;
                m
            }
            None => c,
        })
        .collect();
    changed.then_some(out)
}

/// Which letter a digit stands for in leetspeak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leet {
    /// Latin, with `1` read as `i` (`k1ds`).
    LatinI,
    /// Latin, with `1` read as `l` (`chi1d`).
    LatinL,
    /// Cyrillic (`ре6енок`, `4` as `ч`).
    Cyrillic,
}

/// Read digits as letters (`k1ds` → `kids`, `t33n` → `teen`). Only for text
/// that mixes digits and letters; returns `None` when nothing changes.
pub(crate) fn unleet(s: &str, mode: Leet) -> Option<String> {
    let has_digit = s.chars().any(|c| c.is_ascii_digit());
    let has_letter = s.chars().any(char::is_alphabetic);
    if !(has_digit && has_letter) {
        return None;
    }
    let out: String = s
        .chars()
        .map(|c| match (mode, c) {
            (Leet::Cyrillic, '0') => 'о',
            (Leet::Cyrillic, '3') => 'з',
            (Leet::Cyrillic, '4') => 'ч',
            (Leet::Cyrillic, '6') => 'б',
            (Leet::Cyrillic, '8') => 'в',
            (Leet::Cyrillic, _) => c,
            (_, '0') => 'o',
            (Leet::LatinI, '1') => 'i',
            (Leet::LatinL, '1') => 'l',
            (_, '3') => 'e',
            (_, '4') => 'a',
            (_, '5') => 's',
            (_, '6') => 'b',
            (_, '7') => 't',
            (_, '8') => 'b',
            (_, '9') => 'g',
            _ => c,
        })
        .collect();
    (out != s).then_some(out)
}

/// Shorten runs of three or more equal characters to `keep` characters
/// (`giiirl` → `girl` with 1, `teeeen` → `teen` with 2). Returns `None` when
/// there is no such run.
pub(crate) fn collapse_repeats(s: &str, keep: usize) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        let run = j - i;
        let take = if run >= 3 {
            changed = true;
            keep.min(run)
        } else {
            run
        };
        out.extend(std::iter::repeat_n(chars[i], take));
        i = j;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfkc_full_width_and_math_letters() {
        assert_eq!(normalize("ＢＯＹ"), "boy");
        assert_eq!(normalize("𝐛𝐨𝐲"), "boy");
        assert_eq!(normalize("ⓑⓞⓨ"), "boy");
        assert_eq!(normalize("ʙᴏʏ"), "boy");
        assert_eq!(normalize("🇧🇴🇾"), "boy");
    }

    #[test]
    fn invisible_characters_are_removed() {
        assert_eq!(normalize("g\u{200B}i\u{200D}r\u{FEFF}l"), "girl");
        assert_eq!(normalize("k\u{00AD}id"), "kid");
        assert_eq!(normalize("b\u{0000}oy"), "boy");
        assert_eq!(normalize("a\tb\nc"), "a b c");
    }

    #[test]
    fn case_and_diacritics() {
        assert_eq!(normalize("РЕБЁНОК"), "ребенок");
        assert_eq!(normalize("детский"), "детскии");
        assert_eq!(normalize("Bóÿ"), "boy");
        assert_eq!(normalize("g̲i̲r̲l̲"), "girl");
        assert_eq!(normalize("Niña"), "niña");
        assert_eq!(normalize("CHŁOPIEC"), "chlopiec");
        assert_eq!(normalize("dziećmi"), "dziecmi");
    }

    #[test]
    fn upper_flags_survive() {
        let chars = normalize_chars("KidsParty");
        let uppers: Vec<bool> = chars.iter().map(|n| n.upper).collect();
        assert!(uppers[0]);
        assert!(uppers[4]);
        assert!(!uppers[1]);
    }

    #[test]
    fn symbols_inside_words() {
        assert_eq!(normalize("b@by k!ds chi|d kid$"), "baby kids child kids");
        assert_eq!(normalize("me @ home! $5"), "me @ home! $5");
        let chars = normalize_chars("$5");
        assert!(chars[0].money);
    }

    #[test]
    fn homoglyph_folding() {
        // 'bоy' with a Cyrillic о.
        assert_eq!(fold_to_latin("b\u{043E}y").as_deref(), Some("boy"));
        // 'дeти' with a Latin e.
        assert_eq!(fold_to_cyrillic("д\u{0065}ти").as_deref(), Some("дети"));
        // Greek omicron.
        assert_eq!(fold_to_latin("b\u{03BF}y").as_deref(), Some("boy"));
        assert_eq!(fold_to_latin("boy"), None);
    }

    #[test]
    fn leetspeak() {
        assert_eq!(unleet("k1ds", Leet::LatinI).as_deref(), Some("kids"));
        assert_eq!(unleet("chi1d", Leet::LatinL).as_deref(), Some("child"));
        assert_eq!(unleet("t33n", Leet::LatinI).as_deref(), Some("teen"));
        assert_eq!(unleet("b0y", Leet::LatinI).as_deref(), Some("boy"));
        assert_eq!(
            unleet("ре6енок", Leet::Cyrillic).as_deref(),
            Some("ребенок")
        );
        assert_eq!(unleet("2024", Leet::LatinI), None);
        assert_eq!(unleet("boy", Leet::LatinI), None);
    }

    #[test]
    fn repeats() {
        assert_eq!(collapse_repeats("giiirl", 1).as_deref(), Some("girl"));
        assert_eq!(collapse_repeats("teeeen", 2).as_deref(), Some("teen"));
        assert_eq!(collapse_repeats("kidd", 1), None);
    }

    #[test]
    fn odd_input_does_not_panic() {
        let _ = normalize("");
        let _ = normalize("\u{FFFD}\u{10FFFF}\u{E000}");
        let _ = normalize(&"İ".repeat(1000));
    }
}
