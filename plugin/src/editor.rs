//! The egui editor: a thin view over the engine's readout, timeline and
//! status, plus the settings panel.
//!
//! [`EmoscopeEditor`] is what nice-plug sees. It builds a fresh
//! nice-plug-egui editor each time the window opens, sized from the persisted
//! editor size (nice-plug-egui's own state is not persisted), and records the
//! size when the user resizes. [`EditorApp`] draws the frame; all work it does
//! (timeline snapshots, the "write automation" parameter updates) happens
//! only while the window is open.
//!
//! With "analyse speech only" on, a window without speech gets no reading:
//! while the latest window is one, the meters hold the last reading, faded,
//! and say "no speech" (no value is made up, as the MIDI output holds its
//! last values too), and the history shows the stretch as a gap.

mod bars;
mod colors;
mod controls;
mod dialog;
mod history;
mod meter;
mod plane;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use egui::{self, Color32, RichText, Vec2};
use emoscope::engine::{AsrState, ModelState, Published};
use emoscope::transcript::{Speaker, SpeakerTurns, Transcript};
use emoscope::{OutputRange, Reading, Span};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::{LogicalSize, NativeSize, Size};
use nice_plug::prelude::*;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorHandle, EguiEditorState, EguiNiceSettings,
    NiceEguiApp, RepaintNotifier,
};
use parking_lot::Mutex;

use crate::params::{EditorSize, EmoscopeParams};
use crate::shared::{ExportNotice, PluginShared};

/// Smallest editor size, logical pixels.
const MIN_SIZE: EditorSize = EditorSize {
    width: 720,
    height: 520,
};

/// How many past windows the valence-arousal trail shows.
const TRAIL: usize = 12;

/// The editor as nice-plug sees it.
pub struct EmoscopeEditor {
    params: Arc<EmoscopeParams>,
    shared: Arc<PluginShared>,
    /// The egui editor of the open window (rebuilt on each open).
    inner: Mutex<Option<EguiEditor<EditorApp>>>,
}

impl EmoscopeEditor {
    /// An editor over the plugin's parameters and shared state.
    pub fn new(params: Arc<EmoscopeParams>, shared: Arc<PluginShared>) -> Self {
        Self {
            params,
            shared,
            inner: Mutex::new(None),
        }
    }

    fn logical_size(&self) -> LogicalSize<f64> {
        let s = *self.params.editor_size.read();
        LogicalSize::new(
            f64::from(s.width.max(MIN_SIZE.width)),
            f64::from(s.height.max(MIN_SIZE.height)),
        )
    }
}

impl Editor for EmoscopeEditor {
    type Handle = EguiEditorHandle;

    fn spawn(
        &self,
        parent: Option<ParentWindowHandle>,
        wait_for_parent: bool,
        fallback_scale_factor: Option<f64>,
        gui_context: GuiContext,
        host: Option<nice_plug::editor::HostMethods>,
    ) -> Result<nice_plug::editor::SpawnedEditor<Self::Handle>, Box<dyn Error>> {
        let state = EguiEditorState::from_size(self.logical_size(), 1.0);
        let settings = EguiNiceSettings::new()
            .with_tile("Emoscope")
            .with_resize_hint(
                ResizeHint::resizable().with_min_logical_size(LogicalSize::new(
                    MIN_SIZE.width as f32,
                    MIN_SIZE.height as f32,
                )),
            );
        let app = EditorApp::new(self.params.clone(), self.shared.clone());
        let editor = create_egui_editor(state, RepaintNotifier::new(), settings, app)
            .ok_or("nice-plug-egui could not create the editor")?;
        let spawned = editor.spawn(
            parent,
            wait_for_parent,
            fallback_scale_factor,
            gui_context,
            host,
        )?;
        *self.inner.lock() = Some(editor);
        Ok(spawned)
    }

    fn size(&self) -> NativeSize<u32> {
        match self.inner.lock().as_ref() {
            Some(editor) => editor.size(),
            None => NativeSize::from_size(Size::Logical(self.logical_size()), 1.0),
        }
    }

    fn resize_hint(&self) -> ResizeHint {
        ResizeHint::resizable().with_min_logical_size(LogicalSize::new(
            MIN_SIZE.width as f32,
            MIN_SIZE.height as f32,
        ))
    }
}

/// Values shown by one frame, gathered once per frame.
struct Snapshot {
    reading: Option<Published>,
    /// The latest window, when it held too little speech to read.
    no_speech: Option<Span>,
    range: OutputRange,
    /// The model's category labels (empty for a dimensional model).
    categories: Vec<String>,
    now: f64,
}

impl Snapshot {
    /// Whether the model outputs arousal, valence and dominance (as its
    /// latest reading has them; before one, a model without categories).
    fn dimensional(&self) -> bool {
        match &self.reading {
            Some(r) => r.reading.emotion.has_dimensions(),
            None => self.categories.is_empty(),
        }
    }
}

/// The drawing side of the editor.
pub struct EditorApp {
    params: Arc<EmoscopeParams>,
    shared: Arc<PluginShared>,
    /// The host's GUI context (for `ParamSetter`), from `build`.
    gui: Option<GuiContext>,
    /// Timeline copy, refreshed when a new reading or window without speech arrives.
    timeline: Vec<Reading>,
    /// The windows without speech of the copy.
    gaps: Vec<Span>,
    /// Readout count and latest window without speech the copy corresponds to.
    timeline_key: (u64, Option<Span>),
    /// Whether an automation gesture is open on the three output parameters.
    gesture_open: bool,
    /// Readout count last written as automation.
    automation_count: u64,
    /// The settings panel's edit buffers.
    controls: controls::Controls,
    /// The sidecar the speakers below were read from.
    speakers_of: Option<Arc<Transcript>>,
    /// Its speaker turns on the host timeline, and the speakers in the
    /// order the readout numbers them.
    turns: SpeakerTurns,
    speakers: Vec<Speaker>,
}

impl EditorApp {
    fn new(params: Arc<EmoscopeParams>, shared: Arc<PluginShared>) -> Self {
        let controls = controls::Controls::new(&params);
        Self {
            params,
            shared,
            gui: None,
            timeline: Vec::new(),
            gaps: Vec::new(),
            timeline_key: (u64::MAX, None),
            gesture_open: false,
            automation_count: 0,
            controls,
            speakers_of: None,
            turns: SpeakerTurns::default(),
            speakers: Vec::new(),
        }
    }

    /// Reads the speakers of the sidecar when it changed.
    fn refresh_speakers(&mut self) {
        let sidecar = self.shared.sidecar();
        let same = match (&sidecar, &self.speakers_of) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.turns = sidecar
                .as_ref()
                .map(|t| t.timeline_speaker_turns())
                .unwrap_or_default();
            self.speakers = self.turns.speakers();
            self.speakers_of = sidecar;
        }
    }

    /// Who the meters show and who talks at the playhead, when the
    /// sidecar names speakers.
    fn speaker_line(&self, ui: &mut egui::Ui, snap: &Snapshot) {
        if self.speakers.is_empty() {
            return;
        }
        ui.horizontal(|ui| {
            ui.label(RichText::new("Speaker").weak());
            let shown = snap
                .reading
                .as_ref()
                .and_then(|r| r.speaker)
                .map(|k| k as usize)
                .filter(|&k| k < self.speakers.len());
            match shown {
                Some(k) => ui.label(
                    RichText::new(self.speakers[k].as_str())
                        .size(16.0)
                        .strong()
                        .color(colors::speaker(k)),
                ),
                None => ui.label(RichText::new("—").weak()),
            };
            let now: Vec<String> = self
                .turns
                .speakers_in(Span::new(snap.now, snap.now))
                .into_iter()
                .map(|(s, _)| s.to_string())
                .collect();
            if !now.is_empty() {
                ui.label(RichText::new(format!("now talking: {}", now.join(" + "))).weak());
            }
        });
    }

    fn snapshot(&mut self) -> Snapshot {
        self.refresh_speakers();
        let engine = self.shared.engine();
        let reading = engine.as_ref().and_then(|e| e.readout.read());
        let no_speech = engine.as_ref().and_then(|e| e.readout.no_speech());
        let range = engine
            .as_ref()
            .map_or(OutputRange::UNIT, |e| e.status.output_range());
        let categories = engine
            .as_ref()
            .map(|e| e.status.texts().categories)
            .unwrap_or_default();
        let key = (reading.as_ref().map_or(0, |r| r.count), no_speech);
        if key != self.timeline_key {
            let session = self.shared.session();
            self.timeline = session.readings;
            self.gaps = session.no_speech;
            self.timeline_key = key;
        }
        let now = self
            .shared
            .playhead
            .seconds()
            .or(reading.as_ref().map(|r| r.reading.span.end))
            .unwrap_or(0.0);
        Snapshot {
            reading,
            no_speech,
            range,
            categories,
            now,
        }
    }

    /// Writes new readings to the A/V/D parameters while "write automation" is on.
    fn write_automation(&mut self, snap: &Snapshot) {
        let Some(gui) = &self.gui else {
            return;
        };
        let setter = gui.param_setter();
        let p = &self.params;
        let on = p
            .write_automation
            .load(std::sync::atomic::Ordering::Relaxed);
        let params = [&p.arousal, &p.valence, &p.dominance];
        if on && !self.gesture_open {
            params.iter().for_each(|x| setter.begin_set_parameter(*x));
            self.gesture_open = true;
        }
        if !on && self.gesture_open {
            params.iter().for_each(|x| setter.end_set_parameter(*x));
            self.gesture_open = false;
        }
        if let (true, Some(r)) = (on, &snap.reading) {
            // A categorical model writes no A/V/D automation: it outputs none.
            if r.count != self.automation_count && r.reading.emotion.has_dimensions() {
                self.automation_count = r.count;
                for (param, v) in params.iter().zip(r.reading.emotion.dimensions()) {
                    setter.set_parameter(*param, snap.range.normalise(v));
                }
            }
        }
    }

    fn status_line(&self, ui: &mut egui::Ui) {
        let engine = self.shared.engine();
        let notices = self.shared.notices();
        ui.horizontal_wrapped(|ui| {
            let Some(e) = engine else {
                ui.label(RichText::new("Inactive: the host has not started processing").weak());
                return;
            };
            let texts = e.status.texts();
            let (state, color) = match e.status.state() {
                ModelState::None => ("no model", Color32::from_gray(150)),
                ModelState::Loading => ("loading", Color32::from_rgb(0xfd, 0xd8, 0x35)),
                ModelState::Loaded => ("ready", Color32::from_rgb(0x5e, 0xc9, 0x62)),
                ModelState::Failed => ("load failed", Color32::from_rgb(0xe8, 0x45, 0x3c)),
            };
            ui.label(RichText::new("●").color(color));
            let model = if texts.model_id.is_empty() {
                "—"
            } else {
                &texts.model_id
            };
            ui.label(format!("model {model} ({state})"));
            ui.separator();
            ui.label(format!(
                "device {}",
                if texts.device.is_empty() {
                    "—"
                } else {
                    &texts.device
                }
            ));
            ui.separator();
            ui.label(format!("RTF {:.3}", e.status.real_time_factor()));
            ui.separator();
            let dropped = e
                .status
                .windows_dropped
                .load(std::sync::atomic::Ordering::Relaxed);
            ui.label(format!("dropped windows {dropped}"));
            ui.separator();
            if self.params.analysis.read().speech_only {
                let gaps = e
                    .status
                    .windows_without_speech
                    .load(std::sync::atomic::Ordering::Relaxed);
                ui.label(format!("no speech {gaps}"))
                    .on_hover_text("Windows left out for want of speech (analyse speech only)");
                ui.separator();
            }
            let asr = e.asr.texts();
            let reads_text = e
                .asr
                .model_reads_text
                .load(std::sync::atomic::Ordering::Relaxed);
            let (state, color) = match e.asr.state() {
                AsrState::Off if self.params.asr.read().enabled && !reads_text => {
                    ("idle: the model reads no words", Color32::from_gray(150))
                }
                AsrState::Off => ("off", Color32::from_gray(150)),
                AsrState::Loading => ("loading", Color32::from_rgb(0xfd, 0xd8, 0x35)),
                AsrState::Ready if self.shared.sidecar().is_some() => {
                    ("sidecar in use", Color32::from_gray(150))
                }
                AsrState::Ready => ("listening", Color32::from_rgb(0x5e, 0xc9, 0x62)),
                AsrState::Failed => ("failed", Color32::from_rgb(0xe8, 0x45, 0x3c)),
            };
            ui.label(RichText::new("●").color(color));
            let whisper = std::path::Path::new(&asr.model)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            ui.label(format!("speech {whisper} ({state})"))
                .on_hover_text(&asr.model);
            let error = [
                texts.error.clone(),
                asr.error.clone(),
                notices.transcript_error.clone(),
                match &notices.export {
                    Some(ExportNotice::Failed(m)) => format!("export failed: {m}"),
                    _ => String::new(),
                },
            ]
            .into_iter()
            .find(|s| !s.is_empty());
            if let Some(error) = error {
                ui.separator();
                ui.label(RichText::new(error).color(Color32::from_rgb(0xe8, 0x45, 0x3c)));
            }
        });
    }

    fn transcript_words(&self, ui: &mut egui::Ui, snap: &Snapshot) {
        let now_words = self
            .shared
            .transcript()
            .map(|t| t.text_between(snap.now - 2.0, snap.now + 0.5))
            .unwrap_or_default();
        let window_words = self
            .timeline
            .iter()
            .rev()
            .find(|e| e.span.end <= snap.now + 0.5)
            .map(|e| e.text.clone())
            .unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Now:").weak());
            if now_words.is_empty() {
                ui.label(RichText::new("(no transcript words here)").weak());
            } else {
                ui.label(RichText::new(now_words).size(16.0).strong());
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Last window:").weak());
            ui.label(if window_words.is_empty() {
                RichText::new("—").weak()
            } else {
                RichText::new(window_words)
            });
        });
    }

    /// Meters, plane, history and transcript: everything left of the settings.
    fn main_view(&self, ui: &mut egui::Ui, snap: &Snapshot) {
        self.speaker_line(ui, snap);
        let avail = ui.available_size();
        let top_h = (avail.y * 0.5).clamp(200.0, 340.0).min(avail.x * 0.45);
        let dimensional = snap.dimensional();
        ui.horizontal(|ui| {
            if dimensional {
                let names = ["Arousal", "Valence", "Dominance"];
                let values = snap
                    .reading
                    .as_ref()
                    .map(|r| r.reading.emotion.dimensions());
                let meter_w = ((avail.x - top_h - 30.0) / 3.0).clamp(60.0, 120.0);
                for (d, name) in names.iter().enumerate() {
                    let v = values.map(|v| v[d]);
                    meter::meter(
                        ui,
                        Vec2::new(meter_w, top_h),
                        name,
                        v.map(|v| snap.range.normalise(v)),
                        v,
                        snap.no_speech.is_some(),
                    );
                }
            }
            if !snap.categories.is_empty() {
                let w = if dimensional {
                    (avail.x * 0.3).clamp(160.0, 320.0)
                } else {
                    (avail.x - 20.0).min(480.0)
                };
                bars::bars(
                    ui,
                    Vec2::new(w, top_h),
                    &snap.categories,
                    snap.reading
                        .as_ref()
                        .map(|r| &r.reading.emotion.probabilities),
                    snap.no_speech.is_some(),
                );
            }
            if dimensional {
                let upto: Vec<&Reading> = self
                    .timeline
                    .iter()
                    .filter(|e| e.span.end <= snap.now + 0.5)
                    .collect();
                plane::plane(
                    ui,
                    top_h,
                    &upto[upto.len().saturating_sub(TRAIL)..],
                    snap.range,
                );
            }
        });
        ui.add_space(6.0);
        let hist_h = (ui.available_height() - 80.0).max(100.0);
        history::history(
            ui,
            Vec2::new(ui.available_width(), hist_h),
            &self.timeline,
            &self.gaps,
            snap.now,
            snap.range,
            &history::curves(dimensional, &snap.categories),
            &self.speakers,
        );
        ui.add_space(4.0);
        self.transcript_words(ui, snap);
    }
}

impl NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        egui_ctx.set_visuals(egui::Visuals::dark());
        self.gui = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let snap = self.snapshot();
        self.write_automation(&snap);
        egui::Panel::top("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Emoscope");
                ui.label(
                    RichText::new(format!(
                        "t = {:.1} s {}",
                        snap.now,
                        if self.shared.playhead.playing() {
                            "▶"
                        } else {
                            "■"
                        }
                    ))
                    .monospace(),
                );
            });
            self.status_line(ui);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            // Two columns with fixed widths (the settings on the right), so
            // neither can draw over the other however the window is sized.
            let height = ui.available_height();
            let right = 290.0;
            let left = (ui.available_width() - right - 12.0).max(300.0);
            let column = egui::Layout::top_down(egui::Align::Min);
            ui.horizontal_top(|ui| {
                ui.allocate_ui_with_layout(Vec2::new(left, height), column, |ui| {
                    ui.set_width(left);
                    ui.set_height(height);
                    self.main_view(ui, &snap);
                });
                ui.separator();
                ui.allocate_ui_with_layout(Vec2::new(right, height), column, |ui| {
                    ui.set_width(right);
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        self.controls.show(ui, &self.params, &self.shared);
                    });
                });
            });
        });
        ui.ctx().request_repaint_after(Duration::from_millis(50));
    }

    fn resized(&mut self, new_size: nice_plug_egui::baseview::WindowSize) {
        *self.params.editor_size.write() = EditorSize {
            width: new_size.logical.width.round() as u32,
            height: new_size.logical.height.round() as u32,
        };
    }

    fn editor_closed(&mut self) {
        if self.gesture_open {
            if let Some(gui) = &self.gui {
                let setter = gui.param_setter();
                let p = &self.params;
                setter.end_set_parameter(&p.arousal);
                setter.end_set_parameter(&p.valence);
                setter.end_set_parameter(&p.dominance);
            }
            self.gesture_open = false;
        }
        self.gui = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::context::gui::GuiContextInner;
    use nice_plug::context::PluginApi;
    use nice_plug::params::internals::ParamPtr;
    use nice_plug::plugin::PluginState;
    use std::sync::atomic::Ordering;

    /// What the host saw through the `ParamSetter`.
    #[derive(Debug, Clone, PartialEq)]
    enum Call {
        Begin(ParamPtr),
        Set(ParamPtr, f32),
        End(ParamPtr),
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Call>>);

    impl GuiContextInner for Recorder {
        fn plugin_api(&self) -> PluginApi {
            PluginApi::Clap
        }
        unsafe fn raw_begin_set_parameter(&self, param: ParamPtr) {
            self.0.lock().push(Call::Begin(param));
        }
        unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
            self.0.lock().push(Call::Set(param, normalized));
        }
        unsafe fn raw_end_set_parameter(&self, param: ParamPtr) {
            self.0.lock().push(Call::End(param));
        }
        fn get_state(&self) -> PluginState {
            unimplemented!("not used by the editor")
        }
        fn set_state(&self, _state: PluginState) {}
        fn request_restart(&self) {}
    }

    fn snapshot(count: u64, a: f32, v: f32, d: f32) -> Snapshot {
        Snapshot {
            reading: Some(Published {
                reading: Reading {
                    span: emoscope::Span::new(0.0, 4.0),
                    emotion: emoscope::Emotion::new(a, v, d),
                    ..Reading::default()
                },
                count,
                speaker: None,
            }),
            no_speech: None,
            // A 1..7 scale: 4 is the middle (0.5), 7 the top (1.0), 1 the bottom (0.0).
            categories: Vec::new(),
            range: OutputRange::new(1.0, 7.0),
            now: 4.0,
        }
    }

    #[test]
    fn write_automation_records_new_readings_inside_one_gesture() {
        let params = Arc::new(EmoscopeParams::default());
        let mut app = EditorApp::new(params.clone(), Arc::new(PluginShared::default()));
        let recorder = Arc::new(Recorder::default());
        app.gui = Some(GuiContext::new(recorder.clone()));
        let [a, v, d] = [
            params.arousal.as_ptr(),
            params.valence.as_ptr(),
            params.dominance.as_ptr(),
        ];

        // Off: nothing reaches the host.
        app.write_automation(&snapshot(1, 4.0, 7.0, 1.0));
        assert!(recorder.0.lock().is_empty());

        params.write_automation.store(true, Ordering::Relaxed);
        app.write_automation(&snapshot(1, 4.0, 7.0, 1.0));
        // The same reading again: no new values.
        app.write_automation(&snapshot(1, 4.0, 7.0, 1.0));
        app.write_automation(&snapshot(2, 7.0, 4.0, 4.0));
        params.write_automation.store(false, Ordering::Relaxed);
        app.write_automation(&snapshot(3, 1.0, 1.0, 1.0));

        let calls = recorder.0.lock().clone();
        assert_eq!(
            calls,
            vec![
                Call::Begin(a),
                Call::Begin(v),
                Call::Begin(d),
                Call::Set(a, 0.5),
                Call::Set(v, 1.0),
                Call::Set(d, 0.0),
                Call::Set(a, 1.0),
                Call::Set(v, 0.5),
                Call::Set(d, 0.5),
                Call::End(a),
                Call::End(v),
                Call::End(d),
            ]
        );
    }

    /// "No speech" is no reading: the automation holds the last values
    /// (as the MIDI output does) until the next reading.
    #[test]
    fn no_speech_writes_no_automation() {
        let params = Arc::new(EmoscopeParams::default());
        let mut app = EditorApp::new(params.clone(), Arc::new(PluginShared::default()));
        let recorder = Arc::new(Recorder::default());
        app.gui = Some(GuiContext::new(recorder.clone()));
        params.write_automation.store(true, Ordering::Relaxed);
        app.write_automation(&snapshot(1, 4.0, 7.0, 1.0));
        let before = recorder.0.lock().len();
        let mut gap = snapshot(1, 4.0, 7.0, 1.0);
        gap.no_speech = Some(emoscope::Span::new(1.0, 5.0));
        app.write_automation(&gap);
        assert_eq!(recorder.0.lock().len(), before);
        app.write_automation(&snapshot(2, 7.0, 7.0, 7.0));
        assert_eq!(recorder.0.lock().len(), before + 3);
    }

    #[test]
    fn closing_the_editor_ends_an_open_gesture() {
        let params = Arc::new(EmoscopeParams::default());
        let mut app = EditorApp::new(params.clone(), Arc::new(PluginShared::default()));
        let recorder = Arc::new(Recorder::default());
        app.gui = Some(GuiContext::new(recorder.clone()));
        params.write_automation.store(true, Ordering::Relaxed);
        app.write_automation(&snapshot(1, 4.0, 4.0, 4.0));
        app.editor_closed();
        let calls = recorder.0.lock().clone();
        assert_eq!(
            calls[calls.len() - 3..],
            [
                Call::End(params.arousal.as_ptr()),
                Call::End(params.valence.as_ptr()),
                Call::End(params.dominance.as_ptr()),
            ]
        );
        assert!(app.gui.is_none());
    }
}
