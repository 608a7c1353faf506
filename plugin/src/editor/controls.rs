//! The settings panel: model directory, transcript sidecar and offset,
//! speech recognition (on/off, Whisper model folder, language), MIDI CC
//! mapping, analysis window and speech gate ("analyse speech only"),
//! automation and export. Edits go to the persisted settings and, through
//! [`PluginShared::apply`], to the engine.
//! The analysis fields offer the engine's ranges
//! ([`AnalysisSettings::window_range`] and the others).

use std::path::Path;
use std::sync::atomic::Ordering;

use egui::{self, Color32, RichText};

use super::dialog::{Dialogs, Purpose};
use crate::params::{AnalysisSettings, EmoscopeParams};
use crate::shared::{ExportNotice, PluginShared};

const ERROR: Color32 = Color32::from_rgb(0xe8, 0x45, 0x3c);

/// Edit buffers of the text fields (applied on Enter or the button) and the last refusal.
pub struct Controls {
    model_dir: String,
    transcript: String,
    asr_model: String,
    asr_language: String,
    export_path: String,
    cc_error: Option<String>,
    dialogs: Dialogs,
}

impl Controls {
    /// Buffers initialised from the persisted settings.
    pub fn new(params: &EmoscopeParams) -> Self {
        Self {
            model_dir: params.model_dir.read().clone(),
            transcript: params.transcript.read().path.clone(),
            asr_model: params.asr.read().model_dir.clone(),
            asr_language: params.asr.read().language.clone(),
            export_path: params.export.read().path.clone(),
            cc_error: None,
            dialogs: Dialogs::default(),
        }
    }

    /// Draws the panel.
    pub fn show(&mut self, ui: &mut egui::Ui, params: &EmoscopeParams, shared: &PluginShared) {
        self.take_dialog_answer(params, shared);
        ui.spacing_mut().item_spacing.y = 5.0;
        self.model(ui, params, shared);
        ui.separator();
        self.transcript(ui, params, shared);
        ui.separator();
        self.speech(ui, params, shared);
        ui.separator();
        self.midi(ui, params);
        ui.separator();
        analysis(ui, params, shared);
        ui.separator();
        automation(ui, params);
        ui.separator();
        self.export(ui, params, shared);
    }

    fn take_dialog_answer(&mut self, params: &EmoscopeParams, shared: &PluginShared) {
        let Some((purpose, Some(path))) = self.dialogs.take() else {
            return;
        };
        let path = path.display().to_string();
        match purpose {
            Purpose::ModelDir => {
                self.model_dir = path.clone();
                *params.model_dir.write() = path;
                shared.apply(params);
            }
            Purpose::Transcript => {
                self.transcript = path.clone();
                params.transcript.write().path = path;
                shared.apply(params);
            }
            Purpose::AsrModel => {
                self.asr_model = path.clone();
                params.asr.write().model_dir = path;
                shared.apply(params);
            }
            Purpose::Export(_) => {
                self.export_path = path.clone();
                params.export.write().path = path;
            }
        }
    }

    fn path_row(&mut self, ui: &mut egui::Ui, which: Purpose, hint: &str) -> bool {
        let dialogs_open = self.dialogs.is_open();
        let buffer = match which {
            Purpose::ModelDir => &mut self.model_dir,
            Purpose::Transcript => &mut self.transcript,
            Purpose::AsrModel => &mut self.asr_model,
            Purpose::Export(_) => &mut self.export_path,
        };
        let mut commit = false;
        ui.horizontal(|ui| {
            let r = ui.add(
                egui::TextEdit::singleline(buffer)
                    .hint_text(hint)
                    .desired_width(ui.available_width() - 90.0),
            );
            commit |= r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .add_enabled(!dialogs_open, egui::Button::new("Browse…"))
                .clicked()
            {
                self.dialogs.open(which);
            }
        });
        commit
    }

    fn model(&mut self, ui: &mut egui::Ui, params: &EmoscopeParams, shared: &PluginShared) {
        ui.label(RichText::new("Model").strong());
        let mut commit = self.path_row(ui, Purpose::ModelDir, "model directory");
        commit |= ui.button("Load model").clicked();
        if commit {
            *params.model_dir.write() = self.model_dir.trim().to_owned();
            shared.apply(params);
        }
    }

    fn transcript(&mut self, ui: &mut egui::Ui, params: &EmoscopeParams, shared: &PluginShared) {
        ui.label(RichText::new("Transcript sidecar").strong());
        let mut commit = self.path_row(ui, Purpose::Transcript, "labels .txt or plain text");
        let mut offset = params.transcript.read().offset_seconds;
        let mut strict = params.transcript.read().strict;
        ui.horizontal(|ui| {
            ui.label("offset");
            let r = ui.add(
                egui::DragValue::new(&mut offset)
                    .speed(0.01)
                    .suffix(" s")
                    .range(-86_400.0..=86_400.0),
            );
            commit |= r.changed();
            commit |= ui.button("Reload").clicked();
        });
        commit |= ui
            .checkbox(&mut strict, "strict")
            .on_hover_text(
                "Refuse a sidecar that needs repairs instead of reading it with warnings",
            )
            .changed();
        if commit {
            {
                let mut t = params.transcript.write();
                t.path = self.transcript.trim().to_owned();
                t.offset_seconds = offset;
                t.strict = strict;
            }
            shared.apply(params);
        }
        if let Some(t) = shared.sidecar() {
            ui.label(RichText::new(format!("{} segments loaded", t.segments().len())).weak());
            if let Some(first) = t.warnings().first() {
                ui.label(
                    RichText::new(format!("{} warnings; first: {first}", t.warnings().len()))
                        .weak(),
                )
                .on_hover_text(
                    t.warnings()
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
            }
        }
    }

    fn speech(&mut self, ui: &mut egui::Ui, params: &EmoscopeParams, shared: &PluginShared) {
        ui.label(RichText::new("Speech recognition").strong());
        let mut enabled = params.asr.read().enabled;
        let mut commit = ui
            .checkbox(&mut enabled, "Recognise speech when no sidecar is set")
            .on_hover_text(
                "Whisper transcribes the track on a background thread; its words feed the \
                 text branch, the transcript line and the exports",
            )
            .changed();
        commit |= self.path_row(
            ui,
            Purpose::AsrModel,
            "Whisper model folder (default: Whisper tiny.en from setup)",
        );
        ui.horizontal(|ui| {
            ui.label("language");
            let r = ui.add(
                egui::TextEdit::singleline(&mut self.asr_language)
                    .hint_text("en")
                    .desired_width(50.0),
            );
            commit |= r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            commit |= ui.button("Apply").clicked();
        });
        if commit {
            {
                let mut s = params.asr.write();
                s.enabled = enabled;
                s.model_dir = self.asr_model.trim().to_owned();
                s.language = self.asr_language.trim().to_owned();
            }
            shared.apply(params);
        }
    }

    fn midi(&mut self, ui: &mut egui::Ui, params: &EmoscopeParams) {
        ui.label(RichText::new("MIDI CC output").strong());
        let old = params.cc.get();
        let mut m = old;
        ui.checkbox(&mut m.enabled, "send readings as control change");
        egui::Grid::new("cc").num_columns(2).show(ui, |ui| {
            for (i, name) in ["arousal CC", "valence CC", "dominance CC"]
                .iter()
                .enumerate()
            {
                ui.label(*name);
                ui.add(egui::DragValue::new(&mut m.controllers[i]).range(0..=119));
                ui.end_row();
            }
            ui.label("first category CC").on_hover_text(
                "A categorical model's probabilities: its first category on this controller, \
                 the next on the one after, and so on (16 at most; always 7-bit)",
            );
            ui.add(egui::DragValue::new(&mut m.category_first).range(0..=104));
            ui.end_row();
            ui.label("channel");
            let mut ch = m.channel + 1;
            ui.add(egui::DragValue::new(&mut ch).range(1..=16));
            m.channel = ch - 1;
            ui.end_row();
            ui.label("at most every");
            ui.add(
                egui::DragValue::new(&mut m.min_interval_ms)
                    .range(0..=10_000)
                    .suffix(" ms"),
            );
            ui.end_row();
        });
        ui.checkbox(&mut m.fourteen_bit, "14-bit (MSB + LSB on CC + 32)");
        ui.checkbox(
            &mut m.top_category_program,
            "top category as program change",
        )
        .on_hover_text(
            "A categorical model: when the most probable category changes, send its number \
                 as a program change (the first category is program 1)",
        );
        ui.checkbox(&mut m.channel_per_speaker, "a channel per speaker")
            .on_hover_text(
                "With a transcript that names speakers: the first speaker on the channel \
                 above, the second on the next one, and so on (as in the MIDI file export)",
            );
        if m != old {
            self.cc_error = params.cc.set(m).err().map(|e| e.to_string());
        }
        if let Some(e) = &self.cc_error {
            ui.label(RichText::new(e).color(ERROR));
        }
    }

    fn export(&mut self, ui: &mut egui::Ui, params: &EmoscopeParams, shared: &PluginShared) {
        ui.label(RichText::new("Export timeline").strong());
        let mut settings = params.export.read().clone();
        let before = settings.clone();
        let ext = settings.format.extension();
        if self.path_row(ui, Purpose::Export(ext), "file to write") {
            settings.path = self.export_path.trim().to_owned();
        }
        ui.horizontal(|ui| {
            egui::ComboBox::from_id_salt("export-format")
                .selected_text(settings.format.description())
                .show_ui(ui, |ui| {
                    for f in crate::export::MENU {
                        ui.selectable_value(&mut settings.format, f, f.description());
                    }
                });
            if ui.button("Export now").clicked() {
                settings.path = self.export_path.trim().to_owned();
                // The result is also kept in the notices, shown below.
                let _ = shared.export(Path::new(&settings.path), settings.format);
            }
            if ui
                .button("Clear")
                .on_hover_text("Forget the analysed timeline")
                .clicked()
            {
                shared.clear_timeline();
            }
        });
        ui.checkbox(
            &mut settings.on_deactivate,
            "also export when the host stops the plugin",
        );
        if settings != before {
            *params.export.write() = settings;
        }
        match shared.notices().export {
            Some(ExportNotice::Written(path, n)) => {
                ui.label(RichText::new(format!("wrote {n} windows to {}", path.display())).weak());
            }
            Some(ExportNotice::Failed(m)) => {
                ui.label(
                    RichText::new(format!("{m} — the timeline is kept; try again")).color(ERROR),
                );
            }
            None => {}
        }
    }
}

fn analysis(ui: &mut egui::Ui, params: &EmoscopeParams, shared: &PluginShared) {
    ui.label(RichText::new("Analysis").strong());
    let old = params.analysis.read().clone();
    let mut a = old.clone();
    egui::Grid::new("analysis").num_columns(2).show(ui, |ui| {
        ui.label("window");
        ui.add(
            egui::DragValue::new(&mut a.window_seconds)
                .range(AnalysisSettings::window_range())
                .speed(0.05)
                .suffix(" s"),
        );
        ui.end_row();
        ui.label("hop");
        let hop_range = a.hop_range();
        ui.add(
            egui::DragValue::new(&mut a.hop_seconds)
                .range(hop_range)
                .speed(0.01)
                .suffix(" s"),
        );
        ui.end_row();
        ui.label("smoothing");
        ui.add(
            egui::DragValue::new(&mut a.smoothing_seconds)
                .range(AnalysisSettings::smoothing_range())
                .speed(0.05)
                .suffix(" s"),
        );
        ui.end_row();
    });
    ui.checkbox(
        &mut a.analyse_while_stopped,
        "analyse while the transport is stopped",
    );
    ui.checkbox(&mut a.speech_only, "Analyse speech only")
        .on_hover_text(
            "Windows with less than a quarter of speech (by the voice-activity detector, \
             as `emoscope annotate` gates them) are not read: the meters show \"no speech\" \
             and hold the last reading, MIDI CC holds its last values, and exports show \
             the gap. Off: every window is read, for continuous meters",
        );
    if a != old {
        *params.analysis.write() = a;
        shared.apply(params);
    }
}

fn automation(ui: &mut egui::Ui, params: &EmoscopeParams) {
    ui.label(RichText::new("Automation").strong());
    let mut on = params.write_automation.load(Ordering::Relaxed);
    if ui
        .checkbox(&mut on, "write A/V/D parameters while this window is open")
        .on_hover_text("The host records them as plugin automation when its automation mode is write/touch/latch")
        .changed()
    {
        params.write_automation.store(on, Ordering::Relaxed);
    }
}
