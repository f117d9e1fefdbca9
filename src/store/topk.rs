//! Picking the best rows: a bounded heap ([`TopK`]), and an exact selection of the `k` best of
//! all the scores.

use rayon::prelude::*;

use super::SCAN_ROWS;

/// A bounded min-heap keeping the `k` best (score, index); ties favour the lower index.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry(f32, usize);
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed, so the heap's top is the worst kept entry.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
        }
    }

    #[inline]
    pub fn push(&mut self, score: f32, index: usize) {
        if self.k == 0 || score.is_nan() {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Entry(score, index));
        } else if let Some(worst) = self.heap.peek() {
            if Entry(score, index) < *worst {
                self.heap.pop();
                self.heap.push(Entry(score, index));
            }
        }
    }

    pub fn merge(mut self, other: TopK) -> TopK {
        for e in other.heap {
            self.push(e.0, e.1);
        }
        self
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<(f32, usize)> {
        let mut v = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|Entry(s, i)| (s, i)).collect()
    }
}

/// The `k` best of `scores` as (score, index), best first, ties to the lower index; NaN never
/// kept. A threshold is read off every 16th score (a little below the `k`-th best there), the
/// scores at or above it are gathered in parallel, and the best `k` selected among them; if the
/// threshold let fewer than `k` through, it is lowered and the gathering repeated. The result
/// is exact whatever the threshold: everything in the top `k` is at or above it.
pub(super) fn best_of(scores: &[f32], k: usize) -> Vec<(f32, usize)> {
    const STRIDE: usize = 16;
    let n = scores.len();
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    let mut sample: Vec<f32> = scores
        .iter()
        .step_by(STRIDE)
        .copied()
        .filter(|s| !s.is_nan())
        .collect();
    sample.sort_unstable_by(|a, b| b.total_cmp(a));
    // Expected k / STRIDE of the sample above the true k-th best; aim lower, by a margin that
    // doubles whenever too few pass.
    let mut want = k / STRIDE + 2 * (k / STRIDE).isqrt() + 8;
    loop {
        let threshold = sample.get(want).copied().unwrap_or(f32::NEG_INFINITY);
        let mut found: Vec<(f32, usize)> = scores
            .par_chunks(SCAN_ROWS)
            .enumerate()
            .flat_map_iter(|(c, chunk)| {
                chunk
                    .iter()
                    .enumerate()
                    .filter(move |(_, s)| **s >= threshold)
                    .map(move |(j, &s)| (s, c * SCAN_ROWS + j))
            })
            .collect();
        if found.len() >= k || threshold == f32::NEG_INFINITY {
            keep_best(&mut found, k);
            return found;
        }
        want = want.saturating_mul(2);
    }
}

/// Keeps the best `k` of (score, index), best first; ties favour the lower index.
fn keep_best(v: &mut Vec<(f32, usize)>, k: usize) {
    let order = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if v.len() > k {
        v.select_nth_unstable_by(k - 1, order);
        v.truncate(k);
    }
    v.sort_unstable_by(order);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn selection_and_heap_agree() {
        let scores: Vec<(f32, usize)> = (0..1000)
            .map(|i| ((((i * 7919) % 1000) as f32 / 10.0).floor(), i))
            .collect();
        let mut sel = scores.clone();
        keep_best(&mut sel, 25);
        let mut heap = TopK::new(25);
        for (s, i) in &scores {
            heap.push(*s, *i);
        }
        assert_eq!(sel, heap.into_sorted());
    }

    /// The threshold selection gives exactly the `k` best, ties to the lower index, whatever
    /// the scores' order and however many ties sit at the threshold; NaN is never kept.
    #[test]
    fn best_of_is_exact() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for (n, k, levels) in [
            (100_000, 10_000, 0),
            (100_000, 200, 0),
            (50_000, 5_000, 7),
            (1_000, 1_000, 3),
            (30, 50, 0),
        ] {
            let mut scores: Vec<f32> = (0..n)
                .map(|_| match levels {
                    0 => rng.random_range(-1.0f32..1.0),
                    l => rng.random_range(0..l) as f32,
                })
                .collect();
            // Best scores bunched at the end, where a strided sample sees few of them.
            scores
                .iter_mut()
                .rev()
                .take(n / 50)
                .for_each(|s| *s += 10.0);
            scores[n / 2] = f32::NAN;
            let mut want: Vec<(f32, usize)> = scores
                .iter()
                .copied()
                .zip(0..)
                .filter(|(s, _)| !s.is_nan())
                .collect();
            keep_best(&mut want, k);
            assert_eq!(best_of(&scores, k), want, "n {n}, k {k}, levels {levels}");
        }
    }
}
