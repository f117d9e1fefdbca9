//! `picseek eval`: the scorer's figures (hold-out regression, test retrieval in English and in
//! Russian, the outside set, the legal image check), printed and written to reports/.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use picseek::display::escape_path;
use picseek::eval::outside::{self, OutsideReport};
use picseek::eval::report::{evaluate, EvalReport};
use picseek::eval::{calibration_plot, score_histogram};
use picseek::index::Progress;
use picseek::model::Scorer;
use picseek::train::{corpus, TrainConfig};

use super::Ctx;
use crate::cli::EvalArgs;

/// Evaluates the saved scorer with the training configuration it records.
pub fn run(a: &EvalArgs, ctx: &Ctx) -> Result<()> {
    let (ds, corpus) = ctx.corpus(&a.data.data)?;
    let scorer = ctx.scorer()?;
    let cfg: TrainConfig =
        serde_json::from_value(scorer.meta.training["summary"]["config"].clone())
            .context("scorer.json has no training config; retrain with picseek train")?;
    let report = evaluate(&ds, &corpus, &scorer, &cfg);
    print_report(&report);
    let outside = a
        .outside
        .as_deref()
        .map(|dir| outside_report(dir, &scorer, ctx))
        .transpose()?;
    if let Some(o) = &outside {
        print_outside(o);
    }
    let legal = super::legal::image_report(&a.data.data, &ds, &corpus, &a.no_child, ctx)?;
    super::report::print_image_report(&legal);
    write_reports(&a.reports, &report, outside.as_ref(), &legal, &scorer)?;
    Ok(())
}

/// Ranks the outside relevance set's images in `dir` for its committed queries.
fn outside_report(dir: &Path, scorer: &Scorer, ctx: &Ctx) -> Result<OutsideReport> {
    let queries = outside::queries();
    let encoder = ctx.image_encoder()?;
    let text = ctx.text()?;
    let cache = ctx.open_cache()?;
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read the outside set", escape_path(dir)))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot read", escape_path(dir)))?;
        if entry.file_type()?.is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort_unstable();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let images = corpus::embed_folder(dir, &refs, false, &cache, &encoder, &mut |p| {
        if let Progress::Scanned { to_process, .. } = p {
            if to_process > 0 {
                eprintln!("picseek: encoding {to_process} images of the outside set");
            }
        }
    })?;
    let english = corpus::embed_texts(
        &text,
        &queries
            .iter()
            .map(|q| q.english.as_str())
            .collect::<Vec<_>>(),
    )?;
    let russian = corpus::embed_texts(
        &text,
        &queries
            .iter()
            .map(|q| q.russian.as_str())
            .collect::<Vec<_>>(),
    )?;
    Ok(outside::evaluate(
        &escape_path(dir).to_string(),
        scorer,
        &images,
        &queries,
        &english,
        &russian,
    )?)
}

fn print_outside(o: &OutsideReport) {
    println!(
        "outside relevance set ({} queries over {} images in {}):",
        o.english.queries, o.images, o.source
    );
    for (name, x) in [
        ("English", &o.english),
        ("Russian", &o.russian),
        ("ConSE alone, English", &o.conse_only_english),
    ] {
        println!(
            "  {name:<22} R@1 {:.3}  R@5 {:.3}  R@10 {:.3}  MRR {:.3}",
            x.r1, x.r5, x.r10, x.mrr
        );
    }
}

pub fn print_report(r: &EvalReport) {
    let row = |name: &str, x: &picseek::eval::Retrieval| {
        println!(
            "  {name:<22} R@1 {:.3}  R@5 {:.3}  R@10 {:.3}  MRR {:.3}  ({} queries)",
            x.r1, x.r5, x.r10, x.mrr, x.queries
        )
    };
    println!(
        "hold-out RMSE {:.4} (constant mean {:.4}) over {} pairs; Spearman with experts {:.4} over {} pairs; ECE {:.4}",
        r.rmse.model, r.rmse.constant, r.rmse.pairs, r.spearman, r.spearman_pairs, r.ece
    );
    println!("test retrieval (500 queries over 100 images):");
    row("all queries", &r.retrieval.all);
    row("allowed by the filter", &r.retrieval.allowed);
    row("ConSE alone (all)", &r.retrieval.conse_only);
    let ru = &r.retrieval.ru;
    println!(
        "the same {} queries in Russian (hand translations) and in English:",
        ru.all.queries
    );
    row("Russian, all", &ru.all);
    row("Russian, allowed", &ru.allowed);
    row("English, all", &ru.english_all);
    row("English, allowed", &ru.english_allowed);
    println!(
        "  Russian MRR / English MRR {:.3}; blocked only in Russian {}, only in English {}",
        ru.mrr_ratio, ru.blocked_only_translated, ru.blocked_only_english
    );
    let c = &r.child_images;
    println!(
        "legal image rule on the {} test images ({} with a caption about a child): recall {:.3}, precision {:.3}, {} withheld",
        c.images, c.children, c.recall, c.precision, c.withheld
    );
}

/// A Markdown table of retrieval figures, a row per named set of queries.
fn retrieval_table(
    md: &mut impl Write,
    rows: &[(&str, &picseek::eval::Retrieval)],
) -> std::io::Result<()> {
    writeln!(
        md,
        "| queries | n | R@1 | R@5 | R@10 | MRR |\n|---|---|---|---|---|---|"
    )?;
    for (name, x) in rows {
        writeln!(
            md,
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            x.queries, x.r1, x.r5, x.r10, x.mrr
        )?;
    }
    Ok(())
}

fn write_reports(
    dir: &Path,
    r: &EvalReport,
    outside: Option<&OutsideReport>,
    legal: &picseek::eval::legal_images::LegalImageReport,
    scorer: &Scorer,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let json_path = dir.join("eval.json");
    let mut json = serde_json::to_value(r)?;
    // child_images: the whole-image check alone on caption labels (as training reports it);
    // legal_check: the whole image check stage by stage, hand-checked labels, no-child sets.
    json["legal_check"] = serde_json::to_value(legal)?;
    if let Some(o) = outside {
        json["outside"] = serde_json::to_value(o)?;
    }
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)? + "\n")
        .with_context(|| format!("{}: cannot write", json_path.display()))?;
    calibration_plot(
        &dir.join("calibration.png"),
        &r.calibration,
        "Calibration on hold-out images",
    )?;
    let relevant: Vec<f32> = r
        .holdout_targets
        .iter()
        .zip(&r.holdout_scores)
        .filter(|(t, _)| **t >= 0.5)
        .map(|(_, s)| *s)
        .collect();
    let other: Vec<f32> = r
        .holdout_targets
        .iter()
        .zip(&r.holdout_scores)
        .filter(|(t, _)| **t < 0.5)
        .map(|(_, s)| *s)
        .collect();
    score_histogram(
        &dir.join("scores.png"),
        &[
            ("target < 0.5", other.as_slice()),
            ("target ≥ 0.5", relevant.as_slice()),
        ],
        "Hold-out scores",
        20,
    )?;
    let md_path = dir.join("eval.md");
    let mut md = std::fs::File::create(&md_path)
        .with_context(|| format!("{}: cannot write", md_path.display()))?;
    let t = &r.retrieval;
    writeln!(md, "# picseek scorer evaluation\n")?;
    writeln!(
        md,
        "Written by `picseek eval`. Scorer: models/{} (best epoch {}).\n",
        picseek::model::scorer::WEIGHTS_FILE,
        scorer.meta.training["summary"]["best_epoch"]
    )?;
    writeln!(
        md,
        "## Relevance regression (hold-out images, grouped split)\n"
    )?;
    writeln!(md, "| model | RMSE |\n|---|---|")?;
    writeln!(md, "| picseek scorer | {:.4} |", r.rmse.model)?;
    writeln!(md, "| constant (training mean) | {:.4} |", r.rmse.constant)?;
    writeln!(md, "| original study: RidgeCV (its own split) | 0.394 |")?;
    writeln!(md, "| original study: MLP (its own split) | 0.304 |\n")?;
    writeln!(md, "{} hold-out pairs. Spearman with the experts' mean score: {:.4} ({} pairs). Expected calibration error: {:.4}.\n", r.rmse.pairs, r.spearman, r.spearman_pairs, r.ece)?;
    writeln!(
        md,
        "![calibration](calibration.png)\n\n![scores](scores.png)\n"
    )?;
    writeln!(
        md,
        "### What `--min-score` keeps\n\nOn the hold-out pairs; a pair is relevant when its annotation target is at least 0.5.\n"
    )?;
    writeln!(
        md,
        "| --min-score | pairs kept | relevant among kept | relevant pairs kept |\n|---|---|---|---|"
    )?;
    for m in &r.min_score {
        writeln!(
            md,
            "| {:.1} | {:.1}% | {:.3} | {:.3} |",
            m.min_score,
            100.0 * m.kept,
            m.precision,
            m.recall
        )?;
    }
    writeln!(md)?;
    writeln!(md, "## Test retrieval (500 queries over 100 test images)\n")?;
    retrieval_table(
        &mut md,
        &[
            ("all (filter off)", &t.all),
            ("allowed by the legal filter", &t.allowed),
            ("ConSE alone, all", &t.conse_only),
        ],
    )?;
    let ru = &t.ru;
    writeln!(
        md,
        "\n### The same queries in Russian\n\n{} of the test queries translated into Russian by hand (`tests/fixtures/queries_ru.tsv`), each language read by the legal filter on its own. Russian MRR / English MRR: {:.3}. Blocked only in Russian: {}; only in English: {}.\n",
        ru.all.queries, ru.mrr_ratio, ru.blocked_only_translated, ru.blocked_only_english
    )?;
    retrieval_table(
        &mut md,
        &[
            ("Russian, all (filter off)", &ru.all),
            ("Russian, allowed by the legal filter", &ru.allowed),
            ("English, all (filter off)", &ru.english_all),
            ("English, allowed by the legal filter", &ru.english_allowed),
        ],
    )?;
    if let Some(o) = outside {
        writeln!(
            md,
            "\n## Photos from outside the dataset\n\n{} queries written by hand for {} images from public package archives (`tests/fixtures/outside_images.tsv`, `tests/fixtures/outside_queries.tsv`); a query may have several relevant images, its rank is that of the best-ranked one.\n",
            o.english.queries, o.images
        )?;
        writeln!(
            md,
            "| queries | R@1 | R@5 | R@10 | MRR |\n|---|---|---|---|---|"
        )?;
        for (name, x) in [
            ("English", &o.english),
            ("Russian", &o.russian),
            ("ConSE alone, English", &o.conse_only_english),
        ] {
            writeln!(
                md,
                "| {name} | {:.3} | {:.3} | {:.3} | {:.3} |",
                x.r1, x.r5, x.r10, x.mrr
            )?;
        }
        writeln!(
            md,
            "\n| query | rank (en) | rank (ru) | first for the English query |\n|---|---|---|---|"
        )?;
        for q in &o.per_query {
            writeln!(
                md,
                "| {} | {} | {} | {} |",
                q.english, q.rank_en, q.rank_ru, q.top_en
            )?;
        }
    }
    legal_section(&mut md, legal, dir)?;
    println!(
        "wrote {}, {}, calibration.png, scores.png, legal_pr.png",
        json_path.display(),
        md_path.display()
    );
    Ok(())
}

/// The legal image check's part of `reports/eval.md`, and its precision–recall plot.
fn legal_section(
    md: &mut impl Write,
    legal: &picseek::eval::legal_images::LegalImageReport,
    dir: &Path,
) -> Result<()> {
    writeln!(md, "\n## Legal image check\n")?;
    writeln!(
        md,
        "Images withheld as showing a child, by rule: the whole-image check alone (at its threshold before the decision, {:.3}); flagged and somebody in view (the rule before the decision); and as searches run it now: the first stage (threshold {:.3}), nobody in view shown, and the decision where people are in view. Labels: `src/legal/child_labels.tsv` (hand-checked) or the captions. Training images out of fold: the detector and the decision refitted on the other folds.\n",
        legal.old_threshold, legal.first_stage_threshold
    )?;
    writeln!(
        md,
        "| images | labels | children | rule | withheld | recall | precision | images without a child withheld |\n|---|---|---|---|---|---|---|---|"
    )?;
    for (set, labels, s) in [
        ("100 test", "hand-checked", &legal.test_hand_labels),
        ("100 test", "captions", &legal.test_caption_labels),
        (
            "1000 training, out of fold",
            "hand-checked where listed",
            &legal.train_out_of_fold,
        ),
    ] {
        for (rule, f) in [
            ("whole-image check", &s.whole_image),
            ("flagged and somebody in view (before)", &s.person_gate),
            ("with the decision (now)", &s.with_decision),
        ] {
            writeln!(
                md,
                "| {set} | {labels} | {} | {rule} | {} | {:.3} | {:.3} | {} of {} ({:.1}%) |",
                f.children,
                f.withheld,
                f.recall,
                f.precision,
                f.no_child_withheld,
                f.images - f.children,
                100.0 * f.no_child_withheld_share
            )?;
        }
    }
    writeln!(
        md,
        "\nBest precision reached at each recall, on the full precision–recall curves (withheld images in brackets); the curves are plotted in `legal_pr.png`.\n"
    )?;
    let recalls = super::report::CURVE_RECALLS;
    write!(md, "| images | rule |")?;
    for r in recalls {
        write!(md, " recall ≥ {r:.2} |")?;
    }
    writeln!(md, "\n|---|---|{}", "---|".repeat(recalls.len()))?;
    for c in &legal.curves {
        write!(md, "| {} | {} |", c.set, c.rule)?;
        for r in recalls {
            match c.at_recall(r) {
                Some(p) => write!(md, " {:.3} ({}) |", p.precision, p.withheld)?,
                None => write!(md, " — |")?,
            }
        }
        writeln!(md)?;
    }
    writeln!(md, "\n![legal precision–recall](legal_pr.png)")?;
    if !legal.no_child.is_empty() {
        writeln!(
            md,
            "\n| images without children | images | flagged by the first stage | somebody in view | withheld | withheld with nobody in view |\n|---|---|---|---|---|---|"
        )?;
        for n in &legal.no_child {
            writeln!(
                md,
                "| `{}` | {} | {} | {} | {} ({:.1}%) | {} |",
                n.source,
                n.images,
                n.flagged_whole_image,
                n.anybody,
                n.withheld,
                n.withheld_percent,
                n.withheld_without_anybody
            )?;
        }
    }
    let series: Vec<(String, Vec<(f64, f64)>)> = legal
        .curves
        .iter()
        .map(|c| {
            (
                format!("{}: {}", c.set, c.rule),
                c.points.iter().map(|p| (p.recall, p.precision)).collect(),
            )
        })
        .collect();
    picseek::eval::plots::pr_curves(
        &dir.join("legal_pr.png"),
        &series,
        "Legal image check: precision against recall",
    )?;
    Ok(())
}
