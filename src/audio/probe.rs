//! A file's duration from its container header, without decoding it: lets a
//! batch job size its progress bar in audio seconds before the work starts.

use std::fs::File;
use std::path::Path;

use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::AudioError;

/// Seconds of audio in the default track of `path`, when the header states
/// the frame count (WAV, AIFF, FLAC, Ogg do; an MP3 without a Xing header may
/// not, giving `None`).
pub fn probe_seconds(path: &Path) -> Result<Option<f64>, AudioError> {
    let file = File::open(path).map_err(|source| AudioError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| AudioError::Decode {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    let Some(track) = format.default_track(TrackType::Audio) else {
        return Ok(None);
    };
    let rate = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .and_then(|a| a.sample_rate);
    Ok(match (track.num_frames, rate) {
        (Some(n), Some(r)) if r > 0 => Some(n as f64 / f64::from(r)),
        _ => None,
    })
}
