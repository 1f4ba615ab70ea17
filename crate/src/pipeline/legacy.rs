//! Model directories of format version 1, written before the speaker models moved
//! behind one interface: `SpeakerModels` then had one optional field per model, the
//! model hyperparameters flat in `PipelineParams`, and the baselines shared the
//! set's clip-vector scaler. This module reads that layout into today's, so such a
//! directory keeps predicting exactly as it did. It is frozen: the eight models of
//! version 1 are all it will ever know, and new models never touch it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::params::{ModelKind, ModelSettings, PipelineParams};
use super::train::{ClipVectorEmbedding, SpeakerModels};
use crate::error::{Error, Result};
use crate::features::{ClipVectorParams, FrameFeatureParams};
use crate::models::speaker::gmm_ubm::UbmParams;
use crate::models::speaker::smartcore_baseline::ScaledBaseline;
use crate::models::speaker::{
    GmmClipModel, GmmFrameModel, GmmUbmModel, KnnModel, LogisticModel, MlpModel, RandomForestModel,
    SvmModel, Trainable, TrainedModel,
};
use crate::models::{
    Baseline, GmmClassifier, GmmParams, GmmUbmClassifier, History, Mlp, MlpParams, StandardScaler,
};
use crate::similarity::EnrolledSpeakers;

#[derive(Deserialize)]
struct ParamsV1 {
    clip: ClipVectorParams,
    frames: FrameFeatureParams,
    mlp: MlpParams,
    validation_fraction: f64,
    gmm_clip: GmmParams,
    gmm_frame: GmmParams,
    ubm: GmmParams,
    ubm_max_frames: usize,
    relevance_factor: f64,
    models: Vec<ModelKind>,
    seed: u64,
}

#[derive(Deserialize)]
struct SpeakerModelsV1 {
    speakers: Vec<String>,
    names: BTreeMap<String, String>,
    clip_counts: Vec<usize>,
    params: ParamsV1,
    clip_scaler: StandardScaler,
    mlp: Option<Mlp>,
    history: Option<History>,
    gmm_clip: Option<GmmClassifier>,
    gmm_frame: Option<GmmClassifier>,
    gmm_ubm: Option<GmmUbmClassifier>,
    baselines: Vec<(ModelKind, Baseline)>,
    enrolled_supervectors: Option<EnrolledSpeakers>,
    enrolled_clip_vectors: EnrolledSpeakers,
    train_seconds: BTreeMap<ModelKind, f64>,
    #[serde(default)]
    skipped_models: Vec<(ModelKind, String)>,
}

/// Today's [`SpeakerModels`] from the `model` field of a version-1 file.
pub(crate) fn from_v1(model: &Value) -> Result<SpeakerModels> {
    let v = SpeakerModelsV1::deserialize(model)
        .map_err(|e| Error::shape("models.json", "a version-1 model set", e))?;
    let p = v.params;
    let params = PipelineParams {
        clip: p.clip,
        frames: p.frames,
        validation_fraction: p.validation_fraction,
        settings: ModelSettings {
            mlp: p.mlp,
            gmm_clip: p.gmm_clip,
            gmm_frame: p.gmm_frame,
            gmm_ubm: UbmParams {
                ubm: p.ubm,
                max_frames: p.ubm_max_frames,
                relevance_factor: p.relevance_factor,
                // Legacy models were scored on every component.
                top_c: None,
            },
            ..ModelSettings::default()
        },
        models: p.models,
        seed: p.seed,
        // Version-1 files predate the robustness methods.
        augment: Vec::new(),
        narrowband: None,
        calibrate: true,
    }
    .check()?;
    let mut models = Vec::new();
    if let Some(mlp) = v.mlp {
        models.push(TrainedModel::Mlp(MlpModel {
            mlp,
            history: v.history.unwrap_or_default(),
        }));
    }
    if let Some(classifier) = v.gmm_clip {
        models.push(TrainedModel::GmmClip(GmmClipModel {
            classifier,
            params: GmmParams::original(),
        }));
    }
    if let Some(classifier) = v.gmm_frame {
        models.push(TrainedModel::GmmFrame(GmmFrameModel {
            classifier,
            params: GmmFrameModel::default_params(),
        }));
    }
    if let Some(classifier) = v.gmm_ubm {
        let enrolled = v
            .enrolled_supervectors
            .ok_or_else(|| Error::shape("gmm-ubm", "with its enrolled supervectors", "none"))?;
        models.push(TrainedModel::GmmUbm(GmmUbmModel {
            classifier,
            enrolled,
        }));
    }
    let k = v.speakers.len();
    for (kind, b) in v.baselines {
        // Version 1's baselines read clip vectors standardised by the set's scaler.
        let sb = ScaledBaseline::from_parts(v.clip_scaler.clone(), b, k);
        models.push(match kind {
            ModelKind::Svm => TrainedModel::Svm(SvmModel::from(sb)),
            ModelKind::RandomForest => TrainedModel::RandomForest(RandomForestModel::from(sb)),
            ModelKind::Knn => TrainedModel::Knn(KnnModel::from(sb)),
            ModelKind::Logistic => TrainedModel::Logistic(LogisticModel::from(sb)),
            other => {
                return Err(Error::shape("baselines", "svm or knn", other));
            }
        });
    }
    models.sort_by_key(TrainedModel::kind);
    Ok(SpeakerModels {
        speakers: v.speakers,
        names: v.names,
        clip_counts: v.clip_counts,
        params,
        clip_vectors: ClipVectorEmbedding {
            scaler: v.clip_scaler,
            enrolled: v.enrolled_clip_vectors,
        },
        models,
        train_seconds: v.train_seconds,
        skipped_models: v.skipped_models,
        out_of_date: Vec::new(),
        calibration: None,
        calibration_skipped: None,
        narrowband: None,
    })
}
