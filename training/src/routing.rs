//! Per-output routing of a trained audio+text model ([`Routing`]), decided
//! on the dev set when training ends.
//!
//! An audio+text model with an audio-only path answers with or without a
//! transcript. Two things go wrong when both paths simply run as trained:
//! an output that the words do not help (arousal, dominance: prosody) reads
//! differently with and without a transcript, because two heads estimate it;
//! and an output that the audio cannot estimate (valence, mostly words) gets
//! a number from the audio-only head anyway. So, per output, measured on the
//! dev set with the best checkpoint:
//!
//! - without a transcript, the audio-only path where its dev CCC reaches
//!   [`MIN_AUDIO_CCC`]; elsewhere the output's neutral prior, the mean of its
//!   training labels;
//! - with one, the audio-only path where it answers without a transcript
//!   and the fused head does not beat it by more than [`TEXT_MARGIN`] CCC,
//!   so that adding a transcript leaves that output exactly as it was;
//!   elsewhere the fused head.

use std::path::Path;

use emoscope_models::emotion::outputs::dimension_name;
use emoscope_models::emotion::{Dimension, Manifest, Routing, Source};
use emoscope_models::{EmotionModel, LoadOptions};
use serde::Serialize;

use crate::data::Utterance;
use crate::error::TrainError;
use crate::metrics::ccc;

/// How much better (dev CCC) the fused head must be than the audio-only path
/// for an output to use it when a transcript is given: about two standard
/// errors of the difference of two correlated CCCs over a dev set of 150
/// utterances, so that a head fitted a little better by chance does not
/// make a transcript move an output the words say nothing about.
pub const TEXT_MARGIN: f64 = 0.05;

/// The dev CCC the audio-only path must reach for an output to be reported
/// without a transcript (below: the neutral prior). CCC 0.5 is where
/// agreement starts to be called moderate.
pub const MIN_AUDIO_CCC: f64 = 0.5;

/// What the routing was decided from, for `training.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RoutingReport {
    /// The routing written into the manifest.
    pub routing: Routing,
    /// Outputs in manifest order.
    pub labels: Vec<Dimension>,
    /// Dev CCC of the fused head, per output.
    pub dev_ccc_fused: Vec<f64>,
    /// Dev CCC of the audio-only path, per output.
    pub dev_ccc_audio: Vec<f64>,
    /// [`TEXT_MARGIN`].
    pub text_margin: f64,
    /// [`MIN_AUDIO_CCC`].
    pub min_audio_ccc: f64,
}

/// Whether the model in a manifest can be routed: a dimensional model (the
/// routing is decided per dimension, by CCC) with audio and text and an
/// audio-only path.
pub fn routable(manifest: &Manifest) -> bool {
    manifest.task == emoscope_models::emotion::Task::Dimensional
        && manifest.audio.is_some()
        && manifest.text.is_some()
        && (manifest.head.audio_fallback
            || manifest.head.fusion == emoscope_models::emotion::FusionKind::Late)
}

/// Decides the routing of the checkpoint in `dir` from `dev` (whole
/// utterances, with and without their transcripts) and the training labels'
/// means, and writes it into the checkpoint's manifest.
pub fn route(
    dir: &Path,
    train: &[Utterance],
    dev: &[Utterance],
) -> Result<RoutingReport, TrainError> {
    let mut manifest = Manifest::read(dir)?;
    manifest.head.routing = None;
    manifest.write(dir)?;
    let model = EmotionModel::load(dir, &LoadOptions::default())?;
    let rate = manifest.sample_rate;
    let (mut fused, mut audio) = (Vec::new(), Vec::new());
    for u in dev {
        let samples = emoscope::audio::load_mono(&u.audio, rate)?;
        let with = model.predict(&samples, Some(&u.transcript))?;
        let without = model.predict(&samples, None)?;
        fused.push(with);
        audio.push(without);
    }
    // Predictions and targets are (A, V, D); outputs go in manifest order.
    let dim_index = |d: Dimension| match d {
        Dimension::Arousal => 0,
        Dimension::Valence => 1,
        Dimension::Dominance => 2,
    };
    let column = |rows: &[[f32; 3]], k: usize| -> Vec<f64> {
        rows.iter().map(|r| f64::from(r[k])).collect()
    };
    let dev_targets: Vec<[f32; 3]> = dev.iter().map(Utterance::avd).collect();
    let (mut with_text, mut without_text, mut prior) = (Vec::new(), Vec::new(), Vec::new());
    let (mut dev_ccc_fused, mut dev_ccc_audio) = (Vec::new(), Vec::new());
    for &label in &manifest.labels {
        let k = dim_index(label);
        let truth = column(&dev_targets, k);
        let f = ccc(&column(&fused, k), &truth);
        let a = ccc(&column(&audio, k), &truth);
        let audio_usable = a >= MIN_AUDIO_CCC;
        // The audio-only head answers with a transcript only where it is
        // usable on its own and the fused head is not clearly better.
        with_text.push(if audio_usable && f <= a + TEXT_MARGIN {
            Source::Audio
        } else {
            Source::Fused
        });
        without_text.push(if audio_usable {
            Source::Audio
        } else {
            Source::Prior
        });
        let mean =
            train.iter().map(|u| f64::from(u.avd()[k])).sum::<f64>() / train.len().max(1) as f64;
        let [min, max] = manifest.output_range;
        prior.push((mean as f32).clamp(min, max));
        dev_ccc_fused.push(f);
        dev_ccc_audio.push(a);
    }
    let routing = Routing {
        with_text,
        without_text,
        prior,
    };
    manifest.head.routing = Some(routing.clone());
    manifest.write(dir)?;
    Ok(RoutingReport {
        routing,
        labels: manifest.labels.clone(),
        dev_ccc_fused,
        dev_ccc_audio,
        text_margin: TEXT_MARGIN,
        min_audio_ccc: MIN_AUDIO_CCC,
    })
}

/// One line per output: where its value comes from with and without a
/// transcript, and the dev CCCs that decided it.
pub fn describe(r: &RoutingReport) -> String {
    let mut out = String::from("outputs (decided on the dev set):");
    for (k, &label) in r.labels.iter().enumerate() {
        let with = match r.routing.with_text[k] {
            Source::Fused => "audio+text head",
            _ => "audio-only head",
        };
        let without = match r.routing.without_text[k] {
            Source::Audio => "audio-only head".to_owned(),
            _ => format!("neutral prior {:.3}", r.routing.prior[k]),
        };
        out.push_str(&format!(
            "\n  {:<9} with a transcript: {with}; without: {without} (dev CCC audio+text {:.3}, audio only {:.3})",
            dimension_name(label),
            r.dev_ccc_fused[k],
            r.dev_ccc_audio[k]
        ));
    }
    out
}
