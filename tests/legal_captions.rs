//! The legal filter on the dataset's captions: every caption with a seed
//! stop word is blocked, at most 1% of captions without child words are, and
//! the training exclusion gives sensible counts.
//!
//! Needs `data/` (a symlink to the dataset). If it is missing, run setup:
//! `ln -sfn ../shared/data/flickr-demo data` in the crate root.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use picseek::legal::{
    caption_figures, exclude_child_pairs, exclude_pairs_with, has_stop_word, mentions_child,
    source_image,
};

fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    assert!(
        dir.join("train_dataset.csv").is_file() && dir.join("test_queries.csv").is_file(),
        "dataset not found at {}: run setup (in the crate root: \
         `ln -sfn ../shared/data/flickr-demo data`)",
        dir.display()
    );
    dir
}

/// Rows of train_dataset.csv: (image, query_id, query_text).
fn train_pairs() -> Vec<(String, String, String)> {
    let path = data_dir().join("train_dataset.csv");
    let mut reader = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let headers = reader.headers().expect("header row").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["image", "query_id", "query_text"],
        "unexpected columns in {}",
        path.display()
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            (r[0].to_string(), r[1].to_string(), r[2].to_string())
        })
        .collect()
}

/// Captions of test_queries.csv ('|'-separated: index, query_id,
/// query_text, image).
fn test_captions() -> Vec<String> {
    let path = data_dir().join("test_queries.csv");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'|')
        .from_path(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let headers = reader.headers().expect("header row").clone();
    let column = headers
        .iter()
        .position(|h| h == "query_text")
        .unwrap_or_else(|| panic!("no query_text column in {}", path.display()));
    reader
        .records()
        .map(|r| r.expect("a CSV record")[column].to_string())
        .collect()
}

#[test]
fn captions_are_filtered() {
    let mut captions: Vec<String> = train_pairs().into_iter().map(|p| p.2).collect();
    let test = test_captions();
    assert!(!test.is_empty() && !captions.is_empty());
    captions.extend(test);

    let f = caption_figures(&captions);
    println!("distinct captions: {}", f.captions);
    println!("blocked captions: {}", f.blocked);
    println!(
        "stop-word captions blocked: {}/{} = {:.1}%",
        f.stop_word_blocked,
        f.stop_word_captions,
        f.stop_word_block_percent()
    );
    println!(
        "captions without child words blocked (false positives): {}/{} = {:.2}%",
        f.non_child_blocked.len(),
        f.non_child_captions,
        f.false_positive_percent()
    );
    println!("blocked captions without plain child words (review these):");
    for c in &f.non_child_blocked {
        println!("  - {c}  => {}", picseek::legal::check_query(c));
    }
    println!(
        "blocked child-related captions without a seed stop word: {}",
        f.blocked_beyond_stop_words.len()
    );
    for c in &f.blocked_beyond_stop_words {
        println!("  + {c}  => {}", picseek::legal::check_query(c));
    }

    assert!(f.stop_word_captions > 0);
    assert!(
        f.stop_word_missed.is_empty(),
        "stop-word captions NOT blocked:\n  {}",
        f.stop_word_missed.join("\n  ")
    );
    assert!(
        f.false_positive_percent() <= 1.0,
        "false positives over 1%: {}/{}",
        f.non_child_blocked.len(),
        f.non_child_captions
    );
}

#[test]
fn training_exclusion_counts() {
    let pairs = train_pairs();
    let ex = exclude_child_pairs(pairs.iter().map(|(a, b, c)| (a, b, c)));
    let seed = exclude_pairs_with(pairs.iter().map(|(a, b, c)| (a, b, c)), has_stop_word);
    for (name, e) in [("seed stop words", &seed), ("legal filter", &ex)] {
        println!(
            "{name}: blocked captions {}, blocked source images {}; \
             pairs kept {}/{}; images kept {}/{} ({} in kept pairs); \
             captions kept {}/{} ({} in kept pairs)",
            e.blocked_queries.len(),
            e.blocked_images.len(),
            e.pairs_kept,
            e.pairs_total,
            e.images_kept,
            e.images_total,
            e.images_in_kept_pairs,
            e.captions_kept,
            e.captions_total,
            e.captions_in_kept_pairs
        );
    }

    // The broader filter removes at least what the seed's list removes.
    assert!(ex.blocked_queries.is_superset(&seed.blocked_queries));
    assert!(ex.images_kept <= seed.images_kept);
    assert!(ex.captions_kept <= seed.captions_kept);
    // The dataset's figure for the seed list was 710 images and 687
    // captions; ours may be slightly fewer, but not wildly so.
    assert!(
        ex.images_kept <= 716 && ex.images_kept >= 600,
        "{}",
        ex.images_kept
    );
    assert!(
        ex.captions_kept <= 693 && ex.captions_kept >= 580,
        "{}",
        ex.captions_kept
    );

    // Every kept pair is clean, and nothing kept touches a blocked image.
    assert_eq!(ex.kept.len(), pairs.len());
    let mut kept_images = HashSet::new();
    for ((image, query_id, text), keep) in pairs.iter().zip(&ex.kept) {
        if *keep {
            assert!(!mentions_child(text), "kept a child caption: {text}");
            assert!(!ex.blocked_images.contains(image));
            assert!(!ex.blocked_images.contains(source_image(query_id)));
            assert!(ex.keeps(image, query_id, text));
            kept_images.insert(image.as_str());
        } else {
            assert!(
                mentions_child(text)
                    || ex.blocked_images.contains(image)
                    || ex.blocked_images.contains(source_image(query_id))
            );
        }
    }
    assert_eq!(kept_images.len(), ex.images_in_kept_pairs);
    assert_eq!(ex.kept.iter().filter(|k| **k).count(), ex.pairs_kept);
}
