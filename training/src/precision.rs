//! How far a model's outputs move when it computes in bf16 instead of f32,
//! measured on held-out utterances as users run the model, and recorded in
//! its manifest ([`Bf16Check`]) so that `--precision auto` may pick bf16
//! for it ([`emoscope::engine::Precision::Auto`], within
//! [`emoscope::engine::BF16_BUDGET`]).

use std::path::Path;

use candle_core::Device;
use emoscope::engine::{load_predictor_with, EmotionPredictor, Precision};
use emoscope_models::emotion::{Bf16Check, Manifest};

use crate::error::TrainError;
use crate::manifest::Example;

/// Runs the model in `dir` in f32 and in bf16 over `examples` (their audio
/// and transcripts) and measures the difference of every output.
/// `measured_on` names the examples in the record.
pub fn check_bf16(
    dir: &Path,
    examples: &[Example],
    measured_on: &str,
) -> Result<Bf16Check, TrainError> {
    let load = |precision| {
        load_predictor_with(dir, &Device::Cpu, precision).map_err(|e| TrainError::Predict {
            context: format!("loading {}", dir.display()),
            error: Box::new(e),
        })
    };
    let mut f32_model = load(Precision::F32)?;
    let mut bf16_model = load(Precision::Bf16)?;
    let (mut max, mut sum, mut count) = (0f32, 0f64, 0usize);
    for e in examples {
        let samples = emoscope::audio::load_mono(&e.audio, f32_model.sample_rate())?;
        let run = |model: &mut Box<dyn EmotionPredictor>| {
            model
                .predict(&samples, &e.transcript)
                .map_err(|err| TrainError::Predict {
                    context: format!("running the model on {}", e.audio.display()),
                    error: Box::new(err),
                })
        };
        let (a, b) = (run(&mut f32_model)?, run(&mut bf16_model)?);
        for (x, y) in a.dimensions().into_iter().zip(b.dimensions()) {
            let d = (x - y).abs();
            max = max.max(d);
            sum += f64::from(d);
            count += 1;
        }
    }
    Ok(Bf16Check {
        max_abs_deviation: max,
        mean_abs_deviation: if count == 0 {
            0.0
        } else {
            (sum / count as f64) as f32
        },
        utterances: examples.len(),
        measured_on: measured_on.to_owned(),
    })
}

/// Writes `check` into the manifest of the model in `dir`.
pub fn record_bf16(dir: &Path, check: Bf16Check) -> Result<(), TrainError> {
    let mut manifest = Manifest::read(dir)?;
    manifest.bf16_check = Some(check);
    manifest.write(dir)?;
    Ok(())
}
