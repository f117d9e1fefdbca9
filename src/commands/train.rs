//! `picseek train`: fit the relevance scorer and the legal check's child detector on the
//! annotated dataset, and save them into the models folder.

use anyhow::Result;
use picseek::eval::report::evaluate;
use picseek::model::manifest::Manifest;
use picseek::train::{self, TrainConfig};
use serde_json::json;

use super::Ctx;
use crate::cli::TrainArgs;

/// Share of the training images of children the whole-image check must flag (out of fold). The
/// person gate after it clears flagged images with nobody in them, so the check can afford a
/// high recall.
pub(crate) const CHILD_RECALL: f64 = 0.95;

pub fn run(a: &TrainArgs, ctx: &Ctx) -> Result<()> {
    let (ds, corpus) = ctx.corpus(&a.data.data)?;
    let models = ctx.models_dir();
    let cfg = TrainConfig {
        seed: a.seed,
        max_epochs: a.epochs,
        ..TrainConfig::default()
    };
    let started = std::time::Instant::now();
    let (mut scorer, summary) =
        train::train(&ds, &corpus, &cfg, &mut |line| eprintln!("picseek: {line}"))?;
    let child = train::fit_child_detector(&ds, &corpus, &scorer, a.seed, CHILD_RECALL)?;
    eprintln!(
        "picseek: legal image detector: L2 {}, threshold {:.3}; out of fold on training images recall {:.3}, precision {:.3}",
        child.l2, child.rule.threshold, child.recall, child.precision
    );
    scorer.meta.child_threshold = Some(child.rule);
    scorer.weights.child_w = Some(child.weights);
    let report = evaluate(&ds, &corpus, &scorer, &cfg);
    // The encoders the scorer is trained against, as the manifest records them.
    let manifest = Manifest::load(models)?;
    scorer.meta.image_encoder_sha256 = manifest.image_encoder.sha256;
    scorer.meta.text_encoder_sha256 = manifest.text_encoder.sha256;
    scorer.meta.training = json!({
        "summary": summary,
        "seconds": started.elapsed().as_secs_f64(),
        "eval": report,
        "legal_detector": {
            "l2": child.l2, "threshold": child.rule.threshold, "min_recall": CHILD_RECALL,
            "out_of_fold": {"recall": child.recall, "precision": child.precision},
            "labels": "hand-checked where listed in src/legal/child_labels.tsv, else captions",
        },
    });
    scorer.save(models)?;
    println!(
        "trained in {:.0} s (best epoch {} of {}); saved {}",
        started.elapsed().as_secs_f64(),
        summary.best_epoch,
        summary.epochs_run,
        models.join(picseek::model::scorer::WEIGHTS_FILE).display()
    );
    super::eval::print_report(&report);
    Ok(())
}
