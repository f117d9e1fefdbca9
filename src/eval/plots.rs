//! PNG plots for evaluation reports: a reliability (calibration) diagram and
//! a score histogram.
//!
//! Drawing uses `plotters` with its pure-Rust `ab_glyph` text renderer, so no
//! C font libraries are needed at build time. The text needs one TrueType
//! font file at run time: the file named by `PICSEEK_PLOT_FONT` if set, else
//! the first of a list of common system paths (on Debian and Ubuntu, the
//! package `fonts-dejavu-core` provides
//! `/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf`). Without a font the
//! plot functions fail with [`PlotError::Font`]; they never draw a plot
//! without its labels.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::metrics::{expected_calibration_error, Bin};

/// Width and height in pixels of every plot.
pub const PLOT_SIZE: (u32, u32) = (800, 600);

/// Environment variable naming a `.ttf`/`.otf` file to draw text with.
pub const FONT_ENV: &str = "PICSEEK_PLOT_FONT";

/// Where a sans-serif font is looked for when [`FONT_ENV`] is unset.
pub const FONT_CANDIDATES: &[&str] = &[
    // Debian / Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    // Arch
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    // Fedora
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    // Debian / Ubuntu: fonts-liberation
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    // macOS
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    // Windows
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Why a plot could not be made. Each message is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No font could be loaded to draw the labels with.
    #[error(
        "cannot draw plot {}: no usable font ({reason}); install the Debian package \
         fonts-dejavu-core or set {FONT_ENV} to a .ttf file",
        path.display()
    )]
    Font { path: PathBuf, reason: String },
    /// The arguments cannot be plotted (e.g. zero bins, no series).
    #[error("cannot draw plot {}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },
    /// plotters failed while drawing.
    #[error("cannot draw plot {}: {reason}", path.display())]
    Draw { path: PathBuf, reason: String },
    /// The PNG could not be encoded or written.
    #[error("cannot write plot {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
}

/// Series colours (matplotlib's "tab10" start).
const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

const FONT: &str = "sans-serif";

/// Loads and registers the font once per process; later calls return the
/// cached outcome.
fn ensure_font(plot: &Path) -> Result<(), PlotError> {
    static LOADED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let outcome = LOADED.get_or_init(|| {
        let env = std::env::var_os(FONT_ENV).filter(|v| !v.is_empty());
        let candidates: Vec<PathBuf> = match &env {
            Some(p) => vec![PathBuf::from(p)],
            None => FONT_CANDIDATES.iter().map(PathBuf::from).collect(),
        };
        let mut problems = Vec::new();
        for candidate in candidates {
            let bytes = match std::fs::read(&candidate) {
                Ok(b) => b,
                Err(e) => {
                    if env.is_some() || e.kind() != std::io::ErrorKind::NotFound {
                        problems.push(format!("{}: {e}", candidate.display()));
                    }
                    continue;
                }
            };
            // plotters keeps a `&'static` reference; this runs once per process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            match plotters::style::register_font(FONT, FontStyle::Normal, bytes) {
                Ok(()) => return Ok(candidate),
                Err(_) => problems.push(format!("{}: not a valid font", candidate.display())),
            }
        }
        if problems.is_empty() {
            problems.push(format!("none of {} found", FONT_CANDIDATES.join(", ")));
        }
        Err(problems.join("; "))
    });
    match outcome {
        Ok(_) => Ok(()),
        Err(reason) => Err(PlotError::Font {
            path: plot.to_path_buf(),
            reason: reason.clone(),
        }),
    }
}

type DrawResult = Result<(), Box<dyn Error>>;

/// Draws into an RGB buffer with `draw`, then writes it to `path` as PNG.
fn render(
    path: &Path,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
) -> Result<(), PlotError> {
    ensure_font(path)?;
    let (w, h) = PLOT_SIZE;
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Box::<dyn Error>::from)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Box::<dyn Error>::from));
        drawn.map_err(|e| PlotError::Draw {
            path: path.to_path_buf(),
            reason: e.to_string().replace('\n', " "),
        })?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).expect("buffer is w*h*3 bytes");
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|source| PlotError::Write {
            path: path.to_path_buf(),
            source,
        })
}

fn input_error(path: &Path, reason: &str) -> PlotError {
    PlotError::Input {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Draws a reliability diagram to `path` (PNG, [`PLOT_SIZE`]).
///
/// x: mean predicted score of each bin on [0, 1]; y: mean target of the bin
/// (on [0, 1], widened if a mean target falls outside). A dashed diagonal
/// y = x marks perfect calibration. Each bin is a dot whose area grows with
/// its item count, labelled `n=COUNT`, joined by a line. The legend (lower
/// right) also gives the ECE, the total item count and the number of
/// non-empty bins. An empty `bins` still draws the axes and the diagonal.
pub fn calibration_plot(path: &Path, bins: &[Bin], title: &str) -> Result<(), PlotError> {
    if bins
        .iter()
        .any(|b| !b.mean_pred.is_finite() || !b.mean_target.is_finite())
    {
        return Err(input_error(path, "a bin has a non-finite mean"));
    }
    let y_lo = bins.iter().map(|b| b.mean_target).fold(0.0, f64::min);
    let y_hi = bins.iter().map(|b| b.mean_target).fold(1.0, f64::max);
    let max_count = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1);
    let total: usize = bins.iter().map(|b| b.count).sum();
    let ece = expected_calibration_error(bins);

    render(path, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 26))
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, y_lo..y_hi)?;
        chart
            .configure_mesh()
            .x_labels(11)
            .y_labels(11)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 19))
            .x_desc("predicted score (bin mean)")
            .y_desc("mean target (observed)")
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;

        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                10,
                6,
                grey.stroke_width(2),
            ))?
            .label("perfect calibration (y = x)")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], grey.stroke_width(2)));

        let blue = COLORS[0];
        let points: Vec<(f64, f64)> = bins.iter().map(|b| (b.mean_pred, b.mean_target)).collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                blue.stroke_width(2),
            ))?
            .label("bins (dot size ~ item count)")
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (24, 0)], blue.stroke_width(2))
                    + Circle::new((12, 0), 5, blue.filled())
            });
        let radius = |count: usize| 4.0 + 10.0 * (count as f64 / max_count as f64).sqrt();
        chart.draw_series(bins.iter().map(|b| {
            Circle::new(
                (b.mean_pred, b.mean_target),
                radius(b.count),
                blue.mix(0.55).filled(),
            )
        }))?;
        chart.draw_series(bins.iter().map(|b| {
            Circle::new(
                (b.mean_pred, b.mean_target),
                radius(b.count),
                blue.stroke_width(1),
            )
        }))?;
        // Count labels on a light box, centred under or over the dot, on the
        // side away from the diagonal unless that would run into an axis.
        let label_style = (FONT, 14).into_font().color(&RGBColor(50, 50, 50));
        let near = 0.08 * (y_hi - y_lo);
        let mut labels = Vec::with_capacity(bins.len());
        for b in bins {
            let r = radius(b.count) as i32;
            let text = format!("n={}", b.count);
            let (tw, th) = root.estimate_text_size(&text, &label_style)?;
            let (tw, th) = (tw as i32, th as i32);
            let below = if b.mean_target - y_lo < near {
                false
            } else if y_hi - b.mean_target < near {
                true
            } else {
                b.mean_target < b.mean_pred
            };
            let dx = -tw / 2;
            let dy = if below { r + 4 } else { -r - 6 - th };
            labels.push(
                EmptyElement::at((b.mean_pred, b.mean_target))
                    + Rectangle::new(
                        [(dx - 3, dy - 1), (dx + tw + 3, dy + th + 3)],
                        WHITE.mix(0.85).filled(),
                    )
                    + Text::new(text, (dx, dy), label_style.clone()),
            );
        }
        chart.draw_series(labels)?;

        let summary = if ece.is_nan() {
            "no items".to_string()
        } else {
            format!("ECE = {ece:.4},  {total} items in {} bins", bins.len())
        };
        // A legend-only entry carrying the summary.
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(summary)
            .legend(|(x, y)| EmptyElement::at((x, y)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
        Ok(())
    })
}

/// Draws overlaid histograms of one or more score series to `path` (PNG,
/// [`PLOT_SIZE`]).
///
/// Each series is `(name, scores)`. The x axis spans [0, 1], widened to the
/// data if any score falls outside, cut into `bins` equal-width bins. The
/// y axis is the share (%) of the series' scores in each bin, so series of
/// different sizes are comparable; the legend gives each series' item count.
/// Series are drawn as translucent bars with a solid outline in distinct
/// colours. Non-finite scores are skipped.
pub fn score_histogram(
    path: &Path,
    series: &[(&str, &[f32])],
    title: &str,
    bins: usize,
) -> Result<(), PlotError> {
    if bins == 0 {
        return Err(input_error(path, "the histogram needs at least one bin"));
    }
    if series.is_empty() {
        return Err(input_error(path, "no series to draw"));
    }
    let finite = || {
        series
            .iter()
            .flat_map(|(_, s)| s.iter())
            .filter(|v| v.is_finite())
            .map(|&v| f64::from(v))
    };
    let x_lo = finite().fold(0.0, f64::min);
    let x_hi = finite().fold(1.0, f64::max);
    let width = (x_hi - x_lo) / bins as f64;

    // Per series: (name, item count, share in % per bin).
    let hists: Vec<(String, usize, Vec<f64>)> = series
        .iter()
        .map(|(name, scores)| {
            let mut counts = vec![0usize; bins];
            let mut n = 0usize;
            for v in scores.iter().filter(|v| v.is_finite()) {
                let idx = ((f64::from(*v) - x_lo) / width).floor() as usize;
                counts[idx.min(bins - 1)] += 1;
                n += 1;
            }
            let shares = counts
                .iter()
                .map(|&c| {
                    if n == 0 {
                        0.0
                    } else {
                        100.0 * c as f64 / n as f64
                    }
                })
                .collect();
            (name.to_string(), n, shares)
        })
        .collect();
    let max_share = hists
        .iter()
        .flat_map(|(_, _, s)| s.iter().copied())
        .fold(0.0, f64::max);
    let y_hi = if max_share > 0.0 {
        max_share * 1.25
    } else {
        1.0
    };
    // Put the legend over the emptier side.
    let side_max = |range: std::ops::Range<usize>| {
        hists
            .iter()
            .flat_map(|(_, _, s)| s[range.clone()].iter().copied())
            .fold(0.0, f64::max)
    };
    let third = bins.div_ceil(3);
    let legend_at = if side_max(0..third) < side_max(bins - third..bins) {
        SeriesLabelPosition::UpperLeft
    } else {
        SeriesLabelPosition::UpperRight
    };

    render(path, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 26))
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(70)
            .build_cartesian_2d(x_lo..x_hi, 0.0..y_hi)?;
        chart
            .configure_mesh()
            .x_labels(11)
            .y_labels(8)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 19))
            .x_desc("score")
            .y_desc("share of series per bin")
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .disable_x_mesh()
            .draw()?;

        for (i, (name, n, shares)) in hists.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let edge = |k: usize| x_lo + k as f64 * width;
            chart.draw_series(shares.iter().enumerate().filter(|(_, &s)| s > 0.0).map(
                |(k, &s)| {
                    Rectangle::new([(edge(k), 0.0), (edge(k + 1), s)], color.mix(0.3).filled())
                },
            ))?;
            // Step outline over the bars, so overlapping series stay readable.
            let mut outline = vec![(edge(0), 0.0)];
            for (k, &s) in shares.iter().enumerate() {
                outline.push((edge(k), s));
                outline.push((edge(k + 1), s));
            }
            outline.push((edge(bins), 0.0));
            chart
                .draw_series(LineSeries::new(outline, color.stroke_width(2)))?
                .label(format!("{name} (n = {n})"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 7), (x + 20, y + 7)], color.mix(0.5).filled())
                });
        }

        chart
            .configure_series_labels()
            .position(legend_at)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
        Ok(())
    })
}

/// Draws precision–recall curves to `path` (PNG, [`PLOT_SIZE`]): each series is a name and
/// its (recall, precision) points, drawn as a step line; solid for even series, dashed for odd
/// ones (a rule and its successor share a colour per set).
pub fn pr_curves(
    path: &Path,
    series: &[(String, Vec<(f64, f64)>)],
    title: &str,
) -> Result<(), PlotError> {
    if series.is_empty() {
        return Err(input_error(path, "no curve to draw"));
    }
    if series
        .iter()
        .flat_map(|(_, p)| p)
        .any(|(r, p)| !r.is_finite() || !p.is_finite())
    {
        return Err(input_error(path, "a point is not finite"));
    }
    render(path, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..1.0, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_labels(11)
            .y_labels(11)
            .x_label_formatter(&|v| format!("{v:.2}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 19))
            .x_desc("recall (share of the children's images withheld)")
            .y_desc("precision (share of the withheld showing a child)")
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = COLORS[(i / 2) % COLORS.len()];
            let style = color.stroke_width(if i % 2 == 1 { 3 } else { 2 });
            let pts: Vec<(f64, f64)> = points.iter().filter(|(r, _)| *r >= 0.5).copied().collect();
            if i % 2 == 0 {
                chart
                    .draw_series(DashedLineSeries::new(pts, 8, 5, style))?
                    .label(name.clone())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
            } else {
                chart
                    .draw_series(LineSeries::new(pts, style))?
                    .label(name.clone())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::metrics::calibration_bins;

    fn assert_png(path: &Path) {
        let img = image::open(path).expect("a decodable PNG");
        assert_eq!((img.width(), img.height()), PLOT_SIZE);
        let fmt = image::ImageFormat::from_path(path).unwrap();
        assert_eq!(fmt, image::ImageFormat::Png);
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // Not a blank canvas: some pixels are dark (text, axes).
        let dark = img
            .to_rgb8()
            .pixels()
            .filter(|p| p.0.iter().all(|&c| c < 80))
            .count();
        assert!(dark > 500, "only {dark} dark pixels");
    }

    /// Deterministic pseudo-random numbers in [0, 1).
    fn lcg(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect()
    }

    #[test]
    fn renders_both_plots_as_png() {
        let dir = tempfile::tempdir().unwrap();
        let pred = lcg(500, 1);
        let noise = lcg(500, 2);
        let target: Vec<f32> = pred
            .iter()
            .zip(&noise)
            .map(|(p, u)| if *u < p * p { 1.0 } else { 0.0 })
            .collect();
        let bins = calibration_bins(&pred, &target, 10);
        let cal = dir.path().join("cal.png");
        calibration_plot(&cal, &bins, "calibration").unwrap();
        assert_png(&cal);

        let positives: Vec<f32> = pred.iter().map(|p| p.sqrt()).collect();
        let hist = dir.path().join("hist.png");
        score_histogram(
            &hist,
            &[("all", &pred), ("positives", &positives)],
            "scores",
            20,
        )
        .unwrap();
        assert_png(&hist);
    }

    #[test]
    fn degenerate_inputs() {
        let dir = tempfile::tempdir().unwrap();
        // Empty bins: axes and diagonal only, still a valid PNG.
        let cal = dir.path().join("empty.png");
        calibration_plot(&cal, &[], "empty").unwrap();
        assert_png(&cal);
        // Scores outside [0, 1] widen the axis instead of failing.
        let hist = dir.path().join("wide.png");
        score_histogram(&hist, &[("cos", &[-0.4, 0.2, 1.3, f32::NAN][..])], "w", 5).unwrap();
        assert_png(&hist);

        let bad = dir.path().join("bad.png");
        let err = score_histogram(&bad, &[("a", &[0.5][..])], "t", 0).unwrap_err();
        assert!(matches!(err, PlotError::Input { .. }));
        let msg = err.to_string();
        assert!(msg.contains("bad.png") && !msg.contains('\n'), "{msg}");
        assert!(score_histogram(&bad, &[], "t", 3).is_err());
        assert!(!bad.exists());

        // Unwritable destination: a one-line error naming the file.
        let missing = dir.path().join("no/such/dir/x.png");
        let err = calibration_plot(&missing, &[], "t").unwrap_err();
        assert!(matches!(err, PlotError::Write { .. }), "{err}");
        assert!(err.to_string().contains("x.png"));

        let err = PlotError::Font {
            path: PathBuf::from("out/cal.png"),
            reason: "none found".into(),
        };
        let msg = err.to_string();
        assert!(msg.starts_with("cannot draw plot out/cal.png: no usable font (none found)"));
        assert!(msg.contains("fonts-dejavu-core") && msg.contains(FONT_ENV));
        assert!(!msg.contains('\n'));
    }
}
