//! Which models the pipeline trains, and with what settings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::{ClipVectorParams, FrameFeatureParams};
use crate::models::speaker::{Hyperparams, Valid};
pub use crate::models::speaker::{ModelKind, ModelSettings};

impl ModelKind {
    /// Parse a comma-separated list (`"mlp,gmm-ubm"`, `"all"`, `"main"`).
    pub fn parse_list(s: &str) -> Result<Vec<ModelKind>> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => out.extend(ModelKind::ALL),
                "main" => out.extend(ModelKind::MAIN),
                other => out.push(other.parse()?),
            }
        }
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(Error::param("models", "no model named"));
        }
        Ok(out)
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == lower || k.aliases().contains(&lower.as_str()))
            .ok_or_else(|| {
                Error::param(
                    "models",
                    format!(
                        "unknown model `{s}`; choose from {} (or `main`, `all`)",
                        ModelKind::ALL.map(|k| k.name()).join(", ")
                    ),
                )
            })
    }
}

/// Everything the pipeline needs to know to train its models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineParams {
    /// The 52-dim clip vector (default: the original recipe — MFCC and delta means
    /// of the first 2 s at 16 kHz, 13 ZCR splits, LPC of order 12).
    pub clip: ClipVectorParams,
    /// Frame features for the GMMs (default: 20 MFCC + 20 delta at 16 kHz, 32 ms
    /// windows every 10 ms, voiced frames only, over the whole clip — and, unlike
    /// [`FrameFeatureParams::default`], *without* per-utterance mean/variance
    /// normalisation: on short clips CMVN removes the speaker's average spectral
    /// envelope along with the channel. Measured with seed 42, GMM-UBM accuracy
    /// without/with CMVN: dsp34 99.5 % / 93.6 %, fsdd 99.1 % / 99.1 %, synthetic
    /// 97.2 % / 95.8 %; frame GMM: 99.3 / 88.2, 100 / 98.2, 98.6 / 97.2. Turn it on
    /// for recordings that each come through a different channel.)
    pub frames: FrameFeatureParams,
    /// Share of each speaker's training clips held out to monitor the MLP for early
    /// stopping (never the test clips). Default 0.2.
    pub validation_fraction: f64,
    /// Every model's hyperparameters, one field per model (see [`ModelSettings`]
    /// for the defaults): `settings.mlp`, `settings.gmm_clip`, `settings.gmm_frame`,
    /// `settings.gmm_ubm` (UBM, frames, relevance factor), ...
    pub settings: ModelSettings,
    /// Models to train. Default [`ModelKind::MAIN`].
    pub models: Vec<ModelKind>,
    /// Seed for every random choice (splits, initialisations, shuffles). Default 42.
    pub seed: u64,
    /// Multi-condition training: every training clip is also enrolled through each of
    /// these [`crate::degrade::Condition`]s (text, e.g. `"band:200:3700:2+pink:20"`),
    /// babble mixed from other speakers' training clips. Use other settings than
    /// the conditions tested on. Default: [`crate::pipeline::default_augment`].
    #[serde(default)]
    pub augment: Vec<String>,
    /// Bandwidth-matched models: also train the models on narrowband copies of the
    /// training clips and score narrowband queries with them. Default: `None`
    /// (off): the narrowband set doubles training time and model size (it streams
    /// its clips, so memory stays bounded, unless `augment` is set too).
    /// `Some(`[`NarrowbandParams::default`]`)` (`--narrowband on`) lifts dsp34
    /// telephone queries from 2.5 % to 70.1 % top-1 (README, "Channels").
    #[serde(default)]
    pub narrowband: Option<NarrowbandParams>,
    /// Fit the GMM-UBM's open-set calibration ([`SpeakerModels::calibration`](super::SpeakerModels::calibration))
    /// when the models are trained. Default `true`; the `evaluate` command turns it
    /// off, since it scores no verdict and the calibration costs more than training
    /// the GMM-UBM (it makes a UBM and speaker models per speaker fold).
    #[serde(default = "calibrate_default")]
    pub calibrate: bool,
}

fn calibrate_default() -> bool {
    true
}

/// Bandwidth matching: how narrowband models are trained and which queries use them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NarrowbandParams {
    /// Training clips are resampled to this rate for the narrowband models.
    /// Default 8000 Hz.
    pub sample_rate: u32,
    /// Lowest mel band edge of the narrowband frame features. Default 300 Hz.
    pub fmin: f64,
    /// Highest mel band edge of the narrowband frame features. Default 3400 Hz.
    pub fmax: f64,
    /// A query counts as narrowband when its sample rate is at most
    /// `2 * detect_hz` or its power above `detect_hz` is more than `detect_db`
    /// below its power in 300-3400 Hz. Default 4000 Hz.
    pub detect_hz: f64,
    /// See `detect_hz`. Default 50 dB.
    pub detect_db: f64,
    /// Feature warping window (frames) of the narrowband models' frame features
    /// only ([`FrameFeatureParams::warp_window`]); the main models keep theirs, so
    /// wideband answers do not change. Default `None`: with `floor_db` 6, warping
    /// (301 frames) helps the synthetic corpus' telephone queries (GMM-UBM top-1
    /// 80.6 -> 84.7 %) but hurts dsp34's ~1 s real clips (70.1 -> 57.1 %).
    #[serde(default)]
    pub warp_window: Option<usize>,
    /// Noise-floor frame selection (dB above the clip's noise floor) of the
    /// narrowband models' frame features only ([`FrameFeatureParams::floor_db`]).
    /// Default `Some(6.0)`: telephone+white:15 GMM-UBM top-1 dsp34 28.7 -> 70.1 %,
    /// synthetic 76.4 -> 80.6 %, wideband answers unchanged.
    #[serde(default)]
    pub floor_db: Option<f32>,
}

impl Default for NarrowbandParams {
    fn default() -> Self {
        NarrowbandParams {
            sample_rate: 8000,
            fmin: 300.0,
            fmax: 3400.0,
            detect_hz: 4000.0,
            detect_db: 50.0,
            warp_window: None,
            floor_db: Some(6.0),
        }
    }
}

impl NarrowbandParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        crate::audio::Audio::new(Vec::new(), self.sample_rate)?;
        if !(self.fmin.is_finite()
            && self.fmin >= 0.0
            && self.fmax > self.fmin
            && self.fmax <= self.sample_rate as f64 / 2.0)
        {
            return Err(Error::param(
                "narrowband",
                format!(
                    "mel range {}-{} Hz must lie inside 0-{} Hz",
                    self.fmin,
                    self.fmax,
                    self.sample_rate / 2
                ),
            ));
        }
        if !(self.detect_hz.is_finite() && self.detect_hz > 3400.0) {
            return Err(Error::param(
                "detect_hz",
                format!("{} Hz must be above 3400 Hz", self.detect_hz),
            ));
        }
        if !(self.detect_db.is_finite() && self.detect_db > 0.0) {
            return Err(Error::param(
                "detect_db",
                format!("{} dB must be > 0", self.detect_db),
            ));
        }
        Ok(())
    }
}

impl Default for PipelineParams {
    fn default() -> Self {
        PipelineParams {
            clip: ClipVectorParams::default(),
            frames: FrameFeatureParams {
                cmvn: false,
                ..FrameFeatureParams::default()
            },
            validation_fraction: 0.2,
            settings: ModelSettings::default(),
            models: ModelKind::MAIN.to_vec(),
            seed: 42,
            augment: super::robust::default_augment(),
            narrowband: None,
            calibrate: true,
        }
    }
}

/// Pipeline parameters whose check passed: what [`evaluate`](super::evaluate),
/// [`extract`](super::extract), [`SplitFeatures::extract`](super::SplitFeatures)
/// and [`SpeakerModels::train`](super::SpeakerModels::train) pass on to each other,
/// so they are checked once, where they enter. Make one with
/// [`PipelineParams::check`]; it reads like a [`PipelineParams`].
pub type ValidParams = Valid<PipelineParams>;

impl PipelineParams {
    /// Check every field (and every model's hyperparameters).
    pub fn validate(&self) -> Result<()> {
        self.clip.validate()?;
        self.frames.validate()?;
        self.settings.validate()?;
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return Err(Error::param(
                "validation_fraction",
                format!("must be in (0, 1), got {}", self.validation_fraction),
            ));
        }
        if self.models.is_empty() {
            return Err(Error::param("models", "no model to train"));
        }
        for a in &self.augment {
            let c = crate::degrade::Condition::parse(a)?;
            if c.is_clean() {
                return Err(Error::param("augment", "a clean copy is the clip itself"));
            }
        }
        if let Some(n) = &self.narrowband {
            n.validate()?;
        }
        Ok(())
    }

    /// The settings of the narrowband models: frame features on the narrowband mel
    /// range, no augmentation of their own (the copies are made once), no further
    /// narrowband level. `None` when bandwidth matching is off.
    pub fn narrowband_params(&self) -> Option<PipelineParams> {
        let n = self.narrowband.as_ref()?;
        let mut p = self.clone();
        p.frames.fmin = n.fmin;
        p.frames.fmax = Some(n.fmax);
        if let Some(w) = n.warp_window {
            p.frames.warp_window = Some(w);
            p.frames.cmvn = false;
            p.frames.cmvn_window = None;
        }
        if let Some(d) = n.floor_db {
            p.frames.floor_db = Some(d);
        }
        p.narrowband = None;
        p.augment = Vec::new();
        Some(p)
    }

    /// These settings without any robustness method: no augmentation, no
    /// narrowband models.
    pub fn plain(&self) -> PipelineParams {
        PipelineParams {
            augment: Vec::new(),
            narrowband: None,
            ..self.clone()
        }
    }

    /// The checked parameters.
    pub fn check(self) -> Result<ValidParams> {
        Hyperparams::check(self)
    }

    /// Whether `kind` is among the models to train.
    pub fn wants(&self, kind: ModelKind) -> bool {
        self.models.contains(&kind)
    }
}

impl Hyperparams for PipelineParams {
    fn validate(&self) -> Result<()> {
        PipelineParams::validate(self)
    }
}
