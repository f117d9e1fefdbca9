//! Dumps, for the images of the demo dataset and of the given folders, what the legal image
//! check's models see: the whole-image probe's probability (out of fold for the training
//! images) and the people, faces and face ages, one JSON object a line. A tool for studying the
//! decision where people are in view; `picseek train` computes the same through the library.
//!
//! cargo run --release --example people_evidence -- data OUT.jsonl [DIR...]

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fast_image_resize::Resizer;
use picseek::index::view_fingerprint;
use picseek::cache::Cache;
use picseek::people::{GateInput, PeopleModels};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() >= 2, "usage: people_evidence DATA OUT.jsonl [DIR...]");
    let data = PathBuf::from(&args[0]);
    let models_dir = picseek::model::locate_models_dir(None);
    picseek::model::runtime::init(None, &models_dir)?;
    let models = picseek::model::Models::new(&models_dir);
    let scorer = models.scorer()?;
    let encoder = models.image()?;
    let text = models.text()?;
    let cache = Cache::open(&models_dir.parent().unwrap().join("cache"))?;
    let ds = picseek::dataset::load(&data)?;
    let corpus =
        picseek::train::corpus::build(&ds, &cache, &encoder, &text, &models_dir, &mut |_, _| {})?;
    let seed = scorer.meta.training["summary"]["config"]["seed"]
        .as_u64()
        .context("seed")?;
    let fit = picseek::train::fit_child_detector(&ds, &corpus, &scorer, seed, 0.95)?;
    let people = PeopleModels::load(&models_dir)?;
    let fp = view_fingerprint(&encoder, false);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[1])?);
    let mut resizer = Resizer::new();
    let mut sets: Vec<(String, PathBuf)> = vec![
        ("train".into(), data.join("train_images")),
        ("test".into(), data.join("test_images")),
    ];
    for d in &args[2..] {
        sets.push((d.clone(), PathBuf::from(d)));
    }
    let truth: std::collections::HashMap<&str, bool> = fit
        .out_of_fold
        .iter()
        .map(|(n, _, t)| (n.as_str(), *t))
        .collect();
    let oof: std::collections::HashMap<&str, f32> = fit
        .out_of_fold
        .iter()
        .map(|(n, p, _)| (n.as_str(), *p))
        .collect();
    for (set, dir) in &sets {
        let report =
            picseek::index::index_dir(dir, &cache, &encoder, None, &Default::default(), &mut |_| {})?;
        for (path, hash) in &report.indexed {
            let name = rel(path, dir);
            let Some(record) = cache.embedding(&fp, hash) else {
                continue;
            };
            let p = scorer.child_probability(&record.embedding).unwrap_or(1.0);
            let bytes = std::fs::read(path)?;
            let Ok(img) = picseek::model::preprocess::decode_for_encoder(&bytes) else {
                continue;
            };
            let Ok(input) = GateInput::from_image(img.image, &mut resizer) else {
                continue;
            };
            let t = std::time::Instant::now();
            let mut ev = people.look(&input)?;
            let look_ms = t.elapsed().as_secs_f64() * 1000.0;
            let t = std::time::Instant::now();
            people.estimate_ages(&input, &mut ev)?;
            let age_ms = t.elapsed().as_secs_f64() * 1000.0;
            // Experiment: the whole-image probe on square crops around each person and face.
            let mut crops = Vec::new();
            let mut kinds = Vec::new();
            for q in ev.people.iter().filter(|q| q.score > 0.2).take(4) {
                crops.push(square_crop(input.image(), &q.bbox, 1.15));
                kinds.push(("person", q.score));
            }
            for f in ev.faces.iter().take(4) {
                crops.push(square_crop(input.image(), &f.bbox, 2.5));
                kinds.push(("face", f.score));
            }
            let mut crop_p = Vec::new();
            if !crops.is_empty() {
                let tensors: Vec<Vec<f32>> = crops
                    .iter()
                    .map(|c| {
                        let sq = picseek::model::preprocess::to_square(c, &mut resizer).unwrap();
                        let mut t = vec![0.0; picseek::model::preprocess::TENSOR_LEN];
                        picseek::model::preprocess::write_tensor(&sq, false, &mut t);
                        t
                    })
                    .collect();
                let refs: Vec<&[f32]> = tensors.iter().map(|t| t.as_slice()).collect();
                for (e, (k, s)) in encoder.encode(&refs)?.iter().zip(&kinds) {
                    crop_p.push(serde_json::json!({"kind": k, "score": s,
                        "p": scorer.child_probability(e).unwrap_or(1.0),
                        "features": e.features.iter().map(|v| (v * 1000.0).round() / 1000.0).collect::<Vec<f32>>()}));
                }
            }
            let row = serde_json::json!({
                "set": set, "image": name, "p": p, "oof": oof.get(name.as_str()),
                "truth": truth.get(name.as_str()), "evidence": ev, "look_ms": look_ms, "age_ms": age_ms, "crops": crop_p,
            });
            writeln!(out, "{row}")?;
        }
        eprintln!("{set}: {} images", report.indexed.len());
    }
    out.flush()?;
    println!("threshold {}", fit.rule.threshold);
    Ok(())
}

/// A square around the box (fractions of the image), `grow` times its longer side, black
/// outside the image; side at least 32 px.
fn square_crop(img: &image::RgbImage, b: &[f32; 4], grow: f32) -> image::RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (x0, y0, x1, y1) = (b[0] * w, b[1] * h, b[2] * w, b[3] * h);
    let side = ((x1 - x0).max(y1 - y0) * grow).max(32.0);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (sx, sy) = ((cx - side / 2.0).round() as i64, (cy - side / 2.0).round() as i64);
    let n = side.round() as u32;
    image::RgbImage::from_fn(n, n, |x, y| {
        let (px, py) = (sx + x as i64, sy + y as i64);
        if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
            *img.get_pixel(px as u32, py as u32)
        } else {
            image::Rgb([0, 0, 0])
        }
    })
}

fn rel(path: &Path, dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    path.strip_prefix(dir)
        .or_else(|_| path.strip_prefix(&abs))
        .unwrap_or(path)
        .display()
        .to_string()
}
