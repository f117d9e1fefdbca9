//! `picseek train` on a fresh cache reproduces the committed scorer's figures (same seed, same
//! data, same code), and `picseek eval` reads them back from the model it wrote.

use std::path::Path;
use std::process::Command;

#[test]
fn training_reproduces_the_committed_scorer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = root.join("models");
    let tmp = tempfile::tempdir().unwrap();
    let out_models = tmp.path().join("models");
    std::fs::create_dir_all(&out_models).unwrap();
    for f in [
        "image_encoder.onnx",
        "text_encoder.onnx",
        "person_detector.onnx",
        "face_detector.onnx",
        "face_age.onnx",
        "tokenizer.json",
        "imagenet_classes.txt",
        "manifest.json",
    ] {
        std::os::unix::fs::symlink(models.join(f), out_models.join(f)).unwrap();
    }
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_picseek"))
            .env_remove("RUST_LOG")
            .current_dir(tmp.path())
            .arg("--cache")
            .arg(tmp.path().join("cache"))
            .arg("--models")
            .arg(&out_models)
            .arg("--ort-lib")
            .arg(models.join("lib/libonnxruntime.so.1.32.0"))
            .args(args)
            .arg("--data")
            .arg(root.join("data"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    println!("{}", run(&["train"]));
    let read = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("scorer.json")).unwrap()).unwrap()
    };
    let committed = read(&models);
    let fresh = read(&out_models);
    for path in [
        "/training/eval/rmse/model",
        "/training/eval/rmse/constant",
        "/training/eval/spearman",
        "/training/eval/retrieval/all/mrr",
        "/training/eval/retrieval/all/r10",
        "/training/eval/retrieval/allowed/mrr",
        "/training/eval/retrieval/ru/all/mrr",
        "/training/eval/retrieval/ru/allowed/mrr",
        "/training/eval/retrieval/ru/english_all/mrr",
        "/training/eval/child_images/recall",
        "/training/eval/child_images/precision",
        "/training/summary/best_epoch",
        "/people_decision/threshold",
        "/people_decision/figures/first_stage_threshold",
        "/people_decision/figures/out_of_fold/recall",
        "/people_decision/figures/out_of_fold/precision",
    ] {
        let (a, b) = (
            committed.pointer(path).unwrap(),
            fresh.pointer(path).unwrap(),
        );
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((a - b).abs() < 2e-3, "{path}: committed {a}, retrained {b}");
    }

    // The query offset's ridge is chosen by the same cross-validation, and the retrained scorer
    // meets the hold-out target: RMSE at most 0.89 × the constant's.
    assert_eq!(
        committed.pointer("/training/summary/query_offset_ridge"),
        fresh.pointer("/training/summary/query_offset_ridge")
    );
    let rmse = |p: &str| {
        fresh
            .pointer(p)
            .and_then(serde_json::Value::as_f64)
            .unwrap()
    };
    let rmse_ratio = rmse("/training/eval/rmse/model") / rmse("/training/eval/rmse/constant");
    assert!(
        rmse_ratio <= 0.89,
        "hold-out RMSE / constant = {rmse_ratio}"
    );

    // The Russian queries, measured on the retrained model: as good as English within 15%.
    let ratio = fresh
        .pointer("/training/eval/retrieval/ru/mrr_ratio")
        .and_then(serde_json::Value::as_f64)
        .unwrap();
    assert!(ratio >= 0.85, "Russian MRR / English MRR = {ratio}");
    // The legal decision where people are in view, out of fold on the training images: recall
    // at least 0.93 over all the children.
    let people_recall = fresh
        .pointer("/people_decision/figures/out_of_fold/recall")
        .and_then(serde_json::Value::as_f64)
        .unwrap();
    assert!(
        people_recall >= 0.93,
        "people decision recall {people_recall}"
    );

    // eval writes the reports from the retrained model with the same figures, and ranks the
    // outside relevance set (fetched by scripts/devset.sh) as the committed report does.
    let outside = root.join("cache/devset/outside");
    println!(
        "{}",
        run(&[
            "eval",
            "--reports",
            "reports",
            "--outside",
            outside.to_str().unwrap()
        ])
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("reports/eval.json")).unwrap(),
    )
    .unwrap();
    let mrr = report
        .pointer("/retrieval/all/mrr")
        .unwrap()
        .as_f64()
        .unwrap();
    let want = fresh
        .pointer("/training/eval/retrieval/all/mrr")
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((mrr - want).abs() < 1e-9);
    let committed_report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("reports/eval.json")).unwrap())
            .unwrap();
    for path in [
        "/retrieval/ru/all/mrr",
        "/outside/english/mrr",
        "/outside/russian/mrr",
    ] {
        let (a, b) = (
            committed_report
                .pointer(path)
                .and_then(serde_json::Value::as_f64),
            report.pointer(path).and_then(serde_json::Value::as_f64),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            (a - b).abs() < 2e-3,
            "{path}: reports/eval.json {a}, recomputed {b}"
        );
    }
    for png in ["calibration.png", "scores.png", "legal_pr.png"] {
        let img = image::open(tmp.path().join("reports").join(png)).unwrap();
        assert_eq!((img.width(), img.height()), (800, 600));
    }
}
