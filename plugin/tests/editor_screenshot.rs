//! The editor, on screen: runs the standalone application (nice-plug's
//! standalone wrapper with `--backend dummy`, which feeds silence with a
//! running transport) under Xvfb, where egui renders through Mesa's software
//! OpenGL, and takes a screenshot with ImageMagick's `import`.
//!
//! Checked: the application starts, opens its window, stays up, and the
//! window shows the editor (many distinct colours over the whole display),
//! not a black or blank frame. Twice: with a dimensional model and a
//! two-speaker transcript, and with a categorical model. The pictures are
//! written to `target/editor-screenshot.png` and
//! `target/editor-categorical-screenshot.png`; with
//! `EMOSCOPE_UPDATE_SCREENSHOT=1` they also replace `plugin/docs/editor.png`
//! and `plugin/docs/editor-categorical.png`, the README's.
//!
//! This is a `harness = false` test: the same binary is the driver and,
//! started again with `EMOSCOPE_SCREENSHOT_CHILD=1`, the standalone itself
//! (the test build of nice-plug has its `standalone` feature on). Needs the
//! Debian packages `xvfb` and `imagemagick` (`.ci/run` installs them).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "EMOSCOPE_SCREENSHOT_CHILD";
const WIDTH: u32 = 900;
const HEIGHT: u32 = 640;

/// Kills and reaps a child process when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        let (defaults, rest) =
            emoscope_plugin::standalone::split_args(std::env::args()).expect("arguments");
        emoscope_plugin::standalone::set_defaults(defaults);
        let ok = nice_plug::prelude::nice_export_standalone_with_args::<emoscope_plugin::Emoscope, _>(
            rest,
        );
        std::process::exit(if ok { 0 } else { 1 });
    }
    // Under `cargo test -- <filter>` run only when the filter matches us.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("editor_screenshot: test");
        return;
    }
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-')) {
        if !"editor_screenshot".contains(filter.as_str()) {
            println!("0 passed, 0 failed, 1 skipped");
            return;
        }
    }
    println!("running 1 test");
    let t0 = Instant::now();
    editor_screenshot();
    println!("test editor_screenshot ... ok");
    println!(
        "\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s",
        t0.elapsed().as_secs_f64()
    );
}

fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is missing: install the Debian packages xvfb and imagemagick (see .ci/run)"
    );
}

/// A virtual X display of the editor's size; returns the server and its display name.
fn xvfb() -> (Reaped, String) {
    let mut server = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            &format!("{WIDTH}x{HEIGHT}x24"),
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting Xvfb");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("reading Xvfb's display number");
    let display = format!(":{}", line.trim());
    assert!(line.trim().parse::<u32>().is_ok(), "Xvfb said {line:?}");
    (Reaped(server), display)
}

/// A WebVTT transcript whose words are under the playhead for the first
/// minute, two speakers (`<v Host>`, `<v Guest>`) taking 6 s turns, so the
/// editor shows the speaker's name and the history its colours.
fn transcript(dir: &Path) -> std::path::PathBuf {
    let lines = [
        (
            "Host",
            "the results were wonderful and everyone was delighted",
        ),
        ("Guest", "I honestly did not expect it to go this well"),
    ];
    let mut vtt = String::from("WEBVTT\n\n");
    for k in 0..10u32 {
        let (who, words) = lines[k as usize % 2];
        let (a, b) = (6 * k, 6 * k + 6);
        vtt.push_str(&format!(
            "00:{:02}:{:02}.000 --> 00:{:02}:{:02}.000\n<v {who}>{words}\n\n",
            a / 60,
            a % 60,
            b / 60,
            b % 60
        ));
    }
    let path = dir.join("conversation.vtt");
    std::fs::write(&path, vtt).unwrap();
    path
}

fn editor_screenshot() {
    require("Xvfb");
    require("import");
    let tmp = tempfile::tempdir().unwrap();
    let model = common::model_dir("screenshot");
    let labels = transcript(tmp.path());
    shoot(model.path(), Some(&labels), "editor");
    // A categorical model (a transformers classification head over four
    // categories): the category bars and probability curves.
    let categorical =
        common::workspace().join("models/tests/fixtures/classification-wavlm-categories");
    shoot(&categorical, None, "editor-categorical");
}

/// Runs the standalone with `model` (and `labels` as its transcript) and
/// checks and keeps a screenshot: `target/{name}-screenshot.png`, and with
/// `EMOSCOPE_UPDATE_SCREENSHOT=1` `plugin/docs/{name}.png`.
fn shoot(model: &Path, labels: Option<&Path>, name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (_x, display) = xvfb();
    let exe = std::env::current_exe().unwrap();
    let log = std::fs::File::create(tmp.path().join("standalone.log")).unwrap();
    let app = Command::new(&exe)
        .env(CHILD, "1")
        .env("DISPLAY", &display)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("NICE_LOG", "stderr")
        .args([
            "--backend",
            "dummy",
            "--sample-rate",
            "48000",
            "--period-size",
            "512",
        ])
        .arg("--model")
        .arg(model)
        .args(labels.iter().flat_map(|l| [Path::new("--transcript"), l]))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting the standalone");
    let mut app = Reaped(app);
    // Model load plus a few 4 s windows with 1 s hops of (silent) input.
    // (Both speakers' first turns: the guest's first window ends at 10 s.)
    let settle = Duration::from_secs(15);
    let start = Instant::now();
    while start.elapsed() < settle {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(status) = app.0.try_wait().unwrap() {
            let log =
                std::fs::read_to_string(tmp.path().join("standalone.log")).unwrap_or_default();
            panic!("the standalone exited early ({status}):\n{log}");
        }
    }
    let shot = tmp.path().join("editor.png");
    let status = Command::new("import")
        .env("DISPLAY", &display)
        .args(["-window", "root"])
        .arg(&shot)
        .status()
        .expect("running import");
    assert!(status.success(), "import failed");
    assert!(app.0.try_wait().unwrap().is_none(), "the standalone died");
    drop(app);

    let bytes = std::fs::read(&shot).unwrap();
    check_picture(&bytes);
    let target = common::workspace().join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join(format!("{name}-screenshot.png")), &bytes).unwrap();
    if std::env::var_os("EMOSCOPE_UPDATE_SCREENSHOT").is_some() {
        let docs = common::workspace().join("plugin/docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(format!("{name}.png")), &bytes).unwrap();
    }
}

/// The screenshot is the editor: the full display size, many colours (a
/// black or single-colour frame means nothing rendered), and not mostly black
/// (the window fills the display).
fn check_picture(png_bytes: &[u8]) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    let channels = info.color_type.samples();
    assert!(channels >= 3, "colour type {:?}", info.color_type);
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let distinct: std::collections::HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(
        distinct.len() > 200,
        "only {} colours on screen: the editor did not render",
        distinct.len()
    );
    let black = pixels.iter().filter(|p| **p == [0, 0, 0]).count();
    assert!(
        black < pixels.len() / 4,
        "{black} of {} pixels are black: the window does not fill the display",
        pixels.len()
    );
}
