//! `emoscope eval`: a model's CCC, Pearson r and MAE per dimension on a
//! labelled manifest, each utterance predicted whole with its transcript.
//! A categorical model (a transformers classification head over category
//! labels) is scored against the manifest's `label` column instead:
//! accuracy, unweighted average recall, macro-F1 and the confusion matrix,
//! as scikit-learn computes them ([`emoscope_training::class_metrics`]).
//!
//! Labels are compared in the model's output range: `--label-range` maps
//! labels from another scale (MSP-Podcast's 1–7, say) onto it, and labels
//! outside the range without it are reported. A measure the data cannot
//! define (a correlation with no variation to correlate) prints as
//! `undefined` (JSON `null`), never as 0.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use emoscope::engine::EmotionPredictor;
use emoscope_training::class_metrics::classification_scores;
use emoscope_training::manifest::read_manifest;
use emoscope_training::metrics::{score, DimensionScores};

use super::device::{DeviceArg, PrecisionArg};
use super::output::{note, outln};

/// Arguments of `emoscope eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory (default: `$EMOSCOPE_MODEL`, else the installed default model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Labelled manifest (CSV: audio,transcript,arousal,valence,dominance; for a categorical
    /// model a `label` column, e.g. audio,label).
    #[arg(long)]
    data: PathBuf,
    /// The scale the labels use, `MIN,MAX` (MSP-Podcast: `1,7`): labels are mapped linearly
    /// from it onto the model's output range before scoring. Default: the labels are already
    /// in the model's range.
    #[arg(long, value_name = "MIN,MAX", value_parser = parse_range)]
    label_range: Option<LabelRange>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Device to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Number format of the model's computation: `auto` is bf16 on a CPU
    /// with AVX512-BF16 for a model whose manifest records a bf16 check
    /// within budget (the installed demo model does), else f32.
    #[arg(long, value_enum, default_value = "auto")]
    precision: PrecisionArg,
}

/// A closed interval of label values, `min < max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LabelRange {
    min: f32,
    max: f32,
}

impl LabelRange {
    /// `value` mapped linearly from this range onto `to`.
    fn map(self, value: f32, to: (f32, f32)) -> f32 {
        to.0 + (value - self.min) / (self.max - self.min) * (to.1 - to.0)
    }

    /// Whether `value` lies in the range (with a rounding tolerance).
    fn contains(self, value: f32) -> bool {
        let tol = 1e-6 * (self.max - self.min);
        value >= self.min - tol && value <= self.max + tol
    }
}

/// Parses `MIN,MAX` (finite, `MIN < MAX`).
fn parse_range(s: &str) -> Result<LabelRange, String> {
    let bad = || format!("`{s}`: expected MIN,MAX with MIN < MAX, such as 1,7");
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    let (min, max): (f32, f32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if !(min.is_finite() && max.is_finite() && min < max) {
        return Err(bad());
    }
    Ok(LabelRange { min, max })
}

/// One dimension's scores with the measures the data cannot define as `None`.
struct Defined {
    ccc: Option<f64>,
    pearson: Option<f64>,
    mae: f64,
}

/// Which of `d`'s measures are defined for predictions `x` and labels `y`
/// (one dimension). Pearson's r needs variation on both sides; the CCC
/// needs variation in the labels: with constant labels there is nothing to
/// agree with (`2 cov / (var x + var y + (mean x - mean y)^2)` is then 0/0,
/// or 0 whatever the predictions).
fn defined(d: DimensionScores, x: &[f64], y: &[f64]) -> Defined {
    let var = |v: &[f64]| {
        let n = v.len().max(1) as f64;
        let m = v.iter().sum::<f64>() / n;
        v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n
    };
    let (vx, vy) = (var(x), var(y));
    Defined {
        ccc: (vy > 0.0).then_some(d.ccc),
        pearson: (vx > 0.0 && vy > 0.0).then_some(d.pearson),
        mae: d.mae,
    }
}

/// `v` with four decimals, or `undefined`.
fn show(v: Option<f64>) -> String {
    v.map_or_else(|| "undefined".to_owned(), |v| format!("{v:.4}"))
}

/// Predicts every utterance and prints the scores.
pub fn run(args: Args) -> Result<()> {
    let model_dir = super::model_dir(args.model.clone())?;
    let device = args.device.open()?;
    let mut model = args.precision.load(&model_dir, &device)?;
    if !model.categories().is_empty() {
        return eval_categories(&args, model.as_mut());
    }
    let examples = read_manifest(&args.data)?;
    let labelled: Vec<_> = examples
        .iter()
        .filter_map(|e| e.labels.map(|l| (e, l)))
        .collect();
    if labelled.is_empty() {
        bail!("{} has no labelled utterance", args.data.display());
    }
    let out_range = model.output_range();
    let out_range = (out_range.min, out_range.max);
    let values = || labelled.iter().flat_map(|(_, l)| l.iter().copied());
    let span = values().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (scale, scale_name) = match args.label_range {
        Some(r) => (r, format!("--label-range {},{}", r.min, r.max)),
        None => (
            LabelRange {
                min: out_range.0,
                max: out_range.1,
            },
            format!("the model's output range {}..{}", out_range.0, out_range.1),
        ),
    };
    let outside = values().filter(|&v| !scale.contains(v)).count();
    if outside > 0 {
        let advice = if args.label_range.is_none() {
            "; if the labels use another scale, give it with --label-range MIN,MAX \
             (MSP-Podcast: --label-range 1,7)"
        } else {
            ""
        };
        note!(
            "warning: {outside} of {} labels in {} lie outside {scale_name} (they span {}..{}){advice}",
            labelled.len() * 3,
            args.data.display(),
            span.0,
            span.1
        );
    }
    let bar = progress(labelled.len(), args.json);
    let mut predictions = Vec::with_capacity(labelled.len());
    let mut labels = Vec::with_capacity(labelled.len());
    for (e, l) in &labelled {
        // Audio errors name the file themselves.
        let samples = emoscope::audio::load_mono(&e.audio, model.sample_rate())?;
        let p = model
            .predict(&samples, &e.transcript)
            .with_context(|| format!("analysing {}", e.audio.display()))?;
        predictions.push([p.arousal, p.valence, p.dominance]);
        labels.push(match args.label_range {
            Some(r) => l.map(|v| r.map(v, out_range)),
            None => *l,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let s = score(&predictions, &labels);
    let column = |rows: &[[f32; 3]], k: usize| -> Vec<f64> {
        rows.iter().map(|r| f64::from(r[k])).collect()
    };
    let dims: Vec<(&str, Defined)> = [
        ("arousal", s.arousal),
        ("valence", s.valence),
        ("dominance", s.dominance),
    ]
    .into_iter()
    .enumerate()
    .map(|(k, (name, d))| {
        (
            name,
            defined(d, &column(&predictions, k), &column(&labels, k)),
        )
    })
    .collect();
    let mean_ccc = dims
        .iter()
        .map(|(_, d)| d.ccc)
        .sum::<Option<f64>>()
        .map(|sum| sum / 3.0);
    if args.json {
        let mut v = serde_json::json!({
            "model": model.id(), "data": args.data, "utterances": labels.len(),
            "output_range": [out_range.0, out_range.1],
            "label_range": args.label_range.map(|r| [r.min, r.max]),
            "mean_ccc": mean_ccc,
        });
        for (name, d) in &dims {
            v[*name] = serde_json::json!({ "ccc": d.ccc, "pearson": d.pearson, "mae": d.mae });
        }
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        outln!("{} utterances, model {}", labels.len(), model.id());
        outln!("{:<10} {:>9} {:>9} {:>9}", "", "CCC", "r", "MAE");
        for (name, d) in &dims {
            outln!(
                "{name:<10} {:>9} {:>9} {:>9.4}",
                show(d.ccc),
                show(d.pearson),
                d.mae
            );
        }
        outln!("{:<10} {:>9}", "mean CCC", show(mean_ccc));
        if dims
            .iter()
            .any(|(_, d)| d.ccc.is_none() || d.pearson.is_none())
        {
            note!(
                "undefined: a correlation needs the labels (and, for r, the predictions) to vary \
                 across utterances"
            );
        }
    }
    Ok(())
}

/// The bar over `utterances` (hidden with `--json`).
fn progress(utterances: usize, json: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(utterances as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} utterances, {elapsed} (ETA {eta})",
        )
        .expect("a valid template"),
    );
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// `eval` of a categorical model: each labelled utterance's most probable
/// label against its `label` (the model's labels, compared without regard
/// to case), scored as scikit-learn scores categories.
fn eval_categories(args: &Args, model: &mut dyn EmotionPredictor) -> Result<()> {
    let labels = model.categories().to_vec();
    let examples = read_manifest(&args.data)?;
    let labelled: Vec<_> = examples
        .iter()
        .filter_map(|e| e.label.as_deref().map(|l| (e, l)))
        .collect();
    if labelled.is_empty() {
        bail!(
            "{} has no `label` values; {} is a categorical model ({}), scored against a `label` \
             column",
            args.data.display(),
            model.id(),
            labels.join(", ")
        );
    }
    if args.label_range.is_some() {
        note!("--label-range applies to dimensional labels; the categories are compared as named");
    }
    let mut truth = Vec::with_capacity(labelled.len());
    for (e, l) in &labelled {
        let Some(i) = labels.iter().position(|m| m.eq_ignore_ascii_case(l)) else {
            bail!(
                "{}: the label {l:?} of {} is not one of the model's labels ({})",
                args.data.display(),
                e.audio.display(),
                labels.join(", ")
            );
        };
        truth.push(i);
    }
    let bar = progress(labelled.len(), args.json);
    let mut predicted = Vec::with_capacity(labelled.len());
    for (e, _) in &labelled {
        // Audio errors name the file themselves.
        let samples = emoscope::audio::load_mono(&e.audio, model.sample_rate())?;
        let reading = model
            .predict(&samples, "")
            .with_context(|| format!("analysing {}", e.audio.display()))?;
        let (top, _) = (reading.probabilities.top()).expect("a categorical model has labels");
        predicted.push(top);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let s = classification_scores(&truth, &predicted, labels.len());
    if args.json {
        let recall: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .zip(&s.recall)
            .map(|(l, r)| (l.clone(), serde_json::json!(r)))
            .collect();
        let v = serde_json::json!({
            "model": model.id(), "data": args.data, "utterances": truth.len(),
            "labels": labels, "accuracy": s.accuracy, "uar": s.uar, "macro_f1": s.macro_f1,
            "recall": recall, "confusion": s.confusion,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        outln!("{} utterances, model {}", truth.len(), model.id());
        outln!("accuracy  {:>9.4}", s.accuracy);
        outln!("UAR       {:>9.4}", s.uar);
        outln!("macro-F1  {:>9.4}", s.macro_f1);
        let width = labels.iter().map(String::len).max().unwrap_or(0).max(6);
        outln!("confusion (rows: true label, columns: predicted)");
        let header: String = labels.iter().map(|l| format!(" {l:>width$}")).collect();
        outln!("{:<width$}{header}", "");
        for (l, row) in labels.iter().zip(&s.confusion) {
            let cells: String = row.iter().map(|n| format!(" {n:>width$}")).collect();
            outln!("{l:<width$}{cells}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_ranges_parse_and_map() {
        let r = parse_range("1,7").unwrap();
        // 1..7 onto -1..1: 1 -> -1, 4 -> 0, 7 -> 1.
        assert_eq!(r.map(1.0, (-1.0, 1.0)), -1.0);
        assert_eq!(r.map(4.0, (-1.0, 1.0)), 0.0);
        assert_eq!(r.map(7.0, (-1.0, 1.0)), 1.0);
        for bad in ["7,1", "1", "1,1", "a,b", "1,inf", ""] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn correlations_without_variation_are_undefined() {
        let d = DimensionScores {
            ccc: 0.0,
            pearson: 0.0,
            mae: 0.1,
        };
        // Constant labels: neither is defined.
        let u = defined(d, &[0.1, 0.2], &[0.5, 0.5]);
        assert!(u.ccc.is_none() && u.pearson.is_none());
        // Constant predictions, varying labels: CCC is 0 (defined), r is not.
        let u = defined(d, &[0.3, 0.3], &[0.1, 0.5]);
        assert_eq!(u.ccc, Some(0.0));
        assert!(u.pearson.is_none());
        // Both vary: both defined.
        let u = defined(d, &[0.1, 0.2], &[0.1, 0.5]);
        assert!(u.ccc.is_some() && u.pearson.is_some());
    }
}
