use image::ImageEncoder as _;
use picseek::index::{self, view_fingerprint, Cache, IndexOptions};
use picseek::model::{ImageEncoder, Scorer};
use std::path::{Path, PathBuf};
fn save_jpeg(img: &image::RgbImage, q: u8, out: &Path) {
    let f = std::fs::File::create(out).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(f, q)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
}
fn cos(a: &[f32], b: &[f32]) -> f32 {
    let d: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    d / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
}
fn main() {
    let dir = PathBuf::from("models");
    picseek::model::runtime::init(None, &dir).unwrap();
    let enc = ImageEncoder::load(&dir).unwrap();
    let scorer = Scorer::load(&dir).unwrap();
    let tmp = PathBuf::from("/work/scratch/simexp");
    let _ = std::fs::create_dir_all(tmp.join("copies"));
    let cache = Cache::open(&tmp.join("cache")).unwrap();
    let originals = PathBuf::from("data/test_images");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&originals)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        if tmp.join("copies").join(format!("{stem}_all.jpg")).exists() {
            continue;
        }
        let img = image::open(f).unwrap().to_rgb8();
        let half = image::imageops::resize(
            &img,
            img.width() / 2,
            img.height() / 2,
            image::imageops::FilterType::Triangle,
        );
        save_jpeg(
            &half,
            95,
            &tmp.join("copies").join(format!("{stem}_half.jpg")),
        );
        save_jpeg(
            &img,
            60,
            &tmp.join("copies").join(format!("{stem}_q60.jpg")),
        );
        save_jpeg(
            &image::imageops::flip_horizontal(&img),
            95,
            &tmp.join("copies").join(format!("{stem}_mirror.jpg")),
        );
        save_jpeg(
            &image::imageops::flip_horizontal(&half),
            60,
            &tmp.join("copies").join(format!("{stem}_all.jpg")),
        );
    }
    let opts = IndexOptions::default();
    let r1 = index::index_dir(&originals, &cache, &enc, None, &opts, &mut |_| {}).unwrap();
    let r2 = index::index_dir(&tmp.join("copies"), &cache, &enc, None, &opts, &mut |_| {}).unwrap();
    let fp = view_fingerprint(&enc, false);
    let get = |h| cache.embedding(&fp, h).unwrap().embedding;
    let orig: Vec<(PathBuf, picseek::model::ImageEmbedding)> = r1
        .indexed
        .iter()
        .map(|(p, h)| (p.clone(), get(h)))
        .collect();
    let d = scorer.compact_dim() - 1;
    let reps: Vec<(
        &str,
        Box<dyn Fn(&picseek::model::ImageEmbedding) -> Vec<f32>>,
    )> = vec![
        ("features", Box::new(|e| e.features.clone())),
        (
            "compact z",
            Box::new(|e| scorer.image_vector(e)[..d].to_vec()),
        ),
        ("tower u", Box::new(|e| scorer.image_tower(&e.features))),
        (
            "standardised",
            Box::new(|e| scorer.standardise(&e.features)),
        ),
    ];
    for (name, rep) in &reps {
        let ov: Vec<Vec<f32>> = orig.iter().map(|(_, e)| rep(e)).collect();
        let mut stats = std::collections::BTreeMap::new();
        let (mut selfs, mut others) = (vec![], vec![]);
        let mut kinds: std::collections::BTreeMap<String, Vec<f32>> = Default::default();
        for (p, h) in &r2.indexed {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            let (base, kind) = stem.rsplit_once('_').unwrap();
            let v = rep(&get(h));
            let sims: Vec<f32> = ov.iter().map(|o| cos(o, &v)).collect();
            let best = (0..sims.len())
                .max_by(|&a, &b| sims[a].total_cmp(&sims[b]))
                .unwrap();
            let want = orig
                .iter()
                .position(|(op, _)| op.file_stem().unwrap().to_string_lossy() == base)
                .unwrap();
            let e = stats.entry(kind.to_string()).or_insert((0, 0));
            e.1 += 1;
            if best == want {
                e.0 += 1;
            }
            kinds
                .entry(kind.to_string())
                .or_insert_with(Vec::new)
                .push(sims[want]);
            if kind == "all" {
                selfs.push(sims[want]);
                let mut o: Vec<f32> = sims
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != want)
                    .map(|(_, s)| *s)
                    .collect();
                o.sort_by(|a, b| b.total_cmp(a));
                others.push(o[0]);
            }
        }
        for (k, v) in kinds.iter_mut() {
            v.sort_by(f32::total_cmp);
            println!(
                "  {name} {k}: min {:.3} p5 {:.3} median {:.3}",
                v[0], v[5], v[50]
            );
        }
        selfs.sort_by(f32::total_cmp);
        others.sort_by(f32::total_cmp);
        println!("{name}: {:?}; 'all' copy sim min {:.3} p5 {:.3} median {:.3}; best other max {:.3} p95 {:.3} median {:.3}", stats, selfs[0], selfs[5], selfs[50], others[others.len()-1], others[95], others[50]);
    }
}
