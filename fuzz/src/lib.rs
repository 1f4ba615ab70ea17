//! A seeded mutation fuzzer that runs on stable Rust, for every input a user of
//! speaker-similarity can give: audio files (WAV, FLAC, MP3, OGG; from bytes and from
//! a path), the features of decoded audio, model files and model directories, and
//! the web app's multipart uploads.
//!
//! Each input runs in-process under `catch_unwind` on a worker thread; a watchdog
//! flags an input running longer than the hang limit (default 5 s), and a counting
//! global allocator ([`alloc::Guard`]) flags any single allocation above a bound
//! (default 256 MiB): a size taken from an untrusted header. Findings are saved to
//! the findings folder with a note of what happened; the run's exit status is 1 when
//! there is one.
// Target tables and form builders read best spelled out in place.
#![allow(clippy::type_complexity)]

pub mod alloc;
pub mod crash;
pub mod driver;
pub mod mutate;
pub mod seeds;
pub mod targets;

#[global_allocator]
static GUARD: alloc::Guard = alloc::Guard;
