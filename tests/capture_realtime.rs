//! `CaptureInput::push` on the audio thread: no allocation for any block
//! size, host rate or channel count, a correct down-mix, correct stamps.
//!
//! A counting global allocator records, per thread, the allocations made
//! while that thread has counting switched on; `push` runs with it on.
//! (Per-thread, so tests running in parallel do not count each other.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;

use emoscope::engine::capture;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: forwards to the system allocator; only adds a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with allocation counting on for this thread; returns the count.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn push_never_allocates_and_downmixes_and_stamps_correctly() {
    for &block in &[1usize, 7, 64, 512, 4096] {
        for &rate in &[22_050.0f32, 44_100.0, 48_000.0, 96_000.0] {
            for &channels in &[1usize, 2, 6] {
                let (mut input, mut output) = capture::capture(1 << 16);
                // Channel c holds c + 1 times a ramp, so the mean is ramp * (channels + 1) / 2.
                let data: Vec<Vec<f32>> = (0..channels)
                    .map(|c| {
                        (0..block)
                            .map(|i| (c + 1) as f32 * (i as f32 / block as f32))
                            .collect()
                    })
                    .collect();
                let slices: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
                let blocks = 8;
                let start = 123_456i64;
                let n = allocations_in(|| {
                    for b in 0..blocks {
                        input.push(&slices, start + (b * block) as i64, rate, true);
                    }
                });
                assert_eq!(
                    n, 0,
                    "push allocated (block {block}, rate {rate}, channels {channels})"
                );
                let mut buf = Vec::new();
                for b in 0..blocks {
                    let info = output.pop(&mut buf).expect("block");
                    assert_eq!(info.position, start + (b * block) as i64);
                    assert_eq!(info.frames as usize, block);
                    assert_eq!(info.sample_rate, rate);
                    for (i, &m) in buf.iter().enumerate() {
                        let expected = (i as f32 / block as f32) * (channels + 1) as f32 / 2.0;
                        assert!(
                            (m - expected).abs() <= 1e-6 * expected.max(1.0),
                            "block {block} ch {channels}: {m} vs {expected}"
                        );
                    }
                }
                assert!(output.pop(&mut buf).is_none());
            }
        }
    }
}

#[test]
fn overflowing_push_does_not_allocate_either() {
    let (mut input, _output) = capture::capture(4096);
    let block = vec![0.5f32; 4096];
    let n = allocations_in(|| {
        for b in 0..4 {
            input.push(&[&block[..]], (b * 4096) as i64, 48_000.0, true);
        }
    });
    assert_eq!(n, 0);
    assert_eq!(
        input.stats().samples_dropped.load(Ordering::Relaxed),
        3 * 4096
    );
}

#[test]
fn the_counter_does_see_allocations() {
    // Guards the two tests above: a counter that never counts would pass them.
    let n = allocations_in(|| drop(std::hint::black_box(vec![1u8; 10])));
    assert!(n >= 1);
}
