//! `picseek train`: fit the relevance scorer and the legal check's child detector on the
//! annotated dataset, and save them into the models folder.

use anyhow::Result;
use picseek::eval::report::evaluate;
use picseek::model::manifest::Manifest;
use picseek::train::people::{first_stage_threshold, FIRST_STAGE_RECALL, PEOPLE_RECALL};
use picseek::train::{self, TrainConfig, CHILD_RECALL};
use serde_json::json;

use super::Ctx;
use crate::cli::TrainArgs;

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
    // The decision where people are in view, over the people models' view of every training
    // image the first stage flags at its lower threshold.
    let first = first_stage_threshold(&child, FIRST_STAGE_RECALL);
    let session = ctx.session()?;
    let mut last = std::time::Instant::now();
    let rows = session.people_rows(
        &child,
        &a.data.data.join("train_images"),
        first,
        &mut |done, total| {
            if done == total || last.elapsed().as_secs() >= 5 {
                eprintln!("picseek: people models on the training images: {done}/{total}");
                last = std::time::Instant::now();
            }
        },
    )?;
    let people = train::fit_people_decision(&rows, first, PEOPLE_RECALL)?;
    eprintln!(
        "picseek: decision where people are in view: L2 {}, first stage {:.3}, threshold {:.3}; out of fold on training images recall {:.3}, precision {:.3}",
        people.l2, first, people.params.threshold, people.recall, people.precision
    );
    let mut rule = child.rule;
    rule.threshold = first;
    scorer.set_legal(rule, child.weights, people.params.clone());
    let report = evaluate(&ds, &corpus, &scorer, &cfg);
    // The encoders the scorer is trained against, as the manifest records them.
    let manifest = Manifest::load(models)?;
    let training = json!({
        "summary": summary,
        "seconds": started.elapsed().as_secs_f64(),
        "eval": report,
        "legal_detector": {
            "l2": child.l2, "threshold": child.rule.threshold, "min_recall": CHILD_RECALL,
            "out_of_fold": {"recall": child.recall, "precision": child.precision},
            "labels": "hand-checked where listed in src/legal/child_labels.tsv, else captions",
        },
        "people_decision": {
            "first_stage_threshold": first, "first_stage_recall": FIRST_STAGE_RECALL,
            "l2": people.l2, "threshold": people.params.threshold, "min_recall": PEOPLE_RECALL,
            "out_of_fold": {"recall": people.recall, "precision": people.precision},
        },
    });
    scorer.set_provenance(
        manifest.image_encoder.sha256,
        manifest.text_encoder.sha256,
        training,
    );
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
