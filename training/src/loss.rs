//! Differentiable losses on `[batch, outputs]` prediction tensors.
//!
//! [`ccc_loss`] is the loss of dimensional SER: `Σ_d (1 − CCC_d)` with the
//! concordance correlation coefficient of each output column computed over
//! the batch with population statistics, exactly as
//! [`super::metrics::ccc`] computes it over a whole set. Because CCC is a
//! batch statistic, batches must hold at least two utterances (and do better
//! with a dozen or more).
//!
//! [`cross_entropy`] is the loss of categorical SER: the mean over the batch
//! of `−Σ_k q_k log softmax(z)_k`, logits `z` against a target distribution
//! `q` (one-hot for a label, where it is `−log p_label`; a teacher's
//! probabilities in distillation, where it differs from the KL divergence
//! by the teacher's entropy, a constant).

use candle_core::{Result, Tensor, D};

/// Small constant keeping the CCC denominator away from zero when a batch's
/// predictions and labels are both constant.
const EPS: f64 = 1e-8;

/// Per-column CCC `[outputs]` of predictions `x` against targets `y`, both `[batch, outputs]`.
pub fn ccc_per_column(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let (batch, _) = x.dims2()?;
    if batch < 2 {
        candle_core::bail!("the CCC loss needs at least 2 utterances per batch, got {batch}");
    }
    let mx = x.mean_keepdim(0)?;
    let my = y.mean_keepdim(0)?;
    let dx = x.broadcast_sub(&mx)?;
    let dy = y.broadcast_sub(&my)?;
    let vx = dx.sqr()?.mean(0)?;
    let vy = dy.sqr()?.mean(0)?;
    let cov = (&dx * &dy)?.mean(0)?;
    let mean_gap = (mx - my)?.squeeze(0)?.sqr()?;
    let denom = ((vx + vy)? + mean_gap)?.affine(1.0, EPS)?;
    (cov * 2.0)?.div(&denom)
}

/// `Σ_d (1 − CCC_d)` over the output columns: 0 for perfect concordance,
/// `outputs` for none, up to `2 · outputs` for perfect discordance.
pub fn ccc_loss(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let ccc = ccc_per_column(x, y)?;
    let n = ccc.dim(0)? as f64;
    ccc.sum_all()?.affine(-1.0, n)
}

/// Mean over the batch of `−Σ_k q_k log softmax(z)_k`: logits `z` and
/// target distributions `q`, both `[batch, categories]`. Its gradient with
/// respect to `z` is `(softmax(z) − q) / batch`.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (batch, _) = logits.dims2()?;
    let log_p = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    (targets * log_p)?
        .sum_all()?
        .affine(-1.0 / batch.max(1) as f64, 0.0)
}

/// Mean squared error over every element.
pub fn mse_loss(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    (x - y)?.sqr()?.mean_all()
}

/// Mean absolute error over every element (DistilHuBERT's L1 term).
pub fn l1_loss(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    (x - y)?.abs()?.mean_all()
}

/// `mean(1 − cos(x_i, y_i))` over the vectors along the last dimension
/// (DistilHuBERT's cosine term; it uses `−log σ(cos)`, whose gradient points the same way).
pub fn cosine_distance(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let dot = (x * y)?.sum(D::Minus1)?;
    let nx = x.sqr()?.sum(D::Minus1)?.sqrt()?;
    let ny = y.sqr()?.sum(D::Minus1)?.sqrt()?;
    let cos = dot.div(&(nx * ny)?.affine(1.0, EPS)?)?;
    cos.affine(-1.0, 1.0)?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ccc;
    use candle_core::{Device, Var};

    fn t(rows: &[[f32; 2]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (rows.len(), 2), &Device::Cpu).unwrap()
    }

    #[test]
    fn the_tensor_ccc_equals_the_metric() {
        let x = [[0.1f32, 0.9], [0.4, 0.2], [0.3, 0.5], [0.8, 0.1]];
        let y = [[0.2f32, 0.7], [0.5, 0.1], [0.2, 0.6], [0.9, 0.3]];
        let c = ccc_per_column(&t(&x), &t(&y))
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for k in 0..2 {
            let xs: Vec<f64> = x.iter().map(|r| f64::from(r[k])).collect();
            let ys: Vec<f64> = y.iter().map(|r| f64::from(r[k])).collect();
            assert!((f64::from(c[k]) - ccc(&xs, &ys)).abs() < 1e-5, "{k}");
        }
        // Identical columns: CCC 1 each, loss 0; negated: CCC −1 each, loss 2 per column.
        let l = ccc_loss(&t(&x), &t(&x))
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(l.abs() < 1e-5, "{l}");
        let neg: Vec<[f32; 2]> = x.iter().map(|r| [-r[0] + 1.0, -r[1] + 1.0]).collect();
        // Against 1 − x: cov = −var, so CCC = −2v / (2v + gap²) < 0 and each column costs more than 1.
        let l = ccc_loss(&t(&x), &t(&neg))
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(l > 2.0, "{l}");
    }

    #[test]
    fn a_gradient_step_raises_the_ccc() {
        let y = t(&[[0.1, 0.9], [0.5, 0.5], [0.9, 0.1]]);
        let x = Var::from_tensor(&t(&[[0.5, 0.4], [0.4, 0.5], [0.6, 0.6]])).unwrap();
        let before = ccc_loss(x.as_tensor(), &y).unwrap();
        let grads = before.backward().unwrap();
        let g = grads.get(x.as_tensor()).unwrap();
        x.set(&(x.as_tensor() - (g * 0.1).unwrap()).unwrap())
            .unwrap();
        let after = ccc_loss(x.as_tensor(), &y).unwrap();
        assert!(
            after.to_scalar::<f32>().unwrap() < before.to_scalar::<f32>().unwrap(),
            "one gradient step must lower the loss"
        );
    }

    #[test]
    fn cross_entropy_by_hand() {
        // Logits [0, ln 3]: softmax = [1, 3] / 4 = [0.25, 0.75].
        let z = t(&[[0.0, 3f32.ln()]]);
        let ce = |q: [f32; 2]| {
            cross_entropy(&z, &t(&[q]))
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        // Label 1: −ln 0.75; label 0: −ln 0.25 = ln 4.
        assert!((ce([0.0, 1.0]) - (-(0.75f32).ln())).abs() < 1e-6);
        assert!((ce([1.0, 0.0]) - 4f32.ln()).abs() < 1e-6);
        // A teacher's [0.5, 0.5]: −(0.5 ln 0.25 + 0.5 ln 0.75).
        let soft = -(0.5 * 0.25f32.ln() + 0.5 * 0.75f32.ln());
        assert!((ce([0.5, 0.5]) - soft).abs() < 1e-6);
        // A batch is the mean of its rows: (−ln 0.75 + ln 4) / 2.
        let both = cross_entropy(
            &t(&[[0.0, 3f32.ln()], [0.0, 3f32.ln()]]),
            &t(&[[0.0, 1.0], [1.0, 0.0]]),
        )
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
        assert!((both - (4f32.ln() - 0.75f32.ln()) / 2.0).abs() < 1e-6);
        // Large logits stay finite (log-softmax subtracts the maximum):
        // [0, 200] against label 0 costs 200 (−log softmax = 200 + log(1 + e^−200)).
        let big = cross_entropy(&t(&[[0.0, 200.0]]), &t(&[[1.0, 0.0]]))
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((big - 200.0).abs() < 1e-3, "{big}");
    }

    #[test]
    fn the_cross_entropy_gradient_is_softmax_minus_target_over_the_batch() {
        let z = Var::from_tensor(&t(&[[0.0, 3f32.ln()], [1.0, 1.0]])).unwrap();
        let q = t(&[[1.0, 0.0], [0.0, 1.0]]);
        let grads = cross_entropy(z.as_tensor(), &q)
            .unwrap()
            .backward()
            .unwrap();
        let g = grads.get(z.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
        // Row 0: ([0.25, 0.75] − [1, 0]) / 2; row 1: ([0.5, 0.5] − [0, 1]) / 2.
        let want = [[-0.375, 0.375], [0.25, -0.25]];
        for (r, w) in g.iter().zip(want) {
            for (a, b) in r.iter().zip(w) {
                assert!((a - b).abs() < 1e-6, "{g:?}");
            }
        }
    }

    #[test]
    fn a_batch_of_one_is_an_error() {
        let e = ccc_loss(&t(&[[0.1, 0.2]]), &t(&[[0.1, 0.2]])).unwrap_err();
        assert!(e.to_string().contains("at least 2"), "{e}");
    }

    #[test]
    fn distances_by_hand() {
        let a = t(&[[1.0, 0.0], [0.0, 2.0]]);
        let b = t(&[[0.0, 1.0], [0.0, 4.0]]);
        // |1-0| + |0-1| + 0 + |2-4| = 4 over 4 elements.
        assert!((l1_loss(&a, &b).unwrap().to_scalar::<f32>().unwrap() - 1.0).abs() < 1e-6);
        // 1 + 1 + 0 + 4 = 6 over 4.
        assert!((mse_loss(&a, &b).unwrap().to_scalar::<f32>().unwrap() - 1.5).abs() < 1e-6);
        // Rows: orthogonal (1 − 0) and parallel (1 − 1): mean 0.5.
        let c = cosine_distance(&a, &b).unwrap().to_scalar::<f32>().unwrap();
        assert!((c - 0.5).abs() < 1e-6, "{c}");
    }
}
