//! `gmm-ubm`: a universal background model on pooled training frames, one
//! MAP-adapted model per speaker, scored by the log-likelihood ratio; its
//! KL-normalised supervector offsets are the `"supervector"` speaker embedding.

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    stack_frames, ClipBatch, ClipFeatures, Enrolment, Hyperparams, ScoreUnit, Scores, SpeakerEmbedding, SpeakerModel,
    Trainable, TrainingSet, Valid,
};
use crate::error::{Error, Result};
use crate::models::{GmmInit, GmmParams, GmmUbmClassifier, Ubm};
use crate::progress::ProgressFn;
use crate::similarity::EnrolledSpeakers;

/// Hyperparameters of the GMM-UBM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UbmParams {
    /// The universal background model (default 128 components, k-means++
    /// initialisation, at most 50 EM iterations).
    pub ubm: GmmParams,
    /// At most this many frames train the UBM: a seeded sample with an equal share
    /// from every speaker, drawn as the clips stream past
    /// ([`FrameSampler`](super::FrameSampler)), so the full frame set is never
    /// held. Default 50 000: on dsp34 more frames cost seconds and gain nothing.
    pub max_frames: usize,
    /// MAP relevance factor r: a component's mean moves toward the speaker's data
    /// by n / (n + r) for n frames assigned to it. Default 16 (Reynolds 2000).
    pub relevance_factor: f64,
    /// Top-C scoring: every query frame is scored on its C best UBM components
    /// only, in the UBM and in every speaker's model
    /// ([`GmmUbmClassifier::top_c`], [`crate::models::topc`]); `None` scores all
    /// components (exact). At least 1; a C at or above `ubm.n_components` is
    /// exact scoring (so the default suits a UBM of any size). Default `Some(5)`
    /// ([`DEFAULT_TOP_C`](crate::models::ubm::DEFAULT_TOP_C), Reynolds et al.'s
    /// choice): the GMM-UBM scores of one 3 s query against 1,000 speakers
    /// take 48 ms instead of 380 ms on one core, with the same top-1 accuracy on
    /// fsdd, dsp34 and the synthetic corpus (C = 1 loses some; README, "Speed"). The
    /// open-set calibration scores its trials the same way. Settings written
    /// before this field read as `None`, as their models were scored.
    #[serde(default)]
    pub top_c: Option<usize>,
}

impl Default for UbmParams {
    fn default() -> Self {
        UbmParams {
            ubm: GmmParams {
                n_components: 128,
                max_iter: 50,
                init: GmmInit::KMeansPlusPlus,
                ..GmmParams::default()
            },
            max_frames: 50_000,
            relevance_factor: 16.0,
            top_c: Some(crate::models::ubm::DEFAULT_TOP_C),
        }
    }
}

impl Hyperparams for UbmParams {
    fn validate(&self) -> Result<()> {
        self.ubm.validate()?;
        if self.max_frames < self.ubm.n_components {
            return Err(Error::param(
                "max_frames",
                format!(
                    "{} frames cannot train {} UBM components",
                    self.max_frames, self.ubm.n_components
                ),
            ));
        }
        if !(self.relevance_factor.is_finite() && self.relevance_factor >= 0.0) {
            return Err(Error::param(
                "relevance_factor",
                format!("must be >= 0, got {}", self.relevance_factor),
            ));
        }
        crate::models::ubm::check_top_c_setting(self.top_c)
    }
}

/// The UBM, the adapted speaker models, and the speakers enrolled by supervector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmUbmModel {
    /// UBM and MAP-adapted speaker models.
    pub classifier: GmmUbmClassifier,
    /// Every speaker's embedding: the mean supervector offset of its training clips.
    pub enrolled: EnrolledSpeakers,
}

/// The embedding of one clip in GMM-UBM space: the KL-normalised offset of its
/// MAP-adapted means from the UBM's (the speaker-specific part of the supervector).
fn supervector_offset(clf: &GmmUbmClassifier, f: &ClipFeatures) -> Result<Array1<f32>> {
    clip_offset(clf.ubm(), clf.relevance_factor(), f.frames.view())
}

fn clip_offset(ubm: &Ubm, r: f64, frames: ArrayView2<f32>) -> Result<Array1<f32>> {
    let adapted = ubm.map_adapt(frames, r)?;
    ubm.supervector_offset(&adapted)
}

impl SpeakerEmbedding for GmmUbmModel {
    fn name(&self) -> &'static str {
        "supervector"
    }

    fn embed(&self, clip: &ClipFeatures) -> Result<Array1<f32>> {
        supervector_offset(&self.classifier, clip)
    }

    fn enrolled(&self) -> &EnrolledSpeakers {
        &self.enrolled
    }
}

impl SpeakerModel for GmmUbmModel {
    /// Mean per-frame log-likelihood ratio of each speaker's adapted model against
    /// the UBM ([`ScoreUnit::FrameLogLikelihoodRatio`]), on each frame's best UBM
    /// components when the classifier is top-C ([`UbmParams::top_c`]).
    fn scores(&self, clips: &ClipBatch<'_>) -> Result<Scores> {
        Ok(Scores {
            unit: ScoreUnit::FrameLogLikelihoodRatio,
            values: self.classifier.scores_clips(&clips.frames())?,
        })
    }

    fn embedding(&self) -> Option<&dyn SpeakerEmbedding> {
        Some(self)
    }

    fn enrolment(&self) -> Enrolment {
        Enrolment::PerSpeaker
    }

    /// MAP-adapt the existing UBM to the speaker's frames; its supervector
    /// embedding is the mean of its clips' (the stored centre is kept, see
    /// [`EnrolledSpeakers::upsert`]).
    fn enroll(&mut self, speaker: &str, clips: &[ClipFeatures]) -> Result<()> {
        let frames = stack_frames(speaker, clips)?;
        let per_clip: Vec<Array1<f32>> = clips
            .par_iter()
            .filter(|c| c.frames.nrows() > 0)
            .map(|c| supervector_offset(&self.classifier, c))
            .collect::<Result<_>>()?;
        let mut mean = Array1::<f32>::zeros(per_clip[0].len());
        for v in &per_clip {
            mean += v;
        }
        mean /= per_clip.len() as f32;
        let mut classifier = self.classifier.clone();
        classifier.upsert(speaker, frames.view())?;
        self.enrolled.upsert(speaker, mean.as_slice().unwrap_or(&mean.to_vec()))?;
        self.classifier = classifier;
        Ok(())
    }

    fn remove(&mut self, speaker: &str) -> Result<()> {
        self.classifier.remove(speaker)?;
        self.enrolled.remove(speaker)
    }

    fn validate(&self, speakers: &[String], _clip_dim: usize) -> Result<()> {
        self.classifier.validate()?;
        if self.classifier.names() != speakers || self.enrolled.names() != speakers {
            return Err(Error::shape(
                "gmm-ubm speakers",
                "the model's speakers",
                format_args!("{:?}", self.classifier.names()),
            ));
        }
        let ubm = self.classifier.ubm().gmm();
        if self.enrolled.dim() != ubm.n_components() * ubm.n_features() {
            return Err(Error::shape(
                "supervectors",
                ubm.n_components() * ubm.n_features(),
                self.enrolled.dim(),
            ));
        }
        Ok(())
    }
}

impl Trainable for GmmUbmModel {
    /// See [`UbmParams`] for the defaults; the seed is the pipeline's.
    type Params = UbmParams;

    fn default_params() -> UbmParams {
        UbmParams::default()
    }

    fn fit(
        data: &TrainingSet<'_>,
        params: &Valid<UbmParams>,
        _on_progress: ProgressFn<'_>,
    ) -> Result<Self> {
        let p = GmmParams {
            seed: data.seed,
            ..params.ubm.clone()
        };
        let ubm = {
            let sample = data.ubm_frames(params.max_frames)?;
            Ubm::fit(sample.view(), &p)?
        };
        let r = params.relevance_factor;
        // A few speakers at a time: the speaker's adapted model, and its embedding,
        // the mean of its clips' embeddings, each made exactly as a query's is, so
        // enrolment and queries are comparable.
        let per_speaker = data.for_each_speaker(|_, frames| speaker_part(&ubm, r, frames))?;
        GmmUbmModel::from_parts(ubm, data.speakers, per_speaker, r, params.top_c)
    }
}

/// One speaker's part of a GMM-UBM, made from the frames of its clips (in clip
/// order) and the UBM alone: the UBM's means MAP-adapted to all its frames, kept
/// as f32 offsets from the UBM's (`k × d`), and its raw (not yet centred)
/// embedding, the mean supervector offset of its clips. What training makes for
/// every speaker, and a shard for each of its speakers
/// ([`crate::pipeline::ShardModels`]).
pub(crate) fn speaker_part(
    ubm: &Ubm,
    r: f64,
    frames: &[Array2<f32>],
) -> Result<(Array2<f32>, Array1<f32>)> {
    let dim = ubm.gmm().n_components() * ubm.gmm().n_features();
    let stacked = super::gmm_frame::stack_all(frames)?;
    let adapted = ubm.map_adapt_offsets(stacked.view(), r)?;
    drop(stacked);
    let mut mean = Array1::<f32>::zeros(dim);
    for f in frames {
        mean += &clip_offset(ubm, r, f.view())?;
    }
    mean /= frames.len().max(1) as f32;
    Ok((adapted, mean))
}

impl GmmUbmModel {
    /// The model from every speaker's part ([`speaker_part`], in class order),
    /// scoring with `top_c` ([`UbmParams::top_c`]): the adapted means, and the speakers enrolled by their mean supervector offsets,
    /// centred on the mean over the speakers.
    pub(crate) fn from_parts(
        ubm: Ubm,
        speakers: &[String],
        parts: Vec<(Array2<f32>, Array1<f32>)>,
        r: f64,
        top_c: Option<usize>,
    ) -> Result<Self> {
        let dim = ubm.gmm().n_components() * ubm.gmm().n_features();
        let mut means = Array2::<f32>::zeros((parts.len(), dim));
        let mut adapted = Vec::with_capacity(parts.len());
        for (c, (a, m)) in parts.into_iter().enumerate() {
            if m.len() != dim {
                return Err(Error::shape("speaker supervector", dim, m.len()));
            }
            means.row_mut(c).assign(&m);
            adapted.push(a);
        }
        let classifier =
            GmmUbmClassifier::from_offsets(ubm, speakers, adapted, r)?.with_top_c(top_c)?;
        let enrolled = EnrolledSpeakers::enroll(speakers.to_vec(), means.view(), true)?;
        Ok(GmmUbmModel {
            classifier,
            enrolled,
        })
    }
}
