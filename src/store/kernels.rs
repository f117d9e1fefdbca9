//! The arithmetic of a search: quantisation, and the int8, f32 and f16 dot products (with AVX2,
//! FMA and F16C where the CPU has them).

use half::f16;
use half::slice::HalfFloatSliceExt;

/// Quantises a reduced vector to int8 with one scale: `c ≈ scale · codes`.
pub fn quantize(c: &[f32], codes: &mut [i8]) -> f32 {
    let max = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        codes.iter_mut().for_each(|x| *x = 0);
        return 0.0;
    }
    let s = 127.0 / max;
    for (o, v) in codes.iter_mut().zip(c) {
        *o = (v * s).round().clamp(-127.0, 127.0) as i8;
    }
    max / 127.0
}

/// The query's reduced vector as i16, with the factor that undoes the quantisation. Chosen so
/// a full row of int8 × i16 products cannot overflow an i32.
pub fn quantize_query(t: &[f32]) -> (Vec<i16>, f32) {
    let max = t.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let limit = ((i32::MAX as f64) / (127.0 * t.len().max(1) as f64)).min(32767.0) as f32;
    if max == 0.0 || !max.is_finite() {
        return (vec![0; t.len()], 0.0);
    }
    let s = limit / max;
    (t.iter().map(|v| (v * s).round() as i16).collect(), 1.0 / s)
}

#[inline(always)]
fn dot_i8_i16(a: &[i8], b: &[i16]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// Approximate dot product of a stored row with a quantised query (without the mean term).
pub fn approx_dot(codes: &[i8], scale: f32, tq: &[i16], tq_inv: f32) -> f32 {
    dot_i8_i16(codes, tq) as f32 * scale * tq_inv
}

/// Scores rows into `out` (one approximate score per row, before the query's scale).
#[inline(always)]
fn score_with(
    codes: &[i8],
    scales: &[f32],
    rank: usize,
    out: &mut [f32],
    dot: impl Fn(&[i8]) -> i32,
) {
    for ((row, &scale), o) in codes.chunks_exact(rank).zip(scales).zip(out) {
        *o = dot(row) as f32 * scale;
    }
}

/// `dot_i8_i16` with AVX2: 16 products per instruction (sign-extend, multiply-add pairs).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_i8_i16_avx2(a: &[i8], b: &[i16]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let whole = n / 32 * 32;
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 32 <= n, so both 16-element loads at i and i + 16 are in bounds.
        unsafe {
            let a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.as_ptr().add(i).cast()));
            let a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.as_ptr().add(i + 16).cast()));
            let b0 = _mm256_loadu_si256(b.as_ptr().add(i).cast());
            let b1 = _mm256_loadu_si256(b.as_ptr().add(i + 16).cast());
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(a1, b1));
        }
        i += 32;
    }
    let acc = _mm256_add_epi32(acc0, acc1);
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(acc),
        _mm256_extracti128_si256::<1>(acc),
    );
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    let tail: i32 = dot_i8_i16(&a[whole..n], &b[whole..n]);
    _mm_cvtsi128_si32(s) + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn score_rows_avx2(codes: &[i8], scales: &[f32], rank: usize, tq: &[i16], out: &mut [f32]) {
    score_with(codes, scales, rank, out, |row| dot_i8_i16_avx2(row, tq))
}

/// The int8 pass: every row's approximate score (before the query's scale) into `out`.
pub(super) fn score_rows(codes: &[i8], scales: &[f32], rank: usize, tq: &[i16], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { score_rows_avx2(codes, scales, rank, tq, out) };
    }
    score_with(codes, scales, rank, out, |row| dot_i8_i16(row, tq))
}

/// Dot product with 16 independent accumulators, so it vectorises (a plain `sum` of f32 does
/// not, its order being fixed).
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Dot product of a stored f16 row with an f32 vector, converting as it goes (F16C and FMA
/// where the CPU has them, so the row is read once and never written out as f32).
pub fn dot_f16(a: &[f16], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        // SAFETY: the CPU supports AVX2, FMA and F16C, checked just above.
        return unsafe { dot_f16_avx2(a, b) };
    }
    dot_f16_plain(a, b)
}

fn dot_f16_plain(a: &[f16], b: &[f32]) -> f32 {
    let mut buf = [0.0f32; 64];
    a.chunks(64)
        .zip(b.chunks(64))
        .map(|(x, y)| {
            let n = x.len().min(y.len());
            x[..n].convert_to_f32_slice(&mut buf[..n]);
            dot_f32(&buf[..n], &y[..n])
        })
        .sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_f16_avx2(a: &[f16], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let whole = n / 16 * 16;
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 16 <= n, so the 8-element loads at i and i + 8 are in bounds of both.
        unsafe {
            let a0 = _mm256_cvtph_ps(_mm_loadu_si128(a.as_ptr().add(i).cast()));
            let a1 = _mm256_cvtph_ps(_mm_loadu_si128(a.as_ptr().add(i + 8).cast()));
            acc0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b.as_ptr().add(i)), acc0);
            acc1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b.as_ptr().add(i + 8)), acc1);
        }
        i += 16;
    }
    let acc = _mm256_add_ps(acc0, acc1);
    let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s) + dot_f16_plain(&a[whole..n], &b[whole..n])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Dot product of f32 vectors with independent accumulators (vectorisable).
    #[test]
    fn fast_dot_matches() {
        let a: Vec<f32> = (0..1664).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..1664).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot_f32(&a, &b) - plain).abs() < 1e-3);
        for n in [0, 5, 16, 100, 1663] {
            let h: Vec<f16> = a[..n].iter().map(|&x| f16::from_f32(x)).collect();
            let want: f64 = h
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(x.to_f32()) * f64::from(*y))
                .sum();
            for got in [dot_f16(&h, &b[..n]), dot_f16_plain(&h, &b[..n])] {
                assert!(
                    (f64::from(got) - want).abs() < 1e-3,
                    "n {n}: {got} against {want}"
                );
            }
        }
    }

    #[test]
    fn simd_dot_equals_plain_dot() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for n in [0, 7, 32, 100, 256, 300] {
            let a: Vec<i8> = (0..n).map(|_| rng.random_range(-127..=127)).collect();
            let b: Vec<i16> = (0..n).map(|_| rng.random_range(-32767..=32767)).collect();
            let want = dot_i8_i16(&a, &b);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 checked just above.
                assert_eq!(unsafe { dot_i8_i16_avx2(&a, &b) }, want, "n = {n}");
            }
            let mut out = [0.0f32];
            score_rows(&a, &[1.0], n.max(1), &b, &mut out);
            if n > 0 {
                assert_eq!(out[0], want as f32);
            }
        }
    }
}
