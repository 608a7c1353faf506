//! The real-time side of the engine: the audio thread hands host audio to
//! the analysis worker without allocating, locking, blocking or panicking.
//!
//! [`capture`] returns the pair for this thread boundary: the audio thread
//! owns [`CaptureInput`], the worker owns [`CaptureOutput`]. Down-mixed mono
//! samples cross through one SPSC ring (`ringbuf`, `push_slice`), and one
//! [`BlockInfo`] per block (host timeline position, rate, transport) through a
//! second; a block is written only when both fit, so the two never disagree.
//! Counters ([`CaptureStats`]) are relaxed atomics readable from any thread.
//!
//! Overflow policy, by [`RenderMode`]:
//!
//! - In real-time playback the worker keeps the ring from filling by
//!   discarding the oldest audio whenever it falls behind (see
//!   [`CaptureOutput::discard_backlog`]), so under overload it is the oldest
//!   audio that goes. Should the worker stall completely and the ring fill up
//!   regardless, the producer cannot reach the consumer's end without a lock,
//!   so it drops the incoming block, counts it, and marks the next block as
//!   discontinuous so the worker restarts its window.
//! - When the host delivers audio faster than real time (a bounce, freeze or
//!   export) the worker stops discarding and takes the ring's audio in order:
//!   the ring is then the queue of audio waiting for analysis, and its
//!   capacity is the bound. The audio thread still never waits; a block that
//!   does not fit is dropped and counted as above.
//! - When the host says it renders offline ([`RenderMode::Offline`]) nobody is
//!   listening, so the audio thread waits for room instead of dropping (for at
//!   most [`MAX_OFFLINE_WAIT`] per block, in case the worker is gone). Where
//!   that report may be stale ([`RenderMode::OfflineIfFast`]) it waits only
//!   while audio comes faster than real time.
//!
//! The worker tells "faster than real time" from [`CaptureStats::delivered_ns`]
//! (audio delivered, in nanoseconds at the host rate) against its wall clock,
//! and publishes its verdict through [`CaptureOutput::set_faster_than_real_time`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Largest block the audio thread down-mixes in one piece; longer host
/// blocks are split (each piece gets its own [`BlockInfo`]).
pub const MAX_CHUNK: usize = 4096;

/// Longest the audio thread waits for room in the ring for one block in
/// [`RenderMode::Offline`] (the worker may be loading a large model); after
/// that the block is dropped and counted as in real time.
pub const MAX_OFFLINE_WAIT: Duration = Duration::from_secs(60);

/// Lead over the wall clock, seconds, that counts as rendering faster than
/// real time (live playback never gets that far ahead, even with a host's
/// prefetch). The worker's pace check uses the same figure.
pub const FAST_LEAD: f64 = 1.0;

/// Sleep between checks for room while waiting in [`RenderMode::Offline`].
const OFFLINE_POLL: Duration = Duration::from_micros(200);

/// Magnitudes below this are flushed to zero on the way in, so denormals
/// never reach the resampler or the model.
const DENORMAL_FLOOR: f32 = 1e-30;

/// One block of mono audio as the host described it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockInfo {
    /// Host timeline position of the block's first sample, in samples at `sample_rate`.
    pub position: i64,
    /// Samples in the block.
    pub frames: u32,
    /// Host sample rate in Hz.
    pub sample_rate: f32,
    /// Whether the host transport is playing.
    pub playing: bool,
    /// Audio before this block was dropped (ring full): the worker must not
    /// join this block to the previous one.
    pub discontinuity: bool,
}

/// How the host renders, as far as the audio thread's overflow policy is
/// concerned (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenderMode {
    /// Real-time playback, or the host did not say: never wait.
    #[default]
    Realtime,
    /// The host renders offline: wait for room in the ring rather than drop.
    Offline,
    /// The host reported offline rendering but the report may be stale (see
    /// the plugin's VST3 workaround): wait only while the worker sees audio
    /// arriving faster than real time, behave as [`RenderMode::Realtime`] otherwise.
    OfflineIfFast,
}

impl RenderMode {
    fn to_u8(self) -> u8 {
        match self {
            RenderMode::Realtime => 0,
            RenderMode::Offline => 1,
            RenderMode::OfflineIfFast => 2,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => RenderMode::Offline,
            2 => RenderMode::OfflineIfFast,
            _ => RenderMode::Realtime,
        }
    }
}

/// Counters of what the capture path had to change or drop, and the two
/// flags its ends share (render mode, faster than real time).
#[derive(Debug, Default)]
pub struct CaptureStats {
    /// Samples dropped by the audio thread because the ring was full.
    pub samples_dropped: AtomicU64,
    /// Samples the worker discarded from the front of the ring to catch up.
    pub samples_discarded: AtomicU64,
    /// NaN or infinite samples replaced by zero.
    pub non_finite: AtomicU64,
    /// Samples pushed successfully.
    pub samples_pushed: AtomicU64,
    /// Host audio handed to [`CaptureInput::push`] (pushed or dropped), in
    /// nanoseconds at the host rate. Written by the audio thread; the worker
    /// compares it with its wall clock to tell a host that renders faster
    /// than real time.
    pub delivered_ns: AtomicU64,
    /// Blocks for which the audio thread waited for room ([`RenderMode::Offline`]).
    pub blocks_waited: AtomicU64,
    /// Wall time the audio thread spent waiting for room, nanoseconds: time
    /// in which the worker held the host back, which therefore says nothing
    /// about how fast the host delivers.
    pub waited_ns: AtomicU64,
    /// [`RenderMode`] as a byte. Written by the owner of the [`CaptureInput`]
    /// (the plugin's `activate`), read by the audio thread and the worker.
    render_mode: AtomicU8,
    /// The worker's verdict that audio arrives faster than real time. Written
    /// by the worker, read by the audio thread ([`RenderMode::OfflineIfFast`]).
    faster_than_real_time: AtomicBool,
}

impl CaptureStats {
    /// How the host renders, as last set on the [`CaptureInput`].
    pub fn render_mode(&self) -> RenderMode {
        RenderMode::from_u8(self.render_mode.load(Ordering::Relaxed))
    }

    /// Whether the worker currently sees audio arriving faster than real time.
    pub fn faster_than_real_time(&self) -> bool {
        self.faster_than_real_time.load(Ordering::Relaxed)
    }
}

/// Audio-thread end of the capture pair.
pub struct CaptureInput {
    samples: HeapProd<f32>,
    blocks: HeapProd<BlockInfo>,
    /// Down-mix scratch, allocated once at construction.
    mono: Box<[f32; MAX_CHUNK]>,
    /// Set after a drop, cleared by the next block that gets through.
    pending_discontinuity: bool,
    /// [`RenderMode::OfflineIfFast`] only: wall time and
    /// [`CaptureStats::delivered_ns`] at the first block after the mode was
    /// set (by [`Self::push`]), so the audio thread can see a fast render itself before the
    /// worker has said so (it may be busy loading the model).
    fast_mark: Option<(Instant, u64)>,
    /// Shared with the worker and the editor.
    stats: Arc<CaptureStats>,
}

/// Worker end of the capture pair.
pub struct CaptureOutput {
    samples: HeapCons<f32>,
    blocks: HeapCons<BlockInfo>,
    stats: Arc<CaptureStats>,
    /// Samples still owed by the block at the front (after a partial discard).
    front_remaining: Option<(BlockInfo, usize)>,
    /// Set when the worker discarded audio, so the next block is discontinuous.
    discarded: bool,
}

/// Creates the capture pair with room for `capacity` mono samples (and one
/// block descriptor per 16 samples, enough for any realistic block size).
pub fn capture(capacity: usize) -> (CaptureInput, CaptureOutput) {
    let capacity = capacity.max(MAX_CHUNK);
    let (sp, sc) = HeapRb::<f32>::new(capacity).split();
    let (bp, bc) = HeapRb::<BlockInfo>::new(capacity / 16 + 16).split();
    let stats = Arc::new(CaptureStats::default());
    (
        CaptureInput {
            samples: sp,
            blocks: bp,
            mono: Box::new([0.0; MAX_CHUNK]),
            pending_discontinuity: false,
            fast_mark: None,
            stats: stats.clone(),
        },
        CaptureOutput {
            samples: sc,
            blocks: bc,
            stats,
            front_remaining: None,
            discarded: false,
        },
    )
}

impl CaptureInput {
    /// Pushes one host block: `channels` are the channel slices (all the same
    /// length; any count, averaged to mono), `position` the timeline position
    /// of the first sample in samples, `sample_rate` in Hz, `playing` the
    /// transport state. Real-time safe: no allocation, lock or panic, and no
    /// blocking except in [`RenderMode::Offline`] (see [`Self::set_render_mode`]).
    pub fn push<C: AsRef<[f32]>>(
        &mut self,
        channels: &[C],
        position: i64,
        sample_rate: f32,
        playing: bool,
    ) {
        let Some(first) = channels.first() else {
            return;
        };
        let frames = first.as_ref().len();
        if self.fast_mark.is_none() && self.stats.render_mode() == RenderMode::OfflineIfFast {
            let delivered = self.stats.delivered_ns.load(Ordering::Relaxed);
            self.fast_mark = Some((Instant::now(), delivered));
        }
        if sample_rate > 0.0 {
            let ns = (frames as f64 * 1e9 / f64::from(sample_rate)) as u64;
            self.stats.delivered_ns.fetch_add(ns, Ordering::Relaxed);
        }
        let mut offset = 0;
        while offset < frames {
            let n = (frames - offset).min(MAX_CHUNK);
            self.push_chunk(
                channels,
                offset,
                n,
                position + offset as i64,
                sample_rate,
                playing,
            );
            offset += n;
        }
    }

    fn push_chunk<C: AsRef<[f32]>>(
        &mut self,
        channels: &[C],
        offset: usize,
        n: usize,
        position: i64,
        sample_rate: f32,
        playing: bool,
    ) {
        let mono = &mut self.mono[..n];
        mono.fill(0.0);
        let gain = 1.0 / channels.len() as f32;
        let mut non_finite = 0u64;
        for ch in channels {
            let ch = ch.as_ref();
            // A channel shorter than the first contributes what it has.
            let end = (offset + n).min(ch.len());
            let src = ch.get(offset..end).unwrap_or(&[]);
            for (m, &x) in mono.iter_mut().zip(src) {
                let x = if x.is_finite() {
                    x
                } else {
                    non_finite += 1;
                    0.0
                };
                *m += x * gain;
            }
        }
        for m in mono.iter_mut() {
            if m.abs() < DENORMAL_FLOOR {
                *m = 0.0;
            }
        }
        if non_finite > 0 {
            self.stats
                .non_finite
                .fetch_add(non_finite, Ordering::Relaxed);
        }
        // Only this thread pushes, so the vacant space can only grow between
        // this check and the pushes below.
        if !self.has_room(n) && !self.wait_for_room(n) {
            self.stats
                .samples_dropped
                .fetch_add(n as u64, Ordering::Relaxed);
            self.pending_discontinuity = true;
            return;
        }
        self.samples.push_slice(&self.mono[..n]);
        let info = BlockInfo {
            position,
            frames: n as u32,
            sample_rate,
            playing,
            discontinuity: self.pending_discontinuity,
        };
        // Cannot fail: space was checked above.
        let _ = self.blocks.try_push(info);
        self.pending_discontinuity = false;
        self.stats
            .samples_pushed
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    fn has_room(&self, n: usize) -> bool {
        self.samples.vacant_len() >= n && self.blocks.vacant_len() >= 1
    }

    /// Offline rendering only: waits until `n` samples fit, for at most
    /// [`MAX_OFFLINE_WAIT`]; returns whether they do. Never waits in real time.
    fn wait_for_room(&mut self, n: usize) -> bool {
        if !self.may_wait() {
            return false;
        }
        self.stats.blocks_waited.fetch_add(1, Ordering::Relaxed);
        let t0 = Instant::now();
        let mut room = true;
        while !self.has_room(n) {
            if t0.elapsed() > MAX_OFFLINE_WAIT {
                room = false;
                break;
            }
            std::thread::sleep(OFFLINE_POLL);
        }
        let waited = t0.elapsed().as_nanos() as u64;
        self.stats.waited_ns.fetch_add(waited, Ordering::Relaxed);
        room
    }

    /// Whether the audio thread may wait for room in the ring now: offline,
    /// or offline-if-fast while audio comes faster than real time, in the
    /// worker's verdict or by a lead of more than [`FAST_LEAD`] over the wall
    /// clock since the first block (the clock is read only in this mode: at
    /// the first block and when the ring is full).
    fn may_wait(&mut self) -> bool {
        match self.stats.render_mode() {
            RenderMode::Realtime => false,
            RenderMode::Offline => true,
            RenderMode::OfflineIfFast => {
                if self.stats.faster_than_real_time() {
                    return true;
                }
                let Some((t0, d0)) = self.fast_mark else {
                    return false;
                };
                let delivered = self.stats.delivered_ns.load(Ordering::Relaxed);
                let now = Instant::now();
                let audio = delivered.saturating_sub(d0) as f64 * 1e-9;
                audio - now.saturating_duration_since(t0).as_secs_f64() > FAST_LEAD
            }
        }
    }

    /// Tells both ends how the host renders (see [`RenderMode`]). Call it
    /// when the host (re)activates; not meant for the audio thread, though it
    /// is only an atomic store.
    pub fn set_render_mode(&mut self, mode: RenderMode) {
        self.fast_mark = None;
        self.stats
            .render_mode
            .store(mode.to_u8(), Ordering::Relaxed);
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<CaptureStats> {
        &self.stats
    }
}

impl CaptureOutput {
    /// Pops the next block into `out` (cleared first); `None` when the ring is empty.
    pub fn pop(&mut self, out: &mut Vec<f32>) -> Option<BlockInfo> {
        let (mut info, remaining) = match self.front_remaining.take() {
            Some(front) => front,
            None => {
                let info = self.blocks.try_pop()?;
                (info, info.frames as usize)
            }
        };
        if std::mem::take(&mut self.discarded) {
            info.discontinuity = true;
        }
        out.clear();
        out.resize(remaining, 0.0);
        let got = self.samples.pop_slice(out);
        out.truncate(got);
        // A block that was partly discarded starts later on the timeline.
        info.position += info.frames as i64 - remaining as i64;
        info.frames = got as u32;
        Some(info)
    }

    /// Mono samples waiting in the ring.
    pub fn backlog(&self) -> usize {
        self.samples.occupied_len()
    }

    /// Publishes the worker's verdict that audio arrives faster than real time.
    pub fn set_faster_than_real_time(&self, fast: bool) {
        self.stats
            .faster_than_real_time
            .store(fast, Ordering::Relaxed);
    }

    /// Drops the oldest audio so that at most `keep` samples remain; returns
    /// how many were discarded. The next popped block is marked discontinuous.
    pub fn discard_backlog(&mut self, keep: usize) -> usize {
        let mut to_drop = self.backlog().saturating_sub(keep);
        let total = to_drop;
        while to_drop > 0 {
            let (info, remaining) = match self.front_remaining.take() {
                Some(front) => front,
                None => match self.blocks.try_pop() {
                    Some(info) => (info, info.frames as usize),
                    None => break,
                },
            };
            let n = remaining.min(to_drop);
            self.samples.skip(n);
            to_drop -= n;
            if n < remaining {
                self.front_remaining = Some((info, remaining - n));
            }
        }
        let dropped = total - to_drop;
        if dropped > 0 {
            self.discarded = true;
            self.stats
                .samples_discarded
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        dropped
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<CaptureStats> {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_is_averaged_and_stamped() {
        let (mut input, mut output) = capture(1 << 14);
        let l = [1.0f32, 0.5, -1.0];
        let r = [0.0f32, 0.5, 1.0];
        input.push(&[&l[..], &r[..]], 1000, 48_000.0, true);
        let mut buf = Vec::new();
        let info = output.pop(&mut buf).unwrap();
        assert_eq!(buf, vec![0.5, 0.5, 0.0]);
        assert_eq!((info.position, info.frames, info.playing), (1000, 3, true));
        assert!(output.pop(&mut buf).is_none());
    }

    #[test]
    fn non_finite_samples_become_zero_and_are_counted() {
        let (mut input, mut output) = capture(1 << 14);
        input.push(&[&[f32::NAN, 1.0, f32::INFINITY][..]], 0, 44_100.0, true);
        let mut buf = Vec::new();
        output.pop(&mut buf).unwrap();
        assert_eq!(buf, vec![0.0, 1.0, 0.0]);
        assert_eq!(input.stats().non_finite.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn denormals_are_flushed() {
        let (mut input, mut output) = capture(1 << 14);
        input.push(&[&[1e-40f32, -1e-35, 0.25][..]], 0, 44_100.0, true);
        let mut buf = Vec::new();
        output.pop(&mut buf).unwrap();
        assert_eq!(buf, vec![0.0, 0.0, 0.25]);
    }

    #[test]
    fn full_ring_drops_the_block_and_flags_the_next() {
        let (mut input, mut output) = capture(MAX_CHUNK);
        let block = vec![0.1f32; MAX_CHUNK];
        input.push(&[&block[..]], 0, 48_000.0, true);
        input.push(&[&block[..]], MAX_CHUNK as i64, 48_000.0, true); // does not fit
        assert_eq!(
            input.stats().samples_dropped.load(Ordering::Relaxed),
            MAX_CHUNK as u64
        );
        let mut buf = Vec::new();
        assert!(!output.pop(&mut buf).unwrap().discontinuity);
        input.push(&[&block[..16]], 2 * MAX_CHUNK as i64, 48_000.0, true);
        assert!(output.pop(&mut buf).unwrap().discontinuity);
    }

    /// Fills a ring of one chunk, then pushes a second chunk while a
    /// consumer empties the ring after `delay`; returns the samples the
    /// consumer got.
    fn push_into_full_ring(
        mode: RenderMode,
        fast: bool,
        rate: f32,
        delay: std::time::Duration,
    ) -> (u64, u64, u64) {
        let (mut input, mut output) = capture(MAX_CHUNK);
        input.set_render_mode(mode);
        output.set_faster_than_real_time(fast);
        let block = vec![0.1f32; MAX_CHUNK];
        input.push(&[&block[..]], 0, rate, true);
        let consumer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut buf = Vec::new();
            let mut got = 0u64;
            let t0 = Instant::now();
            while t0.elapsed() < delay * 4 {
                match output.pop(&mut buf) {
                    Some(_) => got += buf.len() as u64,
                    None => std::thread::sleep(std::time::Duration::from_millis(1)),
                }
            }
            got
        });
        input.push(&[&block[..]], MAX_CHUNK as i64, rate, true);
        let got = consumer.join().unwrap();
        let stats = input.stats();
        (
            got,
            stats.samples_dropped.load(Ordering::Relaxed),
            stats.blocks_waited.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn offline_the_audio_thread_waits_for_room_instead_of_dropping() {
        let delay = std::time::Duration::from_millis(50);
        let (got, dropped, waited) =
            push_into_full_ring(RenderMode::Offline, false, 48_000.0, delay);
        assert_eq!((got, dropped, waited), (2 * MAX_CHUNK as u64, 0, 1));
    }

    #[test]
    fn a_full_ring_drops_in_real_time_and_waits_when_offline_and_fast() {
        let delay = std::time::Duration::from_millis(50);
        for (mode, fast) in [
            (RenderMode::Realtime, false),
            (RenderMode::Realtime, true),
            // A possibly stale offline report while audio comes at real-time pace.
            (RenderMode::OfflineIfFast, false),
        ] {
            let (got, dropped, waited) = push_into_full_ring(mode, fast, 48_000.0, delay);
            assert_eq!(
                (got, dropped, waited),
                (MAX_CHUNK as u64, MAX_CHUNK as u64, 0),
                "{mode:?}, fast {fast}"
            );
        }
        // Offline if fast, and fast in the worker's verdict ...
        let (got, dropped, _) =
            push_into_full_ring(RenderMode::OfflineIfFast, true, 48_000.0, delay);
        assert_eq!((got, dropped), (2 * MAX_CHUNK as u64, 0));
        // ... or by the audio thread's own clock before the worker has said
        // so: two chunks at 2 kHz are 4.1 s of audio in no time.
        let (got, dropped, _) =
            push_into_full_ring(RenderMode::OfflineIfFast, false, 2_000.0, delay);
        assert_eq!((got, dropped), (2 * MAX_CHUNK as u64, 0));
    }

    #[test]
    fn delivered_audio_is_counted_in_nanoseconds() {
        let (mut input, _output) = capture(MAX_CHUNK);
        // 48 000 samples at 48 kHz, in two blocks: one second; a dropped block counts too.
        input.push(&[&vec![0.0f32; 24_000][..]], 0, 48_000.0, true);
        input.push(&[&vec![0.0f32; 24_000][..]], 24_000, 48_000.0, true);
        assert_eq!(
            input.stats().delivered_ns.load(Ordering::Relaxed),
            1_000_000_000
        );
    }

    #[test]
    fn discarding_drops_the_oldest_audio() {
        let (mut input, mut output) = capture(1 << 14);
        let a: Vec<f32> = (0..100).map(|i| i as f32).collect();
        input.push(&[&a[..]], 0, 16_000.0, true);
        input.push(&[&a[..]], 100, 16_000.0, true);
        // Keep the newest 50 samples: 150 discarded, the rest of block 2 remains.
        assert_eq!(output.discard_backlog(50), 150);
        let mut buf = Vec::new();
        let info = output.pop(&mut buf).unwrap();
        assert_eq!(info.position, 150);
        assert!(info.discontinuity);
        assert_eq!(buf, a[50..].to_vec());
    }

    #[test]
    fn long_blocks_are_split_with_advancing_positions() {
        let (mut input, mut output) = capture(1 << 16);
        let block = vec![0.2f32; MAX_CHUNK + 10];
        input.push(&[&block[..]], 7, 96_000.0, false);
        let mut buf = Vec::new();
        let a = output.pop(&mut buf).unwrap();
        let b = output.pop(&mut buf).unwrap();
        assert_eq!((a.position, a.frames), (7, MAX_CHUNK as u32));
        assert_eq!((b.position, b.frames), (7 + MAX_CHUNK as i64, 10));
        assert!(!a.playing);
    }
}
