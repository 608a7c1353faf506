//! A file's duration from its container header, without decoding it: lets a
//! batch job size its progress bar in audio seconds before the work starts.

use std::path::Path;

use symphonia::core::formats::TrackType;

use super::decode::{guarded, open_format};
use super::{check_sample_rate, AudioError};

/// Seconds of audio in the default track of `path`, when the header states
/// the frame count (WAV, AIFF, FLAC, Ogg do; an MP3 without a Xing header may
/// not, giving `None`). A sample rate outside the supported range is an error,
/// as it is for decoding.
pub fn probe_seconds(path: &Path) -> Result<Option<f64>, AudioError> {
    let format = guarded(path, || open_format(path))?;
    let Some(track) = format.default_track(TrackType::Audio) else {
        return Ok(None);
    };
    let rate = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .and_then(|a| a.sample_rate);
    let rate = rate.map(|r| check_sample_rate(path, r)).transpose()?;
    Ok(match (track.num_frames, rate) {
        (Some(n), Some(r)) => Some(n as f64 / f64::from(r)),
        _ => None,
    })
}
