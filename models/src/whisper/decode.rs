//! Decoding as openai-whisper does it (`whisper/decoding.py`, `whisper/transcribe.py`).
//!
//! One 30 s window ([`Whisper::decode_window`]): the prompt (previous text
//! after `<|startofprev|>`, when conditioning on it), the start-of-transcript
//! sequence, then tokens chosen one at a time (the most likely one at
//! temperature 0, a sample otherwise) until `<|endoftext|>` or 224 tokens,
//! after three logit filters, in openai-whisper's order:
//!
//! 1. *suppress blank*: the first token is neither `" "` nor `<|endoftext|>`;
//! 2. *suppress tokens*: the model's `suppress_tokens` (symbols, speaker
//!    marks) and the task tokens are never generated;
//! 3. *timestamp rules*: the first token is a timestamp no later than 1 s;
//!    timestamps come in pairs (except before the end); they never decrease;
//!    and when the timestamps together are more likely than any text token,
//!    a timestamp it is.
//!
//! The no-speech probability is the probability of `<|nospeech|>` at the
//! start-of-transcript position.
//!
//! A recording ([`Whisper::transcribe`]) is decoded window after window:
//! each window starts where the last complete segment of the previous one
//! ended (its last timestamp), or 30 s on when it ends without one; a window
//! whose no-speech probability is above `no_speech_threshold` and whose
//! average log-probability is below `logprob_threshold` is skipped as
//! silence. A window whose text is too repetitive (gzip compression ratio
//! above 2.4) or too unlikely (average log-probability below -1) is decoded
//! again at the next temperature (0.2, 0.4, … 1.0, best of 5 samples).

use candle_core::Tensor;
use rand::{Rng, SeedableRng};

use super::audio::{HOP_LENGTH, N_FRAMES, SAMPLE_RATE};
use super::model::log_softmax;
use super::timing::Word;
use super::Whisper;
use crate::error::RunError;

/// Seconds per timestamp token.
pub const TIME_PRECISION: f64 = 0.02;

/// How [`Whisper::transcribe`] decodes (openai-whisper's defaults).
#[derive(Debug, Clone)]
pub struct TranscribeOptions {
    /// Temperatures tried in turn while a window's result fails the thresholds.
    pub temperatures: Vec<f32>,
    /// Samples drawn at a temperature above 0; the most likely is kept.
    pub best_of: usize,
    /// Above this gzip compression ratio the text is too repetitive: try the next temperature.
    pub compression_ratio_threshold: Option<f32>,
    /// Below this average log-probability the text is too unlikely: try the next temperature.
    pub logprob_threshold: Option<f32>,
    /// Above this no-speech probability (with a low average log-probability) a window is silence.
    pub no_speech_threshold: Option<f32>,
    /// Prompt each window with the text decoded so far.
    pub condition_on_previous_text: bool,
    /// Suppress `" "` and `<|endoftext|>` as the first token.
    pub suppress_blank: bool,
    /// Suppress the model's `suppress_tokens` and the task tokens.
    pub suppress_tokens: bool,
    /// Text only, no timestamp tokens (one segment per window).
    pub without_timestamps: bool,
    /// The latest first timestamp, in seconds.
    pub max_initial_timestamp: f64,
    /// Language code for a multilingual model (`"en"`); ignored by English-only models.
    /// To decode in the spoken language as openai-whisper does when it is not
    /// given, ask [`Whisper::detect_language_of`] first.
    pub language: String,
    /// Seed of the sampler used above temperature 0.
    pub seed: u64,
    /// Time each word from the alignment heads' cross-attention (see [`super::timing`]).
    pub word_timestamps: bool,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            best_of: 5,
            compression_ratio_threshold: Some(2.4),
            logprob_threshold: Some(-1.0),
            no_speech_threshold: Some(0.6),
            condition_on_previous_text: true,
            suppress_blank: true,
            suppress_tokens: true,
            without_timestamps: false,
            max_initial_timestamp: 1.0,
            language: "en".into(),
            seed: 0,
            word_timestamps: false,
        }
    }
}

impl TranscribeOptions {
    /// Greedy decoding only: temperature 0, no fallback (what CTranslate2's
    /// `generate(beam_size=1)` does for one window).
    pub fn greedy() -> Self {
        Self {
            temperatures: vec![0.0],
            ..Self::default()
        }
    }
}

/// The result of decoding one window.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeResult {
    /// The generated tokens, text and timestamps, without `<|endoftext|>`.
    pub tokens: Vec<u32>,
    /// Their text (timestamps left out), trimmed.
    pub text: String,
    /// Sum of the chosen tokens' log-probabilities (end of text included) over `tokens.len() + 1`.
    pub avg_logprob: f64,
    /// Probability of `<|nospeech|>` at the start of the transcript.
    pub no_speech_prob: f64,
    /// The temperature it was decoded at.
    pub temperature: f32,
    /// Length of the text over its zlib-compressed length.
    pub compression_ratio: f64,
}

/// A span of a recording with its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Start, seconds from the beginning of the recording.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Text (with its leading space, as Whisper writes it).
    pub text: String,
    /// The tokens, timestamps included.
    pub tokens: Vec<u32>,
    /// The window's decoding temperature.
    pub temperature: f32,
    /// The window's average log-probability.
    pub avg_logprob: f64,
    /// The window's compression ratio.
    pub compression_ratio: f64,
    /// The window's no-speech probability.
    pub no_speech_prob: f64,
    /// The words with their times, when word timestamps were asked for.
    pub words: Vec<Word>,
}

/// The segments of a recording.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    /// In time order; empty when nothing was said.
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// All the text, trimmed.
    pub fn text(&self) -> String {
        let text: String = self.segments.iter().map(|s| s.text.as_str()).collect();
        text.trim().to_owned()
    }
}

/// zlib-compressed length ratio (openai-whisper's `compression_ratio`).
pub fn compression_ratio(text: &str) -> f64 {
    use std::io::Write;
    if text.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(text.as_bytes()).expect("writing to a Vec");
    let compressed = z.finish().expect("writing to a Vec");
    text.len() as f64 / compressed.len() as f64
}

impl Whisper {
    /// The start-of-transcript sequence: `<|startoftranscript|>`, and for a
    /// multilingual model the language and `<|transcribe|>`.
    pub fn sot_sequence(&self, language: &str) -> Result<Vec<u32>, RunError> {
        let s = &self.specials;
        if !self.model.config().is_multilingual() {
            return Ok(vec![s.sot]);
        }
        let lang = self
            .tokenizer
            .token_to_id(&format!("<|{language}|>"))
            .ok_or_else(|| {
                RunError::Input(format!("the tokenizer has no language {language:?}"))
            })?;
        Ok(vec![s.sot, lang, s.transcribe])
    }

    /// Tokens never generated (rule 2 of the module docs).
    fn suppressed(&self, opts: &TranscribeOptions) -> Vec<u32> {
        let s = &self.specials;
        let mut ids = if opts.suppress_tokens {
            self.generation.suppress_tokens.clone()
        } else {
            Vec::new()
        };
        ids.extend([
            s.transcribe,
            s.translate,
            s.sot,
            s.sot_prev,
            s.sot_lm,
            s.no_speech,
        ]);
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Tokens not allowed first (rule 1): `begin_suppress_tokens`, else `" "` and end of text.
    fn blank(&self) -> Vec<u32> {
        if !self.generation.begin_suppress_tokens.is_empty() {
            return self.generation.begin_suppress_tokens.clone();
        }
        let mut ids = self
            .tokenizer
            .encode(" ", false)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default();
        ids.push(self.specials.eot);
        ids
    }

    /// The timestamp rules (rule 3) on `logits`, given the tokens sampled so far.
    fn apply_timestamp_rules(&self, logits: &mut [f32], sampled: &[u32], opts: &TranscribeOptions) {
        let begin = self.specials.timestamp_begin as usize;
        let eot = self.specials.eot as usize;
        logits[self.specials.no_timestamps as usize] = f32::NEG_INFINITY;
        let is_ts = |t: u32| t as usize >= begin;
        let last_ts = sampled.last().is_some_and(|&t| is_ts(t));
        let penultimate_ts = sampled.len() < 2 || is_ts(sampled[sampled.len() - 2]);
        if last_ts {
            if penultimate_ts {
                logits[begin..].fill(f32::NEG_INFINITY);
            } else {
                logits[..eot].fill(f32::NEG_INFINITY);
            }
        }
        if let Some(&last) = sampled.iter().rev().find(|&&t| is_ts(t)) {
            // Timestamps never decrease; after a closing one the next may repeat it.
            let upto = if last_ts && !penultimate_ts {
                last as usize
            } else {
                last as usize + 1
            };
            logits[begin..upto].fill(f32::NEG_INFINITY);
        }
        if sampled.is_empty() {
            logits[..begin].fill(f32::NEG_INFINITY);
            let max_initial = (opts.max_initial_timestamp / TIME_PRECISION).round() as usize;
            let last_allowed = begin + max_initial;
            if last_allowed + 1 < logits.len() {
                logits[last_allowed + 1..].fill(f32::NEG_INFINITY);
            }
        }
        let logprobs = log_softmax(logits);
        let ts_max = logprobs[begin..]
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        if ts_max > f32::NEG_INFINITY {
            let ts_lse = ts_max
                + logprobs[begin..]
                    .iter()
                    .map(|&l| f64::from(l - ts_max).exp())
                    .sum::<f64>()
                    .ln() as f32;
            let text_max = logprobs[..begin]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            if ts_lse > text_max {
                logits[..begin].fill(f32::NEG_INFINITY);
            }
        }
    }

    /// Decodes one window from its encoder states `[1, 1500, d_model]`
    /// (see the module docs); `prompt` is the previous text's tokens.
    pub fn decode_window(
        &self,
        encoder_states: &Tensor,
        prompt: &[u32],
        temperature: f32,
        opts: &TranscribeOptions,
        rng: &mut rand::rngs::StdRng,
    ) -> Result<DecodeResult, RunError> {
        let _enter = self.decode_span.enter();
        let s = &self.specials;
        let n_ctx = self.model.config().max_target_positions;
        let mut initial = Vec::new();
        if !prompt.is_empty() {
            initial.push(s.sot_prev);
            let keep = prompt.len().min(n_ctx / 2 - 1);
            initial.extend_from_slice(&prompt[prompt.len() - keep..]);
        }
        let sot_index = initial.len();
        initial.extend(self.sot_sequence(&opts.language)?);
        if opts.without_timestamps {
            initial.push(s.no_timestamps);
        }
        let sample_begin = initial.len();
        let sample_len = n_ctx / 2;
        let suppressed = self.suppressed(opts);
        let blank = self.blank();

        let mut state = self.model.start(encoder_states)?;
        let all = self.model.all_logits(&initial, &mut state)?;
        let at_sot = all.get(sot_index)?.to_vec1::<f32>()?;
        let no_speech_prob = f64::from(log_softmax(&at_sot)[s.no_speech as usize]).exp();
        let mut logits = all.get(sample_begin - 1)?.to_vec1::<f32>()?;

        let mut tokens: Vec<u32> = Vec::new();
        let mut sum_logprobs = 0f64;
        loop {
            if opts.suppress_blank && tokens.is_empty() {
                for &t in &blank {
                    logits[t as usize] = f32::NEG_INFINITY;
                }
            }
            for &t in &suppressed {
                logits[t as usize] = f32::NEG_INFINITY;
            }
            if !opts.without_timestamps {
                self.apply_timestamp_rules(&mut logits, &tokens, opts);
            }
            let logprobs = log_softmax(&logits);
            let next = if temperature == 0.0 {
                argmax(&logits)
            } else {
                sample(&logits, temperature, rng)
            };
            sum_logprobs += f64::from(logprobs[next as usize]);
            if next == s.eot {
                break;
            }
            tokens.push(next);
            // openai-whisper stops after `sample_len` tokens or once the
            // sequence is longer than the context (the last token is never fed back).
            if tokens.len() >= sample_len || sample_begin + tokens.len() > n_ctx {
                break;
            }
            logits = self.model.next_logits(&[next], &mut state)?;
        }
        let text = self.decode_text(&tokens)?.trim().to_owned();
        Ok(DecodeResult {
            avg_logprob: sum_logprobs / (tokens.len() + 1) as f64,
            compression_ratio: compression_ratio(&text),
            tokens,
            text,
            no_speech_prob,
            temperature,
        })
    }

    /// [`Whisper::decode_window`] at temperature 0, which draws no samples.
    pub fn decode_greedy(
        &self,
        encoder_states: &Tensor,
        prompt: &[u32],
        opts: &TranscribeOptions,
    ) -> Result<DecodeResult, RunError> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        self.decode_window(encoder_states, prompt, 0.0, opts, &mut rng)
    }

    /// Decodes one window at each temperature in turn until the result
    /// passes the thresholds (openai-whisper's `decode_with_fallback`).
    pub fn decode_with_fallback(
        &self,
        encoder_states: &Tensor,
        prompt: &[u32],
        opts: &TranscribeOptions,
        rng: &mut rand::rngs::StdRng,
    ) -> Result<DecodeResult, RunError> {
        let mut result = None;
        for &t in &opts.temperatures {
            let r = if t == 0.0 {
                self.decode_window(encoder_states, prompt, t, opts, rng)?
            } else {
                // Best of several samples by average log-probability per token.
                let mut best: Option<(f64, DecodeResult)> = None;
                for _ in 0..opts.best_of.max(1) {
                    let r = self.decode_window(encoder_states, prompt, t, opts, rng)?;
                    let score =
                        r.avg_logprob * (r.tokens.len() + 1) as f64 / r.tokens.len().max(1) as f64;
                    if best.as_ref().is_none_or(|(b, _)| score > *b) {
                        best = Some((score, r));
                    }
                }
                best.expect("at least one sample").1
            };
            let mut fallback = opts
                .compression_ratio_threshold
                .is_some_and(|th| r.compression_ratio > f64::from(th))
                || opts
                    .logprob_threshold
                    .is_some_and(|th| r.avg_logprob < f64::from(th));
            if opts
                .no_speech_threshold
                .is_some_and(|th| r.no_speech_prob > f64::from(th))
            {
                fallback = false;
            }
            result = Some(r);
            if !fallback {
                break;
            }
        }
        result.ok_or_else(|| RunError::Input("no temperatures to decode at".into()))
    }

    /// Transcribes a recording of 16 kHz mono samples (see the module docs).
    pub fn transcribe(
        &self,
        samples: &[f32],
        opts: &TranscribeOptions,
    ) -> Result<Transcript, RunError> {
        self.transcribe_with_progress(samples, opts, &mut |_| {})
    }

    /// [`Whisper::transcribe`], telling `progress` after each window how many
    /// seconds of the recording are done (where the next window starts).
    pub fn transcribe_with_progress(
        &self,
        samples: &[f32],
        opts: &TranscribeOptions,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Transcript, RunError> {
        let _enter = self.transcribe_span.enter();
        let mel = self.mel.spectrogram(samples);
        let content_frames = mel.frames - N_FRAMES;
        let begin = self.specials.timestamp_begin;
        let input_stride = N_FRAMES / self.model.config().max_source_positions; // 2 mel frames per token
        let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
        let mut seek = 0usize;
        let mut segments: Vec<Segment> = Vec::new();
        let mut all_tokens: Vec<u32> = Vec::new();
        let mut prompt_reset_since = 0usize;
        let mut last_speech_timestamp = 0f64;
        while seek < content_frames {
            let time_offset = (seek * HOP_LENGTH) as f64 / SAMPLE_RATE as f64;
            let segment_size = N_FRAMES.min(content_frames - seek);
            let segment_duration = (segment_size * HOP_LENGTH) as f64 / SAMPLE_RATE as f64;
            let states = self.encode_window(&mel.window(seek, segment_size))?;
            let prompt = if opts.condition_on_previous_text {
                &all_tokens[prompt_reset_since..]
            } else {
                &[][..]
            };
            let result = self.decode_with_fallback(&states, prompt, opts, &mut rng)?;
            if let Some(th) = opts.no_speech_threshold {
                let silent = result.no_speech_prob > f64::from(th)
                    && !opts
                        .logprob_threshold
                        .is_some_and(|lp| result.avg_logprob > f64::from(lp));
                if silent {
                    seek += segment_size;
                    progress(seconds(seek.min(content_frames)));
                    continue;
                }
            }
            let tokens = &result.tokens;
            let is_ts: Vec<bool> = tokens.iter().map(|&t| t >= begin).collect();
            let single_timestamp_ending =
                is_ts.len() >= 2 && !is_ts[is_ts.len() - 2] && is_ts[is_ts.len() - 1];
            let consecutive: Vec<usize> = (1..tokens.len())
                .filter(|&i| is_ts[i - 1] && is_ts[i])
                .collect();
            let mut current: Vec<Segment> = Vec::new();
            let new_segment = |start: f64, end: f64, toks: &[u32]| -> Result<Segment, RunError> {
                Ok(Segment {
                    start,
                    end,
                    text: self.decode_text(toks)?,
                    tokens: toks.to_vec(),
                    temperature: result.temperature,
                    avg_logprob: result.avg_logprob,
                    compression_ratio: result.compression_ratio,
                    no_speech_prob: result.no_speech_prob,
                    words: Vec::new(),
                })
            };
            if !consecutive.is_empty() {
                let mut slices = consecutive.clone();
                if single_timestamp_ending {
                    slices.push(tokens.len());
                }
                let mut last = 0;
                for &cut in &slices {
                    let part = &tokens[last..cut];
                    let start = f64::from(part[0] - begin) * TIME_PRECISION;
                    let end = f64::from(part[part.len() - 1] - begin) * TIME_PRECISION;
                    current.push(new_segment(time_offset + start, time_offset + end, part)?);
                    last = cut;
                }
                if single_timestamp_ending {
                    seek += segment_size;
                } else {
                    // A window that ends at its own start would never move on.
                    let last_ts = (tokens[last - 1] - begin) as usize;
                    seek += (last_ts * input_stride).max(1);
                }
            } else {
                let mut duration = segment_duration;
                if let Some(&t) = tokens.iter().rev().find(|&&t| t >= begin) {
                    if t != begin {
                        duration = f64::from(t - begin) * TIME_PRECISION;
                    }
                }
                current.push(new_segment(time_offset, time_offset + duration, tokens)?);
                seek += segment_size;
            }
            if opts.word_timestamps {
                self.add_word_timestamps(
                    &mut current,
                    &states,
                    &opts.language,
                    time_offset,
                    segment_size,
                    &mut last_speech_timestamp,
                )?;
                if !single_timestamp_ending {
                    // Resume after the last word rather than the last timestamp.
                    let last_word_end = current.iter().rev().find_map(|s| s.words.last());
                    if let Some(w) = last_word_end {
                        if w.end > time_offset {
                            seek = (w.end * 100.0).round() as usize;
                        }
                    }
                }
            }
            for s in &mut current {
                if s.start == s.end || s.text.trim().is_empty() {
                    s.text.clear();
                    s.tokens.clear();
                }
            }
            current.retain(|s| !s.tokens.is_empty());
            all_tokens.extend(current.iter().flat_map(|s| s.tokens.iter().copied()));
            segments.extend(current);
            if !opts.condition_on_previous_text || result.temperature > 0.5 {
                prompt_reset_since = all_tokens.len();
            }
            progress(seconds(seek.min(content_frames)));
        }
        Ok(Transcript { segments })
    }
}

/// Seconds at mel frame `frame`.
fn seconds(frame: usize) -> f64 {
    (frame * HOP_LENGTH) as f64 / SAMPLE_RATE as f64
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// A token drawn from `softmax(logits / temperature)`.
fn sample(logits: &[f32], temperature: f32, rng: &mut rand::rngs::StdRng) -> u32 {
    let scaled: Vec<f32> = logits.iter().map(|&l| l / temperature).collect();
    let probs: Vec<f64> = log_softmax(&scaled)
        .iter()
        .map(|&l| f64::from(l).exp())
        .collect();
    let mut u: f64 = rng.random();
    for (i, p) in probs.iter().enumerate() {
        if u < *p {
            return i as u32;
        }
        u -= p;
    }
    argmax(logits)
}
