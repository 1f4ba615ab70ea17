//! The diarization pipeline: voice activity, window embeddings, two-stage
//! clustering, re-segmentation, labels.
//!
//! Four passes over the audio, each chunk by chunk (`chunk_seconds`, 60 s), so the
//! memory does not grow with the recording's length beyond a few bytes per 10 ms
//! frame (the speech map) and the turns themselves:
//!
//! 1. **Speech** — [`vad`](crate::vad) on the whole stream.
//! 2. **Background model** — frames of speech sampled evenly over the whole recording
//!    (at most `ubm_frames`) train a `ubm_components`-component diagonal GMM: the
//!    universal background model of *this* recording. Features are 19 MFCCs without
//!    c0 plus deltas, normalised by the recording's speech mean and variance. (Chosen
//!    over a model trained on the synthetic corpus: it matches the recording's own
//!    channel and language with no stored model, and trains in well under a second.)
//! 3. **Window embeddings and clustering** — windows of `window` seconds (2) every
//!    `hop` (0.5), each with at least `min_window_speech` seconds of speech, are
//!    embedded as the MAP offset supervector of their speech frames
//!    ([`Ubm::supervector_offset`](crate::models::Ubm::supervector_offset) with
//!    relevance `relevance`), length-normalised. The windows of a chunk are
//!    clustered ([`cluster`](super::cluster), centroid linkage, cosine) down to
//!    `local_threshold`; then all chunks' clusters are clustered again into one
//!    merge tree, cut at `threshold` (the stopping rule estimating the number of
//!    speakers; or by [`CountRule::Silhouette`]) or at exactly `speakers`. Clusters with less than `min_speaker_seconds` of windows
//!    join their nearest cluster (unless the number of speakers is forced).
//! 4. **Re-segmentation** — every cluster's frames (Baum–Welch statistics gathered
//!    in pass 3) MAP-adapt the background model into a speaker GMM; every speech
//!    frame is then labelled by a Viterbi pass over the frames' log-likelihoods with
//!    a penalty of `switch_penalty` nats for each change of speaker. This moves the
//!    boundaries to 10 ms precision instead of the windows' 0.5 s.
//!    `resegment_iterations` more passes re-adapt the models from the frames each
//!    pass assigned (off by default: measured worse).
//!
//! Clusters are named `unknown_0`, `unknown_1`, … in order of first speech, unless a
//! [`ClusterLabeler`] (the open-set verdict of enrolled speakers) names them.

use ndarray::{s, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cluster::{agglomerate, cosine_distance, cut, dendrogram, silhouette, unit, Stop};
use super::rttm::Turn;
use super::source::{AudioSource, MemorySource, WavSource};
use crate::audio::Audio;
use crate::error::{Error, Result};
use crate::features::{frame_features_with, FrameFeatureParams};
use crate::models::{DiagGmm, GmmParams, Ubm};
use crate::vad::{SpeechMap, VadFrames, VadParams, VAD_HOP, VAD_RATE};

/// Frames per second of the analysis (10 ms hop).
const FPS: f64 = 100.0;
/// Most items in the last clustering stage's merge tree (its distance matrix is
/// `n²` doubles: 2 MB at 500).
const MAX_TREE_ITEMS: usize = 500;
/// Frames of context read on both sides of a chunk (deltas, centred frames).
const MARGIN: usize = 10;

/// Parameters of [`diarize`]. Defaults are documented on every field; the stopping
/// threshold is calibrated on synthetic conversations (see the README's table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiarizeParams {
    /// Voice activity detection. Default [`VadParams::default`].
    pub vad: VadParams,
    /// Window length in seconds, a whole multiple of `hop`. Default 2 (with the
    /// count given, 8 components and a switch penalty of 50: pooled DER 7.5 %
    /// against 8.9 % for 1.5 s on dsp34 conversations; 3 s measured worse, 18 %
    /// against 12 % at the earlier settings).
    pub window: f64,
    /// Seconds between window starts. Default 0.5.
    pub hop: f64,
    /// Seconds of speech a window needs to be embedded. Default 0.5.
    pub min_window_speech: f64,
    /// Components of the recording's background model. Default 8 (with the count
    /// given: better than 4, 16 and 32 on dsp34 and synthetic conversations; a
    /// 2 s window's ~200 frames adapt 8 components' means better than 16).
    pub ubm_components: usize,
    /// Speech frames (at most) that train it. Default 20 000 (200 s).
    pub ubm_frames: usize,
    /// Relevance factor of the window embeddings' MAP adaptation. Default 1 (short
    /// windows: a small `r` lets 150 frames move the means; 1 measured better than 4).
    pub relevance: f64,
    /// Relevance factor of the re-segmentation speaker models. Default 16.
    pub resegment_relevance: f64,
    /// How the number of speakers is estimated when `speakers` is not given.
    /// Default [`CountRule::Threshold`].
    pub count_rule: CountRule,
    /// With [`CountRule::Threshold`]: the cosine distance at which the second
    /// clustering stage stops. Default 1.0, the best of 0.9-1.2 on dsp34, fsdd and
    /// synthetic conversations together (see the README).
    pub threshold: f64,
    /// With [`CountRule::Silhouette`]: the most speakers considered. Default 10.
    pub max_speakers: usize,
    /// With [`CountRule::Silhouette`]: below this best mean silhouette (over 2 to
    /// `max_speakers` clusters) the recording has one speaker. Default 0.1.
    pub min_silhouette: f64,
    /// The first, per-chunk clustering stage stops at this (stricter) distance.
    /// Default 0.3.
    pub local_threshold: f64,
    /// Force this many speakers (`None`: estimate). Default `None`.
    pub speakers: Option<usize>,
    /// Clusters with fewer seconds of windows join their nearest cluster (when the
    /// number is estimated). Default 2.
    pub min_speaker_seconds: f64,
    /// Nats a change of speaker costs in the re-segmentation. Default 100 (the
    /// evidence of roughly 0.2-0.5 s of one speaker; 12, 25, 50, 100 measured
    /// 10.9, 9.4, 8.9, 6.9 % DER on dsp34 with the count given, 16.6, 14.7, 14.0,
    /// 12.9 % on synthetic conversations).
    pub switch_penalty: f64,
    /// Extra re-segmentation passes, each re-adapting the speaker models from the
    /// frames the previous pass gave them. Default 0 (one pass: on dsp34 and
    /// synthetic conversations each extra pass made the DER worse, 12.0 -> 12.9 % and
    /// 17.1 -> 19.1 % with the count given: hard assignments reinforce themselves).
    pub resegment_iterations: usize,
    /// Chunk length in seconds for streaming. Default 60.
    pub chunk_seconds: f64,
    /// Recordings up to this long keep their features in memory between passes
    /// instead of recomputing them (memory stays bounded). Default 600.
    pub cache_seconds: f64,
    /// Seconds of a cluster's speech handed to a [`ClusterLabeler`]. Default 30.
    pub label_seconds: f64,
    /// Seed of the background model's EM. Default 0.
    pub seed: u64,
}

impl Default for DiarizeParams {
    fn default() -> Self {
        DiarizeParams {
            vad: VadParams::default(),
            window: 2.0,
            hop: 0.5,
            min_window_speech: 0.5,
            ubm_components: 8,
            ubm_frames: 20_000,
            relevance: 1.0,
            resegment_relevance: 16.0,
            count_rule: CountRule::Threshold,
            threshold: 1.0,
            max_speakers: 10,
            min_silhouette: 0.1,
            local_threshold: 0.3,
            speakers: None,
            min_speaker_seconds: 2.0,
            switch_penalty: 100.0,
            resegment_iterations: 0,
            chunk_seconds: 60.0,
            cache_seconds: 600.0,
            label_seconds: 30.0,
            seed: 0,
        }
    }
}

impl DiarizeParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        self.vad.validate()?;
        let pos = [
            ("window", self.window),
            ("hop", self.hop),
            ("chunk_seconds", self.chunk_seconds),
            ("label_seconds", self.label_seconds),
        ];
        for (n, v) in pos {
            if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                return Err(Error::param(n, format!("{v} is not within (0, 86400] s")));
            }
        }
        let nonneg = [
            ("min_window_speech", self.min_window_speech),
            ("relevance", self.relevance),
            ("resegment_relevance", self.resegment_relevance),
            ("min_speaker_seconds", self.min_speaker_seconds),
            ("switch_penalty", self.switch_penalty),
            ("cache_seconds", self.cache_seconds),
        ];
        for (n, v) in nonneg {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(n, format!("{v} is not a finite number >= 0")));
            }
        }
        let hop_frames = (self.hop * FPS).round();
        if (self.hop * FPS - hop_frames).abs() > 1e-6 || hop_frames < 1.0 {
            return Err(Error::param(
                "hop",
                format!("{} s is not a whole number of 10 ms frames", self.hop),
            ));
        }
        let w = self.window / self.hop;
        if (w - w.round()).abs() > 1e-6 || w.round() < 1.0 {
            return Err(Error::param(
                "window",
                format!(
                    "{} s is not a whole multiple of the hop {} s",
                    self.window, self.hop
                ),
            ));
        }
        if self.chunk_seconds < 4.0 * self.window {
            return Err(Error::param(
                "chunk_seconds",
                format!("{} s is shorter than four windows", self.chunk_seconds),
            ));
        }
        if self.min_window_speech > self.window {
            return Err(Error::param(
                "min_window_speech",
                "is longer than the window",
            ));
        }
        for (n, v) in [
            ("threshold", self.threshold),
            ("local_threshold", self.local_threshold),
        ] {
            if !(v.is_finite() && (0.0..=2.0).contains(&v)) {
                return Err(Error::param(
                    n,
                    format!("{v} is not a cosine distance in [0, 2]"),
                ));
            }
        }
        if !(1..=1024).contains(&self.ubm_components) {
            return Err(Error::param("ubm_components", "must be within 1..=1024"));
        }
        if self.ubm_frames < 100 {
            return Err(Error::param("ubm_frames", "must be at least 100"));
        }
        if let Some(n) = self.speakers {
            if n == 0 {
                return Err(Error::param(
                    "speakers",
                    "0 speakers asked for; give at least 1",
                ));
            }
        }
        Ok(())
    }

    fn hop_frames(&self) -> usize {
        (self.hop * FPS).round() as usize
    }

    fn window_blocks(&self) -> usize {
        (self.window / self.hop).round() as usize
    }
}

/// The front end of the embeddings: 19 MFCCs (no c0: loudness is not a voice) and
/// deltas, every frame kept, normalised later by the recording's speech statistics.
pub fn front_end() -> FrameFeatureParams {
    FrameFeatureParams {
        drop_c0: true,
        vad_db: None,
        cmvn: false,
        ..FrameFeatureParams::default()
    }
}

/// How [`diarize`] estimates the number of speakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CountRule {
    /// Stop merging at the cosine distance `threshold` (the default).
    Threshold,
    /// Cut the clustering tree of the chunks' clusters at the number of clusters
    /// (2 to `max_speakers`) with the largest weighted mean silhouette (cosine);
    /// one speaker when even that is below `min_silhouette`. Scale-free, but
    /// measured worse than the threshold: the windows' silhouettes are weak (0.1-0.2)
    /// and grow with the number of clusters, so it over-clusters (pooled DER 28 %
    /// against 12 % on dsp34 conversations).
    Silhouette,
    /// The largest jump in the tree's merge distances: the cut (2 to
    /// `max_speakers` clusters) before the merge whose cosine distance exceeds the
    /// previous merge's by the most, relative to the recording's own tree rather
    /// than a fixed distance; one speaker when even the last merge is below
    /// `threshold`. Measured worse than the threshold, so not the default: the
    /// largest jump is nearly always the last one (2 clusters), right for two
    /// speakers and wrong for more (pooled DER over 2-4 speakers, 5 seeds: dsp34
    /// 19.2 % against 16.2 %, FSDD 20.7 % against 6.8 %, synthetic 18.5 % against
    /// 13.2 %).
    MergeGap,
}

/// What an enrolled-speaker model says about one cluster: the open-set verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The enrolled speaker's id (an RTTM label: no whitespace).
    pub speaker: String,
    /// Display name.
    pub name: String,
    /// The verdict's score (a calibrated log-likelihood ratio where the model has one).
    pub score: f64,
}

/// Names clusters after enrolled speakers: given up to
/// [`DiarizeParams::label_seconds`] of one cluster's speech (16 kHz, its longest
/// turns joined), the verdict, or `None` for "not an enrolled speaker".
pub trait ClusterLabeler: Sync {
    /// The verdict on one cluster's speech.
    fn verdict(&self, speech: &Audio) -> Result<Option<Verdict>>;
}

impl<F> ClusterLabeler for F
where
    F: Fn(&Audio) -> Result<Option<Verdict>> + Sync,
{
    fn verdict(&self, speech: &Audio) -> Result<Option<Verdict>> {
        self(speech)
    }
}

/// One speaker of a diarization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerSummary {
    /// The label used in turns and RTTM: a speaker id, or `unknown_k`.
    pub label: String,
    /// The enrolled speaker's id, or `None`.
    pub speaker: Option<String>,
    /// Display name: the enrolled speaker's, or "unknown speaker k".
    pub name: String,
    /// Seconds of speech.
    pub seconds: f64,
}

/// One turn of a diarization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerTurn {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// The speaker's label (as in [`SpeakerSummary::label`]).
    pub label: String,
    /// The enrolled speaker's id, or `None`.
    pub speaker: Option<String>,
    /// The verdict's score for an enrolled speaker, else `None`.
    pub score: Option<f64>,
    /// Mean per-frame log-likelihood margin of the chosen cluster over the next best
    /// in the re-segmentation (nats; how clearly this turn is this speaker's).
    pub margin: f64,
}

/// The result of [`diarize`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diarization {
    /// The recording's name (file name, or what the caller set).
    pub file: String,
    /// Duration in seconds.
    pub duration: f64,
    /// Seconds of speech found.
    pub speech_seconds: f64,
    /// Windows embedded.
    pub windows: usize,
    /// Speakers, in order of first speech.
    pub speakers: Vec<SpeakerSummary>,
    /// Turns, sorted by start.
    pub turns: Vec<SpeakerTurn>,
}

impl Diarization {
    /// The turns as RTTM turns.
    pub fn rttm_turns(&self) -> Vec<Turn> {
        self.turns
            .iter()
            .map(|t| Turn {
                start: t.start,
                end: t.end,
                label: t.label.clone(),
            })
            .collect()
    }
}

/// Progress: `(stage, fraction done)`.
pub type Progress<'a> = &'a (dyn Fn(&str, f64) + Sync);

/// Diarize a recording in memory (see the module docs).
///
/// ```
/// use speaker_similarity::diarize::{diarize, mix::{mix, MixParams}, DiarizeParams, der};
/// use speaker_similarity::synth::{SynthCorpus, SynthParams};
/// # fn main() -> speaker_similarity::Result<()> {
/// let data = SynthCorpus::generate(&SynthParams { speakers: 4, clips_per_speaker: 6, ..SynthParams::default() })?;
/// let conv = mix(&data.clips, &MixParams { speakers: 2, duration: 40.0, ..MixParams::default() })?;
/// let d = diarize(&conv.audio, &DiarizeParams::default())?;
/// println!("{} speakers, DER {:.3}", d.speakers.len(), der(&conv.truth, &d.rttm_turns(), 0.5)?.der());
/// assert!(!d.turns.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn diarize(audio: &Audio, params: &DiarizeParams) -> Result<Diarization> {
    let mut src = MemorySource::new(audio)?;
    diarize_source(&mut src, params, None, &|_, _| {})
}

/// Diarize a file: WAV is streamed chunk by chunk, other formats are decoded whole.
pub fn diarize_file(
    path: impl AsRef<std::path::Path>,
    params: &DiarizeParams,
    labeler: Option<&dyn ClusterLabeler>,
    progress: Progress,
) -> Result<Diarization> {
    let path = path.as_ref();
    let mut d = match WavSource::open(path) {
        Ok(mut src) => diarize_source(&mut src, params, labeler, progress)?,
        Err(_) => {
            let a = Audio::load(path)?;
            let mut src = MemorySource::new(&a)?;
            diarize_source(&mut src, params, labeler, progress)?
        }
    };
    d.file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(d)
}

/// One analysis window's speaker embedding (see [`window_embeddings`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowEmbedding {
    /// Start of the window in seconds.
    pub start: f64,
    /// End of the window in seconds (`start` + [`DiarizeParams::window`]).
    pub end: f64,
    /// Seconds of speech in the window: only these frames are embedded.
    pub speech_seconds: f64,
    /// The length-normalised MAP offset supervector of the window's speech frames
    /// under the recording's background model: `ubm_components` × 38 values (fewer
    /// components when the recording has little speech).
    pub vector: Vec<f32>,
}

/// What [`window_embeddings`] returns: the first three passes of [`diarize`]
/// before any clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowEmbeddings {
    /// The voice activity of the recording (pass 1).
    pub speech: SpeechMap,
    /// Every window with at least [`DiarizeParams::min_window_speech`] seconds of
    /// speech, in time order: the vectors [`diarize`] clusters.
    pub windows: Vec<WindowEmbedding>,
}

/// The voice activity and the window embeddings of a recording, exactly as
/// [`diarize`] computes them (passes 1 to 3 of the module docs, without the
/// clustering), to look at or to cluster another way. Unlike [`diarize`], this keeps
/// every window in memory: about 1.2 kB a window with the defaults (a window every
/// 0.5 s: 8.8 MB an hour).
///
/// Errors as [`diarize`]: invalid parameters, a recording shorter than one window,
/// or no speech.
///
/// ```
/// use speaker_similarity::diarize::{diarize, mix::{mix, MixParams}, window_embeddings, DiarizeParams};
/// use speaker_similarity::synth::{SynthCorpus, SynthParams};
/// # fn main() -> speaker_similarity::Result<()> {
/// let data = SynthCorpus::generate(&SynthParams { speakers: 3, clips_per_speaker: 4, ..SynthParams::default() })?;
/// let conv = mix(&data.clips, &MixParams { speakers: 2, duration: 20.0, ..MixParams::default() })?;
/// let p = DiarizeParams::default();
/// let w = window_embeddings(&conv.audio, &p)?;
/// // The windows diarize clusters.
/// assert_eq!(w.windows.len(), diarize(&conv.audio, &p)?.windows);
/// for win in &w.windows {
///     assert!((win.end - win.start - p.window).abs() < 1e-9);
///     let norm: f32 = win.vector.iter().map(|v| v * v).sum::<f32>().sqrt();
///     assert!((norm - 1.0).abs() < 1e-3);
///     assert!(win.speech_seconds >= p.min_window_speech && win.speech_seconds <= p.window);
/// }
/// // Windows start on the hop grid, in time order.
/// assert!(w.windows.windows(2).all(|a| a[1].start > a[0].start));
/// assert!(w.windows.iter().all(|x| (x.start / p.hop - (x.start / p.hop).round()).abs() < 1e-6));
/// # Ok(())
/// # }
/// ```
pub fn window_embeddings(audio: &Audio, params: &DiarizeParams) -> Result<WindowEmbeddings> {
    let mut src = MemorySource::new(audio)?;
    let prep = prepare(&mut src, params, &|_, _| {})?;
    let bf = params.hop_frames();
    let mut windows = Vec::new();
    for (bi, batch) in prep.all.chunks(prep.threads).enumerate() {
        let feats = prep.features(&mut src, bi, batch)?;
        let res: Vec<Result<ChunkWindows>> = feats
            .par_iter()
            .zip(batch.par_iter())
            .map(|(x, c)| {
                chunk_windows(x.view(), &prep.speech.frames[c.f0..c.f1], &prep.ubm, params)
            })
            .collect();
        for (r, c) in res.into_iter().zip(batch) {
            let cw = r?;
            let wb = params.window_blocks();
            for (e, &s) in cw.emb.into_iter().zip(&cw.first) {
                let start = (c.f0 + s * bf) as f64 / FPS;
                let speech: usize = cw.cnt[s..s + wb].iter().sum();
                windows.push(WindowEmbedding {
                    start,
                    end: start + params.window,
                    speech_seconds: speech as f64 / FPS,
                    vector: e,
                });
            }
        }
    }
    if windows.is_empty() {
        return Err(Error::NoSpeechFound {
            speech_seconds: prep.speech_seconds,
            reason: format!(
                "no {}-s window holds {} s of speech ({:.2} s of speech in all)",
                params.window, params.min_window_speech, prep.speech_seconds
            ),
        });
    }
    Ok(WindowEmbeddings {
        speech: prep.speech,
        windows,
    })
}

/// Frames `[f0, f1)` of a chunk, with their speech flags.
struct Chunk {
    f0: usize,
    f1: usize,
}

fn chunks(n_frames: usize, chunk_frames: usize) -> Vec<Chunk> {
    (0..n_frames)
        .step_by(chunk_frames)
        .map(|f0| Chunk {
            f0,
            f1: (f0 + chunk_frames).min(n_frames),
        })
        .collect()
}

/// Raw features of frames `[f0, f1)` (rows = frames).
fn read_features(src: &mut dyn AudioSource, c: &Chunk) -> Result<Vec<f32>> {
    let s0 = c.f0.saturating_sub(MARGIN) * VAD_HOP;
    let s1 = (c.f1 + MARGIN) * VAD_HOP;
    let mut buf = src.read(s0, s1 - s0)?;
    buf.resize(s1 - s0, 0.0);
    Ok(buf)
}

fn features_of(buf: Vec<f32>, c: &Chunk, fe: &FrameFeatureParams) -> Result<Array2<f32>> {
    let pad = c.f0 - c.f0.saturating_sub(MARGIN);
    let f = frame_features_with(&Audio::new(buf, VAD_RATE)?, fe)?;
    let n = c.f1 - c.f0;
    if f.nrows() < pad + n {
        return Err(Error::shape("chunk feature frames", pad + n, f.nrows()));
    }
    Ok(f.slice(s![pad..pad + n, ..]).to_owned())
}

/// Features of a batch of chunks: read in order, computed in parallel.
fn batch_features(
    src: &mut dyn AudioSource,
    batch: &[Chunk],
    fe: &FrameFeatureParams,
) -> Result<Vec<Array2<f32>>> {
    let bufs: Vec<Vec<f32>> = batch
        .iter()
        .map(|c| read_features(src, c))
        .collect::<Result<_>>()?;
    bufs.into_par_iter()
        .zip(batch.par_iter())
        .map(|(b, c)| features_of(b, c, fe))
        .collect()
}

/// A cluster of windows from one chunk (the first clustering stage).
struct LocalCluster {
    sum: Vec<f32>,
    windows: usize,
    /// Baum–Welch statistics of the cluster's frames: `n_k` and `Σ γ (x − μ_k)`.
    nk: Vec<f64>,
    fk: Vec<f64>,
}

/// Clusters of windows merged within consecutive blocks of `block` clusters down to
/// the cosine distance `level` (centroid linkage), in time order.
fn merge_blocks(locals: Vec<LocalCluster>, block: usize, level: f64) -> Vec<LocalCluster> {
    let mut out: Vec<LocalCluster> = Vec::new();
    let mut it = locals.into_iter().peekable();
    while it.peek().is_some() {
        let part: Vec<LocalCluster> = it.by_ref().take(block.max(2)).collect();
        let sums: Vec<Vec<f32>> = part.iter().map(|c| c.sum.clone()).collect();
        let w: Vec<f64> = part.iter().map(|c| c.windows as f64).collect();
        let (labels, n) = agglomerate(&sums, &w, Stop::Threshold(level));
        let mut merged: Vec<Option<LocalCluster>> = (0..n).map(|_| None).collect();
        for (c, l) in part.into_iter().zip(labels) {
            match &mut merged[l] {
                None => merged[l] = Some(c),
                Some(m) => {
                    m.sum.iter_mut().zip(&c.sum).for_each(|(a, b)| *a += b);
                    m.nk.iter_mut().zip(&c.nk).for_each(|(a, b)| *a += b);
                    m.fk.iter_mut().zip(&c.fk).for_each(|(a, b)| *a += b);
                    m.windows += c.windows;
                }
            }
        }
        out.extend(merged.into_iter().flatten());
    }
    out
}

/// The windows of one chunk: per block (hop) of frames its speech frame count and
/// Baum–Welch statistics, and the embedded windows with their first and centre blocks.
struct ChunkWindows {
    cnt: Vec<usize>,
    nks: Vec<Vec<f64>>,
    fks: Vec<Vec<f64>>,
    emb: Vec<Vec<f32>>,
    first: Vec<usize>,
    centre: Vec<usize>,
}

/// The window embeddings of one chunk (see the module docs, pass 3).
fn chunk_windows(
    x: ArrayView2<f32>,
    speech: &[bool],
    ubm: &Ubm,
    p: &DiarizeParams,
) -> Result<ChunkWindows> {
    let g = ubm.gmm();
    let (k, d) = g.means().dim();
    let bf = p.hop_frames();
    let wb = p.window_blocks();
    let nb = x.nrows() / bf;
    // Per block: speech frame count, n_k, Σ γ (x − μ_k).
    let mut cnt = vec![0usize; nb];
    let mut nks: Vec<Vec<f64>> = vec![Vec::new(); nb];
    let mut fks: Vec<Vec<f64>> = vec![Vec::new(); nb];
    for b in 0..nb {
        let rows: Vec<usize> = (b * bf..(b + 1) * bf).filter(|&i| speech[i]).collect();
        cnt[b] = rows.len();
        if rows.is_empty() {
            continue;
        }
        let xb = x.select(Axis(0), &rows);
        let st = g.stats(xb.view())?;
        let mut fk = vec![0.0; k * d];
        for j in 0..k {
            for f in 0..d {
                fk[j * d + f] = st.sx[[j, f]] - st.nk[j] * (g.means()[[j, f]] - st.center[f]);
            }
        }
        nks[b] = st.nk.to_vec();
        fks[b] = fk;
    }
    let need = (p.min_window_speech * FPS).round() as usize;
    let w = g.weights();
    let v = g.variances();
    let mut emb: Vec<Vec<f32>> = Vec::new();
    let mut first: Vec<usize> = Vec::new();
    let mut centre: Vec<usize> = Vec::new();
    for s in 0..nb.saturating_sub(wb - 1) {
        let c: usize = cnt[s..s + wb].iter().sum();
        if c < need.max(1) {
            continue;
        }
        let mut n = vec![0.0f64; k];
        let mut f = vec![0.0f64; k * d];
        for b in s..s + wb {
            if cnt[b] == 0 {
                continue;
            }
            for j in 0..k {
                n[j] += nks[b][j];
            }
            for (a, y) in f.iter_mut().zip(&fks[b]) {
                *a += y;
            }
        }
        let mut e = vec![0.0f32; k * d];
        for j in 0..k {
            let sw = w[j].sqrt();
            let den = n[j] + p.relevance;
            if den <= 0.0 {
                continue;
            }
            for q in 0..d {
                e[j * d + q] = (sw * f[j * d + q] / den / v[[j, q]].sqrt()) as f32;
            }
        }
        emb.push(unit(e));
        first.push(s);
        centre.push(s + wb / 2);
    }
    Ok(ChunkWindows {
        cnt,
        nks,
        fks,
        emb,
        first,
        centre,
    })
}

/// The stage-3 work on one chunk: window embeddings and the local clusters.
fn embed_chunk(
    x: ArrayView2<f32>,
    speech: &[bool],
    ubm: &Ubm,
    p: &DiarizeParams,
) -> Result<(Vec<LocalCluster>, usize)> {
    let ChunkWindows {
        cnt,
        nks,
        fks,
        emb,
        centre,
        ..
    } = chunk_windows(x, speech, ubm, p)?;
    let (k, d) = ubm.gmm().means().dim();
    if emb.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let n_windows = emb.len();
    let (labels, nc) = agglomerate(
        &emb,
        &vec![1.0; emb.len()],
        Stop::Threshold(p.local_threshold),
    );
    let mut out: Vec<LocalCluster> = (0..nc)
        .map(|_| LocalCluster {
            sum: vec![0.0; k * d],
            windows: 0,
            nk: vec![0.0; k],
            fk: vec![0.0; k * d],
        })
        .collect();
    for ((e, &l), &cb) in emb.iter().zip(&labels).zip(&centre) {
        let c = &mut out[l];
        for (a, y) in c.sum.iter_mut().zip(e) {
            *a += y;
        }
        c.windows += 1;
        if cnt[cb] > 0 {
            for (a, y) in c.nk.iter_mut().zip(&nks[cb]) {
                *a += y;
            }
            for (a, y) in c.fk.iter_mut().zip(&fks[cb]) {
                *a += y;
            }
        }
    }
    Ok((out, n_windows))
}

/// Normalise rows in place with the recording's speech mean and standard deviation.
fn normalise(x: &mut Array2<f32>, mean: &[f64], std: &[f64]) {
    for mut r in x.rows_mut() {
        for (j, v) in r.iter_mut().enumerate() {
            *v = ((f64::from(*v) - mean[j]) / std[j]) as f32;
        }
    }
}

/// Passes 1 and 2 of the module docs: the speech, the recording's feature
/// statistics and background model (and the normalised features, when short enough
/// to keep).
struct Prepared {
    duration: f64,
    speech: SpeechMap,
    speech_seconds: f64,
    all: Vec<Chunk>,
    threads: usize,
    cache: bool,
    cached: Vec<Array2<f32>>,
    mean: Vec<f64>,
    std: Vec<f64>,
    ubm: Ubm,
    fe: FrameFeatureParams,
}

impl Prepared {
    /// The normalised features of a batch of chunks (`batch_index`: the batch's
    /// place in `all.chunks(threads)`): kept, or read and computed again.
    fn features(
        &self,
        src: &mut dyn AudioSource,
        batch_index: usize,
        batch: &[Chunk],
    ) -> Result<Vec<Array2<f32>>> {
        if self.cache {
            Ok((0..batch.len())
                .map(|i| self.cached[batch_index * self.threads + i].clone())
                .collect())
        } else {
            let mut f = batch_features(src, batch, &self.fe)?;
            for x in &mut f {
                normalise(x, &self.mean, &self.std);
            }
            Ok(f)
        }
    }
}

fn prepare(
    src: &mut dyn AudioSource,
    params: &DiarizeParams,
    progress: Progress,
) -> Result<Prepared> {
    params.validate()?;
    let duration = src.duration();
    if duration < params.window {
        return Err(Error::too_short(
            "the recording, for one analysis window",
            params.window,
            duration,
            "second",
        ));
    }
    let n = src.len();
    let n_frames = n / VAD_HOP + 1;
    let bf = params.hop_frames();
    let chunk_frames = ((params.chunk_seconds * FPS) as usize / bf).max(1) * bf;
    let all = chunks(n_frames, chunk_frames);
    let threads = rayon::current_num_threads().max(1);

    // Pass 1: speech.
    let mut vad = VadFrames::new();
    let step = chunk_frames * VAD_HOP;
    let mut pos = 0;
    while pos < n {
        let len = step.min(n - pos);
        vad.push(&src.read(pos, len)?);
        pos += len;
        progress("speech", pos as f64 / n as f64 * 0.25);
    }
    let mut speech: SpeechMap = vad.finish(&params.vad)?;
    speech.frames.resize(n_frames, false);
    let speech_frames = speech.frames.iter().filter(|&&f| f).count();
    let speech_seconds = speech_frames as f64 / FPS;
    if speech_seconds < params.min_window_speech {
        return Err(Error::NoSpeechFound {
            speech_seconds,
            reason: format!(
                "{speech_seconds:.2} s of speech found in {duration:.1} s of audio (silence or noise only)"
            ),
        });
    }

    // Pass 2: the recording's feature statistics and background model.
    let fe = front_end();
    let dim = fe.dim();
    let stride = speech_frames.div_ceil(params.ubm_frames).max(1);
    let cache = duration <= params.cache_seconds;
    let mut cached: Vec<Array2<f32>> = Vec::new();
    let (mut sum, mut sq) = (vec![0.0f64; dim], vec![0.0f64; dim]);
    let mut sample: Vec<f32> = Vec::new();
    let mut seen = 0usize;
    for (bi, batch) in all.chunks(threads).enumerate() {
        let feats = batch_features(src, batch, &fe)?;
        for (c, x) in batch.iter().zip(feats) {
            for (i, row) in x.rows().into_iter().enumerate() {
                if !speech.frames[c.f0 + i] {
                    continue;
                }
                for (j, &v) in row.iter().enumerate() {
                    sum[j] += f64::from(v);
                    sq[j] += f64::from(v) * f64::from(v);
                }
                if seen.is_multiple_of(stride) {
                    sample.extend(row.iter());
                }
                seen += 1;
            }
            if cache {
                cached.push(x);
            }
        }
        progress(
            "background model",
            0.25 + 0.15 * ((bi + 1) * threads) as f64 / all.len() as f64,
        );
    }
    let cnt = seen.max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / cnt).collect();
    let std: Vec<f64> = sq
        .iter()
        .zip(&mean)
        .map(|(q, m)| (q / cnt - m * m).max(1e-8).sqrt())
        .collect();
    let mut bg = Array2::from_shape_vec((sample.len() / dim, dim), sample)
        .map_err(|e| Error::shape("background frames", format_args!("rows of {dim}"), e))?;
    normalise(&mut bg, &mean, &std);
    let k = params.ubm_components.min((bg.nrows() / 20).max(1));
    let ubm = Ubm::fit(
        bg.view(),
        &GmmParams {
            n_components: k,
            max_iter: 50,
            reg_covar: 1e-3,
            seed: params.seed,
            ..GmmParams::default()
        },
    )?;
    drop(bg);
    if cache {
        for x in &mut cached {
            normalise(x, &mean, &std);
        }
    }
    Ok(Prepared {
        duration,
        speech,
        speech_seconds,
        all,
        threads,
        cache,
        cached,
        mean,
        std,
        ubm,
        fe,
    })
}

/// Diarize any [`AudioSource`] (see the module docs), naming clusters with
/// `labeler` when given.
pub fn diarize_source(
    src: &mut dyn AudioSource,
    params: &DiarizeParams,
    labeler: Option<&dyn ClusterLabeler>,
    progress: Progress,
) -> Result<Diarization> {
    let prep = prepare(src, params, progress)?;
    let (duration, speech_seconds, threads) = (prep.duration, prep.speech_seconds, prep.threads);
    let (speech, all, ubm) = (&prep.speech, &prep.all, &prep.ubm);
    let get = |src: &mut dyn AudioSource, batch_index: usize, batch: &[Chunk]| {
        prep.features(src, batch_index, batch)
    };

    // Pass 3: window embeddings, clustered per chunk.
    let mut locals: Vec<LocalCluster> = Vec::new();
    let mut windows = 0usize;
    for (bi, batch) in all.chunks(threads).enumerate() {
        let feats = get(src, bi, batch)?;
        let res: Vec<Result<(Vec<LocalCluster>, usize)>> = feats
            .par_iter()
            .zip(batch.par_iter())
            .map(|(x, c)| embed_chunk(x.view(), &speech.frames[c.f0..c.f1], ubm, params))
            .collect();
        for r in res {
            let (l, w) = r?;
            locals.extend(l);
            windows += w;
        }
        progress(
            "embeddings",
            0.4 + 0.3 * ((bi + 1) * threads) as f64 / all.len() as f64,
        );
    }
    if windows == 0 {
        return Err(Error::NoSpeechFound {
            speech_seconds,
            reason: format!(
                "no {}-s window holds {} s of speech ({speech_seconds:.2} s of speech in all)",
                params.window, params.min_window_speech
            ),
        });
    }
    if let Some(want) = params.speakers {
        if want > windows {
            return Err(Error::param(
                "speakers",
                format!("{want} speakers asked for, but the recording has only {windows} windows of speech"),
            ));
        }
    }

    // Long recordings: consecutive blocks of the chunks' clusters merge at rising
    // distances until few enough are left for one merge tree (whose matrix is
    // quadratic and whose search is cubic in their number).
    let mut level = params.local_threshold;
    while locals.len() > MAX_TREE_ITEMS && level < params.threshold {
        level = (level + 0.1).min(params.threshold);
        locals = merge_blocks(locals, MAX_TREE_ITEMS / 2, level);
    }

    // Stage two of the clustering: the chunks' clusters together.
    let weights: Vec<f64> = locals.iter().map(|c| c.windows as f64).collect();
    let sums: Vec<Vec<f32>> = locals.iter().map(|c| c.sum.clone()).collect();
    let merges = dendrogram(&sums);
    let k = match (params.speakers, params.count_rule) {
        (Some(n), _) => n,
        (None, CountRule::Silhouette) => estimate_count(&sums, &weights, &merges, params),
        (None, CountRule::MergeGap) => gap_count(sums.len(), &merges, params),
        (None, CountRule::Threshold) => {
            sums.len() - merges.iter().filter(|m| m.2 < params.threshold).count()
        }
    };
    let (mut assign, mut nc) = cut(sums.len(), &merges, k);
    if params.speakers.is_none() {
        (assign, nc) = absorb_small(&sums, &locals, &assign, nc, params);
    }
    let (kc, dc) = ubm.gmm().means().dim();
    let mut stats = ClusterStats::new(nc, kc, dc);
    for (l, &a) in locals.iter().zip(&assign) {
        stats.nk[a].iter_mut().zip(&l.nk).for_each(|(x, y)| *x += y);
        stats.fk[a].iter_mut().zip(&l.fk).for_each(|(x, y)| *x += y);
    }
    drop(locals);

    // Pass 4 (1 + resegment_iterations times): Viterbi re-segmentation with the
    // clusters' MAP-adapted models; each further pass re-adapts them from the frames
    // the previous one assigned.
    let mut refinements = 0;
    let mut pass = 0u32;
    let raw = loop {
        let models = stats.models(ubm, params.resegment_relevance);
        let (raw, next) = resegment_pass(
            src,
            all,
            threads,
            &get,
            &speech.frames,
            &models,
            ubm.gmm(),
            params.switch_penalty,
            &|f| {
                progress(
                    "re-segmentation",
                    0.7 + 0.3 * (f64::from(pass) + f) / (1 + params.resegment_iterations) as f64,
                )
            },
        )?;
        pass += 1;
        if refinements >= params.resegment_iterations {
            break raw;
        }
        refinements += 1;
        stats = next.compact();
    };
    let nc = raw.iter().map(|t| t.c + 1).max().unwrap_or(0);

    // Labels: verdicts of enrolled speakers, else unknown_k by first speech.
    let mut verdicts: Vec<Option<Verdict>> = vec![None; nc];
    if let Some(lab) = labeler {
        for (c, v) in verdicts.iter_mut().enumerate() {
            let audio = cluster_speech(src, &raw, c, params.label_seconds)?;
            if let Some(a) = audio {
                *v = lab.verdict(&a)?;
            }
        }
    }
    Ok(finish(raw, &verdicts, duration, speech_seconds, windows))
}

/// Per-cluster statistics of a re-segmentation pass: Baum–Welch statistics under the
/// background model of the frames assigned to each cluster, and their count.
struct ClusterStats {
    nk: Vec<Vec<f64>>,
    fk: Vec<Vec<f64>>,
    frames: Vec<usize>,
}

impl ClusterStats {
    fn new(nc: usize, k: usize, d: usize) -> Self {
        ClusterStats {
            nk: vec![vec![0.0; k]; nc],
            fk: vec![vec![0.0; k * d]; nc],
            frames: vec![0; nc],
        }
    }

    /// Each cluster's model: the background model's means MAP-adapted (relevance
    /// `r`) with its statistics.
    fn models(&self, ubm: &Ubm, r: f64) -> Vec<DiagGmm> {
        let g = ubm.gmm();
        let (k, d) = g.means().dim();
        self.nk
            .iter()
            .zip(&self.fk)
            .map(|(nk, fk)| {
                let mut means = g.means().clone();
                for j in 0..k {
                    let den = nk[j] + r;
                    if den > 0.0 {
                        for q in 0..d {
                            means[[j, q]] += fk[j * d + q] / den;
                        }
                    }
                }
                g.with_means(means)
            })
            .collect()
    }

    /// Clusters left without frames dropped (cluster indices renumbered).
    fn compact(self) -> ClusterStats {
        let keep: Vec<usize> = (0..self.frames.len())
            .filter(|&c| self.frames[c] > 0)
            .collect();
        ClusterStats {
            nk: keep.iter().map(|&c| self.nk[c].clone()).collect(),
            fk: keep.iter().map(|&c| self.fk[c].clone()).collect(),
            frames: keep.iter().map(|&c| self.frames[c]).collect(),
        }
    }
}

/// One cluster's Baum–Welch statistics from one chunk: cluster, `n_k`, `Σ γ (x − μ_k)`.
type ClusterBw = (usize, Vec<f64>, Vec<f64>);

/// Features of a batch of chunks (computed or cached), normalised.
type Features<'a> = dyn Fn(&mut dyn AudioSource, usize, &[Chunk]) -> Result<Vec<Array2<f32>>> + 'a;

/// One Viterbi re-segmentation pass over the speech frames with `models`; returns the
/// turns and the statistics of the frames each model was given.
#[allow(clippy::too_many_arguments)]
fn resegment_pass(
    src: &mut dyn AudioSource,
    all: &[Chunk],
    threads: usize,
    get: &Features,
    speech: &[bool],
    models: &[DiagGmm],
    ubm: &DiagGmm,
    switch_penalty: f64,
    progress: &dyn Fn(f64),
) -> Result<(Vec<RawTurn>, ClusterStats)> {
    let nc = models.len();
    let (k, d) = ubm.means().dim();
    let mut stats = ClusterStats::new(nc, k, d);
    let mut vit = Viterbi::new(nc, switch_penalty);
    let mut builder = TurnBuilder::default();
    for (bi, batch) in all.chunks(threads).enumerate() {
        let feats = get(src, bi, batch)?;
        let lls: Vec<Result<(Vec<usize>, Array2<f64>)>> = feats
            .par_iter()
            .zip(batch.par_iter())
            .map(|(x, c)| {
                let rows: Vec<usize> = (0..c.f1 - c.f0).filter(|&i| speech[c.f0 + i]).collect();
                let mut ll = Array2::<f64>::zeros((rows.len(), nc));
                if !rows.is_empty() {
                    let xs = x.select(Axis(0), &rows);
                    for (m, g) in models.iter().enumerate() {
                        ll.column_mut(m).assign(&g.score_samples(xs.view())?);
                    }
                }
                Ok((rows, ll))
            })
            .collect();
        let mut paths: Vec<Vec<usize>> = Vec::with_capacity(batch.len());
        let mut all_rows: Vec<Vec<usize>> = Vec::with_capacity(batch.len());
        for (r, c) in lls.into_iter().zip(batch) {
            let (rows, ll) = r?;
            let path = vit.run(ll.view());
            for ((&i, &lab), llr) in rows.iter().zip(&path).zip(ll.rows()) {
                let best_other = (0..nc)
                    .filter(|&m| m != lab)
                    .map(|m| llr[m])
                    .fold(f64::NEG_INFINITY, f64::max);
                let margin = if best_other.is_finite() {
                    llr[lab] - best_other
                } else {
                    0.0
                };
                builder.push(c.f0 + i, lab, margin);
                stats.frames[lab] += 1;
            }
            paths.push(path);
            all_rows.push(rows);
        }
        // Baum–Welch statistics of each cluster's frames, chunk by chunk.
        let parts: Vec<Result<Vec<ClusterBw>>> = feats
            .par_iter()
            .zip(paths.par_iter().zip(all_rows.par_iter()))
            .map(|(x, (path, rows))| {
                let mut out = Vec::new();
                for c in 0..nc {
                    let mine: Vec<usize> = rows
                        .iter()
                        .zip(path)
                        .filter(|(_, &l)| l == c)
                        .map(|(&i, _)| i)
                        .collect();
                    if mine.is_empty() {
                        continue;
                    }
                    let xs = x.select(Axis(0), &mine);
                    let st = ubm.stats(xs.view())?;
                    let mut fk = vec![0.0; k * d];
                    for j in 0..k {
                        for q in 0..d {
                            fk[j * d + q] =
                                st.sx[[j, q]] - st.nk[j] * (ubm.means()[[j, q]] - st.center[q]);
                        }
                    }
                    out.push((c, st.nk.to_vec(), fk));
                }
                Ok(out)
            })
            .collect();
        for p in parts {
            for (c, nk, fk) in p? {
                stats.nk[c].iter_mut().zip(&nk).for_each(|(x, y)| *x += y);
                stats.fk[c].iter_mut().zip(&fk).for_each(|(x, y)| *x += y);
            }
        }
        progress(((bi + 1) * threads) as f64 / all.len() as f64);
    }
    Ok((builder.finish(), stats))
}

/// The number of clusters with the best weighted mean silhouette (see
/// [`CountRule::Silhouette`]).
fn estimate_count(
    sums: &[Vec<f32>],
    weights: &[f64],
    merges: &[(usize, usize, f64)],
    p: &DiarizeParams,
) -> usize {
    let m = sums.len();
    let top = p.max_speakers.min(m);
    let scores: Vec<(usize, f64)> = (2..=top)
        .into_par_iter()
        .map(|k| {
            let (labels, n) = cut(m, merges, k);
            (k, silhouette(sums, weights, &labels, n))
        })
        .collect();
    match scores.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        Some(&(k, s)) if s >= p.min_silhouette => k,
        _ => 1,
    }
}

/// The number of clusters of [`CountRule::MergeGap`] for a tree of `m` leaves.
fn gap_count(m: usize, merges: &[(usize, usize, f64)], p: &DiarizeParams) -> usize {
    // merges[i] leaves m - 1 - i clusters: the merge leaving k is merges[m - 1 - k].
    let d = |k: usize| merges[m - 1 - k].2;
    if m < 2 || merges.len() + 1 != m || d(1) < p.threshold {
        return 1;
    }
    let top = p.max_speakers.min(m - 1).max(2);
    let mut best = (1, f64::NEG_INFINITY);
    for k in 2..=top {
        let jump = d(k - 1) - d(k);
        if jump > best.1 {
            best = (k, jump);
        }
    }
    best.0
}

/// Clusters with fewer than `min_speaker_seconds` of windows join their nearest
/// sufficiently large cluster.
fn absorb_small(
    vectors: &[Vec<f32>],
    locals: &[LocalCluster],
    assign: &[usize],
    nc: usize,
    p: &DiarizeParams,
) -> (Vec<usize>, usize) {
    let dim = vectors.first().map_or(0, |v| v.len());
    let mut sums = vec![vec![0.0f32; dim]; nc];
    let mut secs = vec![0.0f64; nc];
    for ((l, v), &a) in locals.iter().zip(vectors).zip(assign) {
        sums[a].iter_mut().zip(v).for_each(|(x, y)| *x += y);
        secs[a] += l.windows as f64 * p.hop;
    }
    let big: Vec<usize> = (0..nc)
        .filter(|&c| secs[c] >= p.min_speaker_seconds)
        .collect();
    let big = if big.is_empty() {
        // Keep the largest one.
        vec![(0..nc)
            .max_by(|&a, &b| secs[a].total_cmp(&secs[b]))
            .unwrap_or(0)]
    } else {
        big
    };
    let target: Vec<usize> = (0..nc)
        .map(|c| {
            if big.contains(&c) {
                c
            } else {
                *big.iter()
                    .min_by(|&&a, &&b| {
                        cosine_distance(&sums[c], &sums[a])
                            .total_cmp(&cosine_distance(&sums[c], &sums[b]))
                    })
                    .unwrap_or(&c)
            }
        })
        .collect();
    let mut id = vec![usize::MAX; nc];
    let mut next = 0;
    let out = assign
        .iter()
        .map(|&a| {
            let t = target[a];
            if id[t] == usize::MAX {
                id[t] = next;
                next += 1;
            }
            id[t]
        })
        .collect();
    (out, next)
}

/// Streaming Viterbi with a switch penalty: each chunk's best path given the scores
/// carried over from the previous chunk.
struct Viterbi {
    score: Vec<f64>,
    penalty: f64,
}

impl Viterbi {
    fn new(n: usize, penalty: f64) -> Self {
        Viterbi {
            score: vec![0.0; n],
            penalty,
        }
    }

    fn run(&mut self, ll: ArrayView2<f64>) -> Vec<usize> {
        let (t, n) = ll.dim();
        if t == 0 {
            return Vec::new();
        }
        let mut back = vec![0u16; t * n];
        let mut s = self.score.clone();
        let mut next = vec![0.0; n];
        for i in 0..t {
            let (bi, bv) = s
                .iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
                );
            for j in 0..n {
                let (from, v) = if s[j] >= bv - self.penalty {
                    (j, s[j])
                } else {
                    (bi, bv - self.penalty)
                };
                back[i * n + j] = from as u16;
                next[j] = v + ll[[i, j]];
            }
            std::mem::swap(&mut s, &mut next);
            let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            s.iter_mut().for_each(|v| *v -= m);
        }
        let mut path = vec![0usize; t];
        let mut cur = s
            .iter()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
            )
            .0;
        for i in (0..t).rev() {
            path[i] = cur;
            cur = back[i * n + cur] as usize;
        }
        // Carry on from the chosen end state.
        self.score = (0..n)
            .map(|j| if j == path[t - 1] { 0.0 } else { -self.penalty })
            .collect();
        path
    }
}

/// A turn before naming: frames `[f0, f1)` of cluster `c`.
#[derive(Debug, Clone)]
struct RawTurn {
    f0: usize,
    f1: usize,
    c: usize,
    margin: f64,
}

#[derive(Default)]
struct TurnBuilder {
    turns: Vec<RawTurn>,
}

impl TurnBuilder {
    fn push(&mut self, frame: usize, c: usize, margin: f64) {
        if let Some(t) = self.turns.last_mut() {
            if t.c == c && t.f1 == frame {
                t.f1 += 1;
                t.margin += margin;
                return;
            }
        }
        self.turns.push(RawTurn {
            f0: frame,
            f1: frame + 1,
            c,
            margin,
        });
    }

    fn finish(mut self) -> Vec<RawTurn> {
        for t in &mut self.turns {
            t.margin /= (t.f1 - t.f0) as f64;
        }
        self.turns
    }
}

/// Up to `seconds` of cluster `c`'s speech (its longest turns, joined).
fn cluster_speech(
    src: &mut dyn AudioSource,
    turns: &[RawTurn],
    c: usize,
    seconds: f64,
) -> Result<Option<Audio>> {
    let mut mine: Vec<&RawTurn> = turns.iter().filter(|t| t.c == c).collect();
    mine.sort_by_key(|t| std::cmp::Reverse(t.f1 - t.f0));
    let want = (seconds * f64::from(VAD_RATE)) as usize;
    let mut out: Vec<f32> = Vec::new();
    for t in mine {
        if out.len() >= want {
            break;
        }
        let a = t.f0 * VAD_HOP;
        let len = ((t.f1 - t.f0) * VAD_HOP).min(want - out.len());
        out.extend(src.read(a, len)?);
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(Audio::new(out, VAD_RATE)?))
}

fn finish(
    raw: Vec<RawTurn>,
    verdicts: &[Option<Verdict>],
    duration: f64,
    speech_seconds: f64,
    windows: usize,
) -> Diarization {
    // Labels in order of first speech.
    let nc = verdicts.len();
    let mut label: Vec<Option<String>> = vec![None; nc];
    let mut speakers: Vec<SpeakerSummary> = Vec::new();
    let mut unknown = 0;
    for t in &raw {
        if label[t.c].is_none() {
            let (l, s) = match &verdicts[t.c] {
                Some(v) => (
                    v.speaker.clone(),
                    SpeakerSummary {
                        label: v.speaker.clone(),
                        speaker: Some(v.speaker.clone()),
                        name: v.name.clone(),
                        seconds: 0.0,
                    },
                ),
                None => {
                    let l = format!("unknown_{unknown}");
                    let s = SpeakerSummary {
                        label: l.clone(),
                        speaker: None,
                        name: format!("unknown speaker {unknown}"),
                        seconds: 0.0,
                    };
                    unknown += 1;
                    (l, s)
                }
            };
            // Two clusters named after one enrolled speaker share one entry.
            if !speakers.iter().any(|x| x.label == l) {
                speakers.push(s);
            }
            label[t.c] = Some(l);
        }
    }
    let mut turns: Vec<SpeakerTurn> = Vec::new();
    for t in &raw {
        let l = label[t.c].clone().unwrap_or_default();
        let start = t.f0 as f64 / FPS;
        let end = (t.f1 as f64 / FPS).min(duration);
        if end <= start {
            continue;
        }
        if let Some(s) = speakers.iter_mut().find(|s| s.label == l) {
            s.seconds += end - start;
        }
        if let Some(last) = turns.last_mut() {
            if last.label == l && (last.end - start).abs() < 1e-9 {
                last.end = end;
                continue;
            }
        }
        turns.push(SpeakerTurn {
            start,
            end,
            label: l,
            speaker: verdicts[t.c].as_ref().map(|v| v.speaker.clone()),
            score: verdicts[t.c].as_ref().map(|v| v.score),
            margin: t.margin,
        });
    }
    Diarization {
        file: String::new(),
        duration,
        speech_seconds,
        windows,
        speakers,
        turns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn viterbi_switches_only_when_it_pays() {
        // Evidence for state 0 everywhere (0.5 nat a frame) but for state 1 in frames
        // 3..5 (1 nat each): a visit to state 1 gains 3 nats and costs two switches
        // (10 nats); staying in state 1 throughout loses 8 x 0.5 - 2 nats.
        let mut ll = Array2::<f64>::zeros((10, 2));
        for i in 0..10 {
            if (3..5).contains(&i) {
                ll[[i, 1]] = 1.0;
            } else {
                ll[[i, 0]] = 0.5;
            }
        }
        let mut v = Viterbi::new(2, 5.0);
        assert!(v.run(ll.view()).iter().all(|&s| s == 0));
        let long = Array2::from_shape_fn(
            (20, 2),
            |(i, j)| if (i >= 5) == (j == 1) { 2.0 } else { 0.0 },
        );
        let mut v = Viterbi::new(2, 5.0);
        let p = v.run(long.view());
        assert_eq!(&p[..5], &[0; 5]);
        assert!(p[6..].iter().all(|&s| s == 1), "{p:?}");
        let _ = array![[0.0]];
    }

    #[test]
    fn window_embeddings_refuse_what_diarize_refuses() {
        let p = DiarizeParams::default();
        // Shorter than one window.
        let short = Audio::new(vec![0.1; 16_000], 16_000).unwrap();
        assert!(matches!(
            window_embeddings(&short, &p),
            Err(Error::TooShort { .. })
        ));
        assert!(matches!(diarize(&short, &p), Err(Error::TooShort { .. })));
        // Five seconds of silence: no speech, no windows invented.
        let silence = Audio::new(vec![0.0; 5 * 16_000], 16_000).unwrap();
        assert!(matches!(
            window_embeddings(&silence, &p),
            Err(Error::NoSpeechFound { .. })
        ));
        // Invalid parameters before any work.
        let bad = DiarizeParams {
            hop: 0.005,
            ..p.clone()
        };
        assert!(matches!(
            window_embeddings(&silence, &bad),
            Err(Error::InvalidParameter { .. })
        ));
    }

    #[test]
    fn merge_gap_cuts_before_the_largest_jump() {
        let p = DiarizeParams::default();
        // Six leaves; merge distances 0.1, 0.2, 0.3 (leaving 3), then 1.2 and 1.3:
        // the largest jump is 0.3 -> 1.2, so three clusters.
        let m: Vec<(usize, usize, f64)> = [0.1, 0.2, 0.3, 1.2, 1.3]
            .iter()
            .enumerate()
            .map(|(i, &d)| (i, i + 1, d))
            .collect();
        assert_eq!(gap_count(6, &m, &p), 3);
        // Every merge below the threshold: one speaker.
        let low: Vec<_> = m.iter().map(|&(a, b, d)| (a, b, d / 2.0)).collect();
        assert_eq!(gap_count(6, &low, &p), 1);
        assert_eq!(gap_count(1, &[], &p), 1);
    }

    #[test]
    fn bad_parameters_are_errors() {
        let ok = DiarizeParams::default();
        assert!(ok.validate().is_ok());
        assert!(DiarizeParams {
            speakers: Some(0),
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(DiarizeParams {
            window: 1.2,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(DiarizeParams {
            hop: 0.005,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(DiarizeParams {
            threshold: f64::NAN,
            ..ok
        }
        .validate()
        .is_err());
    }
}
