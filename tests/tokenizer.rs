//! picseek's quick-opening tokenizer (`model::tokenizer`) against the `tokenizers` crate's own
//! `Tokenizer::from_file` on the same `tokenizer.json`: the same ids, offsets and attention masks
//! on every caption and query of the dataset, the Russian queries and captions, the outside
//! queries, the legal filter's test queries and texts made to be hard (unknown characters next
//! to each other, emoji, control characters, long runs, an empty text, over 512 tokens). And the
//! compact form: written once, read back to the same ids, remade when damaged or stale.

mod common;

use std::path::Path;

use common::root;
use picseek::model::text::PREFIX;
use picseek::model::tokenizer::{self, E5Tokenizer};
use tokenizers::Tokenizer;

fn texts() -> Vec<String> {
    let ds = picseek::dataset::load(&root().join("data")).expect("dataset (run scripts/setup.sh)");
    let mut texts: Vec<String> = ds.train.iter().map(|p| p.query_text.clone()).collect();
    texts.extend(ds.test_queries.iter().map(|q| q.query_text.clone()));
    for file in [
        "tests/fixtures/queries_ru.tsv",
        "src/train/captions_ru.tsv",
        "tests/fixtures/outside_queries.tsv",
        "tests/fixtures/legal_queries.tsv",
    ] {
        let body = std::fs::read_to_string(root().join(file)).expect(file);
        texts.extend(
            body.lines()
                .filter(|l| !l.starts_with('#'))
                .flat_map(|l| l.split('\t'))
                .filter(|c| c.chars().any(char::is_alphabetic))
                .map(str::to_string),
        );
    }
    texts.extend(
        [
            "",
            " ",
            "a",
            "собака ловит тарелку",
            "ЁЖ в ТУМАНЕ",
            "🐕🐕‍🦺 dog 🥏",
            "\u{1}\u{7f}tab\there\u{200b}zero\u{feff}width",
            "    many     spaces   ",
            "ǅemal 𝔣𝔯𝔞𝔨𝔱𝔲𝔯 ＦＵＬＬＷＩＤＴＨ ﬁ ligature",
            "𓀀𓀁𓀂 hieroglyphs, ꙮ, ᚠᛇᚻ runes",
            "狗在草地上奔跑 犬が走る 개가 달린다",
            "<s> </s> <pad> <unk> as text",
        ]
        .map(str::to_string),
    );
    texts.push("Собака бежит по траве, a dog runs. ".repeat(80));
    texts.sort();
    texts.dedup();
    texts
}

fn reference() -> Tokenizer {
    Tokenizer::from_file(root().join("models/tokenizer.json")).expect("tokenizer.json")
}

fn same_ids(ours: &E5Tokenizer, theirs: &Tokenizer, texts: &[String]) {
    let prefixed: Vec<String> = texts.iter().map(|t| format!("{PREFIX}{t}")).collect();
    let mut checked = 0;
    for (text, p) in texts.iter().zip(&prefixed) {
        let a = ours.encode(p.as_str(), true).unwrap();
        let b = theirs.encode(p.as_str(), true).unwrap();
        assert_eq!(a.get_ids(), b.get_ids(), "ids of {text:?}");
        assert_eq!(a.get_offsets(), b.get_offsets(), "offsets of {text:?}");
        assert_eq!(a.get_tokens(), b.get_tokens(), "pieces of {text:?}");
        checked += 1;
    }
    // and batched, padded as the encoder is fed
    for chunk in prefixed.chunks(64) {
        let a = ours.encode_batch(chunk.to_vec(), true).unwrap();
        let b = theirs.encode_batch(chunk.to_vec(), true).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.get_ids(), y.get_ids());
            assert_eq!(x.get_attention_mask(), y.get_attention_mask());
        }
    }
    assert!(checked > 3000, "only {checked} texts");
}

#[test]
fn ids_equal_the_crates_own_tokenizer() {
    let texts = texts();
    let json = root().join("models/tokenizer.json");
    let ours = tokenizer::load(&json, None).unwrap();
    let theirs = reference();
    same_ids(&ours, &theirs, &texts);
    // the longest text is truncated to 512 tokens like the crate's
    let long = texts.iter().max_by_key(|t| t.len()).unwrap();
    assert_eq!(ours.encode(long.as_str(), true).unwrap().len(), 512);
}

fn compact_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "postcard"))
        .collect()
}

#[test]
fn the_compact_form_is_written_once_and_read_back_to_the_same_ids() {
    let texts: Vec<String> = texts().into_iter().step_by(7).collect();
    let json = root().join("models/tokenizer.json");
    let dir = tempfile::tempdir().unwrap();
    let theirs = reference();

    let first = tokenizer::load(&json, Some(dir.path())).unwrap();
    let files = compact_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let written = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    assert!(std::fs::metadata(&files[0]).unwrap().len() > 1_000_000);
    drop(first);

    let again = tokenizer::load(&json, Some(dir.path())).unwrap();
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        written,
        "read, not rewritten"
    );
    let mut some: Vec<String> = texts.clone();
    some.truncate(600);
    for t in &some {
        let p = format!("{PREFIX}{t}");
        assert_eq!(
            again.encode(p.as_str(), true).unwrap().get_ids(),
            theirs.encode(p.as_str(), true).unwrap().get_ids(),
            "{t:?}"
        );
    }

    // damaged: cut in half, then garbage; each time the JSON is read again and the file remade
    for damage in [0usize, 1] {
        let bytes = std::fs::read(&files[0]).unwrap();
        let broken = if damage == 0 {
            bytes[..bytes.len() / 2].to_vec()
        } else {
            vec![0xff; 4096]
        };
        std::fs::write(&files[0], broken).unwrap();
        let mended = tokenizer::load(&json, Some(dir.path())).unwrap();
        let p = format!("{PREFIX}собака ловит тарелку");
        assert_eq!(
            mended.encode(p.as_str(), true).unwrap().get_ids(),
            theirs.encode(p.as_str(), true).unwrap().get_ids()
        );
        assert_eq!(std::fs::read(&files[0]).unwrap(), bytes, "remade whole");
    }

    // another tokenizer.json (one score changed) gets a compact file of its own
    let other = dir.path().join("tokenizer.json");
    let body = std::fs::read_to_string(&json).unwrap();
    let changed = body.replacen("-3.4635426998138428", "-3.4635426998138", 1);
    assert_ne!(changed, body);
    std::fs::write(&other, changed).unwrap();
    tokenizer::load(&other, Some(dir.path())).unwrap();
    assert_eq!(compact_files(dir.path()).len(), 2);
}
