//! Emoscope as a VST3 / CLAP plugin (and a standalone application).
//!
//! The plugin is a pass-through analyser: audio leaves bit-exact (subnormal
//! samples excepted, which become zero), with no latency. On the audio thread, [`Emoscope::process`] only hands each block
//! to the streaming engine's capture ring ([`emoscope::engine::CaptureInput`])
//! and turns new readouts into MIDI CC and program changes ([`midi::CcEmitter`]); it never
//! allocates, locks, logs or panics, and never blocks except in an offline
//! render, where it may wait for the worker. The engine's worker is the
//! plugin's own thread, started in `activate` and joined in `deactivate` (or
//! when the plugin is dropped); it loads the model and runs the analysis. The
//! editor ([`editor`]) shows meters, history, the valence-arousal plane (or,
//! for a categorical model, a bar per category), the transcript and the status, and holds the settings, which the host saves
//! with the project ([`params`]) and which reach the engine whenever the host
//! restores them ([`restore`]).
//!
//! Offline renders: when the host says it renders offline, `process` may
//! wait for the worker (nobody is listening), so a bounce analyses every
//! window; when audio comes faster than real time without that word, the
//! windows queue up to [`shared::MAX_QUEUED_SECONDS`] of audio instead (see
//! `emoscope::engine::worker`). Deactivation waits for the queue, so markers
//! exported on deactivate are complete.

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use emoscope::engine::capture::RenderMode;
use emoscope::engine::{CaptureInput, EngineShared};
use nice_plug::prelude::*;

pub mod editor;
pub mod export;
pub mod midi;
pub mod params;
pub mod restore;
pub mod shared;
pub mod standalone;
pub mod transcript;

use midi::{CcEmitter, MidiOut};
use params::EmoscopeParams;
use restore::RestoringParams;
use shared::PluginShared;

/// The plugin.
pub struct Emoscope {
    /// Parameters and persisted settings, shared with the editor and the host.
    params: Arc<EmoscopeParams>,
    /// Engine handle, session timeline and notices, shared with the editor.
    shared: Arc<PluginShared>,
    /// Audio thread: the capture producer of the running engine (set in `activate`).
    capture: Option<CaptureInput>,
    /// Audio thread: the running engine's readout and status (set in `activate`).
    engine: Option<Arc<EngineShared>>,
    /// Audio thread: CC output state.
    cc: CcEmitter,
    /// Host sample rate from `activate`.
    sample_rate: f32,
    /// Timeline position used when the host reports none: the running sum of block lengths.
    free_position: i64,
}

impl Default for Emoscope {
    fn default() -> Self {
        let params = EmoscopeParams::default();
        // The standalone's `--model` / `--transcript` options (no-ops in a host).
        standalone::apply_defaults(&params);
        Self {
            params: Arc::new(params),
            shared: Arc::new(PluginShared::default()),
            capture: None,
            engine: None,
            cc: CcEmitter::default(),
            sample_rate: 48_000.0,
            free_position: 0,
        }
    }
}

impl Emoscope {
    /// The shared state (for tests and the standalone).
    pub fn shared(&self) -> &Arc<PluginShared> {
        &self.shared
    }

    /// The parameters (for tests).
    pub fn emoscope_params(&self) -> &Arc<EmoscopeParams> {
        &self.params
    }
}

impl Plugin for Emoscope {
    const NAME: &'static str = "Emoscope";
    const VENDOR: &'static str = "Emoscope developers";
    const URL: &'static str = "https://github.com/emoscope/emoscope";
    const EMAIL: &'static str = "emoscope@users.noreply.github.com";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];

    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = editor::EmoscopeEditor;

    fn params(&self) -> Arc<dyn Params> {
        Arc::new(RestoringParams::new(
            self.params.clone(),
            self.shared.clone(),
        ))
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        Some(editor::EmoscopeEditor::new(
            self.params.clone(),
            self.shared.clone(),
        ))
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        context.set_latency_samples(0);
        let render_mode = render_mode(buffer_config.process_mode, context.plugin_api());
        let rate_changed = self.sample_rate != buffer_config.sample_rate;
        self.sample_rate = buffer_config.sample_rate;
        if self.capture.is_none() || rate_changed {
            // First activation (or a new rate): our own worker thread, which also loads the model.
            let (input, engine) = self.shared.start(&self.params, self.sample_rate);
            self.capture = Some(input);
            self.engine = Some(engine);
        } else {
            // Activated again while running: send only the settings that
            // changed (a state load has already sent them, see `restore`).
            self.shared.apply(&self.params);
        }
        if let Some(capture) = &mut self.capture {
            capture.set_render_mode(render_mode);
        }
        true
    }

    fn reset(&mut self) {
        self.cc.reset();
    }

    fn deactivate(&mut self) {
        self.capture = None;
        self.engine = None;
        self.shared.stop(&self.params);
    }

    fn process(
        &mut self,
        buffer: &mut Buffer<'_>,
        _aux: &mut AuxiliaryBuffers<'_>,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let frames = buffer.samples();
        let transport = context.transport();
        let playing = transport.playing;
        let position = transport.pos_samples().unwrap_or(self.free_position);
        self.free_position = position + frames as i64;

        // The output buffers already hold the input (nice-plug copies when the
        // host does not process in place). It stays bit-exact except for
        // subnormal samples (below 1.2e-38, some 758 dB under full scale), which
        // become a zero of the same sign so that none leave the plugin to slow
        // down the effects after it.
        for channel in buffer.as_slice().iter_mut() {
            for x in channel.iter_mut() {
                if x.is_subnormal() {
                    *x = 0.0f32.copysign(*x);
                }
            }
        }
        if let Some(capture) = &mut self.capture {
            capture.push(
                buffer.as_slice_immutable(),
                position,
                self.sample_rate,
                playing,
            );
        }
        self.shared
            .playhead
            .store(position + frames as i64, self.sample_rate, playing);

        if let Some(engine) = &self.engine {
            let reading = engine.readout.read();
            let range = engine.status.output_range();
            let mapping = self.params.cc.get();
            self.cc.process(
                frames as u32,
                self.sample_rate,
                reading.as_ref(),
                range,
                mapping,
                |ev| {
                    let event = match ev {
                        MidiOut::Cc(ev) => NoteEvent::MidiCC {
                            timing: ev.timing,
                            channel: ev.channel,
                            cc: ev.cc,
                            value: f32::from(ev.value) / 127.0,
                        },
                        MidiOut::Program {
                            timing,
                            channel,
                            program,
                        } => NoteEvent::MidiProgramChange {
                            timing,
                            channel,
                            program,
                        },
                    };
                    context.try_send_event(event).is_ok()
                },
            );
        }
        ProcessStatus::Tail(self.shared.tail_samples.load(Ordering::Relaxed))
    }
}

/// The capture path's overflow policy for the host's process mode.
///
/// VST3 workaround: nice-plug 0.4.2's `IAudioProcessor::setupProcessing`
/// builds the `BufferConfig` that `activate` receives from the process mode
/// of the *previous* setup and only then stores the new one, so under VST3
/// the mode `activate` sees is one setup stale: a host's first offline setup
/// reads `Realtime`, and the real-time setup after a bounce reads `Offline`.
/// nice-plug exposes the mode nowhere else (not in `process`). So a VST3
/// `Offline` only lets the audio thread wait while the worker sees audio
/// arriving faster than real time ([`RenderMode::OfflineIfFast`]), which a
/// real-time session never does; a VST3 bounce reported as `Realtime` is
/// caught by the same pace check and queued (bounded) instead of waiting.
/// CLAP's render mode is reported correctly and trusted.
fn render_mode(mode: ProcessMode, api: PluginApi) -> RenderMode {
    match (mode, api) {
        (ProcessMode::Offline, PluginApi::Vst3) => RenderMode::OfflineIfFast,
        (ProcessMode::Offline, _) => RenderMode::Offline,
        (ProcessMode::Realtime | ProcessMode::Buffered, _) => RenderMode::Realtime,
    }
}

impl Drop for Emoscope {
    fn drop(&mut self) {
        // Join the worker even if the host never deactivated.
        self.capture = None;
        self.engine = None;
        self.shared.stop(&self.params);
    }
}

impl ClapPlugin for Emoscope {
    const CLAP_ID: &'static str = "org.emoscope.emoscope";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Arousal, valence and dominance of speech, as meters, MIDI CC and markers");
    const CLAP_MANUAL_URL: Option<&'static str> = Some(Self::URL);
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Analyzer,
        ClapFeature::Utility,
        ClapFeature::Mono,
        ClapFeature::Stereo,
    ];
}

impl Vst3Plugin for Emoscope {
    const VST3_CLASS_ID: [u8; 16] = *b"EmoscopeAVDmeter";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Analyzer];
}

nice_export_clap!(Emoscope);
nice_export_vst3!(Emoscope);
