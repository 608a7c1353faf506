//! MIDI CC output of arousal, valence and dominance: the plugin's automation
//! path (nice-plug cannot send parameter changes from the audio thread, but
//! every host can record or route incoming CC).
//!
//! The mapping ([`CcMapping`]) is edited by the GUI and persisted with the
//! plugin state; it crosses to the audio thread packed into one atomic word
//! ([`SharedCcMapping`]), so the audio thread always sees a whole mapping,
//! never half of an edit. [`CcEmitter`] is the audio-thread state machine that
//! turns readouts into controller messages: only values that changed, at most
//! one update per `min_interval_ms`, each timed at the sample where the new
//! value became sendable. The numbers come from [`emoscope::cc`], which the
//! MIDI-file export uses too.
//!
//! With [`CcMapping::channel_per_speaker`] on and a transcript that names
//! speakers, each speaker's values go out on a channel of their own: the
//! `k`-th speaker (counting from 0, in the order of their first turn in the
//! transcript) on the mapping's channel + `k` (wrapping after 16), so with
//! the default channel 1 the first speaker is on channel 1 and the second on
//! channel 2, as in the MIDI file `emoscope annotate` writes
//! ([`emoscope::export::midi::speaker_channel`]). Readings that name no
//! speaker stay on the mapping's channel.
//!
//! A categorical model's readings go out as one controller per category,
//! its probability (0..1 onto 0..127, always 7-bit), on consecutive
//! controllers from [`CcMapping::category_first`] (23 by default, right
//! after the dimensions' 20-22, as in the MIDI-file export), in the model's
//! label order. With [`CcMapping::top_category_program`] on, the most
//! probable category also goes out as a program change (program = its
//! index: the first label is program 1 in a DAW's numbering) whenever it
//! changes, so that a DAW or synth can switch patches or scenes on it; off
//! by default, since a program change switches instruments on a synth that
//! listens.

use std::sync::atomic::{AtomicU64, Ordering};

use emoscope::cc::{default_category_cc, to_cc14, to_cc7, DEFAULT_CC, DEFAULT_CHANNEL, LSB_OFFSET};
use emoscope::engine::Published;
use emoscope::export::midi::speaker_channel;
use emoscope::reading::MAX_CATEGORIES;
use emoscope::OutputRange;
use nice_plug::params::persist::PersistentField;
use serde::{Deserialize, Serialize};

/// Where A, V and D go on the MIDI output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CcMapping {
    /// Send CC at all.
    pub enabled: bool,
    /// Controller numbers for arousal, valence and dominance (0-119; 0-31 in 14-bit mode).
    pub controllers: [u8; 3],
    /// Zero-based MIDI channel (0 is channel 1 in a DAW).
    pub channel: u8,
    /// Send 14-bit values as MSB on the controller and LSB on controller + 32.
    pub fourteen_bit: bool,
    /// Minimum time between two updates, in milliseconds (0: every new reading).
    pub min_interval_ms: u16,
    /// Each speaker's values on a channel of their own (see the module docs).
    pub channel_per_speaker: bool,
    /// The controller of a categorical model's first category; category
    /// `k` goes out on this + `k` (see the module docs).
    pub category_first: u8,
    /// Send the most probable category as a program change when it changes.
    pub top_category_program: bool,
}

/// Values one reading sends: the dimensions, then the categories.
const OUTPUTS: usize = 3 + MAX_CATEGORIES;

impl Default for CcMapping {
    fn default() -> Self {
        Self {
            enabled: true,
            controllers: DEFAULT_CC,
            channel: DEFAULT_CHANNEL,
            fourteen_bit: false,
            min_interval_ms: 50,
            channel_per_speaker: false,
            category_first: default_category_cc(0),
            top_category_program: false,
        }
    }
}

/// Why a mapping cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CcMappingError {
    /// A controller number outside 0-119 (120-127 are channel mode messages).
    #[error("controller {0} is not a control change number (0-119)")]
    NotAController(u8),
    /// In 14-bit mode, the MSB controller must be 0-31 so that its LSB partner (+32) exists.
    #[error("14-bit mode needs controllers 0-31 (LSB on controller + 32), got {0}")]
    NoLsbPartner(u8),
    /// Two dimensions (or an MSB and another's LSB) on the same controller.
    #[error("controller {0} is used twice")]
    Duplicate(u8),
    /// The categories' controllers would run past 119.
    #[error("the {MAX_CATEGORIES} category controllers from {0} would run past 119")]
    CategoriesPastTheEnd(u8),
    /// Channel outside 0-15.
    #[error("channel {} does not exist (1-16)", .0 + 1)]
    BadChannel(u8),
}

impl CcMapping {
    /// Checks the mapping; the editor shows the error and keeps the previous mapping.
    pub fn validate(&self) -> Result<(), CcMappingError> {
        if self.channel > 15 {
            return Err(CcMappingError::BadChannel(self.channel));
        }
        let mut used = [false; 128];
        for &cc in &self.controllers {
            if cc > 119 {
                return Err(CcMappingError::NotAController(cc));
            }
            if self.fourteen_bit && cc >= LSB_OFFSET {
                return Err(CcMappingError::NoLsbPartner(cc));
            }
            let pair = [Some(cc), self.fourteen_bit.then_some(cc + LSB_OFFSET)];
            for c in pair.into_iter().flatten() {
                if std::mem::replace(&mut used[c as usize], true) {
                    return Err(CcMappingError::Duplicate(c));
                }
            }
        }
        let last = usize::from(self.category_first) + MAX_CATEGORIES - 1;
        if last > 119 {
            return Err(CcMappingError::CategoriesPastTheEnd(self.category_first));
        }
        let first = usize::from(self.category_first);
        if let Some(c) = (first..=last).find(|&c| used[c]) {
            return Err(CcMappingError::Duplicate(c as u8));
        }
        Ok(())
    }

    /// The controller of output `i` ([`OUTPUTS`] order: the dimensions,
    /// then the categories).
    fn controller(&self, i: usize) -> u8 {
        match i {
            0..3 => self.controllers[i],
            _ => self.category_first + (i - 3) as u8,
        }
    }

    /// Packs the mapping into one word: controllers (3 x 7 bits), channel (4),
    /// flags (2), interval (16), channel per speaker (1), first category
    /// controller (7), top category as program (1).
    fn pack(&self) -> u64 {
        let [a, v, d] = self.controllers.map(|c| u64::from(c & 0x7f));
        a | v << 7
            | d << 14
            | u64::from(self.channel & 0x0f) << 21
            | u64::from(self.enabled) << 25
            | u64::from(self.fourteen_bit) << 26
            | u64::from(self.min_interval_ms) << 27
            | u64::from(self.channel_per_speaker) << 43
            | u64::from(self.category_first & 0x7f) << 44
            | u64::from(self.top_category_program) << 51
    }

    fn unpack(w: u64) -> Self {
        Self {
            controllers: [w & 0x7f, (w >> 7) & 0x7f, (w >> 14) & 0x7f].map(|c| c as u8),
            channel: ((w >> 21) & 0x0f) as u8,
            enabled: (w >> 25) & 1 == 1,
            fourteen_bit: (w >> 26) & 1 == 1,
            min_interval_ms: ((w >> 27) & 0xffff) as u16,
            channel_per_speaker: (w >> 43) & 1 == 1,
            category_first: ((w >> 44) & 0x7f) as u8,
            top_category_program: (w >> 51) & 1 == 1,
        }
    }
}

/// The mapping shared between the editor (writes), the state (persists) and
/// the audio thread (reads once per block, lock-free).
#[derive(Debug)]
pub struct SharedCcMapping(AtomicU64);

impl Default for SharedCcMapping {
    fn default() -> Self {
        Self(AtomicU64::new(CcMapping::default().pack()))
    }
}

impl SharedCcMapping {
    /// The current mapping. Real-time safe.
    pub fn get(&self) -> CcMapping {
        CcMapping::unpack(self.0.load(Ordering::Acquire))
    }

    /// Replaces the mapping after validating it.
    pub fn set(&self, mapping: CcMapping) -> Result<(), CcMappingError> {
        mapping.validate()?;
        self.0.store(mapping.pack(), Ordering::Release);
        Ok(())
    }
}

impl<'a> PersistentField<'a, CcMapping> for SharedCcMapping {
    fn set(&self, new_value: CcMapping) {
        // A state with an invalid mapping (edited by hand, or from a future
        // version) keeps the current one rather than sending garbage.
        let _ = SharedCcMapping::set(self, new_value);
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&CcMapping) -> R,
    {
        f(&self.get())
    }
}

/// One controller message, as the emitter produces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcEvent {
    /// Sample offset within the current block.
    pub timing: u32,
    /// Zero-based channel.
    pub channel: u8,
    /// Controller number.
    pub cc: u8,
    /// 7-bit value.
    pub value: u8,
}

/// One MIDI message the emitter produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidiOut {
    /// A control change.
    Cc(CcEvent),
    /// A program change: the most probable category's index.
    Program {
        /// Sample offset within the current block.
        timing: u32,
        /// Zero-based channel.
        channel: u8,
        /// Zero-based program number.
        program: u8,
    },
}

/// What a new reading leaves to send.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Each output's value (14-bit scale) when the reading has it.
    values: [Option<u16>; OUTPUTS],
    /// The most probable category, when a program change is due.
    program: Option<u8>,
    channel: u8,
}

/// Audio-thread state of the CC output. Allocation-free; all state is inline.
#[derive(Debug, Clone, Default)]
pub struct CcEmitter {
    /// Samples processed since the last reset (the emitter's clock).
    clock: u64,
    /// Earliest clock value at which the next update may go out.
    next_allowed: u64,
    /// `count` of the last reading taken in.
    last_count: u64,
    /// Values waiting for the rate limit (14-bit scale, 0-16383), and their channel.
    pending: Option<Pending>,
    /// What each controller last received on each channel (14-bit scale);
    /// `None` before the first send.
    last_sent: [[Option<u16>; OUTPUTS]; 16],
    /// The program each channel last received.
    last_program: [Option<u8>; 16],
    /// The mapping the last sends used; a change re-sends everything.
    mapping: Option<CcMapping>,
    /// Whether the last attempt found the host's event queue full.
    pub host_full: bool,
}

impl CcEmitter {
    /// Forgets what was sent, so the next reading goes out in full (after a
    /// host reset the receiver's state is unknown).
    pub fn reset(&mut self) {
        // `last_count` back to 0 too: the latest reading goes out again at once
        // rather than waiting for the next one.
        *self = Self::default();
    }

    /// Processes one block of `frames` samples at `sample_rate`: takes in
    /// `reading` (the readout's latest, if any) and calls `send` for each
    /// message to emit, in time order (controllers in output order, then
    /// the program change). `send` returns false when
    /// the host cannot take more events; the update is then retried in the
    /// next block. Real-time safe: no allocation, lock or panic.
    pub fn process(
        &mut self,
        frames: u32,
        sample_rate: f32,
        reading: Option<&Published>,
        range: OutputRange,
        mapping: CcMapping,
        mut send: impl FnMut(MidiOut) -> bool,
    ) {
        let block_start = self.clock;
        self.clock += u64::from(frames);
        if self.mapping != Some(mapping) {
            // Controllers or resolution changed: nothing the receiver holds is current.
            self.last_sent = [[None; OUTPUTS]; 16];
            self.last_program = [None; 16];
            self.last_count = 0;
            self.mapping = Some(mapping);
        }
        if !mapping.enabled {
            self.pending = None;
            return;
        }
        if let Some(r) = reading {
            if r.count != self.last_count {
                self.last_count = r.count;
                let channel = match r.speaker {
                    Some(k) if mapping.channel_per_speaker => {
                        speaker_channel(usize::from(mapping.channel) + k as usize)
                    }
                    _ => mapping.channel,
                };
                let e = &r.reading.emotion;
                let mut values = [None; OUTPUTS];
                if e.has_dimensions() {
                    for (v, x) in values.iter_mut().zip(e.dimensions()) {
                        let t = range.normalise(x);
                        let (msb, lsb) = to_cc14(t);
                        *v = Some(if mapping.fourteen_bit {
                            u16::from(msb) << 7 | u16::from(lsb)
                        } else {
                            // 7-bit values kept on the 14-bit scale (value << 7) so both modes compare alike.
                            u16::from(to_cc7(t)) << 7
                        });
                    }
                }
                for (v, &p) in values[3..].iter_mut().zip(e.probabilities.as_slice()) {
                    *v = Some(u16::from(to_cc7(OutputRange::UNIT.normalise(p))) << 7);
                }
                let program = e
                    .probabilities
                    .top()
                    .filter(|_| mapping.top_category_program)
                    .map(|(k, _)| k as u8);
                self.pending = Some(Pending {
                    values,
                    program,
                    channel,
                });
            }
        }
        let Some(Pending {
            values,
            program,
            channel,
        }) = self.pending
        else {
            return;
        };
        let offset = self.next_allowed.saturating_sub(block_start);
        if offset >= u64::from(frames) {
            return; // Rate limit holds it past this block.
        }
        let timing = offset as u32;
        let mut any = false;
        self.host_full = false;
        let last_sent = &mut self.last_sent[usize::from(channel & 0x0f)];
        for (i, v) in values.iter().enumerate() {
            let Some(v) = *v else {
                continue;
            };
            if last_sent[i] == Some(v) {
                continue;
            }
            let cc = mapping.controller(i);
            let msb = (v >> 7) as u8;
            let mut ok = send(MidiOut::Cc(CcEvent {
                timing,
                channel,
                cc,
                value: msb,
            }));
            // Categories go out 7-bit (their controllers have no LSB partner).
            if ok && mapping.fourteen_bit && i < 3 {
                ok = send(MidiOut::Cc(CcEvent {
                    timing,
                    channel,
                    cc: cc + LSB_OFFSET,
                    value: (v & 0x7f) as u8,
                }));
            }
            if !ok {
                self.host_full = true;
                return; // Keep `pending`; what was sent is recorded.
            }
            last_sent[i] = Some(v);
            any = true;
        }
        let last_program = &mut self.last_program[usize::from(channel & 0x0f)];
        if let Some(p) = program.filter(|&p| *last_program != Some(p)) {
            if !send(MidiOut::Program {
                timing,
                channel,
                program: p,
            }) {
                self.host_full = true;
                return;
            }
            *last_program = Some(p);
            any = true;
        }
        self.pending = None;
        if any {
            let interval =
                (f64::from(mapping.min_interval_ms) * f64::from(sample_rate) / 1000.0).ceil();
            self.next_allowed = block_start + offset + interval as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use emoscope::{Emotion, Reading, Span};

    fn reading(count: u64, a: f32, v: f32, d: f32) -> Option<Published> {
        Some(Published {
            reading: Reading {
                span: Span::new(0.0, 4.0),
                emotion: Emotion::new(a, v, d),
                ..Reading::default()
            },
            count,
            speaker: None,
        })
    }

    /// [`reading`] of the speaker with index `k`.
    fn reading_of(k: u32, count: u64, a: f32, v: f32, d: f32) -> Option<Published> {
        reading(count, a, v, d).map(|p| Published {
            speaker: Some(k),
            ..p
        })
    }

    fn run(
        e: &mut CcEmitter,
        frames: u32,
        r: Option<Published>,
        mapping: CcMapping,
    ) -> Vec<CcEvent> {
        let mut out = Vec::new();
        e.process(
            frames,
            48_000.0,
            r.as_ref(),
            OutputRange::UNIT,
            mapping,
            |ev| {
                if let MidiOut::Cc(ev) = ev {
                    out.push(ev);
                }
                true
            },
        );
        out
    }

    #[test]
    fn mapping_round_trips_through_the_packed_word() {
        let m = CcMapping {
            enabled: false,
            controllers: [1, 119, 64],
            channel: 15,
            fourteen_bit: true,
            min_interval_ms: 65_535,
            channel_per_speaker: true,
            category_first: 100,
            top_category_program: true,
        };
        assert_eq!(CcMapping::unpack(m.pack()), m);
        assert_eq!(
            CcMapping::unpack(CcMapping::default().pack()),
            CcMapping::default()
        );
    }

    #[test]
    fn invalid_mappings_are_refused_and_keep_the_old_one() {
        let shared = SharedCcMapping::default();
        let bad = [
            (
                CcMapping {
                    controllers: [20, 20, 22],
                    ..CcMapping::default()
                },
                CcMappingError::Duplicate(20),
            ),
            (
                CcMapping {
                    controllers: [20, 21, 40],
                    fourteen_bit: true,
                    ..CcMapping::default()
                },
                CcMappingError::NoLsbPartner(40),
            ),
            (
                // 14-bit: 1's LSB partner is 33, which D already uses.
                CcMapping {
                    controllers: [1, 2, 33],
                    fourteen_bit: true,
                    ..CcMapping::default()
                },
                CcMappingError::NoLsbPartner(33),
            ),
            (
                CcMapping {
                    controllers: [20, 21, 120],
                    ..CcMapping::default()
                },
                CcMappingError::NotAController(120),
            ),
            (
                CcMapping {
                    channel: 16,
                    ..CcMapping::default()
                },
                CcMappingError::BadChannel(16),
            ),
        ];
        for (m, err) in bad {
            assert_eq!(shared.set(m), Err(err));
            assert_eq!(shared.get(), CcMapping::default());
        }
    }

    /// Channel per speaker: speaker k on the mapping's channel + k, each
    /// channel sent what it has not received yet; a reading without a
    /// speaker, or the option off, stays on the mapping's channel.
    #[test]
    fn each_speaker_has_a_channel_of_their_own() {
        let m = CcMapping {
            channel: 3,
            min_interval_ms: 0,
            channel_per_speaker: true,
            ..CcMapping::default()
        };
        let mut e = CcEmitter::default();
        let sent = |ev: Vec<CcEvent>| -> Vec<(u8, u8, u8)> {
            ev.iter().map(|e| (e.channel, e.cc, e.value)).collect()
        };
        let ev = run(&mut e, 256, reading_of(0, 1, 0.5, 1.0, 0.0), m);
        assert_eq!(sent(ev), [(3, 20, 64), (3, 21, 127), (3, 22, 0)]);
        // The second speaker, with the same values: their channel has none yet.
        let ev = run(&mut e, 256, reading_of(1, 2, 0.5, 1.0, 0.0), m);
        assert_eq!(sent(ev), [(4, 20, 64), (4, 21, 127), (4, 22, 0)]);
        // The first again, only valence changed: only CC 21 on their channel.
        let ev = run(&mut e, 256, reading_of(0, 3, 0.5, 0.5, 0.0), m);
        assert_eq!(sent(ev), [(3, 21, 64)]);
        // The 14th speaker wraps round to channel 1 (3 + 13 = 16 -> 0).
        let ev = run(&mut e, 256, reading_of(13, 4, 0.0, 0.0, 0.0), m);
        assert!(ev.iter().all(|e| e.channel == 0) && ev.len() == 3);
        // No speaker: the mapping's channel (which holds 0.5/0.5/0.0).
        let ev = run(&mut e, 256, reading(5, 1.0, 0.5, 0.0), m);
        assert_eq!(sent(ev), [(3, 20, 127)]);
        // Off: every speaker on the mapping's channel.
        let off = CcMapping {
            channel_per_speaker: false,
            ..m
        };
        let ev = run(&mut e, 256, reading_of(1, 6, 0.25, 0.25, 0.25), off);
        assert!(ev.iter().all(|e| e.channel == 3) && ev.len() == 3);
    }

    /// A categorical reading: a controller per category from
    /// `category_first`, probabilities on 0..127 (7-bit even in 14-bit
    /// mode), no dimension controllers; its top category as a program
    /// change when asked for, only when it changes.
    #[test]
    fn a_categorical_reading_sends_a_controller_per_category_and_its_top_as_a_program() {
        use emoscope::reading::Probabilities;
        let m = CcMapping {
            min_interval_ms: 0,
            fourteen_bit: true,
            controllers: [1, 2, 3],
            top_category_program: true,
            ..CcMapping::default()
        };
        let categorical = |count: u64, p: &[f32]| {
            Some(Published {
                reading: Reading {
                    emotion: Emotion::categorical(Probabilities::new(p).unwrap()),
                    ..Reading::default()
                },
                count,
                speaker: None,
            })
        };
        let mut e = CcEmitter::default();
        let all = |e: &mut CcEmitter, r: Option<Published>| {
            let mut out = Vec::new();
            e.process(64, 48_000.0, r.as_ref(), OutputRange::UNIT, m, |ev| {
                out.push(ev);
                true
            });
            out
        };
        let cc = |cc: u8, value: u8| {
            MidiOut::Cc(CcEvent {
                timing: 0,
                channel: 0,
                cc,
                value,
            })
        };
        // 0.5 -> 64, 0.25 -> round(31.75) = 32, 0.25 -> 32; top: 0.
        let got = all(&mut e, categorical(1, &[0.5, 0.25, 0.25]));
        let program = |p: u8| MidiOut::Program {
            timing: 0,
            channel: 0,
            program: p,
        };
        assert_eq!(got, [cc(23, 64), cc(24, 32), cc(25, 32), program(0)]);
        // The top moves to the third category: its controller, the first's, a program change.
        let got = all(&mut e, categorical(2, &[0.25, 0.25, 0.5]));
        assert_eq!(got, [cc(23, 32), cc(25, 64), program(2)]);
        // The same top with other values: no program change.
        let got = all(&mut e, categorical(3, &[0.2, 0.2, 0.6]));
        assert_eq!(got, [cc(23, 25), cc(24, 25), cc(25, 76)]);
        // Categories past 119, or over a dimension's controller, are refused.
        let shared = SharedCcMapping::default();
        let past = CcMapping {
            category_first: 110,
            ..CcMapping::default()
        };
        assert_eq!(
            shared.set(past),
            Err(CcMappingError::CategoriesPastTheEnd(110))
        );
        let over = CcMapping {
            category_first: 10,
            ..CcMapping::default()
        };
        assert_eq!(shared.set(over), Err(CcMappingError::Duplicate(20)));
    }

    /// A project saved before the option existed loads with it off.
    #[test]
    fn older_mappings_load_without_channel_per_speaker() {
        let old = r#"{"enabled":true,"controllers":[20,21,22],"channel":0,"fourteen_bit":false,"min_interval_ms":50}"#;
        let m: CcMapping = serde_json::from_str(old).unwrap();
        assert_eq!(m, CcMapping::default());
    }

    #[test]
    fn seven_bit_values_are_sent_once_per_change() {
        let m = CcMapping {
            min_interval_ms: 0,
            ..CcMapping::default()
        };
        let mut e = CcEmitter::default();
        // 0.5 -> round(63.5) = 64; 1.0 -> 127; 0.0 -> 0.
        let ev = run(&mut e, 256, reading(1, 0.5, 1.0, 0.0), m);
        let sent: Vec<(u8, u8)> = ev.iter().map(|e| (e.cc, e.value)).collect();
        assert_eq!(sent, vec![(20, 64), (21, 127), (22, 0)]);
        assert!(ev.iter().all(|e| e.timing == 0 && e.channel == 0));
        // The same reading again: nothing.
        assert!(run(&mut e, 256, reading(1, 0.5, 1.0, 0.0), m).is_empty());
        // A new reading where only valence moves by more than one step: only CC 21.
        let ev = run(&mut e, 256, reading(2, 0.5, 0.5, 0.0), m);
        assert_eq!(
            ev.iter().map(|e| (e.cc, e.value)).collect::<Vec<_>>(),
            vec![(21, 64)]
        );
        // A new reading whose change is below one 7-bit step (1/127 ~ 0.0079): nothing.
        assert!(run(&mut e, 256, reading(3, 0.502, 0.5, 0.0), m).is_empty());
    }

    #[test]
    fn fourteen_bit_sends_msb_then_lsb() {
        let m = CcMapping {
            controllers: [1, 2, 3],
            fourteen_bit: true,
            min_interval_ms: 0,
            ..CcMapping::default()
        };
        let mut e = CcEmitter::default();
        // 0.25 * 16383 = 4095.75 -> 4096 = 32 << 7 | 0.
        // 0.3 * 16383 = 4914.9 -> 4915 = 38 << 7 | 51.
        let ev = run(&mut e, 64, reading(1, 0.25, 0.3, 1.0), m);
        let sent: Vec<(u8, u8)> = ev.iter().map(|e| (e.cc, e.value)).collect();
        assert_eq!(
            sent,
            vec![(1, 32), (33, 0), (2, 38), (34, 51), (3, 127), (35, 127)]
        );
    }

    #[test]
    fn rate_limit_delays_to_the_exact_sample_and_sends_the_newest() {
        // 10 ms at 48 kHz = 480 samples.
        let m = CcMapping {
            min_interval_ms: 10,
            ..CcMapping::default()
        };
        let mut e = CcEmitter::default();
        assert_eq!(run(&mut e, 100, reading(1, 0.0, 0.0, 0.0), m).len(), 3);
        // Clock 100..200 and 200..300: a new reading arrives but 480 is not reached.
        assert!(run(&mut e, 100, reading(2, 0.5, 0.0, 0.0), m).is_empty());
        assert!(run(&mut e, 100, reading(3, 1.0, 0.0, 0.0), m).is_empty());
        // Block 300..556 contains sample 480: offset 180, with the newest value (127).
        let ev = run(&mut e, 256, None, m);
        assert_eq!(
            ev,
            vec![CcEvent {
                timing: 180,
                channel: 0,
                cc: 20,
                value: 127
            }]
        );
        // Next allowed at 480 + 480 = 960; a reading in block 556..812 waits, block 812..1068 sends at 148.
        assert!(run(&mut e, 256, reading(4, 0.0, 0.0, 0.0), m).is_empty());
        let ev = run(&mut e, 256, None, m);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].timing, ev[0].value), (960 - 812, 0));
    }

    #[test]
    fn values_are_normalised_by_the_model_range_and_clamped() {
        let m = CcMapping {
            min_interval_ms: 0,
            ..CcMapping::default()
        };
        let mut e = CcEmitter::default();
        let mut out = Vec::new();
        // Range 1..7 (e.g. a 7-point scale): 4 is the midpoint -> 64; 9 clamps -> 127; 1 -> 0.
        e.process(
            32,
            44_100.0,
            reading(1, 4.0, 9.0, 1.0).as_ref(),
            OutputRange::new(1.0, 7.0),
            m,
            |ev| {
                if let MidiOut::Cc(ev) = ev {
                    out.push(ev.value);
                }
                true
            },
        );
        assert_eq!(out, vec![64, 127, 0]);
    }

    #[test]
    fn a_mapping_change_resends_everything_on_the_new_controllers() {
        let m1 = CcMapping {
            min_interval_ms: 0,
            ..CcMapping::default()
        };
        let m2 = CcMapping {
            controllers: [70, 71, 72],
            channel: 3,
            ..m1
        };
        let mut e = CcEmitter::default();
        let r = reading(1, 0.1, 0.2, 0.3);
        assert_eq!(run(&mut e, 64, r.clone(), m1).len(), 3);
        let ev = run(&mut e, 64, r, m2);
        assert_eq!(
            ev.iter().map(|e| (e.channel, e.cc)).collect::<Vec<_>>(),
            vec![(3, 70), (3, 71), (3, 72)]
        );
        // Disabled: nothing, even for new readings.
        let off = CcMapping {
            enabled: false,
            ..m2
        };
        assert!(run(&mut e, 64, reading(2, 0.9, 0.9, 0.9), off).is_empty());
    }

    #[test]
    fn a_full_host_queue_retries_in_the_next_block() {
        let m = CcMapping {
            min_interval_ms: 0,
            ..CcMapping::default()
        };
        let mut e = CcEmitter::default();
        let mut accepted = Vec::new();
        // The host takes one event, then is full.
        let mut budget = 1;
        e.process(
            64,
            48_000.0,
            reading(1, 0.0, 0.5, 1.0).as_ref(),
            OutputRange::UNIT,
            m,
            |ev| {
                if budget == 0 {
                    return false;
                }
                budget -= 1;
                if let MidiOut::Cc(ev) = ev {
                    accepted.push(ev.cc);
                }
                true
            },
        );
        assert!(e.host_full);
        let rest = run(&mut e, 64, None, m);
        assert_eq!(accepted, vec![20]);
        assert_eq!(rest.iter().map(|e| e.cc).collect::<Vec<_>>(), vec![21, 22]);
    }
}
