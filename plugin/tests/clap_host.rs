//! The built plugin, loaded as a `.clap` bundle by a CLAP host written on
//! `clack-host`: activated at 44.1 and 48 kHz, fed `examples/speech.wav`
//! (resampled to the host rate) in random block sizes with a transport that
//! plays, loops back and stops. Checked: audio passes bit-exact, the MIDI CC
//! output holds values of readings the engine's analysis produces for this
//! audio (computed independently here with the offline analysis, which is
//! tested equal to streaming), and state save -> load -> save gives the same
//! bytes.
//!
//! Also: the saved settings reach the engine whatever order the host
//! restores state in (before activation, after it, while processing), and a
//! render faster than real time (with the host's offline flag, and without
//! it up to the queue bound) exports the same timeline as the engine's
//! offline analysis of the same audio (what `emoscope annotate` runs).
//!
//! The bundle is the `cdylib` cargo builds next to this test (copied to
//! `<tmp>/Emoscope.clap`, which is all a Linux CLAP bundle is); set
//! `EMOSCOPE_CLAP=target/bundled/Emoscope.clap` to test the one
//! `cargo xtask bundle` made instead. Debug builds of the plugin abort on any
//! allocation in `process` (`nice-plug/assert_process_allocs`).

mod common;
#[path = "../../tests/common/speech.rs"]
mod speech;

use std::ffi::CStr;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::{HostState, HostStateImpl, PluginState};
use clack_host::events::event_types::{MidiEvent, TransportEvent, TransportFlags};
use clack_host::events::EventFlags;
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};
use common::bounce::{
    analysis, assert_same_timeline, expected_windows, exported_timeline, offline_timeline,
    set_project_fields, speech,
};
use emoscope::cc::to_cc7;
use emoscope::engine::{analyse_offline, load_predictor};
use emoscope::OutputRange;

struct TestHost;

struct Shared {
    state: OnceLock<Option<PluginState>>,
    render: OnceLock<Option<PluginRender>>,
}

impl<'a> SharedHandler<'a> for Shared {
    fn initializing(&self, instance: InitializingPluginHandle<'a>) {
        let _ = self.state.set(instance.get_extension());
        let _ = self.render.set(instance.get_extension());
    }
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

struct MainThread;

impl<'a> MainThreadHandler<'a> for MainThread {}

impl HostStateImpl for MainThread {
    fn mark_dirty(&self) {}
}

impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = MainThread;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<'_, Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostState>();
    }
}

/// The `.clap` bundle to load.
fn bundle(tmp: &Path) -> PathBuf {
    if let Ok(p) = std::env::var("EMOSCOPE_CLAP") {
        return PathBuf::from(p);
    }
    // Cargo builds the library's cdylib beside this test: target/<profile>/deps/
    // (`cargo build` also copies it one level up).
    let name = format!(
        "{}emoscope_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let lib = [deps.join(&name), deps.parent().unwrap().join(&name)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} was not built next to {}", exe.display()));
    let clap = tmp.join("Emoscope.clap");
    std::fs::copy(&lib, &clap).unwrap();
    clap
}

/// A small deterministic generator for block sizes (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn transport(position: usize, rate: f64, playing: bool) -> TransportEvent {
    let mut flags = TransportFlags::HAS_SECONDS_TIMELINE | TransportFlags::HAS_TEMPO;
    if playing {
        flags |= TransportFlags::IS_PLAYING;
    }
    TransportEvent {
        header: EventHeader::new_core(0, EventFlags::empty()),
        flags,
        song_pos_beats: BeatTime::from_int(0),
        song_pos_seconds: SecondsTime::from_float(position as f64 / rate),
        tempo: 120.0,
        tempo_inc: 0.0,
        loop_start_beats: BeatTime::from_int(0),
        loop_end_beats: BeatTime::from_int(0),
        loop_start_seconds: SecondsTime::from_int(0),
        loop_end_seconds: SecondsTime::from_int(0),
        bar_start: BeatTime::from_int(0),
        bar_number: 0,
        time_signature_numerator: 4,
        time_signature_denominator: 4,
    }
}

const MAX_BLOCK: u32 = 2048;

/// The plugin state with the model directory and analysis settings set, as
/// a host would restore it from a project.
/// nice-plug's CLAP state is a little-endian u64 length followed by the JSON.
fn state_json(state: &[u8]) -> serde_json::Value {
    let (len, json) = state.split_at(8);
    assert_eq!(
        u64::from_le_bytes(len.try_into().unwrap()),
        json.len() as u64
    );
    serde_json::from_slice(json).unwrap()
}

/// A CLAP state holding the JSON `v`.
fn with_state_json(v: &serde_json::Value) -> Vec<u8> {
    let json = serde_json::to_vec(v).unwrap();
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend(json);
    out
}

fn configured_state(default_state: &[u8], model: &Path) -> Vec<u8> {
    let mut v = state_json(default_state);
    set_project_fields(&mut v, model, None);
    with_state_json(&v)
}

/// Everything one activation produced.
struct Session {
    /// (absolute sample position, [status, cc, value]) of every MIDI event.
    midi: Vec<(usize, [u8; 3])>,
}

/// Plays `signal` (mono, duplicated to stereo) at `rate`: from 0 to 70 %,
/// then a jump back to 0 and on to the end, then stopped transport until the
/// engine has gone quiet. Asserts bit-exact passthrough on the way.
fn play(
    instance: &mut PluginInstance<TestHost>,
    rate: f64,
    signal: &[f32],
    rng: &mut Rng,
) -> Session {
    let config = PluginAudioConfiguration {
        sample_rate: rate,
        min_frames_count: 1,
        max_frames_count: MAX_BLOCK,
    };
    let processor = instance.activate(|_, _| (), config).unwrap();
    let mut processor = processor.start_processing().unwrap();
    let mut input_ports = AudioPorts::with_capacity(2, 1);
    let mut output_ports = AudioPorts::with_capacity(2, 1);
    let mut in_l = vec![0.0f32; MAX_BLOCK as usize];
    let mut in_r = vec![0.0f32; MAX_BLOCK as usize];
    let mut out_l = vec![0.0f32; MAX_BLOCK as usize];
    let mut out_r = vec![0.0f32; MAX_BLOCK as usize];
    let mut out_events = EventBuffer::with_capacity(256);
    let mut midi = Vec::new();
    // (start, end) segments of the timeline to play, then a stopped tail.
    let split = signal.len() * 7 / 10;
    let plan = [(0, split, true), (0, signal.len(), true)];
    let mut played = 0usize;
    let mut step = |from: usize, len: usize, playing: bool, midi: &mut Vec<(usize, [u8; 3])>| {
        for (i, (l, r)) in in_l[..len].iter_mut().zip(&mut in_r[..len]).enumerate() {
            let x = if playing { signal[from + i] } else { 0.0 };
            *l = x;
            *r = x;
        }
        out_events.clear();
        let t = transport(from, rate, playing);
        let input = input_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                [&mut in_l[..len], &mut in_r[..len]]
                    .into_iter()
                    .map(InputChannel::variable),
            ),
        }]);
        let mut output = output_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                [&mut out_l[..len], &mut out_r[..len]].into_iter(),
            ),
        }]);
        processor
            .process(
                &input,
                &mut output,
                &InputEvents::empty(),
                &mut OutputEvents::from_buffer(&mut out_events),
                Some(played as u64),
                Some(&t),
            )
            .unwrap();
        for (ch, (o, i)) in [(&out_l, &in_l), (&out_r, &in_r)].into_iter().enumerate() {
            for k in 0..len {
                assert_eq!(
                    o[k].to_bits(),
                    common::passed(i[k]).to_bits(),
                    "{rate} Hz, channel {ch}, timeline sample {}: not bit-exact",
                    from + k
                );
            }
        }
        for e in out_events.iter() {
            if let Some(m) = e.as_event::<MidiEvent>() {
                midi.push((from + m.header().time() as usize, m.data()));
            }
        }
        played += len;
    };
    for (start, end, playing) in plan {
        let mut pos = start;
        while pos < end {
            let len = (1 + rng.below(u64::from(MAX_BLOCK)) as usize).min(end - pos);
            step(pos, len, playing, &mut midi);
            pos += len;
            // Host pacing: faster than real time, with the odd pause so the worker runs.
            if rng.below(8) == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    // Stopped: keep processing until no new CC came for half a second.
    let mut last_change = Instant::now();
    let mut seen = midi.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while last_change.elapsed() < Duration::from_millis(500) {
        assert!(Instant::now() < deadline, "the CC output never settled");
        step(signal.len(), 256, false, &mut midi);
        std::thread::sleep(Duration::from_millis(5));
        if midi.len() != seen {
            seen = midi.len();
            last_change = Instant::now();
        }
    }
    let processor = processor.stop_processing();
    instance.deactivate(processor);
    Session { midi }
}

/// Tells the plugin the host renders offline (the CLAP render extension).
fn render_offline(instance: &mut PluginInstance<TestHost>) {
    let render = instance
        .access_shared_handler(|h| *h.render.get().unwrap())
        .expect("the plugin has the render extension");
    render
        .set(&instance.plugin_handle(), RenderMode::Offline)
        .unwrap();
}

fn save(instance: &mut PluginInstance<TestHost>, ext: PluginState) -> Vec<u8> {
    let mut bytes = Vec::new();
    ext.save(&instance.plugin_handle(), &mut bytes).unwrap();
    bytes
}

fn load(instance: &mut PluginInstance<TestHost>, ext: PluginState, bytes: &[u8]) {
    ext.load(&instance.plugin_handle(), &mut Cursor::new(bytes))
        .unwrap();
}

#[test]
fn clap_host_passthrough_cc_and_state() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::model_dir("clap-host");
    let clap = bundle(tmp.path());
    // SAFETY: loading our own plugin library, which follows the CLAP ABI.
    let entry = unsafe { PluginEntry::load(&clap) }.unwrap();
    let factory = entry.get_plugin_factory().unwrap();
    let descriptor = factory
        .plugin_descriptors()
        .find(|d| {
            d.id()
                .is_some_and(|id| id.to_bytes() == b"org.emoscope.emoscope")
        })
        .expect("the bundle exports org.emoscope.emoscope");
    assert_eq!(
        descriptor.name().map(CStr::to_bytes),
        Some(&b"Emoscope"[..])
    );
    let id = descriptor.id().unwrap().to_owned();
    let info = HostInfo::new("emoscope-test", "Emoscope", "https://example.org", "0.1").unwrap();
    let new_instance = || {
        PluginInstance::<TestHost>::new(
            |_| Shared {
                state: OnceLock::new(),
                render: OnceLock::new(),
            },
            |_| MainThread,
            &entry,
            &id,
            &info,
        )
        .unwrap()
    };
    let mut instance = new_instance();
    let state_ext = instance
        .access_shared_handler(|h| *h.state.get().unwrap())
        .expect("the plugin has the state extension");

    let configured = configured_state(&save(&mut instance, state_ext), model.path());
    load(&mut instance, state_ext, &configured);

    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut predictor = load_predictor(model.path(), &candle_core::Device::Cpu).unwrap();
    for rate in [44_100.0f64, 48_000.0] {
        let signal = emoscope::audio::load_mono(
            &common::workspace().join("examples/speech.wav"),
            rate as u32,
        )
        .unwrap();
        // Speech twice over, so there are windows on both sides of the loop point.
        let mut signal: Vec<f32> = signal.iter().chain(&signal).copied().collect();
        // Awkward values now and then: a subnormal and a negative zero.
        for (i, x) in signal.iter_mut().enumerate() {
            match i % 4099 {
                0 => *x = -1.0e-39,
                1 => *x = -0.0,
                _ => {}
            }
        }
        let session = play(&mut instance, rate, &signal, &mut rng);

        // The reference: the same analysis, offline, on the same mono signal
        // (L = R, so the plugin's down-mix is the signal itself).
        let windows =
            analyse_offline(&signal, rate as f32, predictor.as_mut(), &analysis(), None).unwrap();
        let range = predictor.output_range();
        let reference: Vec<[u8; 3]> = windows
            .iter()
            .map(|w| {
                w.reading
                    .emotion
                    .dimensions()
                    .map(|x| to_cc7(range.normalise(x)))
            })
            .collect();

        // Replay the CC stream: after each group of events at one position the
        // three controllers hold one reading. A 7-bit value may differ by one
        // step from the reference where a value sits on a rounding edge
        // (summation order inside the model differs between thread schedules).
        let mut held: [Option<u8>; 3] = [None; 3];
        let mut states = Vec::new();
        let mut i = 0;
        while i < session.midi.len() {
            let at = session.midi[i].0;
            while i < session.midi.len() && session.midi[i].0 == at {
                let [status, cc, value] = session.midi[i].1;
                assert_eq!(status, 0xB0, "control change on channel 1");
                assert!((20..=22).contains(&cc), "controller {cc}");
                assert_ne!(
                    held[(cc - 20) as usize],
                    Some(value),
                    "unchanged value re-sent"
                );
                held[(cc - 20) as usize] = Some(value);
                i += 1;
            }
            if held.iter().all(Option::is_some) {
                states.push(held.map(Option::unwrap));
            }
        }
        assert!(
            states.len() >= 3,
            "{rate} Hz: the CC output moved only {} times",
            states.len()
        );
        for s in &states {
            let close = |r: &[u8; 3]| s.iter().zip(r).all(|(a, b)| a.abs_diff(*b) <= 1);
            assert!(
                reference.iter().any(close),
                "{rate} Hz: controllers held {s:?}, which matches no analysed window"
            );
        }
    }

    // State: save -> load -> save is the same bytes, in this instance and in a fresh one.
    let first = save(&mut instance, state_ext);
    load(&mut instance, state_ext, &first);
    let second = save(&mut instance, state_ext);
    assert_eq!(first, second, "state changed through a load");
    let v = state_json(&first);
    assert_eq!(
        v["fields"]["model-dir"],
        serde_json::to_string(&model.path().display().to_string()).unwrap()
    );
    let mut fresh = new_instance();
    let fresh_ext = fresh
        .access_shared_handler(|h| *h.state.get().unwrap())
        .unwrap();
    load(&mut fresh, fresh_ext, &first);
    assert_eq!(save(&mut fresh, fresh_ext), first);
}

/// The bundle loaded once per test, to make instances from.
struct Bundle {
    _tmp: tempfile::TempDir,
    entry: PluginEntry,
    id: std::ffi::CString,
    info: HostInfo,
}

impl Bundle {
    fn load() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let clap = bundle(tmp.path());
        // SAFETY: loading our own plugin library, which follows the CLAP ABI.
        let entry = unsafe { PluginEntry::load(&clap) }.unwrap();
        let id = entry
            .get_plugin_factory()
            .unwrap()
            .plugin_descriptors()
            .find_map(|d| {
                d.id()
                    .filter(|id| id.to_bytes() == b"org.emoscope.emoscope")
            })
            .expect("the bundle exports org.emoscope.emoscope")
            .to_owned();
        let info =
            HostInfo::new("emoscope-test", "Emoscope", "https://example.org", "0.1").unwrap();
        Self {
            _tmp: tmp,
            entry,
            id,
            info,
        }
    }

    /// A fresh instance and its state extension.
    fn instance(&self) -> (PluginInstance<TestHost>, PluginState) {
        let instance = PluginInstance::<TestHost>::new(
            |_| Shared {
                state: OnceLock::new(),
                render: OnceLock::new(),
            },
            |_| MainThread,
            &self.entry,
            &self.id,
            &self.info,
        )
        .unwrap();
        let state = instance
            .access_shared_handler(|h| *h.state.get().unwrap())
            .expect("the plugin has the state extension");
        (instance, state)
    }
}

/// `default_state` with the model, the test's analysis settings and export
/// to `export` (JSON, on deactivate): what a saved project holds.
fn project_state(default_state: &[u8], model: &Path, export: &Path) -> Vec<u8> {
    let mut v = state_json(default_state);
    set_project_fields(&mut v, model, Some(export));
    with_state_json(&v)
}

/// The host's side of processing: stereo buffers and an event queue, fed
/// from a mono signal (L = R, so the plugin's down-mix is the signal itself).
struct Feed {
    rate: f64,
    inputs: AudioPorts,
    outputs: AudioPorts,
    in_l: Vec<f32>,
    in_r: Vec<f32>,
    out_l: Vec<f32>,
    out_r: Vec<f32>,
    events: EventBuffer,
    /// Samples processed so far (the steady time).
    played: u64,
    /// Every MIDI event the plugin sent: [status, data 1, data 2].
    midi: Vec<[u8; 3]>,
}

impl Feed {
    fn new(rate: f64) -> Self {
        Self {
            rate,
            inputs: AudioPorts::with_capacity(2, 1),
            outputs: AudioPorts::with_capacity(2, 1),
            in_l: vec![0.0; MAX_BLOCK as usize],
            in_r: vec![0.0; MAX_BLOCK as usize],
            out_l: vec![0.0; MAX_BLOCK as usize],
            out_r: vec![0.0; MAX_BLOCK as usize],
            events: EventBuffer::with_capacity(256),
            played: 0,
            midi: Vec::new(),
        }
    }

    /// One block of `samples` at timeline sample `position`, transport playing.
    fn block(
        &mut self,
        processor: &mut StartedPluginAudioProcessor<TestHost>,
        position: usize,
        samples: &[f32],
    ) {
        self.block_with(processor, position, samples, true);
    }

    /// Processes blocks of silence with the transport stopped at `position`
    /// until no new MIDI event has come for half a second (the worker has
    /// read what was queued and the CC output has followed).
    fn idle_until_quiet(
        &mut self,
        processor: &mut StartedPluginAudioProcessor<TestHost>,
        position: usize,
    ) {
        let silence = [0.0f32; 256];
        let mut last_change = Instant::now();
        let mut seen = self.midi.len();
        let deadline = Instant::now() + Duration::from_secs(60);
        while last_change.elapsed() < Duration::from_millis(500) {
            assert!(Instant::now() < deadline, "the CC output never settled");
            self.block_with(processor, position, &silence, false);
            std::thread::sleep(Duration::from_millis(5));
            if self.midi.len() != seen {
                seen = self.midi.len();
                last_change = Instant::now();
            }
        }
    }

    /// One block of `samples` at timeline sample `position`, the transport
    /// `playing` or not.
    fn block_with(
        &mut self,
        processor: &mut StartedPluginAudioProcessor<TestHost>,
        position: usize,
        samples: &[f32],
        playing: bool,
    ) {
        let len = samples.len();
        self.in_l[..len].copy_from_slice(samples);
        self.in_r[..len].copy_from_slice(samples);
        self.events.clear();
        let t = transport(position, self.rate, playing);
        let input = self.inputs.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                [&mut self.in_l[..len], &mut self.in_r[..len]]
                    .into_iter()
                    .map(InputChannel::variable),
            ),
        }]);
        let mut output = self.outputs.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                [&mut self.out_l[..len], &mut self.out_r[..len]].into_iter(),
            ),
        }]);
        processor
            .process(
                &input,
                &mut output,
                &InputEvents::empty(),
                &mut OutputEvents::from_buffer(&mut self.events),
                Some(self.played),
                Some(&t),
            )
            .unwrap();
        for e in self.events.iter() {
            if let Some(m) = e.as_event::<MidiEvent>() {
                self.midi.push(m.data());
            }
        }
        self.played += len as u64;
    }

    /// `signal` from timeline sample 0 in blocks of random size, back to
    /// back: as fast as the host goes, far faster than real time.
    fn render(
        &mut self,
        processor: &mut StartedPluginAudioProcessor<TestHost>,
        signal: &[f32],
        rng: &mut Rng,
    ) {
        let mut pos = 0;
        while pos < signal.len() {
            let len = (1 + rng.below(u64::from(MAX_BLOCK)) as usize).min(signal.len() - pos);
            self.block(processor, pos, &signal[pos..pos + len]);
            pos += len;
        }
    }
}

fn audio_config(rate: f64) -> PluginAudioConfiguration {
    PluginAudioConfiguration {
        sample_rate: rate,
        min_frames_count: 1,
        max_frames_count: MAX_BLOCK,
    }
}

/// How the host restores a saved project, relative to activation.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// Load state, then activate (REAPER, Bitwig).
    StateThenActivate,
    /// Activate, then load state (Ardour 7 with VST3).
    ActivateThenState,
    /// Load state while the audio thread is processing (a preset load).
    StateWhileProcessing,
}

#[test]
fn restored_settings_reach_the_engine_in_every_call_order() {
    let host = Bundle::load();
    let model = common::model_dir("restore-order");
    let out = tempfile::tempdir().unwrap();
    let rate = 48_000.0;
    let signal = speech(rate, 2);
    let mut rng = Rng(0x0bad_5eed_1234_5678);
    // Orders after which no markers were exported (the model never loaded).
    let mut missing = Vec::new();
    for order in [
        Order::StateThenActivate,
        Order::ActivateThenState,
        Order::StateWhileProcessing,
    ] {
        let export = out.path().join(format!("{order:?}.json"));
        let (mut instance, ext) = host.instance();
        let project = project_state(&save(&mut instance, ext), model.path(), &export);
        let mut feed = Feed::new(rate);
        if let Order::StateThenActivate = order {
            load(&mut instance, ext, &project);
        }
        let processor = instance.activate(|_, _| (), audio_config(rate)).unwrap();
        if let Order::ActivateThenState = order {
            load(&mut instance, ext, &project);
        }
        let mut processor = processor.start_processing().unwrap();
        if let Order::StateWhileProcessing = order {
            // Silence with the transport running, then the load between two blocks.
            let silence = vec![0.0f32; 512];
            for i in 0..8 {
                feed.block(&mut processor, i * 512, &silence);
            }
            load(&mut instance, ext, &project);
        }
        feed.render(&mut processor, &signal, &mut rng);
        instance.deactivate(processor.stop_processing());
        // The model, the analysis settings and the export settings all came
        // from the restored state: markers were exported, by the fixture
        // model, in 1 s windows every 0.25 s (the default is 4 s every 1 s).
        if !export.exists() {
            missing.push(order);
            continue;
        }
        let timeline = exported_timeline(&export);
        assert!(!timeline.is_empty(), "{order:?}: no windows analysed");
        for w in &timeline {
            assert_eq!(w.1 - w.0, analysis().window_seconds, "{order:?}: {w:?}");
        }
        assert!(
            std::fs::read_to_string(&export)
                .unwrap()
                .contains("restore-order"),
            "{order:?}: the export does not name the restored model"
        );
    }
    assert!(
        missing.is_empty(),
        "no markers exported after {missing:?}: the restored settings never reached the engine"
    );
}

#[test]
fn an_offline_render_exports_the_offline_analysis_timeline() {
    let host = Bundle::load();
    let model = common::model_dir("offline-render");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("bounce.json");
    let rate = 48_000.0;
    // Speech, 12 times over (41.5 s): longer than the queue bound, so only
    // waiting for the worker can keep every window.
    let signal = speech(rate, 12);
    assert!(signal.len() as f64 / rate > emoscope_plugin::shared::MAX_QUEUED_SECONDS);
    let (mut instance, ext) = host.instance();
    let project = project_state(&save(&mut instance, ext), model.path(), &export);
    load(&mut instance, ext, &project);
    render_offline(&mut instance);
    let processor = instance.activate(|_, _| (), audio_config(rate)).unwrap();
    let mut processor = processor.start_processing().unwrap();
    let t0 = Instant::now();
    Feed::new(rate).render(&mut processor, &signal, &mut Rng(0xfeed_beef_0000_0001));
    let render_time = t0.elapsed();
    instance.deactivate(processor.stop_processing());

    let reference = offline_timeline(model.path(), &signal, rate);
    assert_same_timeline("offline render", &exported_timeline(&export), &reference);
    assert_eq!(
        reference.len(),
        expected_windows(signal.len() as f64 / rate)
    );
    eprintln!(
        "offline render of {:.1} s took {render_time:?}",
        signal.len() as f64 / rate
    );
}

/// Issue 13: transformers classification heads in a host, a categorical
/// and a regression one of each backbone family (HuBERT, wav2vec2, WavLM,
/// Data2Vec-Audio). An offline render exports each window's values as the
/// offline analysis reads them: a categorical head's probabilities with its
/// labels and no dimensions, on controllers 23 onwards with the top category
/// as a program change (asked for in the project); a regression head's
/// arousal, valence and dominance on 20-22 and no program change.
#[test]
fn classification_heads_of_every_family_render_their_outputs_and_midi() {
    let host = Bundle::load();
    for family in ["hubert", "wav2vec2", "wavlm", "data2vec"] {
        for kind in ["categories", "dimensions"] {
            render_classifier(&host, &format!("classification-{family}-{kind}"));
        }
    }
}

/// One fixture of [`classification_heads_of_every_family_render_their_outputs_and_midi`].
fn render_classifier(host: &Bundle, name: &str) {
    let model = common::workspace().join("models/tests/fixtures").join(name);
    let categorical = name.ends_with("categories");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("bounce.json");
    let rate = 44_100.0;
    let signal = speech(rate, 2);
    let (mut instance, ext) = host.instance();
    let mut state = state_json(&save(&mut instance, ext));
    set_project_fields(&mut state, &model, Some(&export));
    let mapping = serde_json::json!({
        "enabled": true, "controllers": [20, 21, 22], "channel": 0, "fourteen_bit": false,
        "min_interval_ms": 0, "channel_per_speaker": false, "category_first": 23,
        "top_category_program": true
    });
    state["fields"]
        .as_object_mut()
        .unwrap()
        .insert("cc".into(), mapping.to_string().into());
    load(&mut instance, ext, &with_state_json(&state));
    render_offline(&mut instance);
    let processor = instance.activate(|_, _| (), audio_config(rate)).unwrap();
    let mut processor = processor.start_processing().unwrap();
    let mut feed = Feed::new(rate);
    feed.render(&mut processor, &signal, &mut Rng(0xfeed_beef_0000_0013));
    feed.idle_until_quiet(&mut processor, signal.len());
    instance.deactivate(processor.stop_processing());

    let reference = offline_timeline(&model, &signal, rate);
    assert_same_timeline(name, &exported_timeline(&export), &reference);
    assert_eq!(
        reference.len(),
        expected_windows(signal.len() as f64 / rate)
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    assert_eq!(
        doc["timeline"][0].get("arousal").is_none(),
        categorical,
        "{name}"
    );
    let last = &reference.last().unwrap().2;
    let first_cc = if categorical {
        assert_eq!(
            doc["categories"],
            serde_json::json!(["neutral", "happy", "sad", "angry"]),
            "{name}"
        );
        23
    } else {
        assert!(doc.get("categories").is_none(), "{name}");
        20
    };
    // The controllers of the model's outputs, and no others.
    let controllers: std::collections::BTreeSet<u8> = feed
        .midi
        .iter()
        .filter(|m| m[0] & 0xf0 == 0xb0)
        .map(|m| m[1])
        .collect();
    let want: std::collections::BTreeSet<u8> =
        (0..last.len() as u8).map(|k| first_cc + k).collect();
    assert_eq!(controllers, want, "{name}");
    // The last values sent are the last window's (both kinds on 0..1 here:
    // a regression head declares no range, so it is read on 0..1).
    for (k, &v) in last.iter().enumerate() {
        let sent = feed
            .midi
            .iter()
            .rev()
            .find(|m| m[0] & 0xf0 == 0xb0 && m[1] == first_cc + k as u8)
            .unwrap();
        assert_eq!(
            sent[2],
            to_cc7(OutputRange::UNIT.normalise(v)),
            "{name}: output {k}"
        );
    }
    // The last program is the top category's; a regression head sends none.
    let program = feed.midi.iter().rev().find(|m| m[0] & 0xf0 == 0xc0);
    if categorical {
        let top = (0..last.len())
            .reduce(|a, b| if last[b] > last[a] { b } else { a })
            .unwrap();
        assert_eq!(program.map(|m| m[1]), Some(top as u8), "{name}");
    } else {
        assert!(program.is_none(), "{name}");
    }
}

#[test]
fn a_fast_render_without_the_offline_flag_keeps_every_window_up_to_the_bound() {
    let host = Bundle::load();
    let model = common::model_dir("fast-render");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("bounce.json");
    let rate = 44_100.0;
    // Speech, 7 times over (24.2 s), within the queue bound: the whole
    // render may sit in the queue while the model loads.
    let signal = speech(rate, 7);
    assert!(signal.len() as f64 / rate < emoscope_plugin::shared::MAX_QUEUED_SECONDS);
    let (mut instance, ext) = host.instance();
    let project = project_state(&save(&mut instance, ext), model.path(), &export);
    load(&mut instance, ext, &project);
    let processor = instance.activate(|_, _| (), audio_config(rate)).unwrap();
    let mut processor = processor.start_processing().unwrap();
    Feed::new(rate).render(&mut processor, &signal, &mut Rng(0xfeed_beef_0000_0002));
    instance.deactivate(processor.stop_processing());

    let reference = offline_timeline(model.path(), &signal, rate);
    assert_same_timeline(
        "fast render without the offline flag",
        &exported_timeline(&export),
        &reference,
    );
}

/// Speech recognition in a host: a saved project with the audio+text
/// fixture model and recognition on (Whisper tiny.en) renders a LibriVox
/// clip offline. The exported transcript holds the words Whisper heard, the
/// windows carry them, and every value equals the engine's offline analysis
/// of the same audio with that transcript as a sidecar (what `emoscope
/// annotate` does with it): each window was scored with its words.
#[test]
fn an_offline_render_with_speech_recognition_exports_the_words_it_heard() {
    let Some(whisper) = speech::whisper_dir() else {
        return;
    };
    let host = Bundle::load();
    let model = common::workspace().join("models/tests/fixtures/emotion/early_fallback");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("bounce.json");
    let rate = 48_000.0;
    let (clip, reference) = speech::clips().swap_remove(0);
    let mut signal = vec![0.0f32; rate as usize / 2];
    signal.extend(emoscope::audio::load_mono(&clip, rate as u32).unwrap());
    signal.extend(vec![0.0f32; rate as usize / 2]);

    let (mut instance, ext) = host.instance();
    let mut state = state_json(&save(&mut instance, ext));
    set_project_fields(&mut state, &model, Some(&export));
    let asr = serde_json::json!({
        "enabled": true, "model_dir": whisper.display().to_string(), "language": ""
    });
    state["fields"]
        .as_object_mut()
        .unwrap()
        .insert("asr".into(), asr.to_string().into());
    load(&mut instance, ext, &with_state_json(&state));
    render_offline(&mut instance);
    let processor = instance.activate(|_, _| (), audio_config(rate)).unwrap();
    let mut processor = processor.start_processing().unwrap();
    Feed::new(rate).render(&mut processor, &signal, &mut Rng(0x5eec_0000_0000_0001));
    instance.deactivate(processor.stop_processing());

    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&export).expect("markers exported")).unwrap();
    let segments: Vec<emoscope::transcript::Segment> = doc["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| emoscope::transcript::Segment {
            start: s["start"].as_f64().unwrap(),
            end: s["end"].as_f64().unwrap(),
            text: s["text"].as_str().unwrap().to_owned(),
            words: s["words"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| emoscope::transcript::Word {
                    start: w["start"].as_f64().unwrap(),
                    end: w["end"].as_f64().unwrap(),
                    text: w["text"].as_str().unwrap().to_owned(),
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let heard = emoscope::transcript::Transcript::new(segments).unwrap();
    let text = heard.text_between(0.0, 1e9);
    let wer = speech::wer(&reference, &text);
    eprintln!("heard in the host: {text} (WER {:.1} %)", 100.0 * wer);
    assert!(wer <= 0.10, "WER {wer}: {text}");
    assert!(
        heard.segments().iter().all(|s| !s.words.is_empty()),
        "word times are exported"
    );

    let mut predictor = load_predictor(&model, &candle_core::Device::Cpu).unwrap();
    let offline = analyse_offline(
        &signal,
        rate as f32,
        predictor.as_mut(),
        &analysis(),
        Some(&heard),
    )
    .unwrap();
    let timeline = doc["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), offline.len());
    for (w, o) in timeline.iter().zip(&offline) {
        assert_eq!(w["text"].as_str().unwrap(), o.reading.text, "{w}");
    }
    let reference: Vec<_> = offline
        .iter()
        .map(|w| {
            let r = &w.reading;
            (r.span.start, r.span.end, r.emotion.dimensions().to_vec())
        })
        .collect();
    assert_same_timeline(
        "render with speech recognition",
        &exported_timeline(&export),
        &reference,
    );
    let worded = offline
        .iter()
        .filter(|w| !w.reading.text.is_empty())
        .count();
    assert!(
        worded * 10 >= offline.len() * 8,
        "{worded} of {} windows have words",
        offline.len()
    );
}

/// "Analyse speech only" in a host: a saved project with the setting on
/// renders silence, speech, silence, speech, silence offline. The exported
/// document has readings only where the engine's speech-gated offline
/// analysis of the same audio (what `emoscope annotate` runs, with the
/// voice-activity detector's regions of the whole signal) reads windows,
/// with the same values, and the windows it leaves out are the document's
/// `no_speech` gap, as in annotate's documents.
#[test]
fn an_offline_render_with_speech_only_exports_the_gaps_annotate_finds() {
    let host = Bundle::load();
    let model = common::model_dir("speech-only");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("bounce.json");
    let rate = 48_000.0;
    let silence = |seconds: f64| vec![0.0f32; (seconds * rate) as usize];
    let signal = [
        silence(2.0),
        speech(rate, 1),
        silence(3.0),
        speech(rate, 1),
        silence(1.0),
    ]
    .concat();

    let (mut instance, ext) = host.instance();
    let mut state = state_json(&save(&mut instance, ext));
    set_project_fields(&mut state, model.path(), Some(&export));
    let fields = state["fields"].as_object_mut().unwrap();
    let mut settings: serde_json::Value =
        serde_json::from_str(fields["analysis"].as_str().unwrap()).unwrap();
    settings["speech_only"] = true.into();
    fields.insert("analysis".into(), settings.to_string().into());
    load(&mut instance, ext, &with_state_json(&state));
    render_offline(&mut instance);
    let processor = instance.activate(|_, _| (), audio_config(rate)).unwrap();
    let mut processor = processor.start_processing().unwrap();
    Feed::new(rate).render(&mut processor, &signal, &mut Rng(0x5eec_0000_0000_0002));
    instance.deactivate(processor.stop_processing());

    let regions = emoscope::audio::vad::speech_regions(
        &signal,
        rate as u32,
        &emoscope::audio::vad::VadConfig::default(),
    )
    .unwrap();
    let mut predictor = load_predictor(model.path(), &candle_core::Device::Cpu).unwrap();
    let offline = emoscope::engine::analyse_offline_with(
        &signal,
        rate as f32,
        predictor.as_mut(),
        &analysis(),
        emoscope::engine::OfflineOptions {
            speech: Some(&regions),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        !offline.windows.is_empty() && offline.no_speech.len() >= 8,
        "{} windows read, {} left out",
        offline.windows.len(),
        offline.no_speech.len()
    );
    let reference: Vec<_> = offline
        .windows
        .iter()
        .map(|w| {
            let r = &w.reading;
            (r.span.start, r.span.end, r.emotion.dimensions().to_vec())
        })
        .collect();
    assert_same_timeline(
        "render with speech only",
        &exported_timeline(&export),
        &reference,
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let duration = doc["duration"].as_f64().unwrap();
    let gaps =
        emoscope::export::no_speech_spans(&offline.no_speech, analysis().hop_seconds, duration);
    let exported: Vec<[f64; 2]> = serde_json::from_value(doc["no_speech"].clone()).unwrap();
    assert_eq!(
        exported,
        gaps.iter().map(|g| [g.start, g.end]).collect::<Vec<_>>()
    );
    // The silence between the clips (speech.wav is 3.46 s: 5.46 s to
    // 8.46 s) is a gap.
    assert!(
        exported.iter().any(|g| g[0] < 6.5 && g[1] > 7.5),
        "{exported:?}"
    );
}

/// A two-speaker conversation bounced with a transcript sidecar that names
/// its speakers (examples/conversation.stm) and "a channel per speaker" on:
/// the exported document has the readings of the engine's offline analysis
/// with the same speaker turns (what `emoscope annotate` reads), each
/// naming its speaker, a summary per speaker, and the overlap flagged; the
/// CC output sends the host's values on channel 1 and the guest's on
/// channel 2.
#[test]
fn an_offline_render_with_speakers_exports_each_speakers_readings() {
    let examples = common::workspace().join("examples");
    render_with_speakers(
        &examples.join("conversation.wav"),
        &examples.join("conversation.stm"),
        &["host", "guest"],
    );
}

/// The same with a real conversation and a diarisation tool's output as the
/// sidecar: the 30 s two-person recording pyannote.audio 3.3.2 ships, with
/// its reference RTTM (turns, no words), which `scripts/setup.sh` puts in
/// the data folder.
#[test]
fn an_offline_render_of_a_real_conversation_with_its_rttm() {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share"));
    let dir = data.join("emoscope/test-data/pyannote-sample-3.3.2");
    assert!(
        dir.join("sample.rttm").is_file(),
        "{} is missing: run scripts/setup.sh",
        dir.display()
    );
    render_with_speakers(
        &dir.join("sample.wav"),
        &dir.join("sample.rttm"),
        &["speaker90", "speaker91"],
    );
}

/// Bounces `wav` at 48 kHz with the transcript sidecar `sidecar` (which
/// names `speakers`, in the order of their first turns) and the CC output's
/// channel per speaker on, and checks the export and the CC channels.
fn render_with_speakers(wav: &Path, sidecar: &Path, speakers: &[&str]) {
    let host = Bundle::load();
    let model = common::model_dir("speakers");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("bounce.json");
    let rate = 48_000.0;
    let signal = emoscope::audio::load_mono(wav, rate as u32).unwrap();
    let stm = sidecar;

    let (mut instance, ext) = host.instance();
    let mut state = state_json(&save(&mut instance, ext));
    set_project_fields(&mut state, model.path(), Some(&export));
    let fields = state["fields"].as_object_mut().unwrap();
    let transcript = serde_json::json!({"path": stm.display().to_string(), "offset_seconds": 0.0});
    fields.insert("transcript".into(), transcript.to_string().into());
    let cc = serde_json::json!({"enabled": true, "controllers": [20, 21, 22], "channel": 0,
        "min_interval_ms": 0, "channel_per_speaker": true});
    fields.insert("cc".into(), cc.to_string().into());
    load(&mut instance, ext, &with_state_json(&state));
    render_offline(&mut instance);
    let processor = instance.activate(|_, _| (), audio_config(rate)).unwrap();
    let mut processor = processor.start_processing().unwrap();
    let mut feed = Feed::new(rate);
    feed.render(&mut processor, &signal, &mut Rng(0x5bea_0000_0000_0017));
    // The host stops after the bounce; the analysis catches up meanwhile.
    feed.idle_until_quiet(&mut processor, signal.len());
    instance.deactivate(processor.stop_processing());

    let sidecar = emoscope_plugin::transcript::load_transcript(stm, 0.0, false).unwrap();
    let turns = sidecar.timeline_speaker_turns();
    let mut predictor = load_predictor(model.path(), &candle_core::Device::Cpu).unwrap();
    let offline = emoscope::engine::analyse_offline_with(
        &signal,
        rate as f32,
        predictor.as_mut(),
        &analysis(),
        emoscope::engine::OfflineOptions {
            transcript: Some(&sidecar),
            turns: Some(&turns),
            ..Default::default()
        },
    )
    .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let key = |start: f64, who: &str| (start, who.to_owned());
    let mut exported: Vec<_> = doc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let who = w["speaker"]
                .as_str()
                .expect("every reading names its speaker");
            (key(w["start"].as_f64().unwrap(), who), w)
        })
        .collect();
    exported.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let mut expected: Vec<_> = offline
        .windows
        .iter()
        .map(|w| {
            (
                key(
                    w.reading.span.start,
                    w.reading.speaker.as_ref().unwrap().as_str(),
                ),
                &w.reading,
            )
        })
        .collect();
    expected.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert_eq!(
        exported.iter().map(|e| &e.0).collect::<Vec<_>>(),
        expected.iter().map(|e| &e.0).collect::<Vec<_>>(),
        "the exported windows are not the offline analysis' windows"
    );
    for ((_, w), (_, r)) in exported.iter().zip(&expected) {
        assert!((w["end"].as_f64().unwrap() - r.span.end).abs() < 1e-9);
        for (name, v) in ["arousal", "valence", "dominance"]
            .iter()
            .zip(r.emotion.dimensions())
        {
            let got = w[*name].as_f64().unwrap() as f32;
            assert!(
                (got - v).abs() <= common::bounce::VALUE_TOLERANCE,
                "{name} at {}: {got} against {v}",
                r.span.start
            );
        }
        assert_eq!(w["overlap"].as_bool().unwrap_or(false), r.overlap);
    }
    assert!(
        expected.iter().any(|e| e.1.overlap),
        "the overlap is flagged"
    );
    let summaries: Vec<&str> = doc["speakers"]
        .as_array()
        .expect("a summary per speaker")
        .iter()
        .map(|s| s["speaker"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, speakers);
    // CC: status 0xB0 | channel; the first speaker on channel 1, the second on 2.
    let channels: std::collections::BTreeSet<u8> = feed
        .midi
        .iter()
        .filter(|m| m[0] & 0xf0 == 0xb0)
        .map(|m| m[0] & 0x0f)
        .collect();
    assert_eq!(channels.into_iter().collect::<Vec<_>>(), [0, 1]);
}
