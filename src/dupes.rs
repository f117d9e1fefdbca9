//! Near-duplicate images: groups of resized, recompressed, lightly cropped or re-coloured copies
//! of one picture.
//!
//! Two stages, because each alone confuses copies with look-alikes:
//! 1. **Candidates by content.** Every pair of images is compared by the cosine of their
//!    EfficientNet features, square-rooted first (which evens out a few strong activations; with
//!    it, 95% of copy pairs score 0.77 or more against 0.67 raw). Exact: a blocked matrix
//!    product, `n²/2 · 1280` multiply-adds, about a second for 5,000 images on two cores. Pairs at
//!    or above [`CANDIDATE_COSINE`] go on. Alone, this stage also pairs two different photos of
//!    the same kind of scene (two sled-dog teams in snow).
//! 2. **Confirmed by layout.** Each candidate's grey 64×64 thumbnail is compared with the other's
//!    by normalised cross-correlation, over windows of one image (up to a fifth cut off each
//!    side, searched coarse to fine) against the whole other: a crop is found whatever its
//!    sides, and the correlation ignores brightness and contrast. The best window is the pair's similarity;
//!    pairs at or above the threshold ([`DEFAULT_THRESHOLD`]) are near-duplicates.
//!
//! Confirmed pairs are joined into groups (connected components). A group's similarity is its
//! weakest joining pair; each member's, its closest other member.

use std::collections::HashMap;

use image::RgbImage;
use ndarray::{s, Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// Layout similarity at and above which a candidate pair is a near-duplicate. Chosen on a
/// generated set from the demo *training* images (100 of them, 3 transformed copies each, 100
/// unrelated photos; `reports/experiments.md`) and checked by `tests/dupes.rs` on the demo test
/// images with 100 outside photos.
pub const DEFAULT_THRESHOLD: f32 = 0.6;

/// Cosine of the (square-rooted) image features at and above which a pair is a candidate.
pub const CANDIDATE_COSINE: f32 = 0.7;

/// Side of the grey thumbnail layouts are compared on.
const THUMB: usize = 64;
/// Side of the sampled window compared.
const WINDOW: usize = 32;
/// Radius of the local mean taken off for [`detail`].
const DETAIL_RADIUS: usize = 2;

/// The most cut off any one side of a window: a fifth.
const MAX_CUT: f32 = 0.2;
/// The cuts tried first on each side (then refined around the best in ever smaller steps).
const COARSE_CUTS: [f32; 2] = [0.0, 0.1];
/// The refining steps.
const REFINE_STEPS: [f32; 4] = [0.1, 0.05, 0.025, 0.0125];

/// Rows compared with all others at a time (each block is `BLOCK × n` cosines).
const BLOCK: usize = 64;

/// One group of near-duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Row indices with each one's highest cosine to another member, in row order.
    pub members: Vec<(usize, f32)>,
    /// The lowest cosine among the pairs that joined the group.
    pub similarity: f32,
}

/// Pairs `(i, j, cosine)` with `i < j` and cosine ≥ `threshold`, over the rows of `features`
/// square-rooted (one image a row, non-negative as EfficientNet's pooled features are; rows of
/// zeros match nothing).
pub fn similar_pairs(features: ArrayView2<f32>, threshold: f32) -> Vec<(usize, usize, f32)> {
    let unit = normalised(features);
    let n = unit.nrows();
    let starts: Vec<usize> = (0..n).step_by(BLOCK).collect();
    starts
        .par_iter()
        .flat_map_iter(|&start| {
            let end = (start + BLOCK).min(n);
            let block = unit.slice(s![start..end, ..]);
            // Only the columns after the block's first row: each pair once.
            let rest = unit.slice(s![start.., ..]);
            let cos = block.dot(&rest.t());
            let mut found = Vec::new();
            for (r, row) in cos.axis_iter(Axis(0)).enumerate() {
                let i = start + r;
                for (c, &v) in row.iter().enumerate() {
                    let j = start + c;
                    if j > i && v >= threshold {
                        found.push((i, j, v.min(1.0)));
                    }
                }
            }
            found.into_iter()
        })
        .collect()
}

/// Groups of near-duplicates: candidates by features ([`CANDIDATE_COSINE`]), confirmed when
/// their layouts match at or above `threshold`; `layout` gives a row's layout (`None`: the
/// image cannot be read, and it pairs with nothing). Largest group first (then by its weakest
/// pair, strongest first; then by first row).
pub fn find(
    features: ArrayView2<f32>,
    threshold: f32,
    layout: impl Fn(usize) -> Option<Layout> + Sync,
) -> Vec<Group> {
    let candidates = similar_pairs(features, CANDIDATE_COSINE);
    tracing::debug!(
        "{} candidate pair(s) among {} image(s)",
        candidates.len(),
        features.nrows()
    );
    let mut rows: Vec<usize> = candidates.iter().flat_map(|&(i, j, _)| [i, j]).collect();
    rows.sort_unstable();
    rows.dedup();
    let layouts: HashMap<usize, Layout> = rows
        .par_iter()
        .filter_map(|&i| layout(i).map(|l| (i, l)))
        .collect();
    let confirmed: Vec<(usize, usize, f32)> = candidates
        .par_iter()
        .filter_map(|&(i, j, _)| {
            let m = layout_match_at_least(layouts.get(&i)?, layouts.get(&j)?, threshold);
            (m >= threshold).then_some((i, j, m))
        })
        .collect();
    group_pairs(features.nrows(), &confirmed)
}

/// An image's layout: its grey thumbnail, squeezed to 64 × 64, and the whole of it as a
/// window.
#[derive(Debug, Clone)]
pub struct Layout {
    thumb: Vec<f32>,
    whole: Vec<f32>,
}

impl Layout {
    pub fn of_image(image: &RgbImage) -> Layout {
        let grey = image::imageops::grayscale(image);
        let small = image::imageops::resize(
            &grey,
            THUMB as u32,
            THUMB as u32,
            image::imageops::FilterType::Triangle,
        );
        let thumb: Vec<f32> = small.pixels().map(|p| f32::from(p.0[0])).collect();
        let mut layout = Layout {
            thumb,
            whole: Vec::new(),
        };
        layout.whole = layout.window([0.0; 4]);
        layout
    }

    /// The window left after cutting `cuts` = (left, top, right, bottom) shares off the
    /// thumbnail, sampled bilinearly to [`WINDOW`]², less its mean, scaled to unit length (all
    /// zeros when it is flat).
    fn window(&self, cuts: [f32; 4]) -> Vec<f32> {
        let side = THUMB as f32;
        let [left, top, right, bottom] = cuts.map(|c| c * side);
        let (step_x, step_y) = (
            (side - left - right) / WINDOW as f32,
            (side - top - bottom) / WINDOW as f32,
        );
        let at = |u: f32, v: f32| -> f32 {
            // Pixel centres at k + 0.5.
            let (u, v) = (
                (u - 0.5).clamp(0.0, side - 1.0),
                (v - 0.5).clamp(0.0, side - 1.0),
            );
            let (u0, v0) = (u.floor() as usize, v.floor() as usize);
            let (u1, v1) = ((u0 + 1).min(THUMB - 1), (v0 + 1).min(THUMB - 1));
            let (fu, fv) = (u - u0 as f32, v - v0 as f32);
            let p = |a: usize, b: usize| self.thumb[b * THUMB + a];
            (p(u0, v0) * (1.0 - fu) + p(u1, v0) * fu) * (1.0 - fv)
                + (p(u0, v1) * (1.0 - fu) + p(u1, v1) * fu) * fv
        };
        let mut w: Vec<f32> = (0..WINDOW * WINDOW)
            .map(|k| {
                let (c, r) = ((k % WINDOW) as f32, (k / WINDOW) as f32);
                at(left + (c + 0.5) * step_x, top + (r + 0.5) * step_y)
            })
            .collect();
        w = detail(&w);
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        w.iter_mut().for_each(|v| *v -= mean);
        let norm = w.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 1e-3 {
            w.iter_mut().for_each(|v| *v /= norm);
        } else {
            w.iter_mut().for_each(|v| *v = 0.0);
        }
        w
    }

    /// The best correlation of a window of this layout with the whole of `other`: the cuts of
    /// [`COARSE_CUTS`] on every side, then each side moved by [`REFINE_STEPS`] while that helps.
    fn best_window_against(&self, other: &Layout) -> f32 {
        let score = |cuts: [f32; 4]| -> f32 {
            self.window(cuts)
                .iter()
                .zip(&other.whole)
                .map(|(p, q)| p * q)
                .sum()
        };
        let mut best = ([0.0f32; 4], f32::NEG_INFINITY);
        for k in 0..COARSE_CUTS.len().pow(4) {
            let cuts = [0, 1, 2, 3]
                .map(|side| COARSE_CUTS[k / COARSE_CUTS.len().pow(side) % COARSE_CUTS.len()]);
            let v = score(cuts);
            if v > best.1 {
                best = (cuts, v);
            }
        }
        for step in REFINE_STEPS {
            let mut moved = true;
            while moved {
                moved = false;
                for side in 0..4 {
                    for delta in [-step, step] {
                        let mut cuts = best.0;
                        cuts[side] = (cuts[side] + delta).clamp(0.0, MAX_CUT);
                        let v = score(cuts);
                        if v > best.1 + 1e-6 {
                            best = (cuts, v);
                            moved = true;
                        }
                    }
                }
            }
        }
        best.1
    }
}

/// A [`WINDOW`]² window less its local mean (a box of [`DETAIL_RADIUS`] around each sample):
/// what is left is detail (edges, texture), which a copy keeps and a photo that merely has the
/// same horizon does not.
fn detail(w: &[f32]) -> Vec<f32> {
    // Sums over boxes from a summed-area table: `table[(y)(n+1) + x]` holds the sum of the
    // samples above and left of (x, y).
    let n = WINDOW;
    let mut table = vec![0.0f32; (n + 1) * (n + 1)];
    for y in 0..n {
        let mut row = 0.0;
        for x in 0..n {
            row += w[y * n + x];
            table[(y + 1) * (n + 1) + x + 1] = table[y * (n + 1) + x + 1] + row;
        }
    }
    (0..n * n)
        .map(|k| {
            let (x, y) = (k % n, k / n);
            let (x0, y0) = (
                x.saturating_sub(DETAIL_RADIUS),
                y.saturating_sub(DETAIL_RADIUS),
            );
            let (x1, y1) = (
                (x + DETAIL_RADIUS + 1).min(n),
                (y + DETAIL_RADIUS + 1).min(n),
            );
            let sum =
                table[y1 * (n + 1) + x1] - table[y0 * (n + 1) + x1] - table[y1 * (n + 1) + x0]
                    + table[y0 * (n + 1) + x0];
            w[k] - sum / ((x1 - x0) * (y1 - y0)) as f32
        })
        .collect()
}

/// How well two layouts match, −1 to 1: the best normalised cross-correlation of a window of
/// either image (up to a fifth cut off each side) with the whole of the other.
pub fn layout_match(a: &Layout, b: &Layout) -> f32 {
    a.best_window_against(b).max(b.best_window_against(a))
}

/// [`layout_match`] when it is below `threshold`; otherwise some value at or above it (the
/// second direction is not searched once the first reaches it).
fn layout_match_at_least(a: &Layout, b: &Layout, threshold: f32) -> f32 {
    let one = a.best_window_against(b);
    if one >= threshold {
        return one;
    }
    one.max(b.best_window_against(a))
}

/// The connected components of `pairs` over `n` rows, as [`Group`]s (see [`find`]).
pub fn group_pairs(n: usize, pairs: &[(usize, usize, f32)]) -> Vec<Group> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &(i, j, _) in pairs {
        let (a, b) = (root(&mut parent, i), root(&mut parent, j));
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut best = vec![f32::NEG_INFINITY; n];
    let mut weakest = vec![f32::INFINITY; n];
    for &(i, j, v) in pairs {
        best[i] = best[i].max(v);
        best[j] = best[j].max(v);
        let r = root(&mut parent, i);
        weakest[r] = weakest[r].min(v);
    }
    let mut members: std::collections::BTreeMap<usize, Vec<(usize, f32)>> = Default::default();
    for (i, &b) in best.iter().enumerate() {
        if b.is_finite() {
            let r = root(&mut parent, i);
            members.entry(r).or_default().push((i, b));
        }
    }
    let mut groups: Vec<Group> = members
        .into_iter()
        .map(|(r, members)| Group {
            members,
            similarity: weakest[r],
        })
        .collect();
    groups.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(b.similarity.total_cmp(&a.similarity))
            .then(a.members[0].0.cmp(&b.members[0].0))
    });
    groups
}

/// The rows square-rooted (negative values taken as 0) and scaled to unit length (rows of
/// zeros stay zero).
fn normalised(features: ArrayView2<f32>) -> Array2<f32> {
    let mut unit = features.mapv(|v| v.max(0.0).sqrt());
    for mut row in unit.axis_iter_mut(Axis(0)) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.mapv_inplace(|v| v / norm);
        }
    }
    unit
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn pairs_are_found_once_each_across_blocks() {
        // 150 rows (three blocks): the square root of row k points at angle k·0.5°, so
        // neighbours are close and rows far apart are not; a row of zeros matches nothing.
        let n = 150;
        let mut f = Array2::<f32>::zeros((n + 1, 2));
        for k in 0..n {
            let a = (k as f32 * 0.5).to_radians();
            let length = 1.0 + k as f32; // must not matter
            f[[k, 0]] = length * a.cos().powi(2);
            f[[k, 1]] = length * a.sin().powi(2);
        }
        let threshold = 1.0f32.to_radians().cos() - 1e-5; // within 1°: neighbours and next-but-one
        let mut pairs = similar_pairs(f.view(), threshold);
        pairs.sort_by_key(|&(i, j, _)| (i, j));
        let want: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| [(i, i + 1), (i, i + 2)])
            .filter(|&(_, j)| j < n)
            .collect();
        let got: Vec<(usize, usize)> = pairs.iter().map(|&(i, j, _)| (i, j)).collect();
        assert_eq!(got, want);
        assert!(pairs.iter().all(|&(_, _, v)| v >= threshold && v <= 1.0));
    }

    #[test]
    fn groups_are_components_with_their_weakest_link() {
        let pairs = [(0, 2, 0.99), (2, 5, 0.97), (0, 5, 0.96), (1, 4, 0.98)];
        let groups = group_pairs(6, &pairs);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0],
            Group {
                members: vec![(0, 0.99), (2, 0.99), (5, 0.97)],
                similarity: 0.96
            }
        );
        assert_eq!(
            groups[1],
            Group {
                members: vec![(1, 0.98), (4, 0.98)],
                similarity: 0.98
            }
        );
        assert!(group_pairs(6, &[]).is_empty());
    }

    /// A picture with structure everywhere: a dozen discs of different greys, placed by `seed`,
    /// over a gentle gradient.
    fn picture(seed: u64, width: u32, height: u32) -> RgbImage {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f32 / (1u64 << 53) as f32
        };
        let discs: Vec<[f32; 4]> = (0..12)
            .map(|_| [next(), next(), 0.05 + 0.15 * next(), next()])
            .collect();
        RgbImage::from_fn(width, height, |x, y| {
            let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
            let mut g = 60.0 + 80.0 * u;
            for &[cx, cy, r, grey] in &discs {
                if (u - cx).powi(2) + (v - cy).powi(2) < r * r {
                    g = 255.0 * grey;
                }
            }
            let g = g.clamp(0.0, 255.0) as u8;
            Rgb([g, g.saturating_add(20), g / 2])
        })
    }

    #[test]
    fn layouts_match_copies_and_not_other_pictures() {
        let original = picture(1, 400, 300);
        let a = Layout::of_image(&original);
        // Half size.
        let half =
            image::imageops::resize(&original, 200, 150, image::imageops::FilterType::Triangle);
        // 7% off the left, 4% off the top, 2% off the right (not on the window grid).
        let crop = image::imageops::crop_imm(&original, 28, 12, 400 - 28 - 8, 300 - 12).to_image();
        // Brighter and flatter, as a re-coloured copy.
        let mut colour = original.clone();
        colour.pixels_mut().for_each(|p| {
            p.0 = p.0.map(|c| (f32::from(c) * 0.8 + 40.0).min(255.0) as u8);
        });
        for (name, copy) in [("half", half), ("crop", crop), ("colour", colour)] {
            let m = layout_match(&a, &Layout::of_image(&copy));
            assert!(m >= DEFAULT_THRESHOLD, "{name}: {m}");
        }
        for seed in [2, 3, 4] {
            let m = layout_match(&a, &Layout::of_image(&picture(seed, 400, 300)));
            assert!(m < DEFAULT_THRESHOLD, "picture {seed}: {m}");
        }
        // A flat image matches nothing.
        let flat = Layout::of_image(&RgbImage::from_pixel(50, 50, Rgb([9, 9, 9])));
        assert_eq!(layout_match(&a, &flat), 0.0);
    }
}
