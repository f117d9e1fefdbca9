//! `picseek legal`: how the legal filter does on the dataset (captions, training exclusion) and
//! how the image check does, stage by stage, on the test images, on the training images out of
//! fold, and on folders of images known to show no child (`--no-child DIR`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fast_image_resize::Resizer;
use picseek::dataset::Dataset;
use picseek::display::escape_path;
use picseek::eval::legal_images::{Figures, LegalImageReport, NoChildFigures, StageFigures};
use picseek::index::view_fingerprint;
use picseek::cache::Cache;
use picseek::legal::check::{gate_input, ImageCheck, ImageVerdict};
use picseek::model::ImageEncoder;
use picseek::train::Corpus;

use super::Ctx;
use crate::cli::LegalArgs;

pub fn run(a: &LegalArgs, ctx: &Ctx) -> Result<()> {
    let data = &a.data.data;
    let (ds, corpus) = ctx.corpus(data)?;
    let captions = ds.captions();
    let f = picseek::legal::caption_figures(captions.values());
    println!("Queries: the dataset's captions, checked as if typed as queries.");
    println!(
        "  captions with a plain word for a child (boy, girl, kid, child, baby, teen…) refused: {}/{} = {:.1}%",
        f.stop_word_blocked,
        f.stop_word_captions,
        f.stop_word_block_percent()
    );
    println!(
        "  captions about anything else refused by mistake: {}/{} = {:.2}%",
        f.non_child_blocked.len(),
        f.non_child_captions,
        f.false_positive_percent()
    );
    let ex = picseek::legal::exclude_child_pairs(
        ds.train
            .iter()
            .map(|p| (p.image.as_str(), p.query_id.as_str(), p.query_text.as_str())),
    );
    println!(
        "Training leaves children out: {} of {} image–caption pairs kept, {} of {} images, {} of {} captions",
        ex.pairs_kept,
        ex.pairs_total,
        ex.images_kept,
        ex.images_total,
        ex.captions_kept,
        ex.captions_total
    );
    let report = image_report(data, &ds, &corpus, &a.no_child, ctx)?;
    print_image_report(&report);
    Ok(())
}

/// Measures the image check (see [`LegalImageReport`]).
pub fn image_report(
    data: &Path,
    ds: &Dataset,
    corpus: &Corpus,
    no_child: &[PathBuf],
    ctx: &Ctx,
) -> Result<LegalImageReport> {
    let encoder = ctx.image_encoder()?;
    let (scorer, people) = ctx.check_models()?;
    let check = ImageCheck::new(&scorer, &people)
        .context("the scorer has no child detector; train one with picseek train")?;
    let cache = ctx.open_cache()?;
    let mut resizer = Resizer::new();

    // Test images: every verdict, against both label sets.
    let verdicts = verdicts_of(&data.join("test_images"), &cache, &encoder, &check, ctx)?;
    let by_name: HashMap<String, ImageVerdict> = verdicts.into_iter().collect();
    let hand = picseek::legal::labels::hand_labels();
    let images: Vec<&str> = ds.test_images.iter().map(String::as_str).collect();
    let test: Vec<ImageVerdict> = images
        .iter()
        .map(|n| {
            by_name
                .get(*n)
                .copied()
                .with_context(|| format!("{n}: test image not indexed"))
        })
        .collect::<Result<_>>()?;
    let hand_truth: Vec<bool> = images
        .iter()
        .map(|n| {
            hand.get(n)
                .map(|l| l.child)
                .with_context(|| format!("{n}: test image not hand-checked"))
        })
        .collect::<Result<_>>()?;
    let caption_truth: Vec<bool> = images
        .iter()
        .map(|n| {
            ds.test_queries
                .iter()
                .any(|q| q.image == *n && picseek::legal::mentions_child(&q.query_text))
        })
        .collect();

    // Training images: the whole-image check out of fold, then the person gate on what it
    // flags (the gate has no parameters fitted on these images but its cutoff).
    let seed = scorer.meta.training["summary"]["config"]["seed"]
        .as_u64()
        .context("scorer.json has no training seed; retrain with picseek train")?;
    let fit =
        picseek::train::fit_child_detector(ds, corpus, &scorer, seed, super::train::CHILD_RECALL)?;
    let train_dir = data.join("train_images");
    let mut flagged = Vec::new();
    let mut person = Vec::new();
    let mut truth = Vec::new();
    for (name, p, t) in &fit.out_of_fold {
        let is_flagged = *p >= fit.rule.threshold;
        let score = if is_flagged {
            gate_input(&train_dir.join(name), &mut resizer)
                .and_then(|g| check.look(&g))
                .map(|s| s.anybody())
        } else {
            None
        };
        flagged.push(is_flagged);
        person.push(score);
        truth.push(*t);
    }

    let mut sets = Vec::new();
    for dir in no_child {
        let v = verdicts_of(dir, &cache, &encoder, &check, ctx)?;
        sets.push(NoChildFigures::of(&dir.display().to_string(), &v));
    }
    Ok(LegalImageReport {
        test_hand_labels: StageFigures::of(&test, &hand_truth),
        test_caption_labels: StageFigures::of(&test, &caption_truth),
        train_out_of_fold: StageFigures::out_of_fold(&flagged, &person, &truth),
        no_child: sets,
    })
}

/// Indexes `dir` with the check and returns each file's verdict, by its path relative to `dir`.
fn verdicts_of(
    dir: &Path,
    cache: &Cache,
    encoder: &ImageEncoder,
    check: &ImageCheck,
    ctx: &Ctx,
) -> Result<Vec<(String, ImageVerdict)>> {
    let report = super::index::index_with_progress(dir, cache, encoder, Some(check), &ctx.index)?;
    for f in &report.failures {
        eprintln!("picseek: skipped: {f}");
    }
    let fp = view_fingerprint(encoder, false);
    let mut resizer = Resizer::new();
    let abs = std::path::absolute(dir)?;
    let mut out = Vec::new();
    for (path, hash) in &report.indexed {
        let v = check
            .verdict_for(cache, &fp, path, hash, &mut resizer)?
            .with_context(|| format!("{}: no cached vector", escape_path(path)))?;
        let name = path
            .strip_prefix(dir)
            .or_else(|_| path.strip_prefix(&abs))
            .unwrap_or(path);
        out.push((name.display().to_string(), v));
    }
    Ok(out)
}

fn line(what: &str, f: &Figures) -> String {
    format!(
        "{what}: recall {:.3}, precision {:.3}, {} withheld",
        f.recall, f.precision, f.withheld
    )
}

pub fn print_image_report(r: &LegalImageReport) {
    println!(
        "Images (recall: the share of the children's images withheld; precision: the share of the \
         withheld images that do show a child):"
    );
    for (name, s) in [
        ("test images, hand-checked labels", &r.test_hand_labels),
        ("test images, caption labels", &r.test_caption_labels),
        ("training images out of fold", &r.train_out_of_fold),
    ] {
        println!(
            "Images of children, {name} ({} of {} show a child):",
            s.whole_image.children, s.whole_image.images
        );
        println!(
            "  {}",
            line("first stage alone (whole image)", &s.whole_image)
        );
        println!(
            "  {}",
            line(
                "as searches run it (flagged images shown when nobody is in view)",
                &s.with_person_gate
            )
        );
    }
    for s in &r.no_child {
        println!(
            "Images without children in {}: {} of {} withheld by mistake = {:.1}% ({} flagged by the first stage alone)",
            s.source, s.withheld, s.images, s.withheld_percent, s.flagged_whole_image
        );
        for f in &s.withheld_files {
            println!("  withheld: {}", picseek::display::escape_control(f));
        }
    }
}
