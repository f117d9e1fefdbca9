//! The PCA basis the reduced vectors live in, fitted on the library's own vectors.

use ndarray::{Array2, ArrayView1, ArrayView2};

/// The orthonormal basis the reduced vectors live in: `c = U (z − μ)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    pub dim: usize,
    pub rank: usize,
    pub mean: Vec<f32>,
    /// `rank × dim`, row-major, orthonormal rows.
    pub rows: Vec<f32>,
    pub fitted_on: usize,
}

impl Basis {
    /// PCA of `sample` (`m × dim`, row-major): the mean and the `rank` leading principal
    /// directions, by subspace iteration on the covariance with a Rayleigh–Ritz step
    /// (deterministic for a given `seed`). `rank` is capped at `dim`.
    pub fn fit(sample: &[f32], dim: usize, rank: usize, seed: u64) -> Basis {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let rank = rank.min(dim);
        let m = sample.len() / dim.max(1);
        if m == 0 || rank == 0 {
            return Basis {
                dim,
                rank: 0,
                mean: vec![0.0; dim],
                rows: Vec::new(),
                fitted_on: 0,
            };
        }
        let x = ArrayView2::from_shape((m, dim), &sample[..m * dim]).expect("sample shape");
        let mean = x.mean_axis(ndarray::Axis(0)).expect("non-empty sample");
        let centred = &x - &mean;
        let cov = centred.t().dot(&centred) / m as f32;
        let k = (rank + 16).min(dim);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let normal = rand_distr::StandardNormal;
        let mut q = Array2::from_shape_simple_fn((dim, k), || normal.sample(&mut rng));
        for _ in 0..5 {
            q = orthonormal_columns(&cov.dot(&q));
        }
        // Rayleigh–Ritz: the leading eigenvectors of the covariance within the subspace.
        let small = q.t().dot(&cov.dot(&q));
        let small = nalgebra::DMatrix::from_fn(k, k, |i, j| f64::from(small[[i, j]]));
        let eig = nalgebra::SymmetricEigen::new(small);
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let v = Array2::from_shape_fn((k, rank), |(i, j)| eig.eigenvectors[(i, order[j])] as f32);
        let u = q.dot(&v); // dim × rank
        Basis {
            dim,
            rank,
            mean: mean.to_vec(),
            rows: u.t().iter().copied().collect(),
            fitted_on: m,
        }
    }

    fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.rank, self.dim), &self.rows).expect("basis shape")
    }

    /// Projects rows (`n × dim`) to reduced vectors (`n × rank`).
    pub fn project(&self, z: ArrayView2<'_, f32>) -> Array2<f32> {
        let mean = ArrayView1::from(&self.mean);
        (&z - &mean).dot(&self.view().t())
    }

    /// The query side: `(U q, μ·q)`.
    pub fn query(&self, q: &[f32]) -> (Vec<f32>, f32) {
        let q = ArrayView1::from(q);
        (
            self.view().dot(&q).to_vec(),
            ArrayView1::from(&self.mean).dot(&q),
        )
    }
}

/// Orthonormalises the columns (thin QR).
fn orthonormal_columns(y: &Array2<f32>) -> Array2<f32> {
    let (n, k) = y.dim();
    let m = nalgebra::DMatrix::from_fn(n, k, |i, j| f64::from(y[[i, j]]));
    let q = m.qr().q();
    Array2::from_shape_fn((n, k), |(i, j)| q[(i, j)] as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::random_rows;

    #[test]
    fn basis_is_orthonormal_and_captures_low_rank_data() {
        let d = 30;
        let z = random_rows(200, d, 3);
        let b = Basis::fit(&z, d, 10, 0);
        for i in 0..b.rank {
            for j in 0..b.rank {
                let dot: f32 = (0..d).map(|k| b.rows[i * d + k] * b.rows[j * d + k]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-4, "({i},{j}) {dot}");
            }
        }
        // Eight factors: ten directions reconstruct the rows almost exactly.
        let zv = ArrayView2::from_shape((200, d), &z).unwrap();
        let c = b.project(zv);
        let back = c.dot(&b.view()) + ArrayView1::from(&b.mean);
        let err = (&back - &zv).mapv(|v| v * v).sum() / zv.mapv(|v| v * v).sum();
        assert!(err < 1e-3, "relative error {err}");
    }
}
