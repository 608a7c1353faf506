//! Word timestamps from the decoder's cross-attention, as openai-whisper's
//! `whisper/timing.py` computes them (and CTranslate2's `Whisper.align`).
//!
//! The window's text is decoded once more after `<|notimestamps|>`; the
//! cross-attention probabilities of the alignment heads (the heads
//! `generation_config.json` or CTranslate2's `config.json` name) are cut to
//! the frames that hold audio and renormalised, standardised over the tokens
//! of each frame, median-filtered over 7 frames and averaged over the heads.
//! Dynamic time warping through the negated matrix pairs each token with a
//! span of encoder frames (20 ms each); a word starts at the frame where its
//! first token's row begins. Words are the tokenizer's subwords joined at
//! spaces; leading and trailing punctuation is merged into the neighbouring
//! word; an over-long word at a sentence end is shortened.

use candle_core::Tensor;

use super::decode::Segment;
use super::Whisper;
use crate::error::RunError;

/// Encoder frames per second (two mel frames of 10 ms each).
pub const TOKENS_PER_SECOND: f64 = 50.0;
/// Punctuation merged into the following word.
pub const PREPEND_PUNCTUATIONS: &str = "\"'“¿([{-";
/// Punctuation merged into the preceding word.
pub const APPEND_PUNCTUATIONS: &str = "\"'.。,，!！?？:：”)]}、";

/// Python's `string.punctuation`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// One word and when it was said.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// The word with its leading space (and merged punctuation).
    pub word: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Mean probability of its tokens.
    pub probability: f64,
}

/// The token-to-frame alignment of a window's text (CTranslate2's `WhisperAlignmentResult`).
#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    /// `(text token index, encoder frame)` along the warping path; text index
    /// `n` (one past the last token) stands for the end of text.
    pub path: Vec<(usize, usize)>,
    /// Each text token's probability (softmax over text tokens only).
    pub text_token_probs: Vec<f32>,
}

/// A word with its tokens, before it is placed in a segment.
#[derive(Debug, Clone)]
struct WordTiming {
    word: String,
    tokens: Vec<u32>,
    start: f64,
    end: f64,
    probability: f64,
}

/// Median over a sliding `width` window along each row (reflect padding, as
/// openai-whisper's `median_filter` and CTranslate2's `MedianFilter`).
pub fn median_filter(rows: &mut [Vec<f32>], width: usize) {
    let rank = width / 2;
    let mut window = vec![0f32; width];
    for row in rows.iter_mut() {
        let n = row.len();
        if n <= rank {
            continue;
        }
        let src = row.clone();
        for (j, out) in row.iter_mut().enumerate() {
            for (k, w) in window.iter_mut().enumerate() {
                let mut read = (j + k) as isize - rank as isize;
                read = read.abs();
                if read >= n as isize {
                    read = 2 * (n as isize - 1) - read;
                }
                *w = src[read as usize];
            }
            window.sort_by(|a, b| a.total_cmp(b));
            *out = window[rank];
        }
    }
}

/// Dynamic time warping through `-x` (rows: tokens, columns: frames), with
/// openai-whisper's tie-breaking (`dtw_cpu` and its `backtrace`).
pub fn negative_dtw(x: &[Vec<f32>]) -> Vec<(usize, usize)> {
    let n = x.len();
    let m = x.first().map_or(0, Vec::len);
    let mut cost = vec![vec![f32::INFINITY; m + 1]; n + 1];
    let mut trace = vec![vec![-1i8; m + 1]; n + 1];
    cost[0][0] = 0.0;
    for j in 1..=m {
        for i in 1..=n {
            let (c0, c1, c2) = (cost[i - 1][j - 1], cost[i - 1][j], cost[i][j - 1]);
            let (c, t) = if c0 < c1 && c0 < c2 {
                (c0, 0)
            } else if c1 < c0 && c1 < c2 {
                (c1, 1)
            } else {
                (c2, 2)
            };
            cost[i][j] = -x[i - 1][j - 1] + c;
            trace[i][j] = t;
        }
    }
    for t in trace[0].iter_mut() {
        *t = 2;
    }
    for row in trace.iter_mut() {
        row[0] = 1;
    }
    let (mut i, mut j) = (n, m);
    let mut path = Vec::new();
    while i > 0 || j > 0 {
        path.push((i.wrapping_sub(1), j.wrapping_sub(1)));
        match trace[i][j] {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    path
}

/// Merges punctuation words into their neighbours (openai-whisper's `merge_punctuations`).
fn merge_punctuations(alignment: &mut [WordTiming]) {
    if alignment.len() >= 2 {
        let mut j = alignment.len() - 1;
        for i in (0..alignment.len() - 1).rev() {
            let prev = &alignment[i];
            if prev.word.starts_with(' ') && PREPEND_PUNCTUATIONS.contains(prev.word.trim()) {
                let (word, tokens) = (prev.word.clone(), prev.tokens.clone());
                let following = &mut alignment[j];
                following.word = word + &following.word;
                following.tokens = [tokens, std::mem::take(&mut following.tokens)].concat();
                alignment[i].word.clear();
                alignment[i].tokens.clear();
            } else {
                j = i;
            }
        }
    }
    let mut i = 0;
    for j in 1..alignment.len() {
        let following = alignment[j].word.clone();
        if !alignment[i].word.ends_with(' ') && APPEND_PUNCTUATIONS.contains(following.as_str()) {
            let tokens = std::mem::take(&mut alignment[j].tokens);
            alignment[i].word.push_str(&following);
            alignment[i].tokens.extend(tokens);
            alignment[j].word.clear();
        } else {
            i = j;
        }
    }
}

impl Whisper {
    /// Splits tokens into words: subwords that decode to whole characters,
    /// joined unless they start with a space, are punctuation or special
    /// (openai-whisper's `split_tokens_on_spaces`).
    fn split_to_word_tokens(&self, tokens: &[u32]) -> Result<Vec<(String, Vec<u32>)>, RunError> {
        let decode = |t: &[u32]| {
            self.tokenizer
                .decode(t, false)
                .map_err(|e| RunError::Tokenize(e.to_string()))
        };
        let mut subwords: Vec<(String, Vec<u32>)> = Vec::new();
        let mut current = Vec::new();
        for &t in tokens {
            current.push(t);
            let decoded = decode(&current)?;
            if !decoded.contains('\u{fffd}') {
                subwords.push((decoded, std::mem::take(&mut current)));
            }
        }
        let mut words: Vec<(String, Vec<u32>)> = Vec::new();
        for (sub, toks) in subwords {
            let special = toks[0] >= self.specials.eot;
            // Python's `subword.strip() in string.punctuation`: a substring test.
            let punctuation = PUNCTUATION.contains(sub.trim());
            match words.last_mut() {
                Some(last) if !(special || sub.starts_with(' ') || punctuation) => {
                    last.0.push_str(&sub);
                    last.1.extend(toks);
                }
                _ => words.push((sub, toks)),
            }
        }
        Ok(words)
    }

    /// Aligns `text_tokens` (no timestamps) with the first `num_frames` mel
    /// frames of the window whose encoder states are given
    /// (CTranslate2's `align`, openai-whisper's `find_alignment` up to the
    /// DTW); `language` picks the start sequence of a multilingual model.
    pub fn align(
        &self,
        encoder_states: &Tensor,
        language: &str,
        text_tokens: &[u32],
        num_frames: usize,
        medfilt_width: usize,
    ) -> Result<Alignment, RunError> {
        let s = &self.specials;
        let heads = &self.generation.alignment_heads;
        if heads.is_empty() {
            return Err(RunError::Input(
                "the model names no alignment heads (alignment_heads)".into(),
            ));
        }
        let sot_sequence = self.sot_sequence(language)?;
        let mut tokens = sot_sequence.clone();
        tokens.push(s.no_timestamps);
        tokens.extend_from_slice(text_tokens);
        tokens.push(s.eot);
        let mut state = self.model.start(encoder_states)?;
        let ids = Tensor::new(tokens.as_slice(), encoder_states.device())?.unsqueeze(0)?;
        let out = self.model.decode(&ids, &mut state, true)?;
        let logits = out.logits.squeeze(0)?.to_vec2::<f32>()?;
        let offset = sot_sequence.len();
        let eot = s.eot as usize;
        let text_token_probs = text_tokens
            .iter()
            .enumerate()
            .map(|(t, &tok)| {
                let row = &logits[offset + t][..eot];
                super::model::log_softmax(row)[tok as usize].exp()
            })
            .collect();
        let frames = (num_frames / 2).min(encoder_states.dim(1)?);
        if frames == 0 {
            return Ok(Alignment {
                path: Vec::new(),
                text_token_probs,
            });
        }
        // Per head: [tokens][frames], renormalised over the kept frames,
        // standardised over tokens, median-filtered over frames.
        let mut matrix = vec![vec![0f32; frames]; tokens.len()];
        for &[layer, head] in heads {
            let probs = out.cross_attentions[layer]
                .get(0)?
                .get(head)?
                .narrow(1, 0, frames)?
                .to_vec2::<f32>()?;
            let mut w: Vec<Vec<f32>> = probs
                .into_iter()
                .map(|row| {
                    let sum: f32 = row.iter().sum();
                    row.into_iter().map(|p| p / sum).collect()
                })
                .collect();
            for f in 0..frames {
                let n = w.len() as f32;
                let mean = w.iter().map(|r| r[f]).sum::<f32>() / n;
                let var = w.iter().map(|r| (r[f] - mean).powi(2)).sum::<f32>() / n;
                let std = var.sqrt();
                for r in w.iter_mut() {
                    r[f] = (r[f] - mean) / std;
                }
            }
            median_filter(&mut w, medfilt_width);
            for (m, r) in matrix.iter_mut().zip(&w) {
                for (a, b) in m.iter_mut().zip(r) {
                    *a += b / heads.len() as f32;
                }
            }
        }
        let rows = &matrix[offset..offset + text_tokens.len() + 1];
        Ok(Alignment {
            path: negative_dtw(rows),
            text_token_probs,
        })
    }

    /// Words with times (seconds from the window's start) for `text_tokens`.
    fn find_alignment(
        &self,
        encoder_states: &Tensor,
        language: &str,
        text_tokens: &[u32],
        num_frames: usize,
    ) -> Result<Vec<WordTiming>, RunError> {
        if text_tokens.is_empty() {
            return Ok(Vec::new());
        }
        let alignment = self.align(encoder_states, language, text_tokens, num_frames, 7)?;
        let mut with_eot = text_tokens.to_vec();
        with_eot.push(self.specials.eot);
        let words = self.split_to_word_tokens(&with_eot)?;
        if words.len() <= 1 || alignment.path.is_empty() {
            return Ok(Vec::new());
        }
        // The frame at which each text index first appears on the path.
        let mut jump_times = Vec::new();
        let mut last = None;
        for &(t, f) in &alignment.path {
            if last != Some(t) {
                jump_times.push(f as f64 / TOKENS_PER_SECOND);
                last = Some(t);
            }
        }
        let mut boundaries = vec![0usize];
        for (_, toks) in &words[..words.len() - 1] {
            boundaries.push(boundaries.last().unwrap() + toks.len());
        }
        let probs = &alignment.text_token_probs;
        Ok(words[..words.len() - 1]
            .iter()
            .enumerate()
            .map(|(i, (word, toks))| {
                let (a, b) = (boundaries[i], boundaries[i + 1]);
                let p = probs[a..b].iter().map(|&p| f64::from(p)).sum::<f64>() / (b - a) as f64;
                WordTiming {
                    word: word.clone(),
                    tokens: toks.clone(),
                    start: jump_times[a],
                    end: jump_times[b],
                    probability: p,
                }
            })
            .collect())
    }

    /// Fills `segments[..].words` for the segments of one window
    /// (openai-whisper's `add_word_timestamps`); `time_offset` is the
    /// window's start in seconds, `num_frames` its mel frames of audio.
    #[allow(clippy::too_many_arguments)]
    pub fn add_word_timestamps(
        &self,
        segments: &mut [Segment],
        encoder_states: &Tensor,
        language: &str,
        time_offset: f64,
        num_frames: usize,
        last_speech_timestamp: &mut f64,
    ) -> Result<(), RunError> {
        if segments.is_empty() {
            return Ok(());
        }
        let eot = self.specials.eot;
        let per_segment: Vec<Vec<u32>> = segments
            .iter()
            .map(|s| s.tokens.iter().copied().filter(|&t| t < eot).collect())
            .collect();
        let text_tokens: Vec<u32> = per_segment.iter().flatten().copied().collect();
        let mut alignment =
            self.find_alignment(encoder_states, language, &text_tokens, num_frames)?;
        let mut durations: Vec<f64> = alignment
            .iter()
            .map(|w| w.end - w.start)
            .filter(|&d| d != 0.0)
            .collect();
        durations.sort_by(f64::total_cmp);
        let median = match durations.len() {
            0 => 0.0,
            n if n % 2 == 1 => durations[n / 2],
            n => (durations[n / 2 - 1] + durations[n / 2]) / 2.0,
        };
        let median_duration = median.min(0.7);
        let max_duration = median_duration * 2.0;
        // Truncate long words at sentence boundaries.
        if !durations.is_empty() {
            // Python's `word in ".。!！?？"`: a substring test.
            let sentence_end = ".。!！?？";
            for i in 1..alignment.len() {
                if alignment[i].end - alignment[i].start > max_duration {
                    if sentence_end.contains(alignment[i].word.as_str()) {
                        alignment[i].end = alignment[i].start + max_duration;
                    } else if sentence_end.contains(alignment[i - 1].word.as_str()) {
                        alignment[i].start = alignment[i].end - max_duration;
                    }
                }
            }
        }
        merge_punctuations(&mut alignment);
        let round = |t: f64| (t * 100.0).round() / 100.0;
        let mut index = 0;
        for (segment, tokens) in segments.iter_mut().zip(&per_segment) {
            let mut saved = 0;
            let mut words: Vec<Word> = Vec::new();
            while index < alignment.len() && saved < tokens.len() {
                let timing = &alignment[index];
                if !timing.word.is_empty() {
                    words.push(Word {
                        word: timing.word.clone(),
                        start: round(time_offset + timing.start),
                        end: round(time_offset + timing.end),
                        probability: timing.probability,
                    });
                }
                saved += timing.tokens.len();
                index += 1;
            }
            if let Some(first) = words.first().cloned() {
                // The first and second word after a pause are at most twice the median long.
                if first.end - *last_speech_timestamp > median_duration * 4.0
                    && (first.end - first.start > max_duration
                        || (words.len() > 1 && words[1].end - first.start > max_duration * 2.0))
                {
                    if words.len() > 1 && words[1].end - words[1].start > max_duration {
                        let boundary = (words[1].end / 2.0).max(words[1].end - max_duration);
                        words[0].end = boundary;
                        words[1].start = boundary;
                    }
                    words[0].start = (words[0].end - max_duration).max(0.0);
                }
                // Prefer the segment's start when the first word is too long.
                if segment.start < words[0].end && segment.start - 0.5 > words[0].start {
                    words[0].start = (words[0].end - median_duration).min(segment.start).max(0.0);
                } else {
                    segment.start = words[0].start;
                }
                // Prefer the segment's end when the last word is too long.
                let n = words.len() - 1;
                if segment.end > words[n].start && segment.end + 0.5 < words[n].end {
                    words[n].end = (words[n].start + median_duration).max(segment.end);
                } else {
                    segment.end = words[n].end;
                }
                *last_speech_timestamp = segment.end;
            }
            segment.words = words;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{median_filter, merge_punctuations, negative_dtw, WordTiming};

    #[test]
    fn median_filter_reflects_at_the_edges() {
        // numpy's reflect padding of [1, 5, 2, 8, 3] by one: [5, 1, 5, 2, 8, 3, 8];
        // medians of each window of three: 5, 2, 5, 3, 8.
        let mut rows = vec![vec![1.0, 5.0, 2.0, 8.0, 3.0]];
        median_filter(&mut rows, 3);
        assert_eq!(rows[0], vec![5.0, 2.0, 5.0, 3.0, 8.0]);
    }

    #[test]
    fn dtw_follows_the_largest_values_and_breaks_ties_to_the_left() {
        // cost[i][j] = -x + min(diagonal, up, left); ties go left (trace 2):
        // cost[2][3] comes from [2][2], which comes from [2][1] (up from [1][1]).
        let x = vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0]];
        assert_eq!(negative_dtw(&x), vec![(0, 0), (1, 0), (1, 1), (1, 2)]);
    }

    #[test]
    fn punctuation_joins_its_neighbours() {
        let timing = |w: &str| WordTiming {
            word: w.into(),
            tokens: vec![0],
            start: 0.0,
            end: 0.0,
            probability: 1.0,
        };
        let mut words: Vec<WordTiming> = [" He", " said", " \"", "hi", "\"", "."]
            .iter()
            .map(|w| timing(w))
            .collect();
        merge_punctuations(&mut words);
        let text: Vec<&str> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(text, vec![" He", " said", "", " \"hi\".", "", ""]);
        let tokens: Vec<usize> = words.iter().map(|w| w.tokens.len()).collect();
        assert_eq!(tokens, vec![1, 1, 0, 4, 0, 0]);
    }
}
