//! The streaming analysis engine shared by the plugin and the CLI.
//!
//! Audio enters on the audio thread through [`capture::CaptureInput`]; the
//! worker ([`worker::Engine`]) resamples it, cuts windows aligned to the host
//! timeline ([`analyser::Analyser`]), runs an [`predictor::EmotionPredictor`]
//! and publishes each window's [`Reading`](crate::Reading) to
//! [`readout::EmotionReadout`] (lock-free, for meters and MIDI),
//! [`timeline::EmotionTimeline`] (for exports) and
//! [`status::EngineStatus`]. [`offline::analyse_offline`] runs the same
//! analysis over a whole file, [`offline::OfflineRun`] over one streamed
//! block by block, and [`spans::SpanReader`] reads segments as they stream past.
//! When no transcript file is set, [`asr`] runs Whisper on a second thread
//! over the speech regions of the same audio, and the windows get its words
//! ([`worker::Engine::set_asr`]). With "analyse speech only" on, [`gate`]
//! keeps windows with too little speech from the model, live as offline
//! ([`worker::Engine::set_speech_only`]). With speaker turns known, the
//! offline analysis reads each turn on its own (`turns`,
//! [`offline::OfflineOptions::turns`]).

pub mod analyser;
pub mod asr;
pub mod capture;
pub mod gate;
pub mod offline;
pub mod predictor;
pub mod readout;
pub mod resampler;
pub mod spans;
pub mod status;
pub mod timeline;
mod turns;
pub mod worker;

pub use analyser::{AnalyserError, AnalysisConfig, ConfigError, ConfigField};
pub use asr::{AsrSettings, AsrState, AsrStatus, RecognisedTranscript};
pub use capture::{capture, BlockInfo, CaptureInput, CaptureOutput, CaptureStats};
pub use offline::{
    analyse_offline, analyse_offline_with, OfflineAnalysis, OfflineOptions, OfflineRun,
    WindowResult, MIN_SPEECH_IN_WINDOW,
};
pub use predictor::{
    load_predictor, load_predictor_with, mean_of_pieces, predict_span, span_pieces,
    ClassifierPredictor, EmotionPredictor, ModelPredictor, Precision, PredictError,
    ResolvedPrecision, TextEmbeddingCache, BF16_BUDGET, DEFAULT_BATCH,
};
pub use readout::{EmotionReadout, Published};
pub use spans::{SpanReader, SpanRequest};
pub use status::{EngineStatus, ModelState};
pub use timeline::{merge_entries, EmotionTimeline};
pub use worker::{Engine, EngineShared, Loader};
