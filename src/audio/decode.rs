//! File decoding through symphonia (WAV, AIFF, FLAC, MP3, Ogg Vorbis, and
//! AAC or ALAC in MP4/M4A).
//!
//! The header is checked before any sample is decoded: an empty file, a
//! sample rate outside [`super::MIN_SAMPLE_RATE`]`..=`[`super::MAX_SAMPLE_RATE`] and a codec
//! symphonia lacks are refused with the file's name and what to do. A file
//! that holds fewer frames than its header states is decoded as far as it
//! goes and reported in [`Decoded::truncation`] (and logged as a warning);
//! a corrupt stretch the decoder skips mid-file is filled with silence and
//! reported with its position ([`Gap`]). [`DecodeStream`] decodes packet by
//! packet, for files too long to hold; [`decode_file`] collects it.
//! symphonia can panic on malformed headers (an arithmetic overflow in its
//! WAV chunk parser, say); [`guarded`] turns that into a decode error.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::TimeBase;

use super::{check_sample_rate, AudioError};

/// Interleaved f32 samples of a file's default audio track.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Interleaved samples in [-1, 1] for integer formats.
    pub samples: Vec<f32>,
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: usize,
    /// Set when the file ends before the length its header states.
    pub truncation: Option<Truncation>,
    /// Stretches the decoder skipped as corrupt, filled with silence.
    pub gaps: Vec<Gap>,
}

/// A corrupt stretch in the middle of a file: the container's timestamps
/// jump over audio the decoder could not read (symphonia resynchronises
/// after a damaged FLAC frame or Ogg page). The stretch is filled with
/// silence, so everything after it keeps its time.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// The audio file.
    pub path: PathBuf,
    /// Where the stretch starts, seconds.
    pub at_seconds: f64,
    /// Its length, seconds.
    pub seconds: f64,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {:.3} s of audio at {:.3} s is corrupt and could not be decoded; \
             analysed as silence, so the times after it stay right",
            self.path.display(),
            self.seconds,
            self.at_seconds
        )
    }
}

/// The longest corrupt stretch filled with silence, seconds: a timestamp
/// jump beyond it is more likely a corrupt timestamp than lost audio, and
/// is an error.
pub const MAX_GAP_SECONDS: f64 = 10.0;

/// A file that holds fewer frames than its header states (a download or copy
/// cut short): what is there was decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Truncation {
    /// The audio file.
    pub path: PathBuf,
    /// Seconds the header states.
    pub stated_seconds: f64,
    /// Seconds present and decoded.
    pub present_seconds: f64,
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is truncated: its header states {:.2} s of audio but the file holds {:.2} s; \
             analysing the {:.2} s present",
            self.path.display(),
            self.stated_seconds,
            self.present_seconds,
            self.present_seconds
        )
    }
}

/// Containers and codecs symphonia is built without, by extension, and what
/// to do about them.
const UNSUPPORTED: [(&str, &str); 8] = [
    ("opus", "Opus"),
    ("webm", "WebM"),
    ("mka", "Matroska"),
    ("mkv", "Matroska"),
    ("wma", "Windows Media Audio"),
    ("amr", "AMR"),
    ("ape", "Monkey's Audio"),
    ("wv", "WavPack"),
];

/// What to tell the user when `path` cannot be read as any container we
/// know, or its codec is `codec` (a name) that we cannot decode.
fn conversion_hint(path: &Path, what: Option<&str>) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let stem = path
        .file_stem()
        .map_or_else(|| "audio".to_owned(), |n| n.to_string_lossy().into_owned());
    let what = what.map(str::to_owned).or_else(|| {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        UNSUPPORTED
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|(_, name)| (*name).to_owned())
    });
    let start = match what {
        Some(w) => format!("{w} is not supported"),
        None => "not a format Emoscope reads".to_owned(),
    };
    format!(
        "{start} (it reads WAV, AIFF, FLAC, MP3, Ogg Vorbis, and AAC or ALAC in MP4/M4A); \
         convert it first, e.g. `ffmpeg -i {name} {stem}.flac`"
    )
}

/// Runs `f` (symphonia's work on `path`) and turns a panic inside it into
/// [`AudioError::Decode`]: a malformed file is an error, never a crash. The
/// panic's own report is left to the process's panic hook (the CLI silences
/// those from symphonia, since they are reported here).
pub(super) fn guarded<T>(
    path: &Path,
    f: impl FnOnce() -> Result<T, AudioError>,
) -> Result<T, AudioError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Err(AudioError::Decode {
            path: path.to_owned(),
            message: format!("the file is malformed (the decoder gave up: {why})"),
        })
    })
}

/// Opens `path` and probes its container (the extension is a hint only):
/// the start of both decoding and [`super::probe_seconds`]. An empty file is
/// refused before probing.
pub(super) fn open_format(path: &Path) -> Result<Box<dyn FormatReader>, AudioError> {
    let open_err = |error| AudioError::Open {
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    if meta.is_dir() {
        return Err(AudioError::Decode {
            path: path.to_owned(),
            message: "it is a folder, not an audio file".into(),
        });
    }
    if meta.len() == 0 {
        return Err(AudioError::EmptyFile {
            path: path.to_owned(),
        });
    }
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
            message: match e {
                SymphoniaError::Unsupported(_) => conversion_hint(path, None),
                e => e.to_string(),
            },
        })
}

/// Decodes the default audio track of `path` to interleaved f32.
///
/// Refuses, before decoding, a sample rate outside
/// [`super::MIN_SAMPLE_RATE`]`..=`[`super::MAX_SAMPLE_RATE`] and a codec symphonia lacks
/// (with a conversion hint). A file that ends early is decoded as far as it
/// goes; [`Decoded::truncation`] says so and a warning is logged. A packet
/// that fails to decode is an error naming its position. This is
/// [`DecodeStream`] collected.
pub fn decode_file(path: &Path) -> Result<Decoded, AudioError> {
    let mut stream = DecodeStream::open(path)?;
    let mut samples = Vec::new();
    while let Some(block) = stream.next_block()? {
        samples.extend_from_slice(block);
    }
    let (sample_rate, channels) = stream.format()?;
    let truncation = stream.truncation();
    for gap in stream.gaps() {
        tracing::warn!("{gap}");
    }
    Ok(Decoded {
        samples,
        sample_rate,
        channels,
        truncation,
        gaps: stream.gaps,
    })
}

/// A file's default audio track decoded packet by packet: interleaved f32
/// blocks of one packet each, so a file of any length is read in the memory
/// of one packet. The same checks as [`decode_file`] (which collects this),
/// each guarded against symphonia panicking on a malformed file.
pub struct DecodeStream {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::audio::AudioDecoder>,
    track_id: u32,
    /// The track's time base (packet timestamps are in its units).
    time_base: Option<TimeBase>,
    /// Where the next packet should start, time-base units (the last
    /// packet's timestamp plus its duration).
    next_pts: Option<i64>,
    /// Corrupt stretches found so far.
    gaps: Vec<Gap>,
    /// Frames the header states, if it does.
    stated_frames: Option<u64>,
    /// Rate and channels, from the header, then from each decoded packet.
    sample_rate: u32,
    channels: usize,
    /// Frames decoded so far (the position of the next block).
    frames: u64,
    /// The last block, interleaved.
    block: Vec<f32>,
    done: bool,
}

impl DecodeStream {
    /// Opens `path` and checks its header (rate, codec) before any sample is
    /// decoded.
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        guarded(path, || Self::open_unguarded(path))
    }

    fn open_unguarded(path: &Path) -> Result<Self, AudioError> {
        let decode_err = |message: String| AudioError::Decode {
            path: path.to_owned(),
            message,
        };
        let format = open_format(path)?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(|| decode_err("no audio track".into()))?;
        let track_id = track.id;
        let stated_frames = track.num_frames;
        let time_base = track.time_base;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| decode_err("the track has no audio codec parameters".into()))?
            .clone();
        if let Some(rate) = params.sample_rate {
            check_sample_rate(path, rate)?;
        }
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| {
                decode_err(match e {
                    _ if params.codec == CODEC_ID_OPUS => conversion_hint(path, Some("Opus")),
                    SymphoniaError::Unsupported(_) => conversion_hint(path, Some("its codec")),
                    e => e.to_string(),
                })
            })?;
        Ok(Self {
            path: path.to_owned(),
            format,
            decoder,
            track_id,
            time_base,
            next_pts: None,
            gaps: Vec::new(),
            stated_frames,
            sample_rate: params.sample_rate.unwrap_or(0),
            channels: params.channels.as_ref().map_or(0, |c| c.count()),
            frames: 0,
            block: Vec::new(),
            done: false,
        })
    }

    /// The next packet's samples, interleaved; `None` at the end of the
    /// file (or where a truncated file stops). A packet that fails to
    /// decode is an error naming the file and the position (seconds and
    /// frame) where it starts.
    pub fn next_block(&mut self) -> Result<Option<&[f32]>, AudioError> {
        Ok(self.advance()?.then_some(self.block.as_slice()))
    }

    /// [`Self::next_block`] without the borrow: decodes the next packet,
    /// whose samples [`Self::block`] then holds; false at the end.
    pub fn advance(&mut self) -> Result<bool, AudioError> {
        if self.done {
            return Ok(false);
        }
        let path = self.path.clone();
        let got = guarded(&path, || self.next_unguarded());
        self.done = !matches!(got, Ok(true));
        got
    }

    /// The samples of the packet [`Self::advance`] decoded, interleaved.
    pub fn block(&self) -> &[f32] {
        &self.block
    }

    /// Decodes the next packet of the track into `self.block`; false at the end.
    fn next_unguarded(&mut self) -> Result<bool, AudioError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(false)
                }
                Err(e) => return Err(self.error_here(&e.to_string())),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            // Timestamps at the rate so far (a rate that changes is an error below).
            let lost = self.frames_skipped(packet.pts.get(), packet.dur.get())?;
            let buf = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(e) => return Err(self.error_here(&e.to_string())),
            };
            let rate = check_sample_rate(&self.path, buf.spec().rate())?;
            if self.frames > 0 && rate != self.sample_rate {
                return Err(self.error_here(&format!(
                    "the sample rate changes from {} Hz to {rate} Hz",
                    self.sample_rate
                )));
            }
            self.sample_rate = rate;
            self.channels = buf.spec().channels().count();
            let fill = lost * self.channels;
            self.block.clear();
            self.block.resize(fill + buf.samples_interleaved(), 0.0);
            buf.copy_to_slice_interleaved(&mut self.block[fill..]);
            self.frames += self.block.len().checked_div(self.channels).unwrap_or(0) as u64;
            return Ok(true);
        }
    }

    /// Frames between the end of the last packet and `pts` (the start of
    /// this one, lasting `dur`), by the container's timestamps: 0 for a
    /// file read without a break. A break is recorded and logged as a
    /// [`Gap`]; one longer than [`MAX_GAP_SECONDS`] is an error.
    fn frames_skipped(&mut self, pts: i64, dur: u64) -> Result<usize, AudioError> {
        let expected = self.next_pts.replace(pts.saturating_add(dur as i64));
        let (Some(expected), Some(tb)) = (expected, self.time_base) else {
            return Ok(0);
        };
        // Before any audio came out, timestamps may jump over a codec's
        // priming (Vorbis's first packet decodes to nothing).
        if self.sample_rate == 0 || self.frames == 0 {
            return Ok(0);
        }
        if pts <= expected {
            return Ok(0);
        }
        let ticks = (pts - expected) as u128;
        let frames = ticks * u128::from(self.sample_rate) * u128::from(tb.numer.get())
            / u128::from(tb.denom.get());
        if frames == 0 {
            return Ok(0);
        }
        let rate = f64::from(self.sample_rate);
        let seconds = frames as f64 / rate;
        if seconds > MAX_GAP_SECONDS {
            return Err(self.error_here(&format!(
                "the timestamps jump {seconds:.3} s ahead (more than the {MAX_GAP_SECONDS} s \
                 a corrupt stretch is filled with silence)"
            )));
        }
        let gap = Gap {
            path: self.path.clone(),
            at_seconds: self.frames as f64 / rate,
            seconds,
        };
        self.gaps.push(gap);
        Ok(frames as usize)
    }

    /// The corrupt stretches found so far (see [`Gap`]; not logged: the
    /// caller says what it did with them).
    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    /// A decode error at the current position.
    fn error_here(&self, what: &str) -> AudioError {
        let at = if self.sample_rate > 0 {
            format!(
                "{:.3} s (frame {})",
                self.frames as f64 / f64::from(self.sample_rate),
                self.frames
            )
        } else {
            format!("frame {}", self.frames)
        };
        AudioError::Decode {
            path: self.path.clone(),
            message: format!("{what} (in the packet at {at}; the audio before it decoded)"),
        }
    }

    /// Sample rate and channel count (of the last packet decoded); an error
    /// when neither header nor packets said.
    pub fn format(&self) -> Result<(u32, usize), AudioError> {
        if self.sample_rate == 0 || self.channels == 0 {
            return Err(AudioError::Decode {
                path: self.path.clone(),
                message: "unknown sample rate or channel count".into(),
            });
        }
        Ok((self.sample_rate, self.channels))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames decoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// After the last block: whether the file held fewer frames than its
    /// header states (logged as a warning when so).
    pub fn truncation(&self) -> Option<Truncation> {
        match self.stated_frames {
            Some(stated) if self.frames < stated && self.sample_rate > 0 => {
                let t = Truncation {
                    path: self.path.clone(),
                    stated_seconds: stated as f64 / f64::from(self.sample_rate),
                    present_seconds: self.frames as f64 / f64::from(self.sample_rate),
                };
                tracing::warn!("{t}");
                Some(t)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
    use super::*;

    #[test]
    fn hints_name_the_format_and_the_conversion() {
        let h = conversion_hint(Path::new("/x/talk.opus"), None);
        assert!(h.starts_with("Opus is not supported"), "{h}");
        assert!(h.contains("ffmpeg -i talk.opus talk.flac"), "{h}");
        let h = conversion_hint(Path::new("talk.xyz"), None);
        assert!(h.starts_with("not a format Emoscope reads"), "{h}");
    }

    #[test]
    fn the_supported_range_is_the_documented_one() {
        let p = Path::new("a.wav");
        for ok in [
            MIN_SAMPLE_RATE,
            8_000,
            16_000,
            44_100,
            192_000,
            MAX_SAMPLE_RATE,
        ] {
            assert_eq!(check_sample_rate(p, ok).unwrap(), ok);
        }
        for bad in [0, 1, MIN_SAMPLE_RATE - 1, MAX_SAMPLE_RATE + 1, u32::MAX] {
            let e = check_sample_rate(p, bad).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{bad} Hz")) && e.contains("a.wav"),
                "{e}"
            );
        }
    }
}
