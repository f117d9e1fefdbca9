//! `picseek dupes` on a generated set: the 100 demo test images, 3 transformed copies of each
//! (half size at JPEG quality 55–70; 0–8% cut off each side; brightness, saturation and contrast
//! changed), and 100 unrelated photos (the first 100 of the outside set: Debian, PyPI and npm
//! archives, fetched by set-up; provenance in `tests/fixtures/outside_images.tsv`). Among the
//! images shown (the legal image check withholds some), at least 95% of the pairs of one picture
//! and its copies must be found in one group, at most 1% of the pairs reported may be false, and
//! no withheld image may be listed. Figures printed with `-- --nocapture`.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use common::{file_name, files_in, picseek, root, save_jpeg, succeed, test_images};

/// Writes the original (re-encoded at quality 95) and its three copies as `g<k>_<kind>.jpg`.
fn write_group(k: usize, original: &Path, dir: &Path) {
    let img = image::open(original).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let mut rng = StdRng::seed_from_u64(k as u64);
    let out = |kind: &str| dir.join(format!("g{k:03}_{kind}.jpg"));
    save_jpeg(&img, 95, &out("orig"));
    let half = image::imageops::resize(&img, w / 2, h / 2, image::imageops::FilterType::Triangle);
    save_jpeg(&half, rng.random_range(55..=70), &out("half"));
    let cut: [f32; 4] = std::array::from_fn(|_| rng.random_range(0.0..0.08));
    let (left, top) = ((cut[0] * w as f32) as u32, (cut[1] * h as f32) as u32);
    let (right, bottom) = ((cut[2] * w as f32) as u32, (cut[3] * h as f32) as u32);
    let crop = image::imageops::crop_imm(&img, left, top, w - left - right, h - top - bottom);
    save_jpeg(&crop.to_image(), 85, &out("crop"));
    let brightness = rng.random_range(0.85..1.2f32);
    let saturation = rng.random_range(0.6..1.3f32);
    let contrast = rng.random_range(0.9..1.15f32);
    let mut colour = img.clone();
    for p in colour.pixels_mut() {
        let [r, g, b] = p.0.map(f32::from);
        let grey = 0.299 * r + 0.587 * g + 0.114 * b;
        p.0 = [r, g, b].map(|c| {
            let c = (grey + (c - grey) * saturation) * brightness;
            ((c - 128.0) * contrast + 128.0).clamp(0.0, 255.0) as u8
        });
    }
    save_jpeg(&colour, 90, &out("colour"));
}

/// The picture a generated file comes from: `g<k>` for a group, the file name otherwise.
fn origin(name: &str) -> String {
    match name.split_once('_') {
        Some((g, _)) if g.starts_with('g') && g[1..].chars().all(|c| c.is_ascii_digit()) => {
            g.to_string()
        }
        _ => name.to_string(),
    }
}

#[test]
fn dupes_finds_copies_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("photos");
    std::fs::create_dir(&dir).unwrap();
    let originals = files_in(&test_images());
    assert_eq!(originals.len(), 100);
    originals
        .par_iter()
        .enumerate()
        .for_each(|(k, p)| write_group(k, p, &dir));
    for p in files_in(&root().join("cache/devset/outside"))
        .iter()
        .take(100)
    {
        std::os::unix::fs::symlink(
            p,
            dir.join(format!("u_{}", file_name(&p.to_string_lossy()))),
        )
        .unwrap();
    }
    let cache = tmp.path().join("cache");
    let out = succeed(picseek(&cache).args(["dupes", "--json"]).arg(&dir));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The images shown: every one, as a search lists them.
    let shown = succeed(
        picseek(&cache)
            .args(["search", "a photo", "--top", "100000", "--json"])
            .arg(&dir),
    );
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let shown: BTreeSet<String> = shown["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| file_name(r["path"].as_str().unwrap()))
        .collect();
    assert_eq!(v["images"].as_u64().unwrap() as usize, shown.len());
    assert_eq!(
        shown.len() + v["withheld"].as_u64().unwrap() as usize,
        500,
        "every generated image is either shown or withheld"
    );
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    for group in v["groups"].as_array().unwrap() {
        let names: Vec<String> = group["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| file_name(f["path"].as_str().unwrap()))
            .collect();
        assert!(names.len() >= 2);
        for n in &names {
            assert!(shown.contains(n), "{n} is listed but withheld");
        }
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                found.insert((a.min(b).clone(), a.max(b).clone()));
            }
        }
    }
    let mut by_origin: HashMap<String, Vec<&String>> = HashMap::new();
    for n in &shown {
        by_origin.entry(origin(n)).or_default().push(n);
    }
    let truth: BTreeSet<(String, String)> = by_origin
        .values()
        .flat_map(|names| {
            names.iter().enumerate().flat_map(move |(i, a)| {
                names[i + 1..]
                    .iter()
                    .map(move |b| ((*a).min(*b).clone(), (*a).max(*b).clone()))
            })
        })
        .collect();
    let hits = found.intersection(&truth).count();
    let false_pairs: Vec<_> = found.difference(&truth).collect();
    let recall = hits as f64 / truth.len() as f64;
    let false_share = false_pairs.len() as f64 / found.len().max(1) as f64;
    println!(
        "{} images shown ({} withheld); {} true pairs among them; {} pairs reported in {} groups: \
         {hits} true ({:.1}%), {} false ({:.2}% of those reported)",
        shown.len(),
        v["withheld"],
        truth.len(),
        found.len(),
        v["groups"].as_array().unwrap().len(),
        100.0 * recall,
        false_pairs.len(),
        100.0 * false_share
    );
    for (a, b) in truth.difference(&found) {
        println!("missed: {a} {b}");
    }
    for (a, b) in &false_pairs {
        println!("false: {a} {b}");
    }
    assert!(
        truth.len() >= 100,
        "too few true pairs to judge: {}",
        truth.len()
    );
    assert!(
        recall >= 0.95,
        "found {:.1}% of the true pairs",
        100.0 * recall
    );
    assert!(
        false_share <= 0.01,
        "{:.2}% of the pairs are false",
        100.0 * false_share
    );
}

/// Text output: a group of a photo and its half-size copy, whose file name holds an escape
/// sequence; the name reaches the terminal escaped.
#[test]
fn dupes_lists_a_group_with_names_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("photos");
    std::fs::create_dir(&dir).unwrap();
    let source = root().join("cache/devset/outside/064-scratch-city-with-water.jpg");
    let img = image::open(&source).unwrap().to_rgb8();
    save_jpeg(&img, 95, &dir.join("city.jpg"));
    let half = image::imageops::resize(
        &img,
        img.width() / 2,
        img.height() / 2,
        image::imageops::FilterType::Triangle,
    );
    save_jpeg(&half, 60, &dir.join("city \x1b[31mred.jpg"));
    std::os::unix::fs::symlink(
        root().join("cache/devset/outside/059-scratch-grand-canyon.jpg"),
        dir.join("canyon.jpg"),
    )
    .unwrap();
    let out = succeed(picseek(&tmp.path().join("cache")).arg("dupes").arg(&dir));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("group 1: 2 files, similarity "),
        "{text}"
    );
    assert!(
        lines[1].ends_with("city.jpg") || lines[2].ends_with("city.jpg"),
        "{text}"
    );
    assert!(
        text.contains("red.jpg") && !text.contains("canyon"),
        "{text}"
    );
}
