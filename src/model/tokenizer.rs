//! The text encoder's tokenizer, quick to open: `tokenizer.json`'s SentencePiece-unigram
//! vocabulary behind the `tokenizers` crate's own normaliser, pre-tokeniser, post-processor,
//! truncation and padding.
//!
//! The crate's `Unigram` builds a trie of one hash map per node for the 250,002 pieces each time
//! the file is read (about 0.9 s on the developer's machine, most of a fresh `picseek search`).
//! [`Unigram`] here finds the same pieces with one hash lookup per candidate length and keeps
//! the crate's Viterbi search exactly (same scores, same order of candidates, same unknown-piece
//! penalty and fusing), so the ids are the crate's (`tests/tokenizer.rs` compares them on every
//! caption and query of the dataset). The JSON is parsed once: its pieces and the rest of the
//! pipeline are written to a compact file named by the JSON's BLAKE3 hash in the cache folder,
//! and read from there afterwards.

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use hashbrown::{DefaultHashBuilder, HashTable};

use serde::{Deserialize, Serialize};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::unigram::UnigramTrainer;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{Model, PaddingParams, Token, TokenizerImpl, TruncationParams};

use super::ModelError;

/// The tokenizer: the crate's pipeline around [`Unigram`].
pub type E5Tokenizer = TokenizerImpl<
    Unigram,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// The crate's unknown-piece penalty (`K_UNK_PENALTY` in `models/unigram/model.rs`): an unknown
/// character scores this much below the lowest-scoring piece.
const UNK_PENALTY: f64 = 10.0;

/// Changes whenever the compact file's layout does, so an older file is never misread.
const COMPACT_VERSION: u32 = 2;

/// A SentencePiece unigram model: the pieces with their log-probabilities, the id of `<unk>`.
/// The pieces are kept in one string (9 MB in all, where a `String` and a map key per piece
/// took about 40 MB), found through a hash table of ids.
pub struct Unigram {
    /// Every piece, one after another; piece `i` is `arena[ends[i-1]..ends[i]]`.
    arena: String,
    ends: Vec<u32>,
    scores: Vec<f64>,
    /// Ids by their piece's hash; a piece listed twice keeps its last id.
    ids: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// The longest piece, in bytes: no candidate is longer.
    max_len: usize,
    min_score: f64,
    unk_id: u32,
}

impl Unigram {
    /// The model over `vocab` (piece, score) in id order; a piece listed twice keeps its last id,
    /// as in the crate.
    pub fn new(vocab: Vec<(String, f64)>, unk_id: usize) -> Result<Self, String> {
        let mut arena = String::with_capacity(vocab.iter().map(|(p, _)| p.len()).sum());
        let mut ends = Vec::with_capacity(vocab.len());
        let mut scores = Vec::with_capacity(vocab.len());
        for (piece, score) in vocab {
            arena.push_str(&piece);
            ends.push(u32::try_from(arena.len()).map_err(|_| "vocabulary over 4 GB".to_string())?);
            scores.push(score);
        }
        Self::from_parts(arena, ends, scores, unk_id)
    }

    fn from_parts(
        arena: String,
        ends: Vec<u32>,
        scores: Vec<f64>,
        unk_id: usize,
    ) -> Result<Self, String> {
        let n = ends.len();
        if unk_id >= n {
            return Err(format!("unk_id {unk_id} outside a vocabulary of {n}"));
        }
        if scores.len() != n {
            return Err(format!("{n} pieces but {} scores", scores.len()));
        }
        let mut start = 0usize;
        for &end in &ends {
            let end = end as usize;
            if end < start || end > arena.len() || !arena.is_char_boundary(end) {
                return Err("piece boundaries out of order".into());
            }
            start = end;
        }
        let hasher = DefaultHashBuilder::default();
        let mut ids: HashTable<u32> = HashTable::with_capacity(n);
        for id in 0..n as u32 {
            let piece = piece_of(&arena, &ends, id);
            let hash = hasher.hash_one(piece);
            match ids.find_mut(hash, |&other| piece_of(&arena, &ends, other) == piece) {
                Some(slot) => *slot = id,
                None => {
                    ids.insert_unique(hash, id, |&i| hasher.hash_one(piece_of(&arena, &ends, i)));
                }
            }
        }
        let max_len = (0..n as u32)
            .map(|id| piece_of(&arena, &ends, id).len())
            .max()
            .unwrap_or(0);
        Ok(Unigram {
            min_score: scores.iter().copied().fold(f64::INFINITY, f64::min),
            arena,
            ends,
            scores,
            ids,
            hasher,
            max_len,
            unk_id: unk_id as u32,
        })
    }

    fn piece(&self, id: u32) -> &str {
        piece_of(&self.arena, &self.ends, id)
    }

    /// The id of `piece`, if it is one.
    fn id(&self, piece: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(piece);
        self.ids.find(hash, |&i| self.piece(i) == piece).copied()
    }

    /// The best segmentation of `sentence` (the crate's `encode_optimized`): Viterbi over the
    /// pieces that start at each character, in order of length; a character no piece starts
    /// with becomes `<unk>`, and neighbouring unknowns are fused into one.
    fn encode(&self, sentence: &str) -> Vec<String> {
        struct Best {
            id: u32,
            score: f64,
            starts_at: Option<usize>,
        }
        let size = sentence.len();
        if size == 0 {
            return Vec::new();
        }
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best: Vec<Best> = (0..=size)
            .map(|_| Best {
                id: 0,
                score: 0.0,
                starts_at: None,
            })
            .collect();
        let offer = |best: &mut [Best], end: usize, start: usize, id: u32, score: f64| {
            let node = &mut best[end];
            if node.starts_at.is_none() || score > node.score {
                node.score = score;
                node.starts_at = Some(start);
                node.id = id;
            }
        };
        let mut start = 0;
        while start < size {
            let here = best[start].score;
            let rest = &sentence[start..];
            let first_char = rest.chars().next().map_or(1, char::len_utf8);
            let mut single = false;
            // Every candidate ends on a character boundary (pieces are whole UTF-8 strings).
            let ends = rest
                .char_indices()
                .skip(1)
                .map(|(i, _)| i)
                .chain(std::iter::once(rest.len()))
                .take_while(|&len| len <= self.max_len);
            for len in ends {
                if let Some(id) = self.id(&rest[..len]) {
                    offer(
                        &mut best,
                        start + len,
                        start,
                        id,
                        here + self.scores[id as usize],
                    );
                    single |= len == first_char;
                }
            }
            if !single {
                offer(
                    &mut best,
                    start + first_char,
                    start,
                    self.unk_id,
                    here + unk_score,
                );
            }
            start += first_char;
        }
        let mut out = Vec::new();
        let mut unknown: Vec<&str> = Vec::new();
        let mut end = size;
        while end > 0 {
            let node = &best[end];
            let start = node.starts_at.expect("every end is reached");
            if node.id == self.unk_id {
                unknown.push(&sentence[start..end]);
            } else {
                if !unknown.is_empty() {
                    unknown.reverse();
                    out.push(unknown.concat());
                    unknown.clear();
                }
                out.push(sentence[start..end].to_string());
            }
            end = start;
        }
        if !unknown.is_empty() {
            unknown.reverse();
            out.push(unknown.concat());
        }
        out.reverse();
        out
    }
}

/// Piece `id` of an arena.
fn piece_of<'a>(arena: &'a str, ends: &[u32], id: u32) -> &'a str {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &arena[start..ends[i] as usize]
}

impl Model for Unigram {
    type Trainer = UnigramTrainer;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<Token>> {
        let mut offset = 0;
        Ok(self
            .encode(sequence)
            .into_iter()
            .map(|piece| {
                let len = piece.len();
                let id = self.id(&piece).unwrap_or(self.unk_id);
                let token = Token::new(id, piece, (offset, offset + len));
                offset += len;
                token
            })
            .collect())
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.id(token)
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        ((id as usize) < self.ends.len()).then(|| self.piece(id).to_string())
    }

    fn get_vocab(&self) -> std::collections::HashMap<String, u32> {
        self.ids
            .iter()
            .map(|&id| (self.piece(id).to_string(), id))
            .collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.ends.len()
    }

    /// Writes the model as the crate's `unigram.json` (`{prefix}-unigram.json`).
    fn save(&self, folder: &Path, prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        let name = prefix.map_or_else(|| "unigram.json".into(), |p| format!("{p}-unigram.json"));
        let path = folder.join(name);
        let json = UnigramJson {
            kind: "Unigram".into(),
            unk_id: Some(self.unk_id as usize),
            vocab: (0..self.ends.len() as u32)
                .map(|id| (self.piece(id).to_string(), self.scores[id as usize]))
                .collect(),
            byte_fallback: false,
        };
        std::fs::write(&path, serde_json::to_vec(&json)?)?;
        Ok(vec![path])
    }

    fn get_trainer(&self) -> UnigramTrainer {
        UnigramTrainer::default()
    }
}

/// `tokenizer.json`'s model entry.
#[derive(Serialize, Deserialize)]
struct UnigramJson {
    #[serde(rename = "type")]
    kind: String,
    unk_id: Option<usize>,
    vocab: Vec<(String, f64)>,
    #[serde(default)]
    byte_fallback: bool,
}

/// Everything in `tokenizer.json` but the model.
#[derive(Serialize, Deserialize)]
struct Pipeline {
    normalizer: Option<NormalizerWrapper>,
    pre_tokenizer: Option<PreTokenizerWrapper>,
    post_processor: Option<PostProcessorWrapper>,
    decoder: Option<DecoderWrapper>,
    truncation: Option<TruncationParams>,
    padding: Option<PaddingParams>,
}

#[derive(Deserialize)]
struct TokenizerJson {
    #[serde(flatten)]
    pipeline: Pipeline,
    #[serde(default)]
    added_tokens: Vec<serde_json::Value>,
    model: UnigramJson,
}

/// The compact file: the model's arena, piece ends and scores as they are, the pipeline as
/// JSON (a few hundred bytes: the crate's wrappers serialise only to self-describing formats).
#[derive(Serialize, Deserialize)]
struct Compact {
    version: u32,
    source_blake3: [u8; 32],
    pipeline_json: String,
    unk_id: usize,
    arena: String,
    ends: Vec<u32>,
    scores: Vec<f64>,
}

/// Loads `json` (a `tokenizer.json` with a unigram model), through its compact form in
/// `compact_dir` when one is given: read from there when present and whole, else written there
/// after the JSON is parsed. A compact file that cannot be written or read costs only time.
pub fn load(json: &Path, compact_dir: Option<&Path>) -> Result<E5Tokenizer, ModelError> {
    let invalid = |reason: String| ModelError::Invalid {
        path: json.to_path_buf(),
        reason,
    };
    let bytes = super::read_model(json)?;
    let hash = *blake3::hash(&bytes).as_bytes();
    let compact_path = compact_dir.map(|d| d.join(compact_name(&hash)));
    if let Some(path) = &compact_path {
        match read_compact(path, &hash) {
            Ok(Some(c)) => {
                let pipeline: Pipeline = serde_json::from_str(&c.pipeline_json)
                    .map_err(|e| invalid(format!("compact form {}: {e}", path.display())))?;
                let model = Unigram::from_parts(c.arena, c.ends, c.scores, c.unk_id)
                    .map_err(|e| invalid(format!("compact form {}: {e}", path.display())))?;
                return build(pipeline, model).map_err(invalid);
            }
            Ok(None) => {}
            Err(reason) => tracing::warn!(
                "{}: compact tokenizer unreadable ({reason}); reading {} again",
                path.display(),
                json.display()
            ),
        }
    }
    let parsed: TokenizerJson =
        serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if parsed.model.kind != "Unigram" {
        return Err(invalid(format!(
            "a {} model, where a Unigram one is expected",
            parsed.model.kind
        )));
    }
    if parsed.model.byte_fallback {
        return Err(invalid("byte fallback is not supported".into()));
    }
    if !parsed.added_tokens.is_empty() {
        return Err(invalid("added tokens are not supported".into()));
    }
    let unk_id = parsed
        .model
        .unk_id
        .ok_or_else(|| invalid("the model has no unk_id".into()))?;
    let model = Unigram::new(parsed.model.vocab, unk_id).map_err(invalid)?;
    if let Some(path) = &compact_path {
        let compact = Compact {
            version: COMPACT_VERSION,
            source_blake3: hash,
            pipeline_json: serde_json::to_string(&parsed.pipeline)
                .map_err(|e| invalid(e.to_string()))?,
            unk_id,
            arena: model.arena.clone(),
            ends: model.ends.clone(),
            scores: model.scores.clone(),
        };
        if let Err(e) = write_compact(path, &compact) {
            tracing::warn!("{}: compact tokenizer not written: {e}", path.display());
        }
    }
    build(parsed.pipeline, model).map_err(invalid)
}

/// The compact file's name for a `tokenizer.json` of this hash.
pub fn compact_name(hash: &[u8; 32]) -> String {
    let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("tokenizer-{hex}.postcard")
}

fn build(pipeline: Pipeline, model: Unigram) -> Result<E5Tokenizer, String> {
    let mut tk = TokenizerImpl::new(model);
    tk.with_normalizer(pipeline.normalizer)
        .with_pre_tokenizer(pipeline.pre_tokenizer)
        .with_post_processor(pipeline.post_processor)
        .with_decoder(pipeline.decoder)
        .with_padding(pipeline.padding);
    tk.with_truncation(pipeline.truncation)
        .map_err(|e| e.to_string())?;
    Ok(tk)
}

/// The compact form at `path` if it is there and was made from the JSON of `hash`; an error
/// when it is there but damaged.
fn read_compact(path: &Path, hash: &[u8; 32]) -> Result<Option<Compact>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let c: Compact = postcard::from_bytes(&bytes).map_err(|e| e.to_string())?;
    if c.version != COMPACT_VERSION || &c.source_blake3 != hash {
        return Ok(None);
    }
    Ok(Some(c))
}

/// Writes the compact form beside its final name and renames it into place, so a reader sees
/// the whole file or none.
fn write_compact(path: &Path, compact: &Compact) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let bytes = postcard::to_stdvec(compact).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Unigram {
        let vocab = [
            ("<unk>", 0.0),
            ("▁a", -1.0),
            ("▁", -2.0),
            ("a", -2.5),
            ("b", -3.0),
            ("ab", -2.0),
            ("▁ab", -6.0),
            ("я", -1.5),
        ];
        Unigram::new(vocab.iter().map(|(p, s)| (p.to_string(), *s)).collect(), 0).unwrap()
    }

    #[test]
    fn best_path_and_fused_unknowns() {
        let m = toy();
        // ▁ab = -6 is offered first, then ▁ + ab = -4 wins, then ▁a + b = -4 is not better
        assert_eq!(m.encode("▁ab"), ["▁", "ab"]);
        // unknown characters next to each other become one piece
        assert_eq!(m.encode("яxyя"), ["я", "xy", "я"]);
        assert_eq!(m.encode(""), Vec::<String>::new());
        let toks = m.tokenize("aя!").unwrap();
        let ids: Vec<u32> = toks.iter().map(|t| t.id).collect();
        assert_eq!(ids, [3, 7, 0]);
        assert_eq!(toks[2].offsets, (3, 4));
        assert_eq!(m.get_vocab_size(), 8);
        assert_eq!(m.id_to_token(7).as_deref(), Some("я"));
        assert_eq!(m.id_to_token(8), None);
    }

    #[test]
    fn a_piece_listed_twice_keeps_its_last_id_and_score() {
        let vocab = [
            ("<unk>", 0.0),
            ("ab", -9.0),
            ("a", -1.0),
            ("b", -1.0),
            ("ab", -1.0),
        ];
        let m = Unigram::new(vocab.iter().map(|(p, s)| (p.to_string(), *s)).collect(), 0).unwrap();
        assert_eq!(m.token_to_id("ab"), Some(4));
        // "ab" at its last score (-1) beats "a" + "b" (-2)
        assert_eq!(m.encode("ab"), ["ab"]);
        assert_eq!(m.get_vocab().len(), 4);
    }
}
