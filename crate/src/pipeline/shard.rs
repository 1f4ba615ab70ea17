//! Training beyond one machine: the universal background model once, then each
//! shard's per-speaker work anywhere, then one merge into a model directory.
//!
//! 1. [`SharedUbm::train`] draws the same bounded, seeded frame sample over the whole
//!    data set that [`train_dataset`](super::train_dataset) draws, and fits the UBM on
//!    it: exactly the UBM a single-machine `train --all` makes.
//! 2. [`ShardModels::train`] does the per-speaker work of one [`Shard`] (speakers
//!    dealt round-robin by sorted id): reads its clips, keeps their clip vectors,
//!    fits each speaker's frame GMM and MAP-adapts the given UBM to each speaker,
//!    with the code and seeds a whole-set training uses. Frames never leave the
//!    shard; its output holds the per-speaker models and the 52-dim clip vectors.
//! 3. [`ShardModels::merge`] checks that the shards fit together (same settings,
//!    same UBM, same shard count, disjoint speakers, none missing), joins the
//!    per-speaker models (gmm-frame, gmm-ubm and its supervector embedding) and
//!    trains, from the stored clip vectors, the models that need every speaker at
//!    once or are cheap on clip vectors: the MLP, gmm-clip, the baselines, and the
//!    clip-vector embedding's standardiser.
//!
//! The merge of every shard gives bit-identical models to `train --all` on the
//! whole set (the `merge_equals_train` test in `app/tests/shard.rs`), with one
//! stated exception: gmm-frame seeds each speaker's k-means with the speaker's rank
//! among the data set's speakers, while a whole-set training uses its class
//! position. The two differ only after a speaker left out of the whole training
//! (fewer than two usable clips); the merge then says which mixtures were seeded
//! differently.
//!
//! On disk: `UBM_DIR/ubm.json` ([`UBM_FILE`]) and `SHARD_DIR/shard.json`
//! ([`SHARD_FILE`]), each a `persist` envelope, written beside the target and
//! swapped into place (see `atomic_dir`), so a kill never leaves half of one.
//!
//! ```no_run
//! use speaker_similarity::dataset::Shard;
//! use speaker_similarity::pipeline::{PipelineParams, ShardModels, SharedUbm};
//! use speaker_similarity::synth;
//! # fn main() -> speaker_similarity::Result<()> {
//! let data = synth::default_dataset();
//! let params = PipelineParams::default().check()?;
//! let ubm = SharedUbm::train(&data, &params, &|_| {})?;
//! let shards = (0..3)
//!     .map(|k| ShardModels::train(&data, Shard::new(k, 3)?, Some(&ubm), &params, &|_| {}))
//!     .collect::<speaker_similarity::Result<Vec<_>>>()?;
//! let merged = ShardModels::merge(&shards, &|_| {})?;
//! println!("{} speakers; retrained {:?}", merged.models.speakers.len(), merged.retrained);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::params::{ModelKind, PipelineParams, ValidParams};
use super::stream::{first_pass, usable, Counter, DatasetFrames};
use super::train::SpeakerModels;
use crate::atomic_dir;
use crate::dataset::{Dataset, Shard, SkippedSpeaker};
use crate::error::{Error, Result};
use crate::models::speaker::gmm_frame::{stack_all, GmmFrameModel};
use crate::models::speaker::gmm_ubm::{speaker_part, GmmUbmModel};
use crate::models::speaker::{FrameSource, ParamGuard, TrainedModel, TrainingSet};
use crate::models::{DiagGmm, GmmClassifier, GmmParams, Ubm};
use crate::persist::{self, Persist};
use crate::progress::{Progress, ProgressFn};

/// The file holding the UBM inside a UBM directory (`train --ubm-only`).
pub const UBM_FILE: &str = "ubm.json";
/// The file holding a shard's output inside a shard directory (`train --shard`).
pub const SHARD_FILE: &str = "shard.json";

/// A universal background model trained once, before sharding, with the settings it
/// was trained with (every shard must use the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedUbm {
    /// The UBM.
    pub ubm: Ubm,
    /// The pipeline settings (features, UBM size, sample bound, seed, models).
    pub params: ValidParams,
    /// Speakers whose frames were sampled (those with at least two usable clips).
    pub speakers: usize,
    /// Clips read.
    pub clips: usize,
    /// Frames in the bounded sample the UBM was fitted on.
    pub sample_frames: usize,
    /// Seconds it took (reading the clips and fitting).
    pub seconds: f64,
}

impl Persist for SharedUbm {
    const KIND: &'static str = "SharedUbm";
    fn check(&self) -> Result<()> {
        self.ubm.validate()
    }
}

/// One clip of a shard: where it is in the data set, its class within the shard
/// and its 52-dim clip vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardClip {
    /// Index of the clip in the whole data set ([`Dataset::clips`]).
    pub index: usize,
    /// The clip's file.
    pub path: PathBuf,
    /// Its speaker's position in [`ShardModels::speakers`].
    pub class: usize,
    /// Its clip vector.
    pub vector: Vec<f32>,
}

/// What one shard's training wrote: its speakers' per-speaker models and the clip
/// vectors of their clips (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardModels {
    /// Which shard (`K` of `K/N`).
    pub shard_index: usize,
    /// How many shards (`N` of `K/N`).
    pub shard_count: usize,
    /// Speakers of the whole data set (every shard of one set agrees).
    pub data_speakers: usize,
    /// The settings (every shard of one merge must have the same).
    pub params: ValidParams,
    /// The UBM the speakers were adapted from (when gmm-ubm is trained).
    pub ubm: Option<Ubm>,
    /// The shard's speakers with at least two usable clips, sorted.
    pub speakers: Vec<String>,
    /// Each speaker's rank among the whole data set's sorted speakers: the seed
    /// offset of its gmm-frame mixture.
    pub seed_ranks: Vec<usize>,
    /// Display names of the data set's speakers.
    pub names: BTreeMap<String, String>,
    /// The usable clips of those speakers, in data set order.
    pub clips: Vec<ShardClip>,
    /// gmm-frame: one mixture per speaker (empty when not trained).
    pub gmm_frame: Vec<DiagGmm>,
    /// gmm-ubm: per speaker, the UBM's means MAP-adapted to its frames (f32 offsets
    /// from the UBM's, `k × d`) and its raw mean supervector offset (empty when not
    /// trained).
    pub gmm_ubm: Vec<(Array2<f32>, Vec<f32>)>,
    /// Seconds per model.
    pub train_seconds: BTreeMap<ModelKind, f64>,
    /// Speakers of the shard left out (fewer than two usable clips).
    pub skipped: Vec<SkippedSpeaker>,
    /// Unusable clips: data set index, path, reason.
    pub unusable: Vec<(usize, PathBuf, String)>,
}

impl Persist for ShardModels {
    const KIND: &'static str = "ShardModels";
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

/// A merged model set, and what the merge did.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The model set, as `train --all` on the whole data set makes it.
    pub models: SpeakerModels,
    /// Models joined from the shards' per-speaker parts.
    pub joined: Vec<ModelKind>,
    /// Models trained at the merge from the shards' clip vectors (they share
    /// parameters between speakers, or are cheap on clip vectors).
    pub retrained: Vec<ModelKind>,
    /// Speakers left out by the shards (fewer than two usable clips).
    pub skipped: Vec<SkippedSpeaker>,
    /// Unusable clips the shards met: data set index, path, reason.
    pub unusable: Vec<(usize, PathBuf, String)>,
    /// Anything the merge has to say about the result (seeding differences).
    pub notes: Vec<String>,
}

/// The frames of a merge: none are kept, and no model trained at a merge asks.
struct NoFrames;

impl FrameSource for NoFrames {
    fn frames(&self, _clips: &[usize]) -> Result<Vec<Array2<f32>>> {
        Err(Error::param(
            "frames",
            "a shard merge holds no frames: frame models are trained in the shards",
        ))
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Write `value` as the only file `file` of the directory `dir`, replacing an
/// earlier one whole; a non-empty directory without `file` is refused.
fn save_dir<T: Persist>(dir: &Path, file: &str, value: &T) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                reason: "exists and is not a directory".into(),
            });
        }
        let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
        if !empty && !dir.join(file).exists() {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                reason: format!(
                    "is a non-empty directory without {file}; refusing to overwrite it \
                     (choose a new or empty directory)"
                ),
            });
        }
    }
    let tmp = atomic_dir::staging(dir)?;
    if let Err(e) = persist::save(tmp.join(file), value) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    atomic_dir::commit(&tmp, dir)
}

/// Load the file `file` of the directory `dir` (`what` names the kind of
/// directory and the command that writes it, for the messages).
fn load_dir<T: Persist>(dir: &Path, file: &str, what: &str) -> Result<T> {
    let bad = |reason: String| Error::Model {
        path: dir.to_path_buf(),
        reason,
    };
    if !dir.is_dir() {
        return Err(bad(format!("no such directory: give the {what}")));
    }
    if !dir.join(file).exists() {
        return Err(bad(format!("no {file} inside: not the {what}")));
    }
    persist::load(dir.join(file))
}

/// The top-level settings in which two parameter sets differ (for messages).
fn differing(a: &PipelineParams, b: &PipelineParams) -> String {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return "settings".into();
    };
    let keys: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    if keys.is_empty() {
        "settings".into()
    } else {
        keys.join(", ")
    }
}

impl SharedUbm {
    /// Fit the UBM on the bounded, seeded frame sample of every clip of `data`
    /// (`settings.gmm_ubm.max_frames` frames at most, an equal share per speaker,
    /// speakers with fewer than two usable clips left out): the sample and the fit
    /// [`train_dataset`](super::train_dataset) makes on the same clips, so the UBM
    /// is the one a single-machine training would use. `on_progress` receives
    /// [`Progress::Items`] while the clips are read.
    ///
    /// Errors: invalid `params`, or params that do not train gmm-ubm; no usable
    /// clip.
    pub fn train(
        data: &Dataset,
        params: &impl ParamGuard<PipelineParams>,
        on_progress: ProgressFn<'_>,
    ) -> Result<SharedUbm> {
        let params = params.checked()?.into_owned();
        if !params.wants(ModelKind::GmmUbm) {
            return Err(Error::param(
                "models",
                "a UBM is only used by gmm-ubm, which the chosen models leave out",
            ));
        }
        let t = Instant::now();
        let clips: Vec<usize> = (0..data.len()).collect();
        let counter = Counter::new(clips.len(), on_progress);
        let mut first = first_pass(data, &clips, &params, &counter, true, None)?;
        let sampler = first.sampler.take();
        let u = usable(data, &clips, first)?;
        let sample = match sampler {
            Some(s) if !s.is_empty() => s.finish_without(&u.dropped)?,
            _ => {
                return Err(Error::Dataset {
                    path: data.root.clone(),
                    reason: "no usable clip to train a UBM on".into(),
                })
            }
        };
        let p = GmmParams {
            seed: params.seed,
            ..params.settings.gmm_ubm.ubm.clone()
        };
        on_progress(Progress::Started(ModelKind::GmmUbm));
        let ubm = Ubm::fit(sample.view(), &p).map_err(|e| e.within("the UBM"))?;
        let seconds = t.elapsed().as_secs_f64();
        on_progress(Progress::Finished(ModelKind::GmmUbm, seconds));
        Ok(SharedUbm {
            ubm,
            speakers: u.speakers.len(),
            clips: u.train_clips.len(),
            sample_frames: sample.nrows(),
            params,
            seconds,
        })
    }

    /// Save to the UBM directory `dir` (`dir/ubm.json`), whole or not at all.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        save_dir(dir.as_ref(), UBM_FILE, self)
    }

    /// Load a UBM directory written by [`SharedUbm::save`].
    pub fn load(dir: impl AsRef<Path>) -> Result<SharedUbm> {
        load_dir(
            dir.as_ref(),
            UBM_FILE,
            "UBM directory `train --ubm-only` wrote",
        )
    }
}

impl ShardModels {
    /// The shard this output is of.
    pub fn shard(&self) -> Result<Shard> {
        Shard::new(self.shard_index, self.shard_count)
    }

    /// Do the per-speaker work of `shard` of `data` (see the [module docs](self)):
    /// read the clips of its speakers, keep their clip vectors, fit each speaker's
    /// gmm-frame mixture and MAP-adapt `ubm` to each speaker. `ubm` is required
    /// when `params` train gmm-ubm, and must have been trained with `params`.
    /// `on_progress` receives [`Progress::Items`] while the clips are read, and the
    /// start and end of each model.
    ///
    /// Errors: invalid `params`; a missing UBM or one trained with other settings
    /// ([`Error::InvalidParameter`]); a shard that holds no speaker, or none with
    /// two usable clips ([`Error::Dataset`]).
    pub fn train(
        data: &Dataset,
        shard: Shard,
        ubm: Option<&SharedUbm>,
        params: &impl ParamGuard<PipelineParams>,
        on_progress: ProgressFn<'_>,
    ) -> Result<ShardModels> {
        let params = params.checked()?.into_owned();
        let ubm = if params.wants(ModelKind::GmmUbm) {
            let u = ubm.ok_or_else(|| {
                Error::param(
                    "ubm",
                    "gmm-ubm needs the UBM trained once before sharding: run `train \
                     --ubm-only --out UBM_DIR` and give every shard `--ubm UBM_DIR`",
                )
            })?;
            if *u.params != *params {
                return Err(Error::param(
                    "ubm",
                    format!(
                        "the UBM was trained with other settings ({} differ); train the \
                         shards with the UBM's settings, or train the UBM again",
                        differing(&u.params, &params)
                    ),
                ));
            }
            Some(u.ubm.clone())
        } else {
            None
        };
        let all_speakers = data.speakers();
        let kept: BTreeSet<String> = data.shard(shard)?.speakers().into_iter().collect();
        let clips: Vec<usize> = (0..data.len())
            .filter(|&i| kept.contains(&data.clips[i].speaker))
            .collect();
        let counter = Counter::new(clips.len(), on_progress);
        let first = first_pass(data, &clips, &params, &counter, false, None)?;
        let u = usable(data, &clips, first)?;
        if u.speakers.is_empty() {
            return Err(Error::Dataset {
                path: data.root.clone(),
                reason: format!(
                    "shard {shard}: none of its {} speaker(s) has two usable clips",
                    kept.len()
                ),
            });
        }
        let seed_ranks: Vec<usize> = u
            .speakers
            .iter()
            .map(|s| all_speakers.binary_search(s).unwrap_or(0))
            .collect();
        let clip_records: Vec<ShardClip> = u
            .train_clips
            .iter()
            .zip(&u.labels)
            .zip(u.x.rows())
            .map(|((&i, &class), v)| ShardClip {
                index: i,
                path: data.clips[i].path.clone(),
                class,
                vector: v.to_vec(),
            })
            .collect();
        let source = DatasetFrames {
            data,
            clips: &u.train_clips,
            params: &params,
            rate: None,
        };
        let set = TrainingSet::streaming_shard(
            u.x.clone(),
            &source,
            &u.labels,
            &u.speakers,
            params.seed,
            params.validation_fraction,
        )?;
        let mut train_seconds = BTreeMap::new();
        let mut gmm_frame = Vec::new();
        if params.wants(ModelKind::GmmFrame) {
            on_progress(Progress::Started(ModelKind::GmmFrame));
            let t = Instant::now();
            // The seed of GmmFrameModel::fit, class offsets by data set rank.
            let p = GmmParams {
                seed: params.seed,
                ..params.settings.gmm_frame.clone()
            };
            p.validate()?;
            gmm_frame = set.for_each_speaker(|c, frames| {
                let stacked = stack_all(frames)?;
                GmmClassifier::fit_class(stacked.view(), seed_ranks[c], &all_speakers, &p)
            })?;
            let s = t.elapsed().as_secs_f64();
            train_seconds.insert(ModelKind::GmmFrame, s);
            on_progress(Progress::Finished(ModelKind::GmmFrame, s));
        }
        let mut gmm_ubm = Vec::new();
        if let Some(ubm) = &ubm {
            on_progress(Progress::Started(ModelKind::GmmUbm));
            let t = Instant::now();
            let r = params.settings.gmm_ubm.relevance_factor;
            gmm_ubm = set
                .for_each_speaker(|_, frames| speaker_part(ubm, r, frames))?
                .into_iter()
                .map(|(a, m)| (a, m.to_vec()))
                .collect();
            let s = t.elapsed().as_secs_f64();
            train_seconds.insert(ModelKind::GmmUbm, s);
            on_progress(Progress::Finished(ModelKind::GmmUbm, s));
        }
        drop(set);
        Ok(ShardModels {
            shard_index: shard.index,
            shard_count: shard.count,
            data_speakers: all_speakers.len(),
            params,
            ubm,
            speakers: u.speakers,
            seed_ranks,
            names: data.names.clone(),
            clips: clip_records,
            gmm_frame,
            gmm_ubm,
            train_seconds,
            skipped: u.skipped,
            unusable: u.unusable,
        })
    }

    /// Check that the parts agree (used after loading a shard directory).
    pub fn validate(&self) -> Result<()> {
        let bad =
            |what: &str, expected: String, got: String| Err(Error::shape(what, expected, got));
        self.shard()?;
        let k = self.speakers.len();
        if k == 0 || self.speakers.windows(2).any(|w| w[0] >= w[1]) {
            return bad(
                "shard speakers",
                "at least one, sorted, each once".into(),
                format!("{:?}", self.speakers),
            );
        }
        if self.seed_ranks.len() != k {
            return bad(
                "seed ranks",
                format!("{k}"),
                self.seed_ranks.len().to_string(),
            );
        }
        let dim = self.clips.first().map(|c| c.vector.len()).unwrap_or(0);
        if self.clips.iter().any(|c| {
            c.class >= k || c.vector.len() != dim || c.vector.iter().any(|v| !v.is_finite())
        }) {
            return bad(
                "shard clips",
                format!("a class below {k} and {dim} finite values each"),
                "other".into(),
            );
        }
        if self.clips.windows(2).any(|w| w[0].index >= w[1].index) {
            return bad("shard clips", "in data set order".into(), "other".into());
        }
        for (what, n, wanted) in [
            (
                "gmm-frame mixtures",
                self.gmm_frame.len(),
                self.params.wants(ModelKind::GmmFrame),
            ),
            (
                "gmm-ubm speaker models",
                self.gmm_ubm.len(),
                self.params.wants(ModelKind::GmmUbm),
            ),
        ] {
            let expected = if wanted { k } else { 0 };
            if n != expected {
                return bad(what, expected.to_string(), n.to_string());
            }
        }
        for g in &self.gmm_frame {
            g.validate()?;
        }
        if self.params.wants(ModelKind::GmmUbm) != self.ubm.is_some() {
            return bad(
                "UBM",
                "present exactly when gmm-ubm is trained".into(),
                "other".into(),
            );
        }
        if let Some(u) = &self.ubm {
            u.validate()?;
            let sv = u.gmm().n_components() * u.gmm().n_features();
            for (a, m) in &self.gmm_ubm {
                u.check_offsets(a)?;
                if m.len() != sv || m.iter().any(|v| !v.is_finite()) {
                    return bad(
                        "speaker supervectors",
                        format!("{sv} finite values"),
                        m.len().to_string(),
                    );
                }
            }
        }
        Ok(())
    }

    /// Save to the shard directory `dir` (`dir/shard.json`), whole or not at all.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        save_dir(dir.as_ref(), SHARD_FILE, self)
    }

    /// Load a shard directory written by [`ShardModels::save`].
    pub fn load(dir: impl AsRef<Path>) -> Result<ShardModels> {
        load_dir(
            dir.as_ref(),
            SHARD_FILE,
            "shard directory `train --shard K/N` wrote",
        )
    }

    /// Join the outputs of every shard of one data set into one model set (see the
    /// [module docs](self) for what is joined and what is trained here).
    /// `on_progress` receives the start and end of each model trained here.
    ///
    /// Errors ([`Error::InvalidParameter`] unless said): no shard; shards made
    /// with other settings, another UBM, another shard count or from another data
    /// set (by its speaker count); shards that share a speaker; a shard missing;
    /// fewer than two speakers in all; those of training the merged models.
    pub fn merge(shards: &[ShardModels], on_progress: ProgressFn<'_>) -> Result<Merged> {
        let refuse = |reason: String| Err(Error::param("shards", reason));
        let Some(first) = shards.first() else {
            return refuse("no shard to merge".into());
        };
        let name = |s: &ShardModels| format!("{}/{}", s.shard_index, s.shard_count);
        // Disjoint speakers first: the clearest sign of a shard given twice.
        let mut owner: BTreeMap<&str, &ShardModels> = BTreeMap::new();
        for s in shards {
            for spk in &s.speakers {
                if let Some(o) = owner.insert(spk, s) {
                    return refuse(format!(
                        "speaker {spk:?} is in two shards ({} and {}): the shards overlap \
                         (a shard given twice, or shards of different K/N splits)",
                        name(o),
                        name(s)
                    ));
                }
            }
        }
        for s in shards {
            if *s.params != *first.params {
                return refuse(format!(
                    "shard {} was trained with other settings than shard {} ({} differ)",
                    name(s),
                    name(first),
                    differing(&s.params, &first.params)
                ));
            }
            if s.ubm != first.ubm {
                return refuse(format!(
                    "shard {} was adapted from another UBM than shard {}: train every \
                     shard with the same --ubm UBM_DIR",
                    name(s),
                    name(first)
                ));
            }
            if s.shard_count != first.shard_count || s.data_speakers != first.data_speakers {
                return refuse(format!(
                    "shard {} ({} speakers in its data set) and shard {} ({}) are not \
                     shards of one split of one data set",
                    name(s),
                    s.data_speakers,
                    name(first),
                    first.data_speakers
                ));
            }
        }
        let given: BTreeSet<usize> = shards.iter().map(|s| s.shard_index).collect();
        if given.len() != shards.len() {
            return refuse("a shard is given twice".into());
        }
        let missing: Vec<String> = (0..first.shard_count)
            .filter(|k| !given.contains(k))
            .map(|k| format!("{k}/{}", first.shard_count))
            .collect();
        if !missing.is_empty() {
            return refuse(format!(
                "shard(s) {} missing: a merge joins every shard of the split",
                missing.join(", ")
            ));
        }
        let params = first.params.clone();

        // The whole training set, in data set order, classes by sorted speaker.
        let speakers: Vec<String> = owner.keys().map(|s| s.to_string()).collect();
        let class_of = |s: &ShardModels, c: usize| -> Result<usize> {
            speakers
                .binary_search(&s.speakers[c])
                .map_err(|_| Error::param("shards", "speaker not listed"))
        };
        let mut clips: Vec<(usize, usize, &[f32])> = Vec::new();
        for s in shards {
            for c in &s.clips {
                clips.push((c.index, class_of(s, c.class)?, &c.vector));
            }
        }
        clips.sort_by_key(|c| c.0);
        if clips.windows(2).any(|w| w[0].0 == w[1].0) {
            return refuse("two shards hold the same clip".into());
        }
        let dim = clips.first().map(|c| c.2.len()).unwrap_or(0);
        if clips.iter().any(|c| c.2.len() != dim) {
            return refuse("the shards' clip vectors differ in length".into());
        }
        let labels: Vec<usize> = clips.iter().map(|c| c.1).collect();
        let flat: Vec<f32> = clips.iter().flat_map(|c| c.2.iter().copied()).collect();
        let x = Array2::from_shape_vec((clips.len(), dim), flat)
            .map_err(|e| Error::shape("clip matrix", format_args!("rows of {dim}"), e))?;
        drop(clips);

        // Per-speaker parts in class order.
        let mut parts: Vec<(&ShardModels, usize)> = Vec::with_capacity(speakers.len());
        for spk in &speakers {
            let s = owner[spk.as_str()];
            let c = s
                .speakers
                .binary_search(spk)
                .map_err(|_| Error::param("shards", "speaker"))?;
            parts.push((s, c));
        }
        let mut notes = Vec::new();
        let reseeded: Vec<&str> = parts
            .iter()
            .enumerate()
            .filter(|(g, (s, c))| s.seed_ranks[*c] != *g)
            .map(|(g, _)| speakers[g].as_str())
            .collect();
        if params.wants(ModelKind::GmmFrame) && !reseeded.is_empty() {
            notes.push(format!(
                "gmm-frame: {} speaker(s) ({}) were seeded by their rank in the data set, \
                 which differs from their class position because speakers with too few \
                 usable clips were left out; their mixtures differ from a single-machine \
                 training's by the k-means seed only",
                reseeded.len(),
                reseeded.join(", ")
            ));
        }
        let seconds = |kind: ModelKind| -> f64 {
            shards
                .iter()
                .filter_map(|s| s.train_seconds.get(&kind))
                .sum()
        };
        let mut prebuilt = Vec::new();
        if params.wants(ModelKind::GmmFrame) {
            let models: Vec<DiagGmm> = parts.iter().map(|(s, c)| s.gmm_frame[*c].clone()).collect();
            let model = GmmFrameModel {
                classifier: GmmClassifier::from_models(&speakers, models)?,
                params: GmmParams {
                    seed: params.seed,
                    ..params.settings.gmm_frame.clone()
                },
            };
            prebuilt.push((TrainedModel::GmmFrame(model), seconds(ModelKind::GmmFrame)));
        }
        if let Some(ubm) = &first.ubm {
            let p: Vec<(Array2<f32>, Array1<f32>)> = parts
                .iter()
                .map(|(s, c)| {
                    let (a, m) = &s.gmm_ubm[*c];
                    (a.clone(), Array1::from(m.clone()))
                })
                .collect();
            let g = &params.settings.gmm_ubm;
            let model =
                GmmUbmModel::from_parts(ubm.clone(), &speakers, p, g.relevance_factor, g.top_c)?;
            prebuilt.push((TrainedModel::GmmUbm(model), seconds(ModelKind::GmmUbm)));
        }
        let joined: Vec<ModelKind> = prebuilt.iter().map(|(m, _)| m.kind()).collect();

        let set = TrainingSet::streaming(
            x,
            &NoFrames,
            &labels,
            &speakers,
            params.seed,
            params.validation_fraction,
        )?;
        let names = first.names.clone();
        let models =
            SpeakerModels::train_set_with(&set, names, &params, prebuilt, true, on_progress)?;
        let retrained: Vec<ModelKind> = models
            .kinds()
            .into_iter()
            .filter(|k| !joined.contains(k))
            .collect();
        let mut skipped: Vec<SkippedSpeaker> = shards
            .iter()
            .flat_map(|s| s.skipped.iter().cloned())
            .collect();
        skipped.sort_by(|a, b| a.speaker.cmp(&b.speaker));
        let mut unusable: Vec<(usize, PathBuf, String)> = shards
            .iter()
            .flat_map(|s| s.unusable.iter().cloned())
            .collect();
        unusable.sort_by_key(|u| u.0);
        Ok(Merged {
            models,
            joined,
            retrained,
            skipped,
            unusable,
            notes,
        })
    }
}
