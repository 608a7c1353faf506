//! Which language is spoken, for multilingual checkpoints: openai-whisper's
//! `detect_language` (`whisper/decoding.py`), which `transcribe` runs when
//! no language is given.
//!
//! The encoder states of the recording's first 30 s go in; the decoder is
//! fed `<|startoftranscript|>` alone, and the logits of that one step,
//! restricted to the language tokens (`<|en|>`, `<|de|>`, … between
//! `<|startoftranscript|>` and `<|translate|>`), are turned into
//! probabilities by a softmax over those tokens only. The most likely
//! language is the one `transcribe` then decodes in. English-only models
//! have no language tokens to ask and give an error.

use candle_core::Tensor;

use super::audio::N_FRAMES;
use super::Whisper;
use crate::error::RunError;

/// A language and how likely the model finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LanguageProbability {
    /// The code, as in the token (`en`, `de`, `haw`).
    pub code: String,
    /// The language token's id.
    pub token: u32,
    /// Softmax over the language tokens' logits.
    pub probability: f64,
}

/// What [`Whisper::detect_language`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedLanguage {
    /// Every language of the model, most likely first.
    pub probabilities: Vec<LanguageProbability>,
}

impl DetectedLanguage {
    /// The most likely language.
    pub fn best(&self) -> &LanguageProbability {
        &self.probabilities[0]
    }

    /// The probability of `code` (0 when the model has no such language).
    pub fn probability(&self, code: &str) -> f64 {
        self.probabilities
            .iter()
            .find(|p| p.code == code)
            .map_or(0.0, |p| p.probability)
    }
}

impl Whisper {
    /// The language tokens and their codes, in id order: the tokens
    /// `<|xx|>` between `<|startoftranscript|>` and `<|translate|>`; empty
    /// for an English-only model.
    pub fn languages(&self) -> Vec<(u32, String)> {
        if !self.model.config().is_multilingual() {
            return Vec::new();
        }
        let s = &self.specials;
        (s.sot + 1..s.translate)
            .filter_map(|id| {
                let token = self.tokenizer.id_to_token(id)?;
                let code = token.strip_prefix("<|")?.strip_suffix("|>")?;
                code.chars()
                    .all(|c| c.is_ascii_lowercase())
                    .then(|| (id, code.to_owned()))
            })
            .collect()
    }

    /// The spoken language of one window, from its encoder states `[1,
    /// 1500, d_model]` (see the module docs).
    pub fn detect_language(&self, encoder_states: &Tensor) -> Result<DetectedLanguage, RunError> {
        let languages = self.languages();
        if languages.is_empty() {
            return Err(RunError::Input(
                "this is an English-only Whisper model: it has no language tokens to detect a language with"
                    .into(),
            ));
        }
        let mut state = self.model.start(encoder_states)?;
        let logits = self.model.next_logits(&[self.specials.sot], &mut state)?;
        let max = languages
            .iter()
            .map(|(id, _)| logits[*id as usize])
            .fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f64> = languages
            .iter()
            .map(|(id, _)| f64::from(logits[*id as usize] - max).exp())
            .collect();
        let sum: f64 = exp.iter().sum();
        let mut probabilities: Vec<LanguageProbability> = languages
            .into_iter()
            .zip(exp)
            .map(|((token, code), e)| LanguageProbability {
                code,
                token,
                probability: e / sum,
            })
            .collect();
        // Most likely first; a tie keeps id order, as argmax does.
        probabilities.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        Ok(DetectedLanguage { probabilities })
    }

    /// The spoken language of a recording of 16 kHz mono samples, as
    /// openai-whisper's `transcribe` finds it: from the first 30 s of the
    /// recording's features (the silence after a shorter one included).
    pub fn detect_language_of(&self, samples: &[f32]) -> Result<DetectedLanguage, RunError> {
        let mel = self.mel.spectrogram(samples);
        let states = self.encode_window(&mel.window(0, N_FRAMES))?;
        self.detect_language(&states)
    }
}
