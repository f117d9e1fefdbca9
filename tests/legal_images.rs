//! `picseek legal` over the dataset and over images without children: the caption figures, and
//! the image check stage by stage against hand-checked labels (`src/legal/child_labels.tsv`),
//! out of fold on the training images, on the images of `tests/fixtures/devset.tsv` (fetched
//! from package archives by `scripts/devset.sh`, which set-up runs) and on images rendered here.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};

/// The figure after `key` on the first line starting with `prefix`.
fn figure(stdout: &str, prefix: &str, key: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?}:\n{stdout}"));
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()..];
    rest.trim_start_matches([' ', '='])
        .split([',', '%', ' '])
        .find(|s| !s.is_empty())
        .unwrap()
        .parse()
        .unwrap()
}

/// The block of lines after the heading that starts with `heading`.
fn block<'a>(stdout: &'a str, heading: &str) -> String {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with(heading));
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("no {heading:?}:\n{stdout}"));
    std::iter::once(head)
        .chain(lines.take_while(|l| l.starts_with("  ")))
        .collect::<Vec<&'a str>>()
        .join("\n")
}

/// Images with no person in them, of the kinds a photo library holds besides photos: plain
/// colours and 1×1 images (`plain-*`), gradients, checkerboards, stripes, noise, shapes, pages of
/// text-like lines, screenshot-like layouts and charts with text.
fn render_no_child(dir: &Path) -> usize {
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261201);
    let mut n = 0;
    let mut save = |name: String, img: RgbImage| {
        img.save(dir.join(name)).unwrap();
        n += 1;
    };
    for (i, c) in [[0u8, 0, 0], [255, 255, 255], [128, 128, 128]]
        .iter()
        .enumerate()
    {
        save(
            format!("plain-1x1-{i}.png"),
            RgbImage::from_pixel(1, 1, Rgb(*c)),
        );
    }
    for (i, (c, (w, h))) in [
        ([200u8, 30, 30], (640, 480)),
        ([20, 120, 220], (1024, 768)),
        ([240, 220, 180], (300, 600)),
        ([10, 10, 10], (1920, 1080)),
        ([250, 250, 250], (800, 800)),
        ([60, 160, 60], (500, 375)),
    ]
    .into_iter()
    .enumerate()
    {
        save(
            format!("plain-colour-{i}.png"),
            RgbImage::from_pixel(w, h, Rgb(c)),
        );
    }
    let colour = |rng: &mut rand::rngs::StdRng| Rgb([rng.random(), rng.random(), rng.random()]);
    for i in 0..8 {
        let (a, b) = (colour(&mut rng), colour(&mut rng));
        let radial = i % 2 == 1;
        save(
            format!("gradient-{i}.png"),
            RgbImage::from_fn(640, 480, |x, y| {
                let t = if radial {
                    let (dx, dy) = (x as f32 - 320.0, y as f32 - 240.0);
                    ((dx * dx + dy * dy).sqrt() / 400.0).min(1.0)
                } else {
                    x as f32 / 639.0
                };
                Rgb(std::array::from_fn(|k| {
                    (a.0[k] as f32 * (1.0 - t) + b.0[k] as f32 * t) as u8
                }))
            }),
        );
    }
    for i in 0..8 {
        let (a, b) = (colour(&mut rng), colour(&mut rng));
        let cell = 8 + 12 * i as u32;
        save(
            format!("checkerboard-{i}.png"),
            RgbImage::from_fn(640, 480, |x, y| {
                if (x / cell + y / cell).is_multiple_of(2) {
                    a
                } else {
                    b
                }
            }),
        );
    }
    for i in 0..8 {
        let (a, b) = (colour(&mut rng), colour(&mut rng));
        let width = 4 + 9 * i as u32;
        let diagonal = i % 2 == 0;
        save(
            format!("stripes-{i}.png"),
            RgbImage::from_fn(640, 480, |x, y| {
                let v = if diagonal { x + y } else { y };
                if (v / width).is_multiple_of(2) {
                    a
                } else {
                    b
                }
            }),
        );
    }
    for i in 0..8 {
        let base = colour(&mut rng);
        let amp = 20 + 25 * i;
        save(
            format!("noise-{i}.png"),
            RgbImage::from_fn(400, 300, |_, _| {
                Rgb(std::array::from_fn(|k| {
                    (base.0[k] as i32 + rng.random_range(-amp..=amp)).clamp(0, 255) as u8
                }))
            }),
        );
    }
    for i in 0..8 {
        let mut img = RgbImage::from_pixel(640, 480, colour(&mut rng));
        for _ in 0..(3 + i * 2) {
            let (cx, cy, r) = (
                rng.random_range(0..640) as f32,
                rng.random_range(0..480) as f32,
                rng.random_range(15..120) as f32,
            );
            let c = colour(&mut rng);
            let square = rng.random_bool(0.5);
            for (x, y, p) in img.enumerate_pixels_mut() {
                let (dx, dy) = ((x as f32 - cx).abs(), (y as f32 - cy).abs());
                let inside = if square {
                    dx < r && dy < r
                } else {
                    dx * dx + dy * dy < r * r
                };
                if inside {
                    *p = c;
                }
            }
        }
        save(format!("shapes-{i}.png"), img);
    }
    for i in 0..8 {
        // A page: margins, a heading, paragraphs of word-like dark bars.
        let (w, h) = (595u32, 842u32);
        let mut img = RgbImage::from_pixel(w, h, Rgb([252, 252, 248]));
        let mut y = 60;
        let mut first = true;
        while y < h - 60 {
            let line_h = if first { 18 } else { 9 };
            let mut x = 60;
            while x < w - 60 {
                let word = rng.random_range(12..(if first { 90 } else { 60 }));
                for yy in y..(y + line_h).min(h) {
                    for xx in x..(x + word).min(w - 60) {
                        img.put_pixel(xx, yy, Rgb([30, 30, 40]));
                    }
                }
                x += word + 6;
            }
            y += if first { 40 } else { 16 } + if rng.random_bool(0.1) { 14 } else { 0 };
            first = false;
            if i % 2 == 1 && y > 300 && y < 330 {
                y += 200; // a figure-sized gap
            }
        }
        save(format!("page-{i}.png"), img);
    }
    for i in 0..10 {
        // A screenshot-like window: title bar, side panel, list rows, buttons.
        let mut img = RgbImage::from_pixel(1280, 800, Rgb([236, 236, 236]));
        let accent = colour(&mut rng);
        let fill = |img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, c: Rgb<u8>| {
            for y in y0..y1.min(800) {
                for x in x0..x1.min(1280) {
                    img.put_pixel(x, y, c);
                }
            }
        };
        fill(&mut img, 0, 0, 1280, 36, Rgb([50, 50, 60]));
        fill(&mut img, 0, 36, 260, 800, Rgb([220, 222, 228]));
        for row in 0..(10 + i) {
            let y = 60 + row * 34;
            fill(&mut img, 280, y, 1240, y + 28, Rgb([255, 255, 255]));
            fill(
                &mut img,
                290,
                y + 9,
                290 + rng.random_range(100..600),
                y + 19,
                Rgb([90, 90, 90]),
            );
        }
        fill(&mut img, 1100, 740, 1240, 780, accent);
        save(format!("screen-{i}.png"), img);
    }
    for i in 0..6 {
        let values: Vec<f32> = (0..500).map(|_| rng.random::<f32>().powi(i + 1)).collect();
        let other: Vec<f32> = (0..300).map(|_| rng.random::<f32>()).collect();
        picseek::eval::score_histogram(
            &dir.join(format!("chart-histogram-{i}.png")),
            &[
                ("series a", values.as_slice()),
                ("series b", other.as_slice()),
            ],
            "Distribution of values",
            10 + 5 * i as usize,
        )
        .unwrap();
        n += 1;
        let pred: Vec<f32> = (0..400).map(|_| rng.random::<f32>()).collect();
        let target: Vec<f32> = pred
            .iter()
            .map(|p| (p + rng.random::<f32>() * 0.3).min(1.0))
            .collect();
        let bins = picseek::eval::calibration_bins(&pred, &target, 10);
        picseek::eval::calibration_plot(
            &dir.join(format!("chart-calibration-{i}.png")),
            &bins,
            "Reliability diagram",
        )
        .unwrap();
        n += 1;
    }
    n
}

#[test]
fn legal_figures_meet_their_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let devset = root.join("cache/devset/no_child");
    assert!(
        devset.is_dir(),
        "{}: missing; scripts/setup.sh fetches it (scripts/devset.sh)",
        devset.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    // PICSEEK_KEEP_RENDERED=DIR keeps the rendered images there, for looking at.
    let rendered: PathBuf = std::env::var_os("PICSEEK_KEEP_RENDERED")
        .map_or_else(|| tmp.path().join("rendered"), PathBuf::from);
    std::fs::create_dir_all(&rendered).unwrap();
    let n_rendered = render_no_child(&rendered);
    let n_devset = std::fs::read_dir(&devset).unwrap().count();
    // The development set: at least 150 images without children, at least 100 of them from
    // outside the dataset (here all of them are).
    assert!(
        n_rendered + n_devset >= 150,
        "{n_rendered} + {n_devset} images"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_picseek"))
        .env_remove("RUST_LOG")
        .arg("--cache")
        .arg(tmp.path().join("cache"))
        .arg("legal")
        .arg("--data")
        .arg(root.join("data"))
        .arg("--no-child")
        .arg(&devset)
        .arg("--no-child")
        .arg(&rendered)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    assert_eq!(
        figure(&stdout, "captions with a plain word for a child", "= "),
        100.0
    );
    assert!(
        figure(
            &stdout,
            "captions about anything else refused by mistake",
            "= "
        ) <= 1.0
    );

    // Test images against the hand-checked labels: the whole check keeps recall ≥ 0.95, and the
    // decision where people are in view withholds fewer adults than the rule before it ("flagged
    // and somebody in view": 0.500 at the committed models) and than the whole-image check.
    let hand = block(
        &stdout,
        "Images of children, test images, hand-checked labels",
    );
    let recall = figure(&hand, "as searches run it", "recall");
    let precision = figure(&hand, "as searches run it", "precision");
    let whole_precision = figure(&hand, "whole-image check alone", "precision");
    let rule_precision = figure(&hand, "flagged and somebody in view", "precision");
    assert!(recall >= 0.95, "test recall {recall}\n{hand}");
    assert!(precision >= 0.55, "test precision {precision}\n{hand}");
    assert!(
        precision > rule_precision && precision > whole_precision,
        "{hand}"
    );
    // Both label sets are reported.
    let captions = block(&stdout, "Images of children, test images, caption labels");
    assert!(
        figure(&captions, "as searches run it", "recall") >= 0.90,
        "{captions}"
    );

    // Training images, out of fold: recall ≥ 0.93, precision above the rule before the decision.
    let train = block(&stdout, "Images of children, training images out of fold");
    let train_recall = figure(&train, "as searches run it", "recall");
    let train_precision = figure(&train, "as searches run it", "precision");
    let train_rule = figure(&train, "flagged and somebody in view", "precision");
    assert!(
        train_recall >= 0.93,
        "training recall {train_recall}\n{train}"
    );
    assert!(train_precision > train_rule, "{train}");

    // Both curves are reported, for each set.
    let curves = block(&stdout, "Best precision at each recall");
    assert_eq!(curves.lines().count(), 5, "{curves}");

    // Images without children: at most 2% withheld over the development set, never one with
    // nobody in view, and no rendered image (plain colours, 1×1, textures, pages, screens, charts:
    // nobody in any) at all.
    let dev = block(
        &stdout,
        &format!("Images without children in {}", devset.display()),
    );
    let ren = block(
        &stdout,
        &format!("Images without children in {}", rendered.display()),
    );
    let count = |b: &str| -> (f64, f64) {
        let line = b.lines().next().unwrap();
        let after = &line[line.find(": ").unwrap() + 2..];
        let mut it = after.split_whitespace();
        let w: f64 = it.next().unwrap().parse().unwrap();
        assert_eq!(it.next(), Some("of"));
        let n: f64 = it.next().unwrap().parse().unwrap();
        (w, n)
    };
    let (wd, nd) = count(&dev);
    let (wr, nr) = count(&ren);
    assert_eq!(nr as usize, n_rendered, "{ren}");
    assert_eq!(
        wr, 0.0,
        "a rendered image with nobody in it was withheld:\n{ren}"
    );
    for b in [&dev, &ren] {
        let line = b.lines().next().unwrap();
        let before = &line[..line.find(" withheld with nobody in view").expect("counted")];
        let n: usize = before.rsplit([' ', '(']).next().unwrap().parse().unwrap();
        assert_eq!(n, 0, "withheld with nobody in view:\n{b}");
    }
    let share = 100.0 * wd / nd;
    assert!(share <= 2.0, "{share:.1}% of {dev}");
}
