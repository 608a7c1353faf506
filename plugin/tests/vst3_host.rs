//! The plugin through its VST3 entry point, as a VST3 host drives it: the
//! factory `GetPluginFactory` returns (the symbol a host looks up in the
//! `.vst3` bundle; here the copy linked into this test), an `IComponent` from
//! it, `IAudioProcessor` on the same object, state through an `IBStream`, and
//! the call sequence of the VST3 SDK's documentation (`initialize`,
//! `setupProcessing`, `setActive`, `setProcessing`, `process`). The COM
//! interfaces are the `vst3` crate's bindings that nice-plug's wrapper
//! implements.
//!
//! Checked: the saved settings reach the engine in each order hosts restore
//! state (Ardour 7: activate, then `setState`), and a bounce exports the same
//! timeline as the engine's offline analysis, both when nice-plug reports the
//! host's first offline setup as real time (its 0.4.2 `setupProcessing` hands
//! `activate` the previous setup's mode) and when it reports offline.

// The VST3 enum constants are `c_int` on Windows and `c_uint` elsewhere; the
// casts keep both building (as in nice-plug's own wrapper).
#![allow(clippy::unnecessary_cast)]

mod common;

use std::ffi::c_void;
use std::path::Path;
use std::sync::Mutex;

use common::bounce::{
    analysis, assert_same_timeline, expected_windows, exported_timeline, offline_timeline,
    set_project_fields, speech,
};
use nice_plug::wrapper::vst3::vst3::Steinberg::IBStream_::IStreamSeekMode_::{
    kIBSeekCur, kIBSeekEnd, kIBSeekSet,
};
use nice_plug::wrapper::vst3::vst3::Steinberg::Vst::ProcessContext_::StatesAndFlags_::kPlaying;
use nice_plug::wrapper::vst3::vst3::Steinberg::Vst::{
    AudioBusBuffers, AudioBusBuffers__type0, IAudioProcessor, IAudioProcessorTrait, IComponent,
    IComponentTrait, ProcessContext, ProcessData, ProcessModes_, ProcessSetup,
    SymbolicSampleSizes_,
};
use nice_plug::wrapper::vst3::vst3::Steinberg::{
    int32, int64, kInvalidArgument, kResultOk, tresult, IBStream, IBStreamTrait, IPluginBaseTrait,
    IPluginFactory, IPluginFactoryTrait, PClassInfo,
};
use nice_plug::wrapper::vst3::vst3::{Class, ComPtr, ComWrapper, Interface};

/// A host's memory stream for `setState` / `getState`.
struct Stream {
    /// The bytes and the read / write position.
    data: Mutex<(Vec<u8>, usize)>,
}

impl Stream {
    fn new(bytes: Vec<u8>) -> ComWrapper<Self> {
        ComWrapper::new(Self {
            data: Mutex::new((bytes, 0)),
        })
    }
}

impl Class for Stream {
    type Interfaces = (IBStream,);
}

impl IBStreamTrait for Stream {
    unsafe fn read(&self, buffer: *mut c_void, num_bytes: int32, read: *mut int32) -> tresult {
        let mut guard = self.data.lock().unwrap();
        let (bytes, pos) = &mut *guard;
        let n = (num_bytes.max(0) as usize).min(bytes.len() - *pos);
        // SAFETY: the caller gives room for `num_bytes` bytes at `buffer`.
        unsafe { std::ptr::copy_nonoverlapping(bytes[*pos..].as_ptr(), buffer.cast(), n) };
        *pos += n;
        if !read.is_null() {
            // SAFETY: non-null, the caller's out-parameter.
            unsafe { *read = n as int32 };
        }
        kResultOk
    }

    unsafe fn write(&self, buffer: *mut c_void, num_bytes: int32, written: *mut int32) -> tresult {
        let mut guard = self.data.lock().unwrap();
        let (bytes, pos) = &mut *guard;
        let n = num_bytes.max(0) as usize;
        // SAFETY: the caller gives `num_bytes` readable bytes at `buffer`.
        let src = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), n) };
        let end = *pos + n;
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[*pos..end].copy_from_slice(src);
        *pos = end;
        if !written.is_null() {
            // SAFETY: non-null, the caller's out-parameter.
            unsafe { *written = n as int32 };
        }
        kResultOk
    }

    unsafe fn seek(&self, offset: int64, mode: int32, result: *mut int64) -> tresult {
        let mut guard = self.data.lock().unwrap();
        let (bytes, pos) = &mut *guard;
        let base = match mode as u32 {
            m if m == kIBSeekSet as u32 => 0,
            m if m == kIBSeekCur as u32 => *pos as i64,
            m if m == kIBSeekEnd as u32 => bytes.len() as i64,
            _ => return kInvalidArgument,
        };
        let new = base + offset;
        if !(0..=bytes.len() as i64).contains(&new) {
            return kInvalidArgument;
        }
        *pos = new as usize;
        if !result.is_null() {
            // SAFETY: non-null, the caller's out-parameter.
            unsafe { *result = new };
        }
        kResultOk
    }

    unsafe fn tell(&self, out: *mut int64) -> tresult {
        if out.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: non-null, the caller's out-parameter.
        unsafe { *out = self.data.lock().unwrap().1 as int64 };
        kResultOk
    }
}

const MAX_BLOCK: usize = 2048;

/// One plugin instance, as a host holds it.
struct Instance {
    component: ComPtr<IComponent>,
    processor: ComPtr<IAudioProcessor>,
}

impl Instance {
    /// Creates the first class the plugin's factory exports and initialises it.
    fn new() -> Self {
        let raw = emoscope_plugin::GetPluginFactory();
        // SAFETY: the entry point returns an owned `IPluginFactory` reference.
        let factory = unsafe { ComPtr::from_raw(raw.cast::<IPluginFactory>()) }
            .expect("GetPluginFactory returned null");
        // SAFETY: plain COM calls with valid out-pointers.
        unsafe {
            assert_eq!(factory.countClasses(), 1);
            let mut info: PClassInfo = std::mem::zeroed();
            assert_eq!(factory.getClassInfo(0, &mut info), kResultOk);
            let mut obj: *mut c_void = std::ptr::null_mut();
            let iid = IComponent::IID;
            assert_eq!(
                factory.createInstance(info.cid.as_ptr(), iid.as_ptr().cast(), &mut obj),
                kResultOk
            );
            let component = ComPtr::from_raw(obj.cast::<IComponent>()).unwrap();
            assert_eq!(component.initialize(std::ptr::null_mut()), kResultOk);
            let processor = component.cast::<IAudioProcessor>().unwrap();
            Self {
                component,
                processor,
            }
        }
    }

    fn get_state(&self) -> Vec<u8> {
        let stream = Stream::new(Vec::new());
        let ptr = stream.to_com_ptr::<IBStream>().unwrap();
        // SAFETY: a valid stream for the duration of the call.
        assert_eq!(unsafe { self.component.getState(ptr.as_ptr()) }, kResultOk);
        let data = stream.data.lock().unwrap();
        data.0.clone()
    }

    fn set_state(&self, bytes: &[u8]) {
        let stream = Stream::new(bytes.to_vec());
        let ptr = stream.to_com_ptr::<IBStream>().unwrap();
        // SAFETY: a valid stream for the duration of the call.
        assert_eq!(unsafe { self.component.setState(ptr.as_ptr()) }, kResultOk);
    }

    fn setup(&self, rate: f64, mode: u32) {
        let mut setup = ProcessSetup {
            processMode: mode as i32,
            symbolicSampleSize: SymbolicSampleSizes_::kSample32 as i32,
            maxSamplesPerBlock: MAX_BLOCK as i32,
            sampleRate: rate,
        };
        // SAFETY: a valid setup struct for the duration of the call.
        assert_eq!(
            unsafe { self.processor.setupProcessing(&mut setup) },
            kResultOk
        );
    }

    fn set_active(&self, active: bool) {
        // SAFETY: plain COM call.
        assert_eq!(
            unsafe { self.component.setActive(u8::from(active)) },
            kResultOk
        );
    }

    fn set_processing(&self, processing: bool) {
        // SAFETY: plain COM call.
        assert_eq!(
            unsafe { self.processor.setProcessing(u8::from(processing)) },
            kResultOk
        );
    }

    /// One stereo block (L = R = `samples`) at timeline sample `position`,
    /// transport playing.
    fn block(&self, rate: f64, mode: u32, position: usize, samples: &[f32]) {
        let len = samples.len();
        let mut in_l = samples.to_vec();
        let mut in_r = samples.to_vec();
        let mut out_l = vec![0.0f32; len];
        let mut out_r = vec![0.0f32; len];
        let mut ins = [in_l.as_mut_ptr(), in_r.as_mut_ptr()];
        let mut outs = [out_l.as_mut_ptr(), out_r.as_mut_ptr()];
        let mut input = AudioBusBuffers {
            numChannels: 2,
            silenceFlags: 0,
            __field0: AudioBusBuffers__type0 {
                channelBuffers32: ins.as_mut_ptr(),
            },
        };
        let mut output = AudioBusBuffers {
            numChannels: 2,
            silenceFlags: 0,
            __field0: AudioBusBuffers__type0 {
                channelBuffers32: outs.as_mut_ptr(),
            },
        };
        // SAFETY: all-zero is a valid ProcessContext (plain numbers).
        let mut context: ProcessContext = unsafe { std::mem::zeroed() };
        context.state = kPlaying as u32;
        context.sampleRate = rate;
        context.projectTimeSamples = position as i64;
        let mut data = ProcessData {
            processMode: mode as i32,
            symbolicSampleSize: SymbolicSampleSizes_::kSample32 as i32,
            numSamples: len as i32,
            numInputs: 1,
            numOutputs: 1,
            inputs: &mut input,
            outputs: &mut output,
            inputParameterChanges: std::ptr::null_mut(),
            outputParameterChanges: std::ptr::null_mut(),
            inputEvents: std::ptr::null_mut(),
            outputEvents: std::ptr::null_mut(),
            processContext: &mut context,
        };
        // SAFETY: every pointer in `data` is valid for the call.
        assert_eq!(unsafe { self.processor.process(&mut data) }, kResultOk);
        assert_eq!(out_l, in_l, "audio passes unchanged");
        assert_eq!(out_r, in_r, "audio passes unchanged");
    }

    /// `signal` from timeline sample 0 in full blocks, back to back: as
    /// fast as the host goes.
    fn render(&self, rate: f64, mode: u32, signal: &[f32]) {
        for (i, chunk) in signal.chunks(MAX_BLOCK).enumerate() {
            self.block(rate, mode, i * MAX_BLOCK, chunk);
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: plain COM call; the host is done with the instance.
        let _ = unsafe { self.component.terminate() };
    }
}

/// `state` (nice-plug's VST3 state: the JSON itself) with the project's
/// settings: model, analysis, export to `export` on deactivate.
fn project_state(state: &[u8], model: &Path, export: &Path) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(state).unwrap();
    set_project_fields(&mut v, model, Some(export));
    serde_json::to_vec(&v).unwrap()
}

const REALTIME: u32 = ProcessModes_::kRealtime as u32;
const OFFLINE: u32 = ProcessModes_::kOffline as u32;

/// How the host restores a saved project, relative to activation.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// `setState` before `setupProcessing` / `setActive`.
    StateThenActivate,
    /// `setActive(true)`, then `setState` (Ardour 7).
    ActivateThenState,
    /// `setState` between two `process` calls.
    StateWhileProcessing,
}

#[test]
fn restored_settings_reach_the_engine_in_every_call_order() {
    let model = common::model_dir("vst3-restore");
    let out = tempfile::tempdir().unwrap();
    let rate = 48_000.0;
    let signal = speech(rate, 2);
    // Orders after which no markers were exported (the model never loaded).
    let mut missing = Vec::new();
    for order in [
        Order::StateThenActivate,
        Order::ActivateThenState,
        Order::StateWhileProcessing,
    ] {
        let export = out.path().join(format!("{order:?}.json"));
        let plugin = Instance::new();
        let project = project_state(&plugin.get_state(), model.path(), &export);
        if let Order::StateThenActivate = order {
            plugin.set_state(&project);
        }
        plugin.setup(rate, REALTIME);
        plugin.set_active(true);
        if let Order::ActivateThenState = order {
            plugin.set_state(&project);
        }
        plugin.set_processing(true);
        if let Order::StateWhileProcessing = order {
            let silence = vec![0.0f32; 512];
            for i in 0..8 {
                plugin.block(rate, REALTIME, i * 512, &silence);
            }
            plugin.set_state(&project);
        }
        plugin.render(rate, REALTIME, &signal);
        plugin.set_processing(false);
        plugin.set_active(false);
        // Model, analysis and export settings all came from the restored
        // state: markers exported, in 1 s windows (the default is 4 s).
        if !export.exists() {
            missing.push(order);
            continue;
        }
        let timeline = exported_timeline(&export);
        assert!(!timeline.is_empty(), "{order:?}: no windows analysed");
        for w in &timeline {
            assert_eq!(w.1 - w.0, analysis().window_seconds, "{order:?}: {w:?}");
        }
    }
    assert!(
        missing.is_empty(),
        "no markers exported after {missing:?}: the restored settings never reached the engine"
    );
}

/// Restores a project exporting to `export`, then renders `signal` after
/// the given `setupProcessing` modes (the last one is the host's current
/// mode) and deactivates.
fn bounce(model: &Path, export: &Path, rate: f64, setups: &[u32], signal: &[f32]) {
    let plugin = Instance::new();
    let project = project_state(&plugin.get_state(), model, export);
    plugin.set_state(&project);
    for &mode in setups {
        plugin.setup(rate, mode);
    }
    let mode = *setups.last().unwrap();
    plugin.set_active(true);
    plugin.set_processing(true);
    plugin.render(rate, mode, signal);
    plugin.set_processing(false);
    plugin.set_active(false);
}

#[test]
fn a_first_offline_setup_reported_as_real_time_still_queues_every_window() {
    // nice-plug 0.4.2 hands `activate` the mode of the setup before this one
    // (here: none, so real time): the render is caught by its pace and
    // queued, within the queue bound.
    let model = common::model_dir("vst3-bounce");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("bounce.json");
    let rate = 44_100.0;
    let signal = speech(rate, 7);
    let seconds = signal.len() as f64 / rate;
    assert!(seconds < emoscope_plugin::shared::MAX_QUEUED_SECONDS);
    bounce(model.path(), &export, rate, &[OFFLINE], &signal);
    let reference = offline_timeline(model.path(), &signal, rate);
    assert_eq!(reference.len(), expected_windows(seconds));
    assert_same_timeline(
        "VST3, first offline setup",
        &exported_timeline(&export),
        &reference,
    );
}

#[test]
fn an_offline_setup_reported_as_offline_waits_for_every_window() {
    // Set up offline twice (as hosts do when they re-apply a setup), so
    // nice-plug reports offline; the render is longer than the queue bound,
    // so only waiting keeps every window.
    let model = common::model_dir("vst3-offline");
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("bounce.json");
    let rate = 48_000.0;
    let signal = speech(rate, 12);
    let seconds = signal.len() as f64 / rate;
    assert!(seconds > emoscope_plugin::shared::MAX_QUEUED_SECONDS);
    bounce(model.path(), &export, rate, &[OFFLINE, OFFLINE], &signal);
    let reference = offline_timeline(model.path(), &signal, rate);
    assert_eq!(reference.len(), expected_windows(seconds));
    assert_same_timeline("VST3, offline", &exported_timeline(&export), &reference);
}
