//! The counting global allocator: it records the largest single allocation and the
//! peak of live heap bytes during each execution, so that an allocation sized by an
//! untrusted header (a WAV claiming 4 GB of samples, a model file with a length of
//! 10^12) is a finding even when the target handles it. Requests above a hard cap
//! are refused outright, which aborts the process (Rust's allocation-failure path);
//! the abort handler of [`crate::crash`] then saves the input that caused it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The allocator the fuzz binary (and its tests) run with.
pub struct Guard;

/// Largest single allocation allowed without a finding, in bytes.
static LIMIT: AtomicUsize = AtomicUsize::new(256 << 20);
/// Larger requests than this are refused (the process aborts and the input is saved).
static HARD: AtomicUsize = AtomicUsize::new(1 << 30);
static BIGGEST: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Set the finding limit; the hard cap is four times it (at least 1 GiB).
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Relaxed);
    HARD.store(bytes.saturating_mul(4).max(1 << 30), Relaxed);
}

/// The finding limit in bytes.
pub fn limit() -> usize {
    LIMIT.load(Relaxed)
}

/// What one execution allocated: the largest single request and how far live heap
/// bytes rose above where they were at [`begin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Largest single allocation or reallocation, in bytes.
    pub biggest: usize,
    /// Peak live heap bytes minus live bytes at the start.
    pub peak_growth: usize,
}

/// Start measuring an execution.
pub fn begin() -> usize {
    BIGGEST.store(0, Relaxed);
    let live = LIVE.load(Relaxed);
    PEAK.store(live, Relaxed);
    live
}

/// Stop measuring; `base` is what [`begin`] returned.
pub fn end(base: usize) -> Usage {
    Usage {
        biggest: BIGGEST.load(Relaxed),
        peak_growth: PEAK.load(Relaxed).saturating_sub(base),
    }
}

#[inline]
fn admit(size: usize) -> bool {
    BIGGEST.fetch_max(size, Relaxed);
    size <= HARD.load(Relaxed)
}

#[inline]
fn grew(size: usize) {
    let now = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded to the system allocator with the same layout; the
// counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !admit(new_size) {
            return std::ptr::null_mut();
        }
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}
