//! File decoding through symphonia (WAV, FLAC, MP3, Ogg Vorbis).

use std::fs::File;
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::AudioError;

/// Interleaved f32 samples of a file's default audio track.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Interleaved samples in [-1, 1] for integer formats.
    pub samples: Vec<f32>,
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: usize,
}

/// Opens `path` and probes its container (the extension is a hint only):
/// the start of both decoding and [`super::probe_seconds`].
pub(super) fn open_format(path: &Path) -> Result<Box<dyn FormatReader>, AudioError> {
    let file = File::open(path).map_err(|source| AudioError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| AudioError::Decode {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// Decodes the default audio track of `path` to interleaved f32.
pub fn decode_file(path: &Path) -> Result<Decoded, AudioError> {
    let decode_err = |message: String| AudioError::Decode {
        path: path.to_owned(),
        message,
    };
    let mut format = open_format(path)?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| decode_err("no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| decode_err("the track has no audio codec parameters".into()))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| decode_err(e.to_string()))?;
    let mut samples = Vec::new();
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map_or(0, |c| c.count());
    let mut scratch: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(e) => return Err(decode_err(e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = decoder
            .decode(&packet)
            .map_err(|e| decode_err(e.to_string()))?;
        sample_rate = buf.spec().rate();
        channels = buf.spec().channels().count();
        scratch.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut scratch);
        samples.extend_from_slice(&scratch);
    }
    if sample_rate == 0 || channels == 0 {
        return Err(decode_err("unknown sample rate or channel count".into()));
    }
    Ok(Decoded {
        samples,
        sample_rate,
        channels,
    })
}
