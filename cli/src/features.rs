//! `emoscope features`: every hidden state of a speech encoder for one file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use emoscope::audio::load_mono;
use emoscope::models::{LoadOptions, SslEncoder};
use emoscope_training::features::write_hidden_states;

use super::device::DeviceArg;
use super::output::outln;

/// Arguments of `emoscope features`.
#[derive(clap::Args)]
pub struct Args {
    /// Audio file (WAV, FLAC, MP3, Ogg Vorbis); any rate and channel count.
    audio: PathBuf,
    /// Hugging Face checkpoint directory (config.json, model.safetensors, preprocessor_config.json).
    #[arg(long)]
    model: PathBuf,
    /// Write every hidden state here (safetensors, `hidden_states.N`, `[frames, hidden]`, f32).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Device to run on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
}

/// Loads the model and the audio, runs the encoder, prints the summary table, writes the file.
pub fn run(args: Args) -> Result<()> {
    let opts = LoadOptions {
        device: args.device.open()?,
        ..LoadOptions::default()
    };
    let encoder = SslEncoder::load_with(&args.model, &opts)
        .with_context(|| format!("loading model from {}", args.model.display()))?;
    let rate = encoder.preprocessor().sampling_rate;
    // Audio errors name the file themselves.
    let samples = load_mono(&args.audio, rate)?;
    let start = Instant::now();
    let out = encoder
        .encode(&samples)
        .with_context(|| format!("encoding {}", args.audio.display()))?;
    let elapsed = start.elapsed().as_secs_f64();
    let seconds = samples.len() as f64 / rate as f64;
    let cfg = encoder.config();
    outln!(
        "{}: {:.2} s at {} Hz -> {} frames; {} ({} layers, hidden {}) on {:?}; {:.3} s, real-time factor {:.3}",
        args.audio.display(),
        seconds,
        rate,
        out.frame_lengths[0],
        args.model.display(),
        cfg.num_hidden_layers,
        cfg.hidden_size,
        args.device,
        elapsed,
        elapsed / seconds,
    );
    outln!(
        "{:<20} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "tensor",
        "shape",
        "mean",
        "std",
        "min",
        "max"
    );
    let mut rows = vec![("extract_features".to_owned(), &out.extract_features)];
    rows.extend(
        out.hidden_states
            .iter()
            .enumerate()
            .map(|(i, h)| (format!("hidden_states.{i}"), h)),
    );
    rows.push(("last_hidden_state".to_owned(), &out.last_hidden_state));
    for (name, t) in rows {
        let s = summary(t)?;
        outln!(
            "{:<20} {:>12} {:>10.4} {:>10.4} {:>10.4} {:>10.4}",
            name,
            format!("{}x{}", t.dim(1)?, t.dim(2)?),
            s.0,
            s.1,
            s.2,
            s.3
        );
    }
    if let Some(path) = &args.out {
        write_hidden_states(&out, path)?;
        outln!("wrote {}", path.display());
    }
    Ok(())
}

/// Mean, standard deviation, minimum and maximum of a tensor.
fn summary(t: &Tensor) -> Result<(f32, f32, f32, f32)> {
    let v = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let min = v.iter().copied().fold(f32::INFINITY, f32::min);
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    Ok((mean as f32, var.sqrt() as f32, min, max))
}
