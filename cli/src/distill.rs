//! `emoscope distill`: teach an audio-only student a teacher's predictions
//! (arousal, valence and dominance, or category probabilities) on
//! unlabelled audio (see [`emoscope_training::distill`]).

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::output::outln;
use emoscope_training::distill::{distill, DistillOptions};
use emoscope_training::metrics::TaskScores;

use super::train::{HeadArgs, LoopArgs, TaskArg};

/// Parses `S:T,S:T` (student hidden state : teacher hidden state).
fn parse_pair(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected STUDENT:TEACHER hidden-state indices, e.g. 2:4"))?;
    let n = |v: &str| v.trim().parse::<usize>().map_err(|e| format!("{v:?}: {e}"));
    Ok((n(a)?, n(b)?))
}

/// Arguments of `emoscope distill`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Teacher emotion checkpoint directory.
    #[arg(long)]
    teacher: PathBuf,
    /// Student: `student:tiny` / `student:small` / `student:CONFIG.json` (fresh),
    /// an audio backbone directory, or an emotion checkpoint with an audio branch.
    #[arg(long)]
    student: String,
    /// Unlabelled audio: a directory (searched recursively; same-stem .txt
    /// files are transcripts for a teacher with text) or a manifest (labels ignored).
    #[arg(long)]
    audio: PathBuf,
    /// Dev audio for early stopping (default: a seeded tenth of --audio).
    #[arg(long)]
    dev: Option<PathBuf>,
    /// Held-out audio on which to report the saved student's agreement with the teacher.
    #[arg(long)]
    test: Option<PathBuf>,
    /// Output directory (student checkpoint, training.json).
    #[arg(long)]
    out: PathBuf,
    /// What the student learns, which is what the teacher outputs (default:
    /// the teacher's task): `dimensional` (its arousal, valence and dominance,
    /// CCC + MSE) or `categorical` (its categories' probabilities,
    /// cross-entropy; early stopping on the dev UAR against the teacher's
    /// most probable category). Given, it must match the teacher.
    #[arg(long, value_enum)]
    task: Option<TaskArg>,
    /// Hidden states to match, STUDENT:TEACHER pairs, comma-separated (e.g. `2:4`).
    #[arg(long, value_delimiter = ',', value_parser = parse_pair)]
    hidden_layers: Vec<(usize, usize)>,
    /// Weight of the hidden-state term (L1 + cosine).
    #[arg(long, default_value_t = 1.0)]
    hidden_weight: f64,
    /// Weight of the MSE term beside the CCC loss (default 1; a dimensional
    /// teacher only).
    #[arg(long)]
    mse_weight: Option<f64>,
    /// Train the student's conv feature extractor too.
    #[arg(long)]
    train_conv: bool,
    #[command(flatten)]
    head: HeadArgs,
    #[command(flatten)]
    run: LoopArgs,
}

/// Distils and prints the agreement.
pub fn run(args: Args) -> Result<()> {
    let mut run = args.run.options();
    // The MSE term is the dimensional default; a categorical student has none.
    let categorical = match args.task {
        Some(t) => matches!(t, TaskArg::Categorical),
        None => emoscope_models::emotion::Manifest::read(&args.teacher)
            .is_ok_and(|m| m.task == emoscope_models::emotion::Task::Categorical),
    };
    run.mse_weight = args
        .mse_weight
        .unwrap_or(if categorical { 0.0 } else { 1.0 });
    let opts = DistillOptions {
        teacher: args.teacher,
        student: args.student,
        audio: args.audio,
        dev: args.dev,
        test: args.test,
        out: args.out.clone(),
        task: args.task.map(Into::into),
        head: args.head.options(),
        hidden_layers: args.hidden_layers,
        hidden_weight: args.hidden_weight,
        train_conv: args.train_conv,
        run,
    };
    let r = distill(&opts).with_context(|| format!("distilling into {}", args.out.display()))?;
    let step = r.training.best.step;
    match &r.training.best.dev {
        TaskScores::Dimensions(b) => outln!(
            "best dev CCC against the teacher at step {step}: arousal {:.4}, valence {:.4}, dominance {:.4}; {}",
            b.arousal.ccc, b.valence.ccc, b.dominance.ccc, r.training.stopped
        ),
        TaskScores::Categories(c) => outln!(
            "best dev agreement with the teacher's most probable category at step {step}: UAR {:.4}, accuracy {:.4}; {}",
            c.uar, c.accuracy, r.training.stopped
        ),
    }
    if let Some(t) = &r.test {
        match &t.scores {
            TaskScores::Dimensions(s) => outln!(
                "test ({} utterances) CCC against the teacher: arousal {:.4}, valence {:.4}, dominance {:.4}",
                t.utterances, s.arousal.ccc, s.valence.ccc, s.dominance.ccc
            ),
            TaskScores::Categories(c) => outln!(
                "test ({} utterances) agreement with the teacher's most probable category: accuracy {:.4}, UAR {:.4}",
                t.utterances, c.accuracy, c.uar
            ),
        }
    }
    outln!(
        "teacher {:.1} s, features {:.1} s, training {:.1} s; student in {}",
        r.teacher_seconds,
        r.training.features_seconds,
        r.training.train_seconds,
        args.out.display()
    );
    Ok(())
}
