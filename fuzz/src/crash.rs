//! Saving the input that kills the process. Panics are caught in-process, but an
//! abort (a refused allocation, a stack overflow, an `abort()` in a dependency)
//! ends it: a SIGABRT handler then writes the input being run to a file prepared in
//! advance, using only async-signal-safe calls (`open`, `write`, `close`, `_exit`).

use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;

static INPUT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);
static TARGET: AtomicUsize = AtomicUsize::new(usize::MAX);
/// One prepared path per target: `<findings>/<target>-abort.bin`.
static PATHS: OnceLock<Vec<CString>> = OnceLock::new();

/// Exit status of the process after an abort was caught and the input saved.
pub const ABORT_EXIT: i32 = 3;

/// Prepare the per-target dump paths and install the SIGABRT handler.
pub fn install(paths: Vec<std::path::PathBuf>) {
    let c: Vec<CString> = paths
        .into_iter()
        .map(|p| CString::new(p.to_string_lossy().into_owned()).expect("no NUL in a path"))
        .collect();
    let _ = PATHS.set(c);
    // SAFETY: `on_abort` only calls async-signal-safe functions.
    unsafe {
        libc::signal(
            libc::SIGABRT,
            on_abort as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Mark `input` as the one being run by target number `target` (until [`clear`]).
pub fn set_current(target: usize, input: &[u8]) {
    INPUT_LEN.store(input.len(), SeqCst);
    INPUT_PTR.store(input.as_ptr() as *mut u8, SeqCst);
    TARGET.store(target, SeqCst);
}

/// No input is being run.
pub fn clear() {
    INPUT_PTR.store(std::ptr::null_mut(), SeqCst);
    TARGET.store(usize::MAX, SeqCst);
}

/// A copy of the input being run, if any (for the hang watchdog: the worker is stuck
/// inside the target, so the buffer stays alive and unchanged).
pub fn current() -> Option<(usize, Vec<u8>)> {
    let p = INPUT_PTR.load(SeqCst);
    let t = TARGET.load(SeqCst);
    if p.is_null() || t == usize::MAX {
        return None;
    }
    let n = INPUT_LEN.load(SeqCst);
    // SAFETY: the worker keeps the buffer alive and unmodified while it is current.
    Some((t, unsafe { std::slice::from_raw_parts(p, n) }.to_vec()))
}

extern "C" fn on_abort(_sig: libc::c_int) {
    let msg: &[u8] =
        b"\nfuzz: FINDING abort (refused allocation, stack overflow or abort): input saved\n";
    // SAFETY: only async-signal-safe calls on memory prepared before the signal.
    unsafe {
        let p = INPUT_PTR.load(SeqCst);
        let t = TARGET.load(SeqCst);
        if let (false, Some(paths)) = (p.is_null(), PATHS.get()) {
            if let Some(path) = paths.get(t) {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
                    0o644,
                );
                if fd >= 0 {
                    let n = INPUT_LEN.load(SeqCst);
                    let mut off = 0usize;
                    while off < n {
                        let w = libc::write(fd, p.add(off) as *const libc::c_void, n - off);
                        if w <= 0 {
                            break;
                        }
                        off += w as usize;
                    }
                    libc::close(fd);
                }
                libc::write(2, msg.as_ptr() as *const libc::c_void, msg.len());
                libc::write(2, path.as_ptr() as *const libc::c_void, path.count_bytes());
                libc::write(2, b"\n".as_ptr() as *const libc::c_void, 1);
            }
        }
        libc::_exit(ABORT_EXIT);
    }
}
