//! Parser for `terms.txt`, the legal filter's word lists. The format is
//! documented at the top of that file.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use super::normalize::normalize;

/// The embedded word lists.
pub(crate) const TERMS: &str = include_str!("terms.txt");

/// An error in `terms.txt`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LexiconError {
    /// A line that does not follow the format.
    #[error("terms.txt line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A word listed both as blocked and as allowed.
    #[error("terms.txt: '{0}' is both blocked and allowed")]
    Conflict(String),
    /// A section the matcher needs is missing.
    #[error("terms.txt: missing [{0}]")]
    Missing(String),
}

pub(crate) type WordSet = Arc<HashSet<String>>;

/// One element of a phrase or age pattern.
#[derive(Debug, Clone)]
pub(crate) enum Elem {
    /// Any of these (normalised) words.
    Words(WordSet),
    /// A number: digits or a `[numbers]` word.
    Number,
}

#[derive(Debug, Clone)]
pub(crate) struct PatElem {
    pub elem: Elem,
    pub optional: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Phrase {
    pub elems: Vec<PatElem>,
}

#[derive(Debug, Clone)]
pub(crate) struct AgePattern {
    pub elems: Vec<PatElem>,
    pub min: u32,
    pub max: u32,
    pub unless_next: Option<WordSet>,
    pub unless_prev: Option<WordSet>,
}

/// The parsed word lists.
#[derive(Debug)]
pub(crate) struct Lexicon {
    pub block: HashSet<String>,
    pub allow: HashSet<String>,
    /// Every prefix of every block and allow form (to prune searches).
    pub prefixes: HashSet<String>,
    /// Length in chars of the longest block or allow form.
    pub max_len: usize,
    pub block_phrases: Vec<Phrase>,
    pub allow_phrases: Vec<Phrase>,
    pub numbers: HashMap<String, u32>,
    pub age_patterns: Vec<AgePattern>,
    pub minor_noun_next: WordSet,
    pub music_key: WordSet,
    /// Words that can start a phrase or an age pattern (a quick filter).
    pub starters: HashSet<String>,
    /// Whether some age pattern can start with a number.
    pub number_starts: bool,
}

/// Add the words that can start `elems` to `starters`; returns whether a
/// number can start it.
fn collect_starters(elems: &[PatElem], starters: &mut HashSet<String>) -> bool {
    let mut number = false;
    for e in elems {
        match &e.elem {
            Elem::Words(set) => starters.extend(set.iter().cloned()),
            Elem::Number => number = true,
        }
        if !e.optional {
            break;
        }
    }
    number
}

/// The lexicon parsed from the embedded `terms.txt`.
///
/// The file is part of the binary and checked by the unit tests, so a parse
/// error here is a build defect, not something a query can cause.
pub(crate) static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| match Lexicon::parse(TERMS) {
    Ok(lexicon) => lexicon,
    Err(e) => panic!("the embedded legal/terms.txt is invalid: {e}"),
});

/// Check that the embedded `terms.txt` parses (for diagnostics and tests).
pub fn validate_terms() -> Result<(), LexiconError> {
    Lexicon::parse(TERMS).map(|_| ())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Section {
    None,
    Endings(String),
    Block,
    Allow,
    BlockPhrases,
    AllowPhrases,
    Class(String),
    Numbers,
    AgePatterns,
}

struct Parser {
    endings: HashMap<String, Vec<String>>,
    classes: HashMap<String, WordSet>,
    line: usize,
}

impl Parser {
    fn err(&self, message: impl Into<String>) -> LexiconError {
        LexiconError::Syntax {
            line: self.line,
            message: message.into(),
        }
    }

    /// Expand a word entry: `word` or `stem+@endings`.
    fn expand(&self, entry: &str) -> Result<Vec<String>, LexiconError> {
        if let Some((stem, set)) = entry.split_once("+@") {
            let endings = self
                .endings
                .get(set)
                .ok_or_else(|| self.err(format!("unknown ending set '{set}'")))?;
            if stem.is_empty() {
                return Err(self.err(format!("empty stem in '{entry}'")));
            }
            Ok(endings
                .iter()
                .map(|e| normalize(&format!("{stem}{e}")))
                .collect())
        } else if entry.contains('@') || entry.contains('+') || entry.contains('<') {
            Err(self.err(format!("'{entry}' is not a word entry")))
        } else {
            Ok(vec![normalize(entry)])
        }
    }

    fn class(&self, name: &str) -> Result<WordSet, LexiconError> {
        self.classes
            .get(name)
            .cloned()
            .ok_or_else(|| self.err(format!("unknown class '@{name}' (declare it earlier)")))
    }

    fn elem(&self, token: &str) -> Result<PatElem, LexiconError> {
        let (token, optional) = match token.strip_suffix('?') {
            Some(t) => (t, true),
            None => (token, false),
        };
        let elem = if token == "<n>" {
            Elem::Number
        } else if let Some(name) = token.strip_prefix('@') {
            Elem::Words(self.class(name)?)
        } else {
            Elem::Words(Arc::new(self.expand(token)?.into_iter().collect()))
        };
        Ok(PatElem { elem, optional })
    }

    fn phrase(&self, text: &str) -> Result<Phrase, LexiconError> {
        let elems = text
            .split_whitespace()
            .map(|t| self.elem(t))
            .collect::<Result<Vec<_>, _>>()?;
        if elems.iter().any(|e| matches!(e.elem, Elem::Number)) {
            return Err(self.err("'<n>' is only allowed in [age_patterns]"));
        }
        if elems.len() < 2 {
            return Err(self.err("a phrase needs at least two words"));
        }
        Ok(Phrase { elems })
    }

    fn age_pattern(&self, text: &str) -> Result<AgePattern, LexiconError> {
        let mut parts = text.split(';');
        let elems = parts
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(|t| self.elem(t))
            .collect::<Result<Vec<_>, _>>()?;
        if elems.iter().all(|e| e.optional) {
            return Err(self.err("an age pattern needs a required element"));
        }
        let mut pattern = AgePattern {
            elems,
            min: 0,
            max: 15,
            unless_next: None,
            unless_prev: None,
        };
        for option in parts {
            let option = option.trim();
            let (key, value) = option
                .split_once('=')
                .ok_or_else(|| self.err(format!("option '{option}' needs '='")))?;
            let (key, value) = (key.trim(), value.trim());
            let number = || {
                value
                    .parse::<u32>()
                    .map_err(|_| self.err(format!("'{value}' is not a number")))
            };
            let class = || match value.strip_prefix('@') {
                Some(name) => self.class(name),
                None => Err(self.err(format!("'{value}' is not a class"))),
            };
            match key {
                "max" => pattern.max = number()?,
                "min" => pattern.min = number()?,
                "unless_next" => pattern.unless_next = Some(class()?),
                "unless_prev" => pattern.unless_prev = Some(class()?),
                _ => return Err(self.err(format!("unknown option '{key}'"))),
            }
        }
        Ok(pattern)
    }
}

impl Lexicon {
    /// Parse the text of a `terms.txt` file.
    pub(crate) fn parse(text: &str) -> Result<Lexicon, LexiconError> {
        let mut p = Parser {
            endings: HashMap::new(),
            classes: HashMap::new(),
            line: 0,
        };
        let mut block = HashSet::new();
        let mut allow = HashSet::new();
        let mut block_phrases = Vec::new();
        let mut allow_phrases = Vec::new();
        let mut numbers = HashMap::new();
        let mut age_patterns = Vec::new();
        // Pass 1 reads endings and classes, pass 2 everything else, so that
        // phrases and patterns may use classes declared further down.
        for pass in [1, 2] {
            let mut section = Section::None;
            for (index, raw) in text.lines().enumerate() {
                p.line = index + 1;
                let line = raw.split('#').next().unwrap_or_default().trim();
                if line.is_empty() {
                    continue;
                }
                if let Some(header) = line.strip_prefix('[') {
                    let header = header
                        .strip_suffix(']')
                        .ok_or_else(|| p.err("unclosed section header"))?
                        .trim();
                    section = match header.split_once(' ') {
                        Some(("endings", name)) => Section::Endings(name.trim().to_string()),
                        Some(("class", name)) => {
                            let name = name.trim().to_string();
                            if pass == 1 && p.classes.contains_key(&name) {
                                return Err(p.err(format!("class '{name}' declared twice")));
                            }
                            if pass == 1 {
                                p.classes.insert(name.clone(), Arc::new(HashSet::new()));
                            }
                            Section::Class(name)
                        }
                        _ => match header {
                            "block" => Section::Block,
                            "allow" => Section::Allow,
                            "block_phrases" => Section::BlockPhrases,
                            "allow_phrases" => Section::AllowPhrases,
                            "numbers" => Section::Numbers,
                            "age_patterns" => Section::AgePatterns,
                            _ => return Err(p.err(format!("unknown section [{header}]"))),
                        },
                    };
                    continue;
                }
                let first_pass = matches!(section, Section::Endings(_) | Section::Class(_));
                if first_pass != (pass == 1) {
                    continue;
                }
                match &section {
                    Section::None => return Err(p.err("text before the first section")),
                    Section::Endings(name) => {
                        let list = p.endings.entry(name.clone()).or_default();
                        for e in line.split_whitespace() {
                            list.push(if e == "-" {
                                String::new()
                            } else {
                                e.to_string()
                            });
                        }
                    }
                    Section::Block | Section::Allow => {
                        for entry in line.split_whitespace() {
                            let forms = p.expand(entry)?;
                            let target = if section == Section::Block {
                                &mut block
                            } else {
                                &mut allow
                            };
                            target.extend(forms);
                        }
                    }
                    Section::Class(name) => {
                        let mut words: Vec<String> = Vec::new();
                        for entry in line.split_whitespace() {
                            if let Some(other) = entry.strip_prefix('@') {
                                words.extend(p.class(other)?.iter().cloned());
                            } else {
                                words.extend(p.expand(entry)?);
                            }
                        }
                        let set = p
                            .classes
                            .get_mut(name)
                            .ok_or_else(|| LexiconError::Missing(format!("class {name}")))?;
                        Arc::make_mut(set).extend(words);
                    }
                    Section::BlockPhrases => block_phrases.push(p.phrase(line)?),
                    Section::AllowPhrases => allow_phrases.push(p.phrase(line)?),
                    Section::Numbers => {
                        for entry in line.split_whitespace() {
                            let (word, value) = entry
                                .split_once('=')
                                .ok_or_else(|| p.err(format!("'{entry}' is not word=value")))?;
                            let value = value
                                .parse::<u32>()
                                .map_err(|_| p.err(format!("'{value}' is not a number")))?;
                            numbers.insert(normalize(word), value);
                        }
                    }
                    Section::AgePatterns => age_patterns.push(p.age_pattern(line)?),
                }
            }
        }

        if let Some(both) = block.intersection(&allow).min() {
            return Err(LexiconError::Conflict(both.clone()));
        }
        let minor_noun_next = p
            .classes
            .get("minor_noun_next")
            .cloned()
            .ok_or_else(|| LexiconError::Missing("class minor_noun_next".into()))?;
        let music_key = p
            .classes
            .get("music_key")
            .cloned()
            .ok_or_else(|| LexiconError::Missing("class music_key".into()))?;
        if block.is_empty() {
            return Err(LexiconError::Missing("block".into()));
        }

        let mut prefixes = HashSet::new();
        let mut max_len = 0;
        for form in block.iter().chain(allow.iter()) {
            let chars: Vec<char> = form.chars().collect();
            max_len = max_len.max(chars.len());
            for end in 1..=chars.len() {
                prefixes.insert(chars[..end].iter().collect::<String>());
            }
        }

        let mut starters = HashSet::new();
        let mut number_starts = false;
        for phrase in block_phrases.iter().chain(allow_phrases.iter()) {
            number_starts |= collect_starters(&phrase.elems, &mut starters);
        }
        for pattern in &age_patterns {
            number_starts |= collect_starters(&pattern.elems, &mut starters);
        }

        Ok(Lexicon {
            block,
            allow,
            prefixes,
            max_len,
            block_phrases,
            allow_phrases,
            numbers,
            age_patterns,
            minor_noun_next,
            music_key,
            starters,
            number_starts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_terms_parse() {
        let lex = Lexicon::parse(TERMS).expect("terms.txt parses");
        assert!(lex.block.contains("kids"));
        assert!(lex.block.contains("мальчиками"));
        assert!(lex.block.contains(&normalize("детский")));
        assert!(lex.block.contains(&normalize("ребёнок")));
        assert!(lex.allow.contains("kidney"));
        assert!(!lex.block.contains("kidney"));
        assert!(lex.numbers.get("seven") == Some(&7));
        assert!(!lex.age_patterns.is_empty());
        assert!(
            lex.max_len >= 10 && lex.max_len < 40,
            "max_len {}",
            lex.max_len
        );
        assert_eq!(validate_terms(), Ok(()));
    }

    #[test]
    fn errors_are_reported_with_lines() {
        let bad = "[block]\nkid\n[nonsense]\n";
        assert!(matches!(
            Lexicon::parse(bad),
            Err(LexiconError::Syntax { line: 3, .. })
        ));
        let conflict =
            "[block]\nkid\n[allow]\nkid\n[class minor_noun_next]\na\n[class music_key]\nb\n";
        assert_eq!(
            Lexicon::parse(conflict).err(),
            Some(LexiconError::Conflict("kid".into()))
        );
        let unknown_ending = "[block]\nkid+@nope\n";
        assert!(Lexicon::parse(unknown_ending).is_err());
    }
}
