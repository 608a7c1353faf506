//! One transformer encoder layer on the CPU, on a `[frames, hidden]` f32
//! buffer, with its matrix products through the `gemm` crate and every
//! element-wise step fused into row passes.
//!
//! Same arithmetic as the candle layer in [`crate::speech::encoder`] (and as
//! transformers): q/k/v projections (one GEMM against the concatenated
//! weights, with the attention scaling folded into the query weights), per
//! head `softmax(Q K^T) V` over the valid keys only (identical to adding the
//! reference's `f32::MIN` mask, whose terms underflow to exactly zero), output
//! projection with the residual accumulated in place, LayerNorm, and the GELU
//! feed-forward, in the post-LN or the stable pre-LN order. A WavLM layer
//! ([`CpuEncoderLayer::with_position_gate`]) also adds its gated relative
//! position bias to the attention scores ([`crate::speech::wavlm`]).

use rayon::prelude::*;

use super::matrix::{Precision, Weight};
use super::{give_buffer, sgemm, sgemm_rhs_strided, simd, take_buffer, SendPtr};

/// Weights of one layer, transposed to `[in, out]` row-major for the GEMM.
pub struct CpuEncoderLayer {
    /// `[hidden, 3 * hidden]`: q (pre-scaled by `head_dim^-0.5`), k, v.
    qkv_w: Weight,
    /// `[3 * hidden]`, q part pre-scaled.
    qkv_b: Vec<f32>,
    out_w: Weight,
    out_b: Vec<f32>,
    ln1_w: Vec<f32>,
    ln1_b: Vec<f32>,
    ff1_w: Weight,
    ff1_b: Vec<f32>,
    ff2_w: Weight,
    ff2_b: Vec<f32>,
    ln2_w: Vec<f32>,
    ln2_b: Vec<f32>,
    hidden: usize,
    intermediate: usize,
    heads: usize,
    eps: f32,
    stable: bool,
    /// WavLM's gate on the relative position bias, when the layer has one.
    position_gate: Option<PositionGate>,
}

/// WavLM's gate on the relative position bias (`gru_rel_pos_linear`,
/// `gru_rel_pos_const`) in PyTorch layouts.
pub struct PositionGateParams {
    /// `gru_rel_pos_linear.weight`, `[8, head_dim]`.
    pub weight: Vec<f32>,
    /// `gru_rel_pos_linear.bias`, `[8]`.
    pub bias: Vec<f32>,
    /// `gru_rel_pos_const`, one value per head.
    pub constant: Vec<f32>,
}

/// [`PositionGateParams`] with each gate's four projections summed into one
/// row (the reference sums their outputs: the same value up to rounding).
struct PositionGate {
    /// `[2, head_dim]`: rows for gate a and gate b.
    weight: Vec<f32>,
    /// `[2]`.
    bias: [f32; 2],
    /// `[heads]`.
    constant: Vec<f32>,
}

/// A linear layer's parameters as loaded: PyTorch weight `[out, in]` and bias `[out]`.
pub struct LinearParams {
    /// `[out, in]`, row-major.
    pub weight: Vec<f32>,
    /// `[out]`.
    pub bias: Vec<f32>,
}

/// Everything [`CpuEncoderLayer::new`] needs, in PyTorch layouts.
pub struct LayerParams {
    /// `attention.q_proj`.
    pub q: LinearParams,
    /// `attention.k_proj`.
    pub k: LinearParams,
    /// `attention.v_proj`.
    pub v: LinearParams,
    /// `attention.out_proj`.
    pub out: LinearParams,
    /// `layer_norm` weight and bias.
    pub ln1: (Vec<f32>, Vec<f32>),
    /// `feed_forward.intermediate_dense`.
    pub ff1: LinearParams,
    /// `feed_forward.output_dense`.
    pub ff2: LinearParams,
    /// `final_layer_norm` weight and bias.
    pub ln2: (Vec<f32>, Vec<f32>),
    /// Attention heads.
    pub heads: usize,
    /// LayerNorm epsilon.
    pub eps: f32,
    /// Pre-LN (stable) order.
    pub stable: bool,
    /// Arithmetic of the four projections (attention products stay f32).
    pub precision: Precision,
}

/// `[out, in]` -> `[in, out]`, each element scaled by `scale`.
fn transpose(w: &[f32], out_dim: usize, in_dim: usize, scale: f32) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for o in 0..out_dim {
        for i in 0..in_dim {
            t[i * out_dim + o] = w[o * in_dim + i] * scale;
        }
    }
    t
}

/// Rows per parallel task of the row passes.
const ROWS: usize = 16;

/// Queries per attention task (see [`CpuEncoderLayer::attention`]).
const QUERY_BLOCK: usize = 128;

thread_local! {
    /// Per-thread attention score block, reused between tasks.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl CpuEncoderLayer {
    /// Packs one layer's weights.
    pub fn new(p: LayerParams) -> Self {
        let hidden = p.q.bias.len();
        let intermediate = p.ff1.bias.len();
        let scale = ((hidden / p.heads) as f32).powf(-0.5);
        // [hidden, 3 * hidden]: row i holds q[:, i] * scale, k[:, i], v[:, i].
        let (qt, kt, vt) = (
            transpose(&p.q.weight, hidden, hidden, scale),
            transpose(&p.k.weight, hidden, hidden, 1.0),
            transpose(&p.v.weight, hidden, hidden, 1.0),
        );
        let mut qkv_w = Vec::with_capacity(3 * hidden * hidden);
        for i in 0..hidden {
            for t in [&qt, &kt, &vt] {
                qkv_w.extend_from_slice(&t[i * hidden..(i + 1) * hidden]);
            }
        }
        let mut qkv_b: Vec<f32> = p.q.bias.iter().map(|b| b * scale).collect();
        qkv_b.extend_from_slice(&p.k.bias);
        qkv_b.extend_from_slice(&p.v.bias);
        Self {
            qkv_w: Weight::new(qkv_w, hidden, 3 * hidden, p.precision),
            qkv_b,
            out_w: Weight::new(
                transpose(&p.out.weight, hidden, hidden, 1.0),
                hidden,
                hidden,
                p.precision,
            ),
            out_b: p.out.bias,
            ln1_w: p.ln1.0,
            ln1_b: p.ln1.1,
            ff1_w: Weight::new(
                transpose(&p.ff1.weight, intermediate, hidden, 1.0),
                hidden,
                intermediate,
                p.precision,
            ),
            ff1_b: p.ff1.bias,
            ff2_w: Weight::new(
                transpose(&p.ff2.weight, hidden, intermediate, 1.0),
                intermediate,
                hidden,
                p.precision,
            ),
            ff2_b: p.ff2.bias,
            ln2_w: p.ln2.0,
            ln2_b: p.ln2.1,
            hidden,
            intermediate,
            heads: p.heads,
            eps: p.eps,
            stable: p.stable,
            position_gate: None,
        }
    }

    /// Adds WavLM's gate on the relative position bias; run the layer with
    /// [`Self::forward_with_position_bias`] then.
    pub fn with_position_gate(mut self, p: PositionGateParams) -> Self {
        let d = self.hidden / self.heads;
        assert_eq!(
            p.weight.len(),
            8 * d,
            "gru_rel_pos_linear.weight is [8, head_dim]"
        );
        assert_eq!(p.bias.len(), 8, "gru_rel_pos_linear.bias is [8]");
        assert_eq!(
            p.constant.len(),
            self.heads,
            "gru_rel_pos_const has one value per head"
        );
        let mut weight = vec![0f32; 2 * d];
        for (row, w) in p.weight.chunks_exact(d).enumerate() {
            let dst = &mut weight[(row / 4) * d..(row / 4 + 1) * d];
            dst.iter_mut().zip(w).for_each(|(a, b)| *a += b);
        }
        let bias = [p.bias[..4].iter().sum(), p.bias[4..].iter().sum()];
        self.position_gate = Some(PositionGate {
            weight,
            bias,
            constant: p.constant,
        });
        self
    }

    /// Runs the layer in place on `x` (`[frames, hidden]`), attending only to
    /// the first `valid` frames as keys (all frames when `valid == frames`).
    pub fn forward(&self, x: &mut [f32], frames: usize, valid: usize) {
        self.run(x, frames, valid, None);
    }

    /// [`Self::forward`] for a WavLM layer: `bias` is the first layer's
    /// relative position bias by diagonal, `[heads, 2 * frames - 1]` with
    /// `bias[h, q, k]` at `k - q + frames - 1` of row `h`
    /// ([`crate::speech::wavlm::RelativePositionBias::diagonals`]); this
    /// layer's gate scales it before it joins the attention scores.
    ///
    /// # Panics
    /// If the layer has no gate ([`Self::with_position_gate`]) or `bias` has
    /// another length.
    pub fn forward_with_position_bias(
        &self,
        x: &mut [f32],
        frames: usize,
        valid: usize,
        bias: &[f32],
    ) {
        assert_eq!(
            bias.len(),
            self.heads * (2 * frames).saturating_sub(1),
            "position bias is [heads, 2 * frames - 1]"
        );
        self.run(x, frames, valid, Some(bias));
    }

    fn run(&self, x: &mut [f32], frames: usize, valid: usize, bias: Option<&[f32]>) {
        let h = self.hidden;
        // Attention input: x itself (post-LN) or layer_norm(x) (stable).
        let normed = self
            .stable
            .then(|| self.layer_norm(x, &self.ln1_w, &self.ln1_b));
        let attn_in: &[f32] = normed.as_deref().unwrap_or(x);
        let gates = bias.map(|_| self.position_gates(attn_in, frames));
        let position = bias.zip(gates.as_deref());
        let mut qkv = take_buffer(frames * 3 * h);
        self.qkv_w
            .matmul(frames, attn_in, h, &mut qkv, 3 * h, false);
        qkv.par_chunks_mut(ROWS * 3 * h)
            .for_each(|rows| simd::add_bias_rows(rows, &self.qkv_b));
        if let Some(n) = normed {
            give_buffer(n);
        }
        let ctx = self.attention(&qkv, frames, valid, position);
        give_buffer(qkv);
        if let Some(g) = gates {
            give_buffer(g);
        }
        // x += ctx @ W_o (then + b_o and, post-LN, the LayerNorm).
        // x += ctx @ W_o
        self.out_w.matmul(frames, &ctx, h, x, h, true);
        give_buffer(ctx);
        if self.stable {
            x.par_chunks_mut(ROWS * h)
                .for_each(|rows| simd::add_bias_rows(rows, &self.out_b));
            // x += ff(layer_norm(x))
            let ff_in = self.layer_norm(x, &self.ln2_w, &self.ln2_b);
            self.feed_forward(&ff_in, x, frames);
            give_buffer(ff_in);
            x.par_chunks_mut(ROWS * h)
                .for_each(|rows| simd::add_bias_rows(rows, &self.ff2_b));
        } else {
            self.bias_layer_norm_in_place(x, &self.out_b, &self.ln1_w, &self.ln1_b);
            let mut ff_in = take_buffer(x.len());
            ff_in.copy_from_slice(x);
            self.feed_forward(&ff_in, x, frames);
            give_buffer(ff_in);
            self.bias_layer_norm_in_place(x, &self.ff2_b, &self.ln2_w, &self.ln2_b);
        }
    }

    /// `out += gelu(input @ W1 + b1) @ W2` (the output bias is added by the caller's row pass).
    fn feed_forward(&self, input: &[f32], out: &mut [f32], frames: usize) {
        let (h, i) = (self.hidden, self.intermediate);
        let mut mid = take_buffer(frames * i);
        self.ff1_w.matmul(frames, input, h, &mut mid, i, false);
        mid.par_chunks_mut(ROWS * i).for_each(|rows| {
            rows.chunks_exact_mut(i)
                .for_each(|r| simd::bias_gelu_row(r, &self.ff1_b))
        });
        self.ff2_w.matmul(frames, &mid, i, out, h, true);
        give_buffer(mid);
    }

    /// WavLM's gate `[heads, frames]` for the attention input `x`
    /// (`[frames, hidden]`): per head and frame, `a * (b * const - 1) + 2`
    /// with `a`, `b` the sigmoids of the two summed projections.
    ///
    /// # Panics
    /// If the layer has no gate.
    fn position_gates(&self, x: &[f32], frames: usize) -> Vec<f32> {
        let gate = self
            .position_gate
            .as_ref()
            .expect("a position bias needs the layer's gate (with_position_gate)");
        let (h, d) = (self.hidden, self.hidden / self.heads);
        let mut out = take_buffer(self.heads * frames);
        let (wa, wb) = gate.weight.split_at(d);
        let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
        for (head, row) in out.chunks_exact_mut(frames).enumerate() {
            for (t, g) in row.iter_mut().enumerate() {
                let xs = &x[t * h + head * d..t * h + (head + 1) * d];
                let dot = |w: &[f32]| w.iter().zip(xs).map(|(a, b)| a * b).sum::<f32>();
                let a = sigmoid(dot(wa) + gate.bias[0]);
                let b = sigmoid(dot(wb) + gate.bias[1]);
                *g = a * (b * gate.constant[head] - 1.0) + 2.0;
            }
        }
        out
    }

    /// Multi-head attention over `qkv` (`[frames, 3 * hidden]`, biased and
    /// q-scaled); returns the concatenated heads `[frames, hidden]`.
    /// `position` is WavLM's bias by diagonal `[heads, 2 * frames - 1]` and
    /// this layer's gates `[heads, frames]`: `gate[h, q] * bias[h, q, k]`
    /// joins each score.
    ///
    /// Work is split into (head, block of [`QUERY_BLOCK`] queries) tasks, so a
    /// task's score block (`QUERY_BLOCK x valid`) stays in cache between the
    /// two products and the softmax instead of streaming a `frames x frames`
    /// matrix per head through memory.
    fn attention(
        &self,
        qkv: &[f32],
        frames: usize,
        valid: usize,
        position: Option<(&[f32], &[f32])>,
    ) -> Vec<f32> {
        let h = self.hidden;
        let d = h / self.heads;
        let stride = 3 * h;
        let mut ctx = take_buffer(frames * h);
        let ctx_ptr = SendPtr(ctx.as_mut_ptr());
        let blocks = frames.div_ceil(QUERY_BLOCK);
        (0..self.heads * blocks).into_par_iter().for_each(|task| {
            let (head, block) = (task / blocks, task % blocks);
            let q0 = block * QUERY_BLOCK;
            let rows = (frames - q0).min(QUERY_BLOCK);
            SCORES.with(|scores| {
                let mut scores = scores.borrow_mut();
                scores.resize(QUERY_BLOCK * valid, 0.0);
                let q = qkv[q0 * stride + head * d..].as_ptr();
                let k = qkv[h + head * d..].as_ptr();
                let v = qkv[2 * h + head * d..].as_ptr();
                // SAFETY: Q rows q0..q0+rows of head `head` ([rows, d], row
                // stride 3h); K_h^T is [d, valid] read with row stride 1 and
                // column stride 3h; scores is [rows, valid].
                unsafe {
                    sgemm_rhs_strided(
                        rows,
                        valid,
                        d,
                        scores.as_mut_ptr(),
                        valid as isize,
                        q,
                        stride as isize,
                        k,
                        1,
                        stride as isize,
                        false,
                        1,
                    )
                };
                if let Some((bias, gates)) = position {
                    let diagonals = &bias[head * (2 * frames - 1)..(head + 1) * (2 * frames - 1)];
                    for (r, row) in scores[..rows * valid].chunks_exact_mut(valid).enumerate() {
                        let q = q0 + r;
                        let g = gates[head * frames + q];
                        // bias[head, q, k] for k = 0..valid.
                        let b = &diagonals[frames - 1 - q..frames - 1 - q + valid];
                        row.iter_mut().zip(b).for_each(|(s, b)| *s += g * b);
                    }
                }
                scores[..rows * valid]
                    .chunks_exact_mut(valid)
                    .for_each(simd::softmax_row);
                // SAFETY: scores [rows, valid] x V_h [valid, d] (row stride 3h)
                // into ctx rows q0.., columns head*d.. (row stride h); tasks
                // write disjoint (row block, column block) tiles.
                unsafe {
                    sgemm(
                        rows,
                        d,
                        valid,
                        ctx_ptr.get().add(q0 * h + head * d),
                        h as isize,
                        scores.as_ptr(),
                        valid as isize,
                        v,
                        stride as isize,
                        false,
                        1,
                    )
                };
            });
        });
        ctx
    }

    /// `layer_norm(x) * w + b` of every row, into a new buffer.
    fn layer_norm(&self, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let h = self.hidden;
        let mut out = take_buffer(x.len());
        out.par_chunks_mut(ROWS * h)
            .zip(x.par_chunks(ROWS * h))
            .for_each(|(dst, src)| {
                for (d, s) in dst.chunks_exact_mut(h).zip(src.chunks_exact(h)) {
                    simd::bias_layer_norm_row(s, &[], w, b, self.eps, d);
                }
            });
        out
    }

    /// `x = layer_norm(x + bias) * w + b`, row by row, in place.
    fn bias_layer_norm_in_place(&self, x: &mut [f32], bias: &[f32], w: &[f32], b: &[f32]) {
        let h = self.hidden;
        x.par_chunks_mut(ROWS * h).for_each(|rows| {
            let mut tmp = vec![0f32; h];
            for r in rows.chunks_exact_mut(h) {
                simd::bias_layer_norm_row(r, bias, w, b, self.eps, &mut tmp);
                r.copy_from_slice(&tmp);
            }
        });
    }
}
