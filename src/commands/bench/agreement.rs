//! `picseek bench agreement`: how often the store's ranking (int8 shortlist, exact rescoring)
//! agrees with full precision, on the real data and at scale.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use ndarray::{Array2, ArrayView1};
use picseek::cache::ContentHash;
use picseek::engine::Session;
use picseek::index::view_fingerprint;
use picseek::library::Options;
use picseek::model::{ImageEmbedding, Scorer};
use picseek::search;
use picseek::store::{self, Basis, TopK};
use rayon::prelude::*;
use serde_json::{json, Value};

use super::query::allowed_queries;
use super::report::merge_report;
use crate::cli::BenchAgreementArgs;
use crate::commands::Ctx;

/// Ranking agreement of the store with full precision on the real data: the test queries over
/// data/train_images + data/test_images, plus a sweep of the reduced rank.
pub fn run(a: &BenchAgreementArgs, ctx: &Ctx) -> Result<()> {
    let (data, scale) = (&a.data.data, a.scale);
    let cores = picseek::model::cores();
    let encoder = ctx.image_encoder()?;
    let text = ctx.text()?;
    let scorer = ctx.scorer()?;
    let fingerprint = view_fingerprint(&encoder, false);
    let tmp = tempfile::tempdir().context("temporary cache")?;
    let owned;
    let session: &Session = match &ctx.common.cache {
        Some(_) => ctx.session()?,
        None => {
            owned = Session::open(ctx.models()?.clone(), tmp.path(), ctx.index.clone(), None)?;
            &owned
        }
    };
    let cache = session.cache()?;
    let mut indexed = Vec::new();
    for sub in ["train_images", "test_images"] {
        let mut bar = crate::commands::index::Bar::new();
        let r = session.index_files(&data.join(sub), &mut |p| bar.show(p));
        bar.done();
        indexed.extend(r?.indexed);
    }
    let library = session.library(data, &indexed)?;
    let st = library.store().context("nothing searchable")?;
    let n = library.len();
    let hash_of: HashMap<&Path, &ContentHash> =
        indexed.iter().map(|(p, h)| (p.as_path(), h)).collect();
    let dim = scorer.compact_dim();
    let rows: Vec<Vec<f32>> = (0..n)
        .into_par_iter()
        .map(|i| -> Result<Vec<f32>> {
            let h = hash_of[library.path(i)];
            let rec = cache
                .embedding(&fingerprint, h)
                .context("embedding missing")?;
            Ok(scorer.image_vector(&rec.embedding))
        })
        .collect::<Result<_>>()?;
    let zmat = Array2::from_shape_vec((n, dim), rows.concat())?;
    let names: Vec<String> = library
        .paths()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let is_test: Vec<bool> = library
        .paths()
        .map(|p| p.parent().and_then(|d| d.file_name()) == Some("test_images".as_ref()))
        .collect();
    let all: Vec<usize> = (0..n).collect();
    let test_rows: Vec<usize> = all.iter().copied().filter(|&i| is_test[i]).collect();
    let train_rows: Vec<usize> = all.iter().copied().filter(|&i| !is_test[i]).collect();
    let qs = allowed_queries(data)?;
    eprintln!("picseek: encoding {} queries…", qs.len());
    let queries: Vec<(Vec<f32>, Option<usize>)> = qs
        .iter()
        .map(|(q, image)| {
            Ok((
                scorer.query_vector(&text.encode_one(q.trim())?),
                names.iter().position(|nm| nm == image),
            ))
        })
        .collect::<Result<_>>()?;
    let index_of: HashMap<&Path, usize> =
        library.paths().enumerate().map(|(i, p)| (p, i)).collect();

    // Best k of `rows` by score (ties to the lower index), and reciprocal rank of `rel`.
    let top_of = |scores: &[f32], rows: &[usize], k: usize| -> Vec<usize> {
        let mut t = TopK::new(k);
        for &i in rows {
            t.push(scores[i], i);
        }
        t.into_sorted().into_iter().map(|(_, i)| i).collect()
    };
    let rr = |scores: &[f32], rows: &[usize], rel: Option<usize>, cutoff: usize| -> f64 {
        let Some(rel) = rel.filter(|r| rows.contains(r)) else {
            return 0.0;
        };
        let rank = 1 + rows
            .iter()
            .filter(|&&j| j != rel && scores[j] >= scores[rel])
            .count();
        if rank <= cutoff {
            1.0 / rank as f64
        } else {
            0.0
        }
    };
    let overlap = |a: &[usize], b: &[usize]| -> f64 {
        a.iter().filter(|x| b.contains(x)).count() as f64 / a.len().max(1) as f64
    };
    let exact: Vec<Vec<f32>> = queries
        .iter()
        .map(|(q, _)| zmat.dot(&ArrayView1::from(q)).to_vec())
        .collect();

    // 1. The product path over all images.
    let (mut ov_store, mut ov_int8, mut mrr_exact, mut mrr_int8, mut mrr10_exact, mut mrr10_store) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let opts = Options {
        top: 10,
        min_score: 0.0,
    };
    for ((q, rel), ex) in queries.iter().zip(&exact) {
        let want = top_of(ex, &all, 10);
        let got: Vec<usize> = library
            .rank(&scorer, q, opts)
            .iter()
            .map(|h| index_of[h.path.as_path()])
            .collect();
        let (t, _) = st.basis().query(q);
        let approx = approx_scores(st.codes(), st.scales(), st.basis().rank, &t);
        ov_store += overlap(&want, &got);
        ov_int8 += overlap(&want, &top_of(&approx, &all, 10));
        mrr_exact += rr(ex, &all, *rel, usize::MAX);
        mrr_int8 += rr(&approx, &all, *rel, usize::MAX);
        mrr10_exact += rr(ex, &all, *rel, 10);
        let store_rr = rel
            .and_then(|r| got.iter().position(|&g| g == r))
            .map_or(0.0, |p| 1.0 / (p + 1) as f64);
        mrr10_store += store_rr;
    }
    let nq = queries.len() as f64;
    println!(
        "ranking agreement, {} allowed test queries over {n} searchable images ({} withheld), rank {}, {cores} core(s)",
        queries.len(),
        library.withheld(),
        st.basis().rank
    );
    println!("  {:<44} {:>8}", "measure", "value");
    for (name, v) in [
        (
            "top-10 overlap, store (int8 + exact rescoring)",
            ov_store / nq,
        ),
        ("top-10 overlap, int8 alone", ov_int8 / nq),
        ("MRR@10 exact", mrr10_exact / nq),
        ("MRR@10 store", mrr10_store / nq),
        ("MRR exact (full ranking)", mrr_exact / nq),
        ("MRR int8 alone (full ranking)", mrr_int8 / nq),
    ] {
        println!("  {name:<44} {v:>8.4}");
    }

    // 2. Rank sweep, int8 alone: basis fitted on the library (as the product does), and
    //    out of sample: fitted on the training images, ranking the 100 test images.
    println!("  rank sweep, int8 alone (no rescoring): top-10 overlap / MRR");
    println!(
        "  {:>5} {:>16} {:>16} {:>20}",
        "rank", "library fit", "", "train fit → test"
    );
    let mut sweep = Vec::new();
    let sample_of = |rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .take(store::FIT_SAMPLE)
            .flat_map(|&i| zmat.row(i).to_vec())
            .collect()
    };
    let lib_sample = sample_of(&all);
    let train_sample = sample_of(&train_rows);
    for rank in [32usize, 64, 128, 192, 256, 384, 512] {
        let mut fig = Vec::new();
        for (sample, rows) in [(&lib_sample, &all), (&train_sample, &test_rows)] {
            let basis = Basis::fit(sample, dim, rank, 0);
            let c = basis.project(zmat.view());
            let mut codes = vec![0i8; n * basis.rank];
            let mut scales = vec![0f32; n];
            for (i, row) in c.rows().into_iter().enumerate() {
                scales[i] = store::quantize(
                    row.as_slice().expect("contiguous"),
                    &mut codes[i * basis.rank..(i + 1) * basis.rank],
                );
            }
            let (mut ov, mut mrr) = (0.0, 0.0);
            for ((q, rel), ex) in queries.iter().zip(&exact) {
                let (t, _) = basis.query(q);
                let approx = approx_scores(&codes, &scales, basis.rank, &t);
                ov += overlap(&top_of(ex, rows, 10), &top_of(&approx, rows, 10));
                mrr += rr(&approx, rows, *rel, usize::MAX);
            }
            fig.push((ov / nq, mrr / nq));
        }
        let mrr_test_exact: f64 = queries
            .iter()
            .zip(&exact)
            .map(|((_, rel), ex)| rr(ex, &test_rows, *rel, usize::MAX))
            .sum::<f64>()
            / nq;
        println!(
            "  {rank:>5} {:>8.4} / {:.4} {:>9} {:>8.4} / {:.4} (exact MRR {:.4})",
            fig[0].0, fig[0].1, "", fig[1].0, fig[1].1, mrr_test_exact
        );
        sweep.push(json!({
            "rank": rank,
            "library_fit": {"top10_overlap": fig[0].0, "mrr": fig[0].1},
            "train_fit_test_images": {"top10_overlap": fig[1].0, "mrr": fig[1].1, "exact_mrr": mrr_test_exact},
        }));
    }
    // 3. At scale: `scale` images made from the real embeddings (perturbed features through the
    //    real scorer); the store's path (int8 shortlist, exact rescoring) against exact top 10.
    let base: Vec<ImageEmbedding> = indexed
        .iter()
        .filter_map(|(_, h)| cache.embedding(&fingerprint, h).map(|r| r.embedding))
        .collect();
    let scale_fig = scale_agreement(&base, &scorer, &queries, scale, &[64, 128, 256]);
    merge_report(
        "agreement",
        json!({
            "at_scale": scale_fig,
            "cores": cores, "queries": queries.len(), "searchable": n, "withheld": library.withheld(),
            "rank": st.basis().rank, "fitted_on": st.basis().fitted_on,
            "shortlist_top10": search::shortlist_len(10, n),
            "top10_overlap_store": ov_store / nq, "top10_overlap_int8_alone": ov_int8 / nq,
            "mrr10_exact": mrr10_exact / nq, "mrr10_store": mrr10_store / nq,
            "mrr_exact": mrr_exact / nq, "mrr_int8_alone": mrr_int8 / nq,
            "rank_sweep_int8_alone": sweep,
        }),
    )
}

/// Top-10 agreement at scale: `n` synthetic images made by perturbing real embeddings, ranked
/// exactly and by each rank's int8 shortlist + exact rescoring (as `Library::rank` does).
fn scale_agreement(
    base: &[ImageEmbedding],
    scorer: &Scorer,
    queries: &[(Vec<f32>, Option<usize>)],
    n: usize,
    ranks: &[usize],
) -> Value {
    use rand::{Rng, SeedableRng};
    if n == 0 || base.is_empty() {
        return Value::Null;
    }
    eprintln!("picseek: agreement at scale: {n} images from perturbed real embeddings…");
    let dim = scorer.compact_dim();
    let embeddings: Vec<ImageEmbedding> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
            let mut e = base[i % base.len()].clone();
            for v in e.features.iter_mut() {
                *v = *v * (1.0 + 0.2 * rng.random_range(-1.0f32..1.0))
                    + 0.05 * rng.random_range(-1.0f32..1.0);
            }
            e
        })
        .collect();
    let refs: Vec<&ImageEmbedding> = embeddings.iter().collect();
    let parts: Vec<Array2<f32>> = refs
        .par_chunks(1024)
        .map(|c| scorer.image_vectors(c))
        .collect();
    drop(embeddings);
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let zmat = ndarray::concatenate(ndarray::Axis(0), &views).expect("same widths");
    drop(parts);
    let qs: Vec<&Vec<f32>> = queries.iter().map(|(q, _)| q).take(100).collect();
    let exact: Vec<Vec<usize>> = qs
        .par_iter()
        .map(|q| {
            let s = zmat.dot(&ArrayView1::from(q.as_slice()));
            let mut t = TopK::new(10);
            for (i, v) in s.iter().enumerate() {
                t.push(*v, i);
            }
            t.into_sorted().into_iter().map(|(_, i)| i).collect()
        })
        .collect();
    let shorts = [200usize, 500, 1000, 3000, 5000, 10000];
    println!(
        "  at scale: {n} images from perturbed real embeddings, {} queries; top-10 overlap with exact",
        qs.len()
    );
    println!(
        "  {:>5} {:>10} {}",
        "rank",
        "int8 alone",
        shorts
            .iter()
            .map(|s| format!("{:>12}", format!("rescore {s}")))
            .collect::<String>()
    );
    let sample: Vec<f32> = zmat
        .rows()
        .into_iter()
        .step_by((n / store::FIT_SAMPLE).max(1))
        .take(store::FIT_SAMPLE)
        .flat_map(|r| r.to_vec())
        .collect();
    let mut out = Vec::new();
    for &rank in ranks {
        let basis = Basis::fit(&sample, dim, rank, 0);
        let mut codes = vec![0i8; n * basis.rank];
        let mut scales = vec![0f32; n];
        codes
            .par_chunks_mut(basis.rank * 1024)
            .zip(scales.par_chunks_mut(1024))
            .enumerate()
            .for_each(|(c, (codes, scales))| {
                let start = c * 1024;
                let z = zmat.slice(ndarray::s![start..start + scales.len(), ..]);
                let proj = basis.project(z);
                for (i, row) in proj.rows().into_iter().enumerate() {
                    scales[i] = store::quantize(
                        row.as_slice().expect("contiguous"),
                        &mut codes[i * basis.rank..(i + 1) * basis.rank],
                    );
                }
            });
        let mut ov_int8 = 0.0;
        let mut ov_store = vec![0.0; shorts.len()];
        for (q, want) in qs.iter().zip(&exact) {
            let (t, _) = basis.query(q);
            let approx = approx_scores(&codes, &scales, basis.rank, &t);
            let mut t1 = TopK::new(*shorts.last().expect("non-empty"));
            for (i, v) in approx.iter().enumerate() {
                t1.push(*v, i);
            }
            let cands = t1.into_sorted();
            let ov = |a: &[usize]| a.iter().filter(|x| want.contains(x)).count() as f64 / 10.0;
            let int8_top: Vec<usize> = cands.iter().take(10).map(|c| c.1).collect();
            ov_int8 += ov(&int8_top);
            for (k, &short) in shorts.iter().enumerate() {
                let mut t2 = TopK::new(10);
                for &(_, i) in cands.iter().take(short) {
                    t2.push(zmat.row(i).dot(&ArrayView1::from(q.as_slice())), i);
                }
                let store_top: Vec<usize> = t2.into_sorted().into_iter().map(|(_, i)| i).collect();
                ov_store[k] += ov(&store_top);
            }
        }
        let nq = qs.len() as f64;
        println!(
            "  {rank:>5} {:>10.4} {}",
            ov_int8 / nq,
            ov_store
                .iter()
                .map(|v| format!("{:>12.4}", v / nq))
                .collect::<String>()
        );
        out.push(json!({
            "rank": rank, "top10_overlap_int8_alone": ov_int8 / nq,
            "top10_overlap_rescored": shorts.iter().zip(&ov_store).map(|(s, v)| json!({"shortlist": s, "overlap": v / nq})).collect::<Vec<_>>(),
        }));
    }
    json!({"images": n, "queries": qs.len(), "data": "perturbed real embeddings (features x (1 +/- 0.2) +/- 0.05) through the real scorer", "by_rank": out})
}

fn approx_scores(codes: &[i8], scales: &[f32], rank: usize, t: &[f32]) -> Vec<f32> {
    let (tq, inv) = store::quantize_query(t);
    codes
        .chunks_exact(rank.max(1))
        .zip(scales)
        .map(|(c, &s)| store::approx_dot(c, s, &tq, inv))
        .collect()
}
