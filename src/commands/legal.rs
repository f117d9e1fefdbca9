//! `picseek legal`: how the legal filter does on the dataset (captions, training exclusion) and
//! how the image check does, rule by rule, on the test images, on the training images out of
//! fold, and on folders of images known to show no child (`--no-child DIR`); or, with
//! `--withheld-by-folder DIR`, how many images of a folder of one's own are withheld, per folder.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use picseek::dataset::Dataset;
use picseek::display::escape_path;
use picseek::eval::legal_images::{Curve, Judged, LegalImageReport, NoChildFigures, StageFigures};
use picseek::legal::check::{ImageVerdict, Stage};
use picseek::legal::decision::{self, PeopleDecision};
use picseek::people::Evidence;
use picseek::train::people::{first_stage_threshold, FIRST_STAGE_RECALL, PEOPLE_RECALL};
use picseek::train::{Corpus, CHILD_RECALL};

use super::Ctx;
use crate::cli::LegalArgs;

pub fn run(a: &LegalArgs, ctx: &Ctx) -> Result<()> {
    if let Some(dir) = &a.withheld_by_folder {
        return withheld_by_folder(dir, ctx);
    }
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
    super::report::print_image_report(&report);
    Ok(())
}

/// How many images under `dir` are withheld, per folder, and how many the owner's declarations
/// show: counts only, never a withheld file's name.
fn withheld_by_folder(dir: &Path, ctx: &Ctx) -> Result<()> {
    let session = ctx.session()?;
    let mut bar = super::index::Bar::new();
    let verdicts = session.verdicts(dir, &mut |p| bar.show(p));
    bar.done();
    let (report, verdicts) = verdicts?;
    for f in &report.failures {
        eprintln!("picseek: skipped: {f}");
    }
    let cover = session.cover()?;
    let hashes: HashMap<&PathBuf, &[u8; 32]> = report.indexed.iter().map(|(p, h)| (p, h)).collect();
    let root = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    // folder → (images, withheld, shown by a declaration)
    let mut folders: BTreeMap<PathBuf, (usize, usize, usize)> = BTreeMap::new();
    for (path, v) in &verdicts {
        let folder = path
            .parent()
            .map(|p| p.strip_prefix(&root).unwrap_or(p).to_path_buf())
            .unwrap_or_default();
        let entry = folders.entry(folder).or_default();
        entry.0 += 1;
        if v.withheld() {
            let declared = hashes.get(path).is_some_and(|h| cover.mark(h).is_some());
            if declared {
                entry.2 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    let (mut withheld, mut declared) = (0, 0);
    println!(
        "{:>9} {:>9} {:>7}  folder",
        "withheld", "declared", "images"
    );
    for (folder, (n, w, d)) in &folders {
        if *w == 0 && *d == 0 {
            continue;
        }
        withheld += w;
        declared += d;
        let name = if folder.as_os_str().is_empty() {
            ".".to_string()
        } else {
            escape_path(folder).to_string()
        };
        println!("{w:>9} {d:>9} {n:>7}  {name}");
    }
    println!(
        "{} image(s) under {}: {withheld} withheld as likely showing a child, {declared} shown by your declarations",
        verdicts.len(),
        escape_path(dir)
    );
    if withheld > 0 {
        println!(
            "picseek: look at them in your own viewer; if a folder shows no child, or you have a parent's or guardian's consent, record it with `picseek declare no-child FOLDER --by NAME` or `picseek declare consent FOLDER --by NAME`"
        );
    }
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
    let session = ctx.session()?;
    let scorer = session.scorer()?;
    let first = scorer
        .meta
        .child_threshold
        .context("the scorer has no child detector; train one with picseek train")?
        .threshold;
    let decision = scorer
        .meta
        .people_decision
        .as_ref()
        .and_then(PeopleDecision::new);
    let hand = picseek::legal::labels::hand_labels();

    // The training images, out of fold: the detector and the decision refitted as training
    // fits them, each image judged by models that never saw it.
    let seed = scorer.meta.training["summary"]["config"]["seed"]
        .as_u64()
        .context("scorer.json has no training seed; retrain with picseek train")?;
    let fit = picseek::train::fit_child_detector(ds, corpus, &scorer, seed, CHILD_RECALL)?;
    let old_threshold = fit.rule.threshold;
    let t1 = first_stage_threshold(&fit, FIRST_STAGE_RECALL);
    let rows = session.people_rows(
        &fit,
        &data.join("train_images"),
        t1,
        &mut progress("training"),
    )?;
    let people = picseek::train::fit_people_decision(&rows, t1, PEOPLE_RECALL)?;
    let train: Vec<Judged> = rows
        .iter()
        .zip(&people.out_of_fold)
        .map(|(r, o)| Judged {
            probe: r.probe,
            anybody: r.evidence.as_ref().map(decision::anybody),
            decision: o.probability,
            withheld: o.flagged && o.anybody && o.withheld,
            child: r.child,
        })
        .collect();

    // Test images: every verdict as searches decide it, and the evidence of those flagged.
    let test_dir = data.join("test_images");
    let (test_names, test, aged) = judged_folder(&test_dir, first, decision.as_ref(), ctx)?;
    let by_name: HashMap<&str, &Judged> =
        test_names.iter().map(String::as_str).zip(&test).collect();
    let mut hand_set = Vec::new();
    let mut caption_set = Vec::new();
    for n in &ds.test_images {
        let j = *by_name
            .get(n.as_str())
            .copied()
            .with_context(|| format!("{n}: test image not indexed"))?;
        let child = hand
            .get(n.as_str())
            .map(|l| l.child)
            .with_context(|| format!("{n}: test image not hand-checked"))?;
        let caption = ds
            .test_queries
            .iter()
            .any(|q| q.image == *n && picseek::legal::mentions_child(&q.query_text));
        hand_set.push(Judged { child, ..j });
        caption_set.push(Judged {
            child: caption,
            ..j
        });
    }

    let mut sets = Vec::new();
    for dir in no_child {
        let (_, judged, _) = judged_folder(dir, first, decision.as_ref(), ctx)?;
        let judged: Vec<Judged> = judged
            .into_iter()
            .map(|j| Judged { child: false, ..j })
            .collect();
        sets.push(NoChildFigures::of(&dir.display().to_string(), &judged));
    }

    let curve = |rule: &str, set: &str, images: &[Judged], old: bool| {
        let scores: Vec<Option<f32>> = images
            .iter()
            .map(|j| match (old, j.anybody) {
                (true, Some(true)) => Some(j.probe),
                (false, Some(true)) => j.decision,
                _ => None,
            })
            .collect();
        let truth: Vec<bool> = images.iter().map(|j| j.child).collect();
        Curve::of(rule, set, &scores, &truth)
    };
    const OLD: &str = "flagged and somebody in view (the probe's threshold swept)";
    const NEW: &str = "decision where people are in view (its threshold swept)";
    let curves = vec![
        curve(OLD, "test, hand-checked", &hand_set, true),
        curve(NEW, "test, hand-checked", &hand_set, false),
        curve(OLD, "training, out of fold", &train, true),
        curve(NEW, "training, out of fold", &train, false),
    ];
    Ok(LegalImageReport {
        test_hand_labels: StageFigures::of(&hand_set, old_threshold),
        test_caption_labels: StageFigures::of(&caption_set, old_threshold),
        train_out_of_fold: StageFigures::of(&train, old_threshold),
        no_child: sets,
        curves,
        first_stage_threshold: first,
        old_threshold,
        test_faces_aged: aged,
    })
}

fn progress(what: &'static str) -> impl FnMut(usize, usize) {
    let mut last = std::time::Instant::now();
    move |done, total| {
        if done == total || last.elapsed().as_secs() >= 5 {
            eprintln!("picseek: people models on the {what} images: {done}/{total}");
            last = std::time::Instant::now();
        }
    }
}

/// Every image of `dir`, by file name, judged as searches judge it, with its evidence where
/// the first stage (threshold `first`) flags it and the decision's exact probability; and how
/// many verdicts needed the faces' ages.
fn judged_folder(
    dir: &Path,
    first: f32,
    decision: Option<&PeopleDecision>,
    ctx: &Ctx,
) -> Result<(Vec<String>, Vec<Judged>, usize)> {
    let session = ctx.session()?;
    let (report, verdicts) = session.verdicts(dir, &mut |_| {})?;
    for f in &report.failures {
        eprintln!("picseek: skipped: {f}");
    }
    let abs = std::path::absolute(dir)?;
    let name_of = |p: &Path| {
        p.strip_prefix(dir)
            .or_else(|_| p.strip_prefix(&abs))
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let flagged: std::collections::HashSet<String> = verdicts
        .iter()
        .filter(|(_, v)| v.stage != Stage::Clear)
        .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let evidence: HashMap<String, Evidence> =
        session.evidence_of(dir, &|n| flagged.contains(n), &mut |_, _| {})?;
    let mut names = Vec::new();
    let mut judged = Vec::new();
    let mut aged = 0;
    for (path, v) in &verdicts {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let e = (v.probability >= first)
            .then(|| evidence.get(&file))
            .flatten();
        aged += usize::from(v.aged);
        names.push(name_of(path));
        judged.push(judge(v, e, decision));
    }
    Ok((names, judged, aged))
}

fn judge(v: &ImageVerdict, e: Option<&Evidence>, d: Option<&PeopleDecision>) -> Judged {
    let anybody = e.map(decision::anybody);
    let p = match (e, d) {
        (Some(e), Some(d)) if decision::anybody(e) => {
            Some(d.probability(&decision::features(v.probability, e)))
        }
        _ => None,
    };
    Judged {
        probe: v.probability,
        anybody,
        decision: p,
        withheld: v.withheld(),
        child: false,
    }
}
