//! `Emoscope::process` through a mock `ProcessContext` (no host, no wrapper):
//! over a grid of block sizes, sample rates and channel counts, audio must
//! come out bit-exact (a subnormal as a zero of its sign), `process` must not allocate (nice-plug's
//! `assert_process_allocs` allocator aborts this test binary if it does), and
//! the MIDI CC stream must follow the engine's readout: only changes, rate
//! limited, with values equal to the readings the engine published.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use emoscope::cc::to_cc7;
use emoscope::engine::EngineShared;
use emoscope_plugin::midi::CcMapping;
use emoscope_plugin::params::AnalysisSettings;
use emoscope_plugin::Emoscope;
use nice_plug::context::process::SendEventError;
use nice_plug::prelude::*;

/// A host stand-in: a transport, and an output event queue of fixed capacity
/// (allocated up front, so sending never allocates).
struct MockContext {
    transport: Transport,
    events: Vec<PluginNoteEvent<Emoscope>>,
}

impl MockContext {
    fn new(sample_rate: f32) -> Self {
        let mut transport = Transport::new(sample_rate);
        transport.playing = true;
        transport.pos_samples = Some(0);
        Self {
            transport,
            events: Vec::with_capacity(1024),
        }
    }
}

impl ProcessContext<Emoscope> for MockContext {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }
    fn execute_background(&self, _task: ()) {}
    fn execute_gui(&self, _task: ()) {}
    fn transport(&self) -> &Transport {
        &self.transport
    }
    fn next_event(&mut self) -> Option<PluginNoteEvent<Emoscope>> {
        None
    }
    fn try_send_event(
        &mut self,
        event: PluginNoteEvent<Emoscope>,
    ) -> Result<(), (PluginNoteEvent<Emoscope>, SendEventError)> {
        if self.events.len() == self.events.capacity() {
            return Err((event, SendEventError::HostBufferFull));
        }
        self.events.push(event);
        Ok(())
    }
    fn set_latency_samples(&self, _samples: u32) {}
    fn request_restart(&self) {}
    fn set_current_voice_capacity(&self, _capacity: u32) {}
}

struct MockActivate;

impl ActivateContext<Emoscope> for MockActivate {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }
    fn execute(&self, _task: ()) {}
    fn set_latency_samples(&self, samples: u32) {
        assert_eq!(samples, 0, "the plugin adds no latency");
    }
    fn set_current_voice_capacity(&self, _capacity: u32) {}
}

/// One CC as the test host saw it: absolute sample position, controller, 7-bit value.
#[derive(Debug, Clone, Copy)]
struct Cc {
    at: u64,
    cc: u8,
    value: u8,
}

struct Run {
    plugin: Emoscope,
    ctx: MockContext,
    channels: usize,
    block: usize,
    rate: f32,
    position: usize,
    program: Vec<Vec<f32>>,
    ccs: Vec<Cc>,
    /// Program changes as the test host saw them: (sample position, program).
    programs: Vec<(u64, u8)>,
}

impl Run {
    fn new(model: &std::path::Path, rate: f32, channels: usize, block: usize) -> Self {
        let mut plugin = Emoscope::default();
        let params = plugin.emoscope_params().clone();
        *params.model_dir.write() = model.display().to_string();
        // Short windows so readings come quickly; 20 ms rate limit.
        *params.analysis.write() = AnalysisSettings {
            window_seconds: 1.0,
            hop_seconds: 0.25,
            ..AnalysisSettings::default()
        };
        params
            .cc
            .set(CcMapping {
                min_interval_ms: 20,
                ..CcMapping::default()
            })
            .unwrap();
        let layout = Emoscope::AUDIO_IO_LAYOUTS
            .iter()
            .find(|l| l.main_input_channels.map(|c| c.get() as usize) == Some(channels))
            .copied()
            .unwrap();
        let config = BufferConfig {
            sample_rate: rate,
            min_buffer_size: None,
            max_buffer_size: block as u32,
            process_mode: ProcessMode::Realtime,
        };
        assert!(plugin.activate(&layout, &config, &mut MockActivate));
        plugin.reset();
        Self {
            plugin,
            ctx: MockContext::new(rate),
            channels,
            block,
            rate,
            position: 0,
            program: Vec::new(),
            ccs: Vec::new(),
            programs: Vec::new(),
        }
    }

    fn engine(&self) -> std::sync::Arc<EngineShared> {
        self.plugin.shared().engine().unwrap()
    }

    /// Processes `seconds` more of the program, checking each block.
    fn play(&mut self, seconds: f64) {
        let n = (seconds * f64::from(self.rate)) as usize;
        let end = self.position + n;
        if self.program.first().map_or(0, Vec::len) < end {
            self.program = common::program(end + self.block, self.channels);
        }
        let mut io: Vec<Vec<f32>> = vec![vec![0.0; self.block]; self.channels];
        while self.position < end {
            let len = self.block.min(end - self.position);
            for (ch, buf) in io.iter_mut().enumerate() {
                buf[..len].copy_from_slice(&self.program[ch][self.position..self.position + len]);
            }
            self.ctx.transport.pos_samples = Some(self.position as i64);
            self.ctx.events.clear();
            let mut buffer = Buffer::default();
            // SAFETY: the slices point into `io`, which outlives `buffer`'s use below.
            unsafe {
                buffer.set_slices(len, |slices| {
                    slices.clear();
                    slices.extend(io.iter_mut().map(|c| &mut c[..len]));
                });
            }
            let mut aux = AuxiliaryBuffers {
                inputs: &mut [],
                outputs: &mut [],
            };
            let status = nice_assert_no_alloc::assert_no_alloc(|| {
                self.plugin.process(&mut buffer, &mut aux, &mut self.ctx)
            });
            drop(buffer);
            assert!(matches!(status, ProcessStatus::Tail(_)));
            for (ch, buf) in io.iter().enumerate() {
                let want = &self.program[ch][self.position..self.position + len];
                for (i, (a, b)) in buf[..len].iter().zip(want).enumerate() {
                    assert_eq!(
                        a.to_bits(),
                        common::passed(*b).to_bits(),
                        "channel {ch}, sample {}: not bit-exact",
                        self.position + i
                    );
                }
            }
            for e in &self.ctx.events {
                if let NoteEvent::MidiProgramChange {
                    timing, program, ..
                } = *e
                {
                    self.programs
                        .push(((self.position + timing as usize) as u64, program));
                    continue;
                }
                let NoteEvent::MidiCC {
                    timing,
                    channel,
                    cc,
                    value,
                } = *e
                else {
                    panic!("unexpected event {e:?}");
                };
                assert_eq!(channel, 0);
                assert!(
                    (timing as usize) < len,
                    "timing {timing} outside a {len}-sample block"
                );
                let v = (value * 127.0).round();
                assert_eq!(v / 127.0, value, "a 7-bit value, exactly");
                self.ccs.push(Cc {
                    at: (self.position + timing as usize) as u64,
                    cc,
                    value: v as u8,
                });
            }
            self.position += len;
        }
    }

    fn readings(&self) -> u64 {
        self.engine()
            .status
            .windows_analysed
            .load(Ordering::Relaxed)
    }
}

/// Plays until the engine has analysed `n` windows (the model loads on the
/// worker, and the worker runs beside this thread).
fn play_until_readings(run: &mut Run, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while run.readings() < n {
        assert!(
            Instant::now() < deadline,
            "no readings: {:?}",
            run.engine().status.texts()
        );
        run.play(0.25);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the engine has analysed no new window for 100 ms.
fn wait_until_idle(run: &Run) {
    let mut stable = 0;
    let mut last = run.readings();
    while stable < 20 {
        std::thread::sleep(Duration::from_millis(5));
        let n = run.readings();
        stable = if n == last { stable + 1 } else { 0 };
        last = n;
    }
}

/// The CC stream's checks against what the engine published.
fn check_cc_stream(run: &Run) {
    let engine = run.engine();
    let range = engine.status.output_range();
    let timeline = engine.timeline.snapshot();
    assert!(!timeline.is_empty());
    // Every reading the engine published, as the three 7-bit values.
    let published: Vec<[u8; 3]> = timeline
        .iter()
        .map(|e| e.emotion.dimensions().map(|x| to_cc7(range.normalise(x))))
        .collect();
    // Replay the stream: after each group of events at one sample, the
    // controllers must hold one published reading; no event repeats the value
    // its controller holds; groups are at least 20 ms apart.
    let interval = (0.020 * f64::from(run.rate)).ceil() as u64;
    let mut state: [Option<u8>; 3] = [None; 3];
    let mut last_at: Option<u64> = None;
    let mut i = 0;
    assert!(!run.ccs.is_empty(), "no CC at all");
    while i < run.ccs.len() {
        let at = run.ccs[i].at;
        if let Some(prev) = last_at {
            assert!(
                at >= prev + interval,
                "CC at {at} only {} samples after {prev}",
                at - prev
            );
        }
        while i < run.ccs.len() && run.ccs[i].at == at {
            let c = run.ccs[i];
            let d = (c.cc - 20) as usize;
            assert!(d < 3, "controller {} outside the mapping", c.cc);
            assert_ne!(
                state[d],
                Some(c.value),
                "CC {} re-sent an unchanged value",
                c.cc
            );
            state[d] = Some(c.value);
            i += 1;
        }
        let held = state.map(|s| s.unwrap_or(0));
        if state.iter().all(Option::is_some) {
            assert!(
                published.contains(&held),
                "controllers hold {held:?}, which is no published reading"
            );
        }
        last_at = Some(at);
    }
    assert!(
        state.iter().all(Option::is_some),
        "not every dimension was sent"
    );
    // The readings moved (speech, not a constant), and the controllers followed.
    let distinct: std::collections::BTreeSet<[u8; 3]> = published.iter().copied().collect();
    assert!(
        distinct.len() >= 2,
        "the engine published one value only: {published:?}"
    );
    assert!(
        run.ccs.len() > 3,
        "the CC output never moved after the first reading"
    );
}

#[test]
fn passthrough_no_allocation_and_cc_over_a_grid() {
    let model = common::model_dir("process-grid");
    for &rate in &[22_050.0f32, 44_100.0, 48_000.0, 96_000.0] {
        for &channels in &[1usize, 2] {
            for &block in &[1usize, 7, 64, 512, 4096, 8192] {
                let mut run = Run::new(model.path(), rate, channels, block);
                play_until_readings(&mut run, 3);
                // This host plays far faster than real time, so the engine
                // queues what came while the model loaded and may analyse
                // that backlog between two blocks. Let it catch up, then
                // play on: new readings now come one per hop of new audio,
                // each seen by the audio thread, as in live playback.
                wait_until_idle(&run);
                let n = run.readings();
                play_until_readings(&mut run, n + 3);
                // Transport stopped: the engine finishes what it has, then the
                // last reading must reach the controllers.
                run.ctx.transport.playing = false;
                let engine = run.engine();
                wait_until_idle(&run);
                run.play(0.1);
                check_cc_stream(&run);
                let range = engine.status.output_range();
                let r = engine.readout.read().unwrap().reading;
                let want = r.emotion.dimensions().map(|x| to_cc7(range.normalise(x)));
                let mut held = [None; 3];
                for c in &run.ccs {
                    held[(c.cc - 20) as usize] = Some(c.value);
                }
                assert_eq!(
                    held.map(Option::unwrap),
                    want,
                    "rate {rate}, {channels} ch, block {block}: controllers do not hold the last reading"
                );
                run.plugin.deactivate();
                assert!(run.plugin.shared().engine().is_none());
            }
        }
    }
}

/// A categorical model (a transformers classification head over four
/// categories): `process` still never allocates, and the controllers from
/// 23 end up holding the last reading's probabilities, the last program
/// change its top category.
#[test]
fn a_categorical_model_sends_its_categories_and_programs_without_allocating() {
    let model = common::workspace().join("models/tests/fixtures/classification-wavlm-categories");
    for &(rate, channels, block) in &[(44_100.0f32, 2usize, 64usize), (48_000.0, 1, 4096)] {
        let mut run = Run::new(&model, rate, channels, block);
        run.plugin
            .emoscope_params()
            .cc
            .set(CcMapping {
                min_interval_ms: 20,
                top_category_program: true,
                ..CcMapping::default()
            })
            .unwrap();
        play_until_readings(&mut run, 3);
        run.ctx.transport.playing = false;
        let engine = run.engine();
        wait_until_idle(&run);
        run.play(0.1);
        let r = engine.readout.read().unwrap().reading;
        let p = r.emotion.probabilities.as_slice();
        assert_eq!(p.len(), 4);
        let mut held = [None; 4];
        for c in &run.ccs {
            assert!((23..27).contains(&c.cc), "controller {}", c.cc);
            held[usize::from(c.cc - 23)] = Some(c.value);
        }
        let want: Vec<Option<u8>> = p.iter().map(|&x| Some(to_cc7(x))).collect();
        assert_eq!(held.to_vec(), want, "rate {rate}, block {block}");
        let top = r.emotion.probabilities.top().unwrap().0 as u8;
        assert_eq!(run.programs.last().map(|p| p.1), Some(top));
        run.plugin.deactivate();
    }
}

#[test]
fn without_a_model_audio_still_passes_and_no_cc_is_sent() {
    let mut run = Run::new(std::path::Path::new(""), 48_000.0, 2, 256);
    run.play(2.0);
    assert!(run.ccs.is_empty());
    assert_eq!(run.readings(), 0);
}

/// Proves the allocation check above is armed: a child run of the probe below
/// (which allocates inside `assert_no_alloc`) must die.
#[test]
fn the_allocation_check_is_armed() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "allocation_probe",
            "--ignored",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an allocation inside assert_no_alloc went unnoticed"
    );
}

#[test]
#[ignore = "run by the_allocation_check_is_armed in a child process"]
fn allocation_probe() {
    let v = nice_assert_no_alloc::assert_no_alloc(|| vec![1u8; 64]);
    assert_eq!(v.len(), 64);
}

/// Export on deactivate writes the session's timeline; a failed export keeps
/// it in memory, reports the error, and a retry to a good path writes it all.
#[test]
fn deactivate_exports_and_a_failed_export_loses_nothing() {
    use emoscope::export::ExportFormat;
    use emoscope_plugin::shared::ExportNotice;

    let model = common::model_dir("export");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("missing-dir/timeline.json");
    let mut run = Run::new(model.path(), 48_000.0, 2, 512);
    {
        let mut e = run.plugin.emoscope_params().export.write();
        e.path = bad.display().to_string();
        e.format = ExportFormat::Json;
        e.on_deactivate = true;
    }
    play_until_readings(&mut run, 3);
    run.plugin.deactivate();
    let shared = run.plugin.shared().clone();
    let kept = shared.timeline();
    assert!(
        kept.len() >= 3,
        "the timeline was lost: {} entries",
        kept.len()
    );
    match shared.notices().export {
        Some(ExportNotice::Failed(m)) => assert!(m.contains("missing-dir"), "{m}"),
        other => panic!("expected a failed export, got {other:?}"),
    }
    // Retry from the editor's code path, to a writable place.
    let good = dir.path().join("timeline.csv");
    assert_eq!(shared.export(&good, ExportFormat::Csv).unwrap(), kept.len());
    let rows = std::fs::read_to_string(&good).unwrap().lines().count();
    assert_eq!(rows, kept.len() + 1, "header plus one row per window");
    assert_eq!(
        shared.notices().export,
        Some(ExportNotice::Written(good.clone(), kept.len()))
    );
}
