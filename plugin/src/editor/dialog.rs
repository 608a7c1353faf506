//! Native file dialogs without blocking the host's GUI thread.
//!
//! On Linux the dialog (the XDG desktop portal, through `rfd`) runs on a
//! short-lived thread of its own and the editor polls for the answer each
//! frame. Elsewhere the platform requires dialogs on the main thread, which is
//! the editor's thread in every host, so they run there. Where no dialog
//! service exists the answer is "nothing chosen" and the text field remains.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

/// What a dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Choose a model directory.
    ModelDir,
    /// Choose a transcript sidecar.
    Transcript,
    /// Choose a Whisper model folder.
    AsrModel,
    /// Choose where to export (with the format's extension).
    Export(&'static str),
}

/// A finished dialog's purpose and choice (`None`: cancelled or no dialog service).
type Answer = (Purpose, Option<PathBuf>);

/// A dialog in flight (or finished, until taken).
#[derive(Default)]
pub struct Dialogs {
    /// Written by the dialog thread, taken by the editor.
    answer: Arc<Mutex<Option<Answer>>>,
    open: Arc<Mutex<bool>>,
}

fn run(purpose: Purpose) -> Option<PathBuf> {
    let d = rfd::FileDialog::new();
    match purpose {
        Purpose::ModelDir => d.set_title("Emoscope model directory").pick_folder(),
        Purpose::AsrModel => d.set_title("Whisper model folder").pick_folder(),
        Purpose::Transcript => d
            .set_title("Transcript sidecar")
            .add_filter(
                "Transcripts and speaker turns",
                &[
                    "txt", "srt", "vtt", "json", "TextGrid", "eaf", "stm", "rttm",
                ],
            )
            .pick_file(),
        Purpose::Export(ext) => d
            .set_title("Export emotion timeline")
            .add_filter(ext, &[ext])
            .set_file_name(format!("emoscope-timeline.{ext}"))
            .save_file(),
    }
}

impl Dialogs {
    /// Opens a dialog unless one is already open.
    pub fn open(&self, purpose: Purpose) {
        if std::mem::replace(&mut *self.open.lock(), true) {
            return;
        }
        let answer = self.answer.clone();
        let open = self.open.clone();
        let finish = move |path| {
            *answer.lock() = Some((purpose, path));
            *open.lock() = false;
        };
        if cfg!(target_os = "linux") {
            let spawned = std::thread::Builder::new()
                .name("emoscope-file-dialog".into())
                .spawn(move || finish(run(purpose)));
            if spawned.is_err() {
                *self.open.lock() = false;
            }
        } else {
            finish(run(purpose));
        }
    }

    /// Whether a dialog is open.
    pub fn is_open(&self) -> bool {
        *self.open.lock()
    }

    /// The answer of a finished dialog, once.
    pub fn take(&self) -> Option<Answer> {
        self.answer.lock().take()
    }
}
