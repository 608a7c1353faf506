//! The plugin's parameters and persisted settings.
//!
//! Host-visible parameters are only the three A/V/D outputs that the editor's
//! "write automation" toggle drives (so a host can record them as automation
//! lanes). Everything else is configuration that the host stores with the
//! project through `#[persist]` fields: it is edited in the editor, read on
//! the main thread when the engine is (re)configured, and never touched by the
//! audio thread except the CC mapping, which is an atomic word.
//!
//! IDs (`#[id]`, `#[persist]`) are permanent API: renaming one loses saved
//! projects' values. Saved state is deterministic byte for byte: nice-plug
//! writes `BTreeMap`s, and every persisted value here is a plain struct whose
//! JSON has a fixed field order.

use std::ops::RangeInclusive;
use std::sync::atomic::AtomicBool;

use emoscope::engine::{AnalysisConfig, AsrSettings, ConfigField};
use emoscope::export::ExportFormat;
use nice_plug::prelude::*;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::midi::SharedCcMapping;

/// Editor size on first open, logical pixels.
pub const DEFAULT_EDITOR_SIZE: EditorSize = EditorSize {
    width: 900,
    height: 640,
};

/// Window, hop, smoothing and transport settings of the analysis, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisSettings {
    /// Analysis window in seconds.
    pub window_seconds: f64,
    /// Hop between windows in seconds.
    pub hop_seconds: f64,
    /// Smoothing time constant in seconds (0: none).
    pub smoothing_seconds: f64,
    /// Analyse while the host transport is stopped.
    pub analyse_while_stopped: bool,
    /// Analyse speech only: windows with too little speech (by the
    /// voice-activity detector, as `emoscope annotate` gates them) are not
    /// read; the meters then show "no speech" and hold the last reading.
    /// Off by default, for continuous meters; a project saved before this
    /// setting existed opens with it off.
    pub speech_only: bool,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        let c = AnalysisConfig::default();
        Self {
            window_seconds: c.window_seconds,
            hop_seconds: c.hop_seconds,
            smoothing_seconds: c.smoothing_seconds,
            analyse_while_stopped: c.analyse_while_stopped,
            speech_only: false,
        }
    }
}

impl AnalysisSettings {
    /// The window lengths the editor offers, seconds: the engine's
    /// ([`AnalysisConfig::window_range`]).
    pub fn window_range() -> RangeInclusive<f64> {
        AnalysisConfig::window_range()
    }

    /// The hops the editor offers with this window, seconds: the engine's
    /// ([`AnalysisConfig::hop_range`]).
    pub fn hop_range(&self) -> RangeInclusive<f64> {
        AnalysisConfig::hop_range(self.window_seconds)
    }

    /// The smoothing time constants the editor offers, seconds: the
    /// engine's ([`AnalysisConfig::smoothing_range`]).
    pub fn smoothing_range() -> RangeInclusive<f64> {
        AnalysisConfig::smoothing_range()
    }

    /// The engine configuration, with values outside what the engine accepts
    /// ([`AnalysisConfig::validate`]; a hand-edited or corrupt state)
    /// replaced by the defaults, each field on its own; the hop is checked
    /// against the window actually used.
    pub fn to_config(&self) -> AnalysisConfig {
        let d = AnalysisConfig::default();
        let mut config = AnalysisConfig {
            window_seconds: self.window_seconds,
            hop_seconds: self.hop_seconds,
            smoothing_seconds: self.smoothing_seconds,
            analyse_while_stopped: self.analyse_while_stopped,
        };
        // `validate` names the first bad field in the order window, hop,
        // smoothing; the defaults are valid, so this ends after at most three
        // replacements.
        while let Err(e) = config.validate() {
            match e.field {
                ConfigField::WindowSeconds => config.window_seconds = d.window_seconds,
                ConfigField::HopSeconds => {
                    config.hop_seconds = d.hop_seconds.min(config.window_seconds)
                }
                ConfigField::SmoothingSeconds => config.smoothing_seconds = d.smoothing_seconds,
            }
        }
        config
    }
}

/// The transcript sidecar and its alignment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TranscriptSettings {
    /// Path of the sidecar file; empty for none.
    pub path: String,
    /// Seconds added to transcript times to place them on the host timeline.
    pub offset_seconds: f64,
    /// Refuse a sidecar the reader would have to repair (see `emoscope annotate --strict`).
    pub strict: bool,
}

/// Speech recognition: Whisper hears the track when no transcript sidecar
/// is set, and its words feed the text branch, the editor and the exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpeechSettings {
    /// Recognise speech (on by default; a project saved before this setting
    /// existed opens with it on).
    pub enabled: bool,
    /// Whisper model folder (Hugging Face or CTranslate2 layout); empty for
    /// the default one `scripts/setup.sh` installs (Whisper tiny.en).
    pub model_dir: String,
    /// Spoken language code for multilingual models (`de`, `fr`, …); empty for English.
    pub language: String,
}

impl Default for SpeechSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            model_dir: String::new(),
            language: String::new(),
        }
    }
}

impl SpeechSettings {
    /// The engine's form of these settings.
    pub fn to_engine(&self) -> AsrSettings {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        AsrSettings {
            enabled: self.enabled,
            model_dir: text(&self.model_dir).map(Into::into),
            language: text(&self.language),
        }
    }
}

/// Where and how the emotion timeline is exported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    /// Destination file; empty until the user chooses one.
    pub path: String,
    /// File format.
    pub format: ExportFormat,
    /// Also export automatically when the host deactivates the plugin.
    pub on_deactivate: bool,
}

/// The editor window's size, logical pixels. Stored by us because
/// nice-plug-egui's `EguiEditorState` is not a persistent field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorSize {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Default for EditorSize {
    fn default() -> Self {
        DEFAULT_EDITOR_SIZE
    }
}

/// Parameters and persisted settings.
#[derive(Params)]
pub struct EmoscopeParams {
    /// Arousal output (normalised to the model's range), written by the
    /// editor while "write automation" is on, for hosts to record.
    #[id = "arousal"]
    pub arousal: FloatParam,
    /// Valence output, as `arousal`.
    #[id = "valence"]
    pub valence: FloatParam,
    /// Dominance output, as `arousal`.
    #[id = "dominance"]
    pub dominance: FloatParam,

    /// Model directory (anything `emoscope::engine::load_predictor` accepts); empty for none.
    #[persist = "model-dir"]
    pub model_dir: RwLock<String>,
    /// Transcript sidecar path and offset.
    #[persist = "transcript"]
    pub transcript: RwLock<TranscriptSettings>,
    /// Speech recognition on/off, Whisper model folder and language.
    #[persist = "asr"]
    pub asr: RwLock<SpeechSettings>,
    /// MIDI CC mapping; read by the audio thread as one atomic word.
    #[persist = "cc"]
    pub cc: SharedCcMapping,
    /// Window, hop and smoothing.
    #[persist = "analysis"]
    pub analysis: RwLock<AnalysisSettings>,
    /// Marker export destination and format.
    #[persist = "export"]
    pub export: RwLock<ExportSettings>,
    /// Editor window size, updated when the window is resized.
    #[persist = "editor-size"]
    pub editor_size: RwLock<EditorSize>,
    /// Whether the open editor writes A/V/D into the three parameters above.
    #[persist = "write-automation"]
    pub write_automation: AtomicBool,
}

fn output_param(name: &str) -> FloatParam {
    FloatParam::new(name, 0.5, FloatRange::Linear { min: 0.0, max: 1.0 })
        .with_value_to_string(formatters::v2s_f32_rounded(3))
}

impl Default for EmoscopeParams {
    fn default() -> Self {
        Self {
            arousal: output_param("Arousal"),
            valence: output_param("Valence"),
            dominance: output_param("Dominance"),
            model_dir: RwLock::new(String::new()),
            transcript: RwLock::new(TranscriptSettings::default()),
            asr: RwLock::new(SpeechSettings::default()),
            cc: SharedCcMapping::default(),
            analysis: RwLock::new(AnalysisSettings::default()),
            export: RwLock::new(ExportSettings::default()),
            editor_size: RwLock::new(EditorSize::default()),
            write_automation: AtomicBool::new(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_fields_serialize_deterministically_and_round_trip() {
        let a = EmoscopeParams::default();
        *a.model_dir.write() = "/models/m".into();
        a.transcript.write().offset_seconds = 12.5;
        a.analysis.write().hop_seconds = 0.5;
        a.asr.write().language = "de".into();
        let fields = a.serialize_fields();
        // Same values, same bytes, in a fixed key order.
        assert_eq!(fields, a.serialize_fields());
        let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "analysis",
                "asr",
                "cc",
                "editor-size",
                "export",
                "model-dir",
                "transcript",
                "write-automation"
            ]
        );
        let b = EmoscopeParams::default();
        b.deserialize_fields(&fields);
        assert_eq!(b.serialize_fields(), fields);
        assert_eq!(*b.model_dir.read(), "/models/m");
        assert_eq!(b.transcript.read().offset_seconds, 12.5);
        assert_eq!(b.asr.read().language, "de");
    }

    /// A project saved before speech recognition existed has no `asr`
    /// field, and an `asr` written by a later version may lack keys: both
    /// give recognition on, the default model, English.
    #[test]
    fn missing_speech_settings_mean_recognition_on() {
        assert!(EmoscopeParams::default().asr.read().enabled);
        let old: SpeechSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(old, SpeechSettings::default());
        let engine = old.to_engine();
        assert!(engine.enabled && engine.model_dir.is_none() && engine.language.is_none());
        let set: SpeechSettings =
            serde_json::from_str(r#"{"enabled": false, "model_dir": " /m ", "language": "de"}"#)
                .unwrap();
        let engine = set.to_engine();
        assert!(!engine.enabled);
        assert_eq!(
            engine.model_dir.as_deref(),
            Some(std::path::Path::new("/m"))
        );
        assert_eq!(engine.language.as_deref(), Some("de"));
    }

    /// A project saved before "analyse speech only" existed has an
    /// `analysis` without the key: every window is read, as before. The
    /// setting round-trips through the saved state.
    #[test]
    fn missing_speech_only_means_every_window_is_read() {
        assert!(!EmoscopeParams::default().analysis.read().speech_only);
        let old: AnalysisSettings = serde_json::from_str(
            r#"{"window_seconds": 2.0, "hop_seconds": 0.5, "smoothing_seconds": 0.0,
                "analyse_while_stopped": false}"#,
        )
        .unwrap();
        assert!(!old.speech_only);
        assert_eq!(old.window_seconds, 2.0);
        let a = EmoscopeParams::default();
        a.analysis.write().speech_only = true;
        let fields = a.serialize_fields();
        assert!(
            fields["analysis"].contains(r#""speech_only":true"#),
            "{fields:?}"
        );
        let b = EmoscopeParams::default();
        b.deserialize_fields(&fields);
        assert!(b.analysis.read().speech_only);
    }

    #[test]
    fn out_of_range_analysis_settings_fall_back_to_defaults() {
        let s = AnalysisSettings {
            window_seconds: f64::NAN,
            hop_seconds: 100.0,
            smoothing_seconds: -1.0,
            analyse_while_stopped: true,
            speech_only: false,
        };
        let c = s.to_config();
        let d = AnalysisConfig::default();
        assert_eq!(c.window_seconds, d.window_seconds);
        assert_eq!(c.hop_seconds, d.hop_seconds);
        assert_eq!(c.smoothing_seconds, d.smoothing_seconds);
        assert!(c.analyse_while_stopped);
        // A hop longer than the window is refused against the window actually used.
        let s = AnalysisSettings {
            window_seconds: 2.0,
            hop_seconds: 3.0,
            ..AnalysisSettings::default()
        };
        assert_eq!(s.to_config().hop_seconds, 1.0);
    }

    /// The editor's ranges are the engine's limits, and `to_config` keeps a
    /// value at either end of them and replaces one just beyond by the
    /// default.
    #[test]
    fn editor_ranges_are_the_engines_limits() {
        type C = AnalysisConfig;
        let window = AnalysisSettings::window_range();
        assert_eq!(
            (*window.start(), *window.end()),
            (C::MIN_WINDOW_SECONDS, C::MAX_WINDOW_SECONDS)
        );
        let smoothing = AnalysisSettings::smoothing_range();
        assert_eq!(
            (*smoothing.start(), *smoothing.end()),
            (C::MIN_SMOOTHING_SECONDS, C::MAX_SMOOTHING_SECONDS)
        );
        let d = C::default();
        for w in [C::MIN_WINDOW_SECONDS, C::MAX_WINDOW_SECONDS] {
            let s = AnalysisSettings {
                window_seconds: w,
                ..AnalysisSettings::default()
            };
            let hop = s.hop_range();
            assert_eq!((*hop.start(), *hop.end()), (C::MIN_HOP_SECONDS, w));
            for h in [*hop.start(), *hop.end()] {
                let c = AnalysisSettings {
                    hop_seconds: h,
                    ..s.clone()
                }
                .to_config();
                assert_eq!((c.window_seconds, c.hop_seconds), (w, h));
            }
            let beyond = AnalysisSettings {
                hop_seconds: w + 0.01,
                ..s.clone()
            };
            assert_eq!(beyond.to_config().hop_seconds, d.hop_seconds.min(w));
        }
        let beyond = |w: f64, sm: f64| {
            AnalysisSettings {
                window_seconds: w,
                smoothing_seconds: sm,
                ..AnalysisSettings::default()
            }
            .to_config()
        };
        for x in [*window.start(), *window.end()] {
            assert_eq!(beyond(x, 0.0).window_seconds, x);
        }
        for x in [*window.start() - 0.01, *window.end() + 0.01] {
            assert_eq!(beyond(x, 0.0).window_seconds, d.window_seconds);
        }
        for x in [*smoothing.start(), *smoothing.end()] {
            assert_eq!(beyond(4.0, x).smoothing_seconds, x);
        }
        for x in [*smoothing.start() - 0.01, *smoothing.end() + 0.01] {
            assert_eq!(beyond(4.0, x).smoothing_seconds, d.smoothing_seconds);
        }
    }
}
