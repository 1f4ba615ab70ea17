//! `speaker-similarity export --data DIR --out OUT [--model DIR]
//! [--what clips,frames,embeddings] [--format npy|parquet] [--shard K/N]`
//!
//! Writes a data set's features for NumPy / pandas / Arrow users:
//!
//! | `--what` | npy | parquet |
//! |---|---|---|
//! | (always) | `clips.csv`: path, speaker, session, split, duration | `clips.csv` |
//! | `clips` | `clips.npy` (clips x 52, float32) | `clips.parquet`: the table's columns + the 52 named values |
//! | `frames` | `frames.npy` (frames x D, float32), `frame_clip.npy` (frames, int64: row of `clips.csv`) | `frames.parquet`: `clip` + the D named columns |
//! | `embeddings` | `clip_embeddings.npy` (clips x K·D), `speaker_embeddings.npy` (speakers x K·D), `speakers.csv` | `embeddings.parquet`: `level` (clip/speaker), `clip`, `speaker`, `e0..`; `speakers.csv` |
//!
//! plus `export.json` (what was written, shapes, column names, unusable clips).
//! Clips are processed a chunk at a time and every row is written as soon as its
//! chunk is done: no file's rows are all in memory. The whole OUT directory is
//! written beside its target and put in place in one step
//! ([`speaker_similarity::atomic_dir`]).

mod csv;
mod npy_sink;
mod parquet_sink;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{Array1, ArrayView2};
use rayon::prelude::*;
use serde_json::json;
use speaker_similarity::dataset::{Dataset, Shard, SplitParams};
use speaker_similarity::models::speaker::{ClipFeatures, FrameSampler, SpeakerEmbedding};
use speaker_similarity::models::{GmmParams, Ubm};
use speaker_similarity::pipeline::{self, ModelKind, PipelineParams, SpeakerModels, ValidParams};
use speaker_similarity::{atomic_dir, Error};

use super::CmdResult;
use crate::data::DataArgs;

/// The manifest written last into every export.
pub const MANIFEST: &str = "export.json";
/// Clips read and processed at a time (in parallel), then written in order.
const CHUNK: usize = 256;

/// What to export.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum What {
    /// The 52-dim clip vectors (the ones `features DIR --json` prints).
    Clips,
    /// The frame features the GMMs train on, with the clip of every frame.
    Frames,
    /// Supervector embeddings (MAP-adapted UBM means) per clip and per speaker.
    Embeddings,
}

/// File format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NumPy `.npy` matrices (numpy.load), with CSV tables beside them.
    Npy,
    /// Apache Parquet tables (pandas.read_parquet, pyarrow).
    Parquet,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Npy => "npy",
            Format::Parquet => "parquet",
        }
    }
}

/// Arguments of `export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Directory to write (created; an earlier export there is replaced whole).
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// Model directory (`train --out`): its feature settings, and its UBM for the
    /// embeddings. Without it the settings are the defaults and a UBM is trained on
    /// the data set (a bounded, seeded sample of frames, as `train` draws it).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// What to write, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "clips")]
    pub what: Vec<What>,
    /// File format.
    #[arg(long, value_enum, default_value = "npy")]
    pub format: Format,
    /// Export only shard K of N (0 <= K < N): the data set's speakers, sorted, dealt
    /// round-robin. The outputs of the N shards concatenate (same columns and file
    /// names; one OUT per shard).
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse::<Shard>().map_err(|e| e.to_string())
}

/// One clip of the export: its table row.
pub struct ClipRow<'a> {
    /// Path as listed by the data set.
    pub path: String,
    /// Speaker id.
    pub speaker: &'a str,
    /// Session (empty when the layout has none).
    pub session: &'a str,
    /// `train`, `test` or `none` (the speaker is left out of the default split).
    pub split: &'static str,
    /// Seconds of audio.
    pub duration: f64,
}

/// A speaker's embedding: the mean of its clips' embeddings.
pub struct SpeakerRow {
    /// Speaker id.
    pub speaker: String,
    /// Display name (the id when it has none).
    pub name: String,
    /// Clips averaged.
    pub clips: usize,
    /// The mean embedding.
    pub embedding: Vec<f32>,
}

/// Shapes and column names every writer needs before the first row.
pub struct Columns {
    /// What is written.
    pub what: Vec<What>,
    /// Clip vector names (52).
    pub clip: Vec<String>,
    /// Frame feature names.
    pub frame: Vec<String>,
    /// Embedding length (0 without embeddings).
    pub embedding_dim: usize,
}

impl Columns {
    fn wants(&self, w: What) -> bool {
        self.what.contains(&w)
    }
}

/// Where rows go: one implementation per format.
pub trait Sink {
    /// One clip, in order (its row index is the number of clips before it).
    fn clip(
        &mut self,
        row: &ClipRow<'_>,
        vector: &[f32],
        frames: Option<ArrayView2<'_, f32>>,
        embedding: Option<&[f32]>,
    ) -> speaker_similarity::Result<()>;
    /// The speakers' embeddings, after the last clip.
    fn speakers(&mut self, speakers: &[SpeakerRow]) -> speaker_similarity::Result<()>;
    /// Close every file; returns the file names written.
    fn finish(self: Box<Self>) -> speaker_similarity::Result<Vec<String>>;
}

/// How clip embeddings are made.
enum Embedder<'m> {
    /// The model directory's own supervector embedding.
    Model(&'m dyn SpeakerEmbedding),
    /// A UBM trained here on the data set.
    Ubm { ubm: Box<Ubm>, relevance: f64 },
}

impl Embedder<'_> {
    fn embed(&self, f: &ClipFeatures) -> speaker_similarity::Result<Array1<f32>> {
        match self {
            Embedder::Model(e) => e.embed(f),
            Embedder::Ubm { ubm, relevance } => {
                let adapted = ubm.map_adapt(f.frames.view(), *relevance)?;
                ubm.supervector_offset(&adapted)
            }
        }
    }

    fn dim(&self) -> usize {
        match self {
            Embedder::Model(e) => e.enrolled().dim(),
            Embedder::Ubm { ubm, .. } => ubm.gmm().n_components() * ubm.gmm().n_features(),
        }
    }
}

/// What one clip gave.
struct Done {
    index: usize,
    duration: f64,
    features: ClipFeatures,
    embedding: Option<Array1<f32>>,
}

/// Run `export`.
pub fn run(a: Args) -> CmdResult {
    let started = Instant::now();
    let mut what = a.what.clone();
    what.sort();
    what.dedup();
    if what.is_empty() {
        return Err(Error::param(
            "what",
            "nothing to export: give clips, frames or embeddings",
        )
        .into());
    }
    check_destination(&a.out)?;
    let model = match &a.model {
        Some(dir) => Some(SpeakerModels::load(dir)?),
        None => None,
    };
    let params: ValidParams = match &model {
        Some(m) => m.params.clone(),
        None => PipelineParams::default().check()?,
    };
    let wants_embeddings = what.contains(&What::Embeddings);
    let model_embedding = match (&model, wants_embeddings) {
        (Some(m), true) => Some(
            m.get(ModelKind::GmmUbm)
                .and_then(|g| g.model().embedding())
                .ok_or_else(|| Error::Model {
                    path: a.model.clone().unwrap_or_default(),
                    reason: "has no gmm-ubm model, whose UBM the embeddings need; train it \
                             with `--models gmm-ubm` (or leave out --model to train a UBM on \
                             the data set)"
                        .into(),
                })?,
        ),
        _ => None,
    };

    let (data, described) = a.data.open()?;
    eprintln!("data: {described}");
    let sides = split_sides(&data);
    let part = match a.shard {
        Some(s) => data.shard(s)?,
        None => data.clone(),
    };
    if let Some(s) = a.shard {
        eprintln!(
            "shard {s}: {} of {} speakers, {} clips",
            part.n_speakers(),
            data.n_speakers(),
            part.len()
        );
    }

    let embedder = if wants_embeddings {
        Some(match model_embedding {
            Some(e) => Embedder::Model(e),
            None => train_ubm(&data, &params, a.shard.is_some())?,
        })
    } else {
        None
    };
    let columns = Columns {
        what: what.clone(),
        clip: params.clip.names(),
        frame: params.frames.names(),
        embedding_dim: embedder.as_ref().map_or(0, Embedder::dim),
    };

    let stage = atomic_dir::staging(&a.out)?;
    let written = export_into(
        &stage,
        &part,
        &sides,
        &params,
        &columns,
        embedder.as_ref(),
        a.format,
    );
    let (files, counts, unusable) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
    };
    let manifest = json!({
        "what": what.iter().map(|w| format!("{w:?}").to_lowercase()).collect::<Vec<_>>(),
        "format": a.format.name(),
        "data": data.root,
        "shard": a.shard.map(|s| s.to_string()),
        "model": a.model,
        "ubm": match (&embedder, &a.model) {
            (None, _) => None,
            (Some(Embedder::Model(_)), _) => Some("the model's".to_string()),
            (Some(Embedder::Ubm { .. }), _) => Some("trained on the data set".to_string()),
        },
        "clips": counts.clips,
        "frames": counts.frames,
        "speakers": counts.speakers,
        "clip_columns": columns.clip,
        "frame_columns": columns.frame,
        "embedding_dim": columns.embedding_dim,
        "split": {"test_fraction": SplitParams::default().test_fraction, "seed": SplitParams::default().seed},
        "files": files,
        "unusable": unusable.iter().map(|(p, e)| json!({"path": p, "reason": e})).collect::<Vec<_>>(),
    });
    let committed = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
        .and_then(|text| {
            super::write_file_atomic(&stage.join(MANIFEST), text.as_bytes())
                .map_err(|e| Error::io(stage.join(MANIFEST), e).into())
        })
        .and_then(|()| atomic_dir::commit(&stage, &a.out).map_err(Into::into));
    if let Err(e) = committed {
        let _ = std::fs::remove_dir_all(&stage);
        return Err(e);
    }
    if !unusable.is_empty() {
        eprintln!(
            "{} of {} clips could not be used (listed in {MANIFEST})",
            unusable.len(),
            part.len()
        );
    }
    println!(
        "exported {} clips, {} frames, {} speakers to {} ({}) in {:.1} s",
        counts.clips,
        counts.frames,
        counts.speakers,
        a.out.display(),
        files.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Refuse an OUT that is a file, or a non-empty directory that is not an export.
fn check_destination(out: &Path) -> CmdResult {
    if out.exists() && !out.is_dir() {
        return Err(Error::param(
            "out",
            format!("{} exists and is not a directory", out.display()),
        )
        .into());
    }
    if out.is_dir()
        && !out.join(MANIFEST).exists()
        && std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some()
    {
        return Err(Error::param(
            "out",
            format!(
                "{} is a non-empty directory that is not an export (no {MANIFEST}); choose a new one",
                out.display()
            ),
        )
        .into());
    }
    Ok(())
}

/// Which side of the default honest split (the one `train` and `evaluate` use)
/// every clip of the whole data set falls on, by path: computed before sharding,
/// so a shard's column is the whole export's.
fn split_sides(data: &Dataset) -> HashMap<PathBuf, &'static str> {
    let mut sides = HashMap::new();
    match data.split(&SplitParams::default()) {
        Ok(split) => {
            for &i in &split.train {
                sides.insert(data.clips[i].path.clone(), "train");
            }
            for &i in &split.test {
                sides.insert(data.clips[i].path.clone(), "test");
            }
        }
        Err(e) => eprintln!("warning: no train/test split ({e}); the split column is `none`"),
    }
    sides
}

/// A UBM trained on the whole data set exactly as `train` trains its GMM-UBM's: a
/// seeded bottom-k sample of frames with an equal share per speaker, then EM with
/// the pipeline's settings and seed. Deterministic, so every shard trains the same.
fn train_ubm(
    data: &Dataset,
    params: &ValidParams,
    sharded: bool,
) -> speaker_similarity::Result<Embedder<'static>> {
    let names = data.speakers();
    let settings = &params.settings.gmm_ubm;
    if sharded {
        eprintln!(
            "note: training the UBM on all {} clips of the data set (every shard trains the same \
             one; give --model to train it once)",
            data.len()
        );
    }
    let sampler = FrameSampler::new(names.len(), settings.max_frames, params.seed)?;
    let pb = crate::progress::bar(data.len() as u64, "UBM frames");
    let used: usize = data
        .clips
        .par_iter()
        .map(|c| {
            let r = c
                .load()
                .and_then(|audio| pipeline::extract(&audio, params))
                .and_then(|f| {
                    let spk = names
                        .binary_search(&c.speaker)
                        .map_err(|_| Error::param("clips", "speaker not listed"))?;
                    sampler.add(spk, f.frames.view())
                });
            pb.inc(1);
            usize::from(r.is_ok())
        })
        .sum();
    pb.finish_and_clear();
    if used == 0 || sampler.is_empty() {
        return Err(Error::Dataset {
            path: data.root.clone(),
            reason: "no usable clip to train a UBM on".into(),
        });
    }
    let sample = sampler.finish()?;
    let spinner = crate::progress::spinner(format!(
        "training the UBM ({} components) on {} frames",
        settings.ubm.n_components,
        sample.nrows()
    ));
    let gmm = GmmParams {
        seed: params.seed,
        ..settings.ubm.clone()
    };
    let ubm = Ubm::fit(sample.view(), &gmm);
    spinner.finish_and_clear();
    Ok(Embedder::Ubm {
        ubm: Box::new(ubm?),
        relevance: settings.relevance_factor,
    })
}

/// How much was written.
#[derive(Default)]
struct Counts {
    clips: usize,
    frames: usize,
    speakers: usize,
}

type Exported = (Vec<String>, Counts, Vec<(PathBuf, String)>);

/// Write every file of the export into `dir`.
fn export_into(
    dir: &Path,
    data: &Dataset,
    sides: &HashMap<PathBuf, &'static str>,
    params: &ValidParams,
    columns: &Columns,
    embedder: Option<&Embedder<'_>>,
    format: Format,
) -> Result<Exported, Box<dyn std::error::Error>> {
    let mut sink: Box<dyn Sink> = match format {
        Format::Npy => Box::new(npy_sink::NpySink::create(dir, columns)?),
        Format::Parquet => Box::new(parquet_sink::ParquetSink::create(dir, columns)?),
    };
    let wants_frames = columns.wants(What::Frames);
    let mut counts = Counts::default();
    let mut unusable = Vec::new();
    // Per speaker: the sum of its clips' embeddings and their number.
    let mut sums: BTreeMap<String, (Array1<f32>, usize)> = BTreeMap::new();
    let pb = crate::progress::bar(data.len() as u64, "export");
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(CHUNK) {
        let results: Vec<speaker_similarity::Result<Done>> = chunk
            .par_iter()
            .map(|&i| {
                let c = &data.clips[i];
                let r = c.load().and_then(|audio| {
                    let features = pipeline::extract(&audio, params)
                        .map_err(|e| e.within(c.path.display()))?;
                    let embedding = embedder.map(|e| e.embed(&features)).transpose()?;
                    Ok(Done {
                        index: i,
                        duration: audio.duration(),
                        features,
                        embedding,
                    })
                });
                pb.inc(1);
                r
            })
            .collect();
        for (&i, r) in chunk.iter().zip(results) {
            let d = match r {
                Ok(d) => d,
                Err(e) => {
                    let path = data.clips[i].path.clone();
                    eprintln!("warning: skipped {}: {e}", path.display());
                    unusable.push((path, e.to_string()));
                    continue;
                }
            };
            let c = &data.clips[d.index];
            if d.features.frames.ncols() != columns.frame.len() {
                return Err(Error::shape(
                    "frame features",
                    columns.frame.len(),
                    d.features.frames.ncols(),
                )
                .into());
            }
            let row = ClipRow {
                path: c.path.display().to_string(),
                speaker: &c.speaker,
                session: c.session.as_deref().unwrap_or(""),
                split: sides.get(&c.path).copied().unwrap_or("none"),
                duration: d.duration,
            };
            let embedding = d.embedding.as_ref().map(|e| e.as_slice().unwrap_or(&[]));
            sink.clip(
                &row,
                &d.features.clip,
                wants_frames.then(|| d.features.frames.view()),
                embedding,
            )?;
            counts.clips += 1;
            counts.frames += d.features.frames.nrows();
            if let Some(e) = &d.embedding {
                let entry = sums
                    .entry(c.speaker.clone())
                    .or_insert_with(|| (Array1::zeros(e.len()), 0));
                entry.0 += e;
                entry.1 += 1;
            }
        }
    }
    pb.finish_and_clear();
    if counts.clips == 0 {
        return Err(Error::Dataset {
            path: data.root.clone(),
            reason: "no usable clip to export".into(),
        }
        .into());
    }
    if !wants_frames {
        counts.frames = 0;
    }
    let speakers: Vec<SpeakerRow> = sums
        .into_iter()
        .map(|(speaker, (sum, n))| SpeakerRow {
            name: data.display_name(&speaker).to_string(),
            speaker,
            clips: n,
            embedding: (sum / n as f32).to_vec(),
        })
        .collect();
    counts.speakers = if columns.wants(What::Embeddings) {
        speakers.len()
    } else {
        data.n_speakers()
    };
    if columns.wants(What::Embeddings) {
        sink.speakers(&speakers)?;
    }
    let files = sink.finish()?;
    Ok((files, counts, unusable))
}
