//! Enrolment without retraining: add, replace or remove one speaker of a trained
//! model set ([`SpeakerModels::enroll`], [`SpeakerModels::remove_speaker`]).
//!
//! Models whose speakers are separate parts ([`Enrolment::PerSpeaker`]: the GMMs,
//! the GMM-UBM, the embeddings) fit the one speaker from its clips alone; every
//! other speaker's part, and so its scores, stay bit-identical. Models whose
//! speakers share parameters ([`Enrolment::Retrain`]: the MLP, the smartcore
//! baselines) cannot: they are dropped from the set and listed in
//! [`SpeakerModels::out_of_date`], so no prediction serves their stale classes
//! until `train` runs again.
//!
//! Embeddings: [`EnrolledSpeakers`](crate::similarity::EnrolledSpeakers) centres
//! on the mean of the speakers enrolled at training. That centre is kept fixed
//! (a new speaker is centred by it too), so adding or removing a speaker never
//! moves the others. The standardiser of the clip vectors is kept as trained.
//!
//! Calibration: the open-set calibration (see [`OpenSetCalibration::after_change`](super::OpenSetCalibration::after_change))
//! is kept when its score normalisation needs nothing per speaker (raw scores,
//! t-norm over the enrolled speakers of the moment), or switched, at no cost, to
//! the best such normalisation fitted at training time when it needed statistics
//! the new speaker does not have (s-norm). The report says which.
//!
//! Bandwidth-matched narrowband models ([`SpeakerModels::narrowband`]) are built
//! from audio: [`SpeakerModels::enroll_with`], given the clips' narrowband
//! features ([`SpeakerModels::narrowband_features`]), enrols the speaker in them
//! too; [`SpeakerModels::enroll`], from wideband features alone, drops them and
//! says so (narrowband queries then go to the main models).

use ndarray::Array1;
use serde::{Deserialize, Serialize};

use super::extract::{clip_matrix, extract, ClipFeatures};
use super::params::ModelKind;
use super::train::SpeakerModels;
use crate::audio::Audio;
use crate::error::{Error, Result};
use crate::models::speaker::{Enrolment, SpeakerModel};

/// The longest speaker id accepted.
pub const MAX_SPEAKER_ID: usize = 64;

/// Check a speaker id for enrolment: 1 to [`MAX_SPEAKER_ID`] characters, ASCII
/// letters, digits, `.`, `_` and `-`, not starting with `.` or `-` (so it is a
/// safe file name and never read as a flag).
///
/// ```
/// use speaker_similarity::pipeline::check_speaker_id;
/// assert!(check_speaker_id("id10270").is_ok());
/// assert!(check_speaker_id("../x").is_err());
/// assert!(check_speaker_id("").is_err());
/// ```
pub fn check_speaker_id(id: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if id.is_empty() || id.len() > MAX_SPEAKER_ID {
        return Err(Error::param(
            "speaker",
            format!(
                "a speaker id has 1 to {MAX_SPEAKER_ID} characters, got {}",
                id.len()
            ),
        ));
    }
    if let Some(c) = id.chars().find(|&c| !ok_char(c)) {
        return Err(Error::param(
            "speaker",
            format!("{id:?}: character {c:?} is not allowed (use letters, digits, `.`, `_`, `-`)"),
        ));
    }
    if id.starts_with(['.', '-']) {
        return Err(Error::param(
            "speaker",
            format!("{id:?}: an id cannot start with `.` or `-`"),
        ));
    }
    Ok(())
}

/// What an enrolment or removal did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolReport {
    /// The speaker id.
    pub speaker: String,
    /// True when the speaker was enrolled before (its parts were replaced) or,
    /// for a removal, always.
    pub replaced: bool,
    /// Models (and embeddings) that took the change, in [`ModelKind`] order.
    pub updated: Vec<ModelKind>,
    /// Models that could not take it and are now out of date (left out of
    /// predictions until `train` runs again), with the reason.
    pub out_of_date: Vec<(ModelKind, String)>,
    /// Speakers in the set afterwards.
    pub n_speakers: usize,
    /// Whether the open-set calibration was refreshed (`false`: kept as it was, or
    /// the set has none).
    #[serde(default)]
    pub calibration_refreshed: bool,
    /// What happened to the open-set calibration, for the user (`None`: the set
    /// has none).
    #[serde(default)]
    pub calibration: Option<String>,
    /// What happened to the bandwidth-matched narrowband models
    /// ([`SpeakerModels::narrowband`]), for the user (`None`: the set has none).
    #[serde(default)]
    pub narrowband: Option<String>,
}

/// The kinds a change updated, and the (kind, reason) of those it left out of date.
type ChangedModels = (Vec<ModelKind>, Vec<(ModelKind, String)>);

impl SpeakerModels {
    /// Add speaker `speaker` from its clips, or replace it when it is enrolled
    /// already (see the [module](self) for what changes). `name` sets its display
    /// name (kept from before when `None`). The set is changed only when every
    /// model succeeded.
    ///
    /// Errors: an id [`check_speaker_id`] refuses, or a `name` that is the id or
    /// display name of another speaker ([`Error::InvalidParameter`]); no clip
    /// ([`Error::InvalidParameter`]) or no voiced frame ([`Error::NoSpeech`]);
    /// clips that do not fit the models ([`Error::Shape`]).
    ///
    /// Narrowband models, when the set has them, are dropped (their features come
    /// from audio: see [`SpeakerModels::enroll_with`]); the report says so.
    pub fn enroll(
        &mut self,
        speaker: &str,
        name: Option<&str>,
        clips: &[ClipFeatures],
    ) -> Result<EnrolReport> {
        self.enroll_with(speaker, name, clips, None)
    }

    /// Features of a recording for the narrowband models: resampled to their rate
    /// (when higher) and extracted with their settings, as their training clips
    /// were. `None` when the set has no narrowband models.
    ///
    /// ```
    /// use speaker_similarity::pipeline::{
    ///     extract, train_dataset, ModelKind, NarrowbandParams, PipelineParams,
    /// };
    /// use speaker_similarity::synth::{SynthCorpus, SynthParams};
    /// # fn main() -> speaker_similarity::Result<()> {
    /// let data = SynthCorpus::generate(&SynthParams {
    ///     speakers: 4,
    ///     clips_per_speaker: 5,
    ///     ..SynthParams::default()
    /// })?;
    /// let labels = data.labels();
    /// let (first, last): (Vec<usize>, Vec<usize>) = (0..data.len()).partition(|&i| labels[i] < 3);
    /// let mut params = PipelineParams {
    ///     narrowband: Some(NarrowbandParams::default()),
    ///     models: vec![ModelKind::GmmUbm],
    ///     ..PipelineParams::default()
    /// };
    /// params.settings.gmm_ubm.ubm.n_components = 8;
    /// let mut models = train_dataset(&data, &first, &params, &|_| {})?.models;
    /// // The fourth voice, enrolled in the wideband and the narrowband models.
    /// let audio: Vec<_> = last.iter().map(|&i| data.clips[i].load()).collect::<Result<_, _>>()?;
    /// let wide: Vec<_> = audio.iter().map(|a| extract(a, &models.params)).collect::<Result<_, _>>()?;
    /// let narrow: Option<Vec<_>> =
    ///     audio.iter().map(|a| models.narrowband_features(a)).collect::<Result<_, _>>()?;
    /// let report = models.enroll_with("newcomer", Some("New Voice"), &wide, narrow.as_deref())?;
    /// assert_eq!(models.narrowband.as_ref().unwrap().speakers, models.speakers);
    /// println!("{}", report.narrowband.unwrap());
    /// # Ok(())
    /// # }
    /// ```
    pub fn narrowband_features(&self, audio: &Audio) -> Result<Option<ClipFeatures>> {
        let (Some(nb), Some(p)) = (&self.narrowband, &self.params.narrowband) else {
            return Ok(None);
        };
        let a = audio.resample(p.sample_rate.min(audio.sample_rate))?;
        extract(&a, &nb.params).map(Some)
    }

    /// [`SpeakerModels::enroll`], and, given `narrowband` (the same clips'
    /// [`narrowband_features`](SpeakerModels::narrowband_features)), the speaker
    /// enrolled in the narrowband models as well, so narrowband queries keep their
    /// bandwidth-matched models. When that enrolment fails (no voiced frame in the
    /// narrowband copies, say) the narrowband models are dropped and the report says
    /// why; with `narrowband = None` they are dropped too.
    pub fn enroll_with(
        &mut self,
        speaker: &str,
        name: Option<&str>,
        clips: &[ClipFeatures],
        narrowband: Option<&[ClipFeatures]>,
    ) -> Result<EnrolReport> {
        check_speaker_id(speaker)?;
        if let Some(n) = name {
            if n.trim().is_empty() {
                return Err(Error::param("name", "a display name cannot be empty"));
            }
            if let Some(other) = self
                .speakers
                .iter()
                .find(|s| s.as_str() != speaker && (s.as_str() == n || self.display_name(s) == n))
            {
                return Err(Error::param(
                    "name",
                    format!("{n:?} already names speaker {other:?}; choose another name"),
                ));
            }
        }
        if clips.is_empty() {
            return Err(Error::param("clips", "enrolment needs at least one clip"));
        }
        let voiced: Vec<ClipFeatures> = clips
            .iter()
            .filter(|c| c.frames.nrows() > 0)
            .cloned()
            .collect();
        if voiced.is_empty() {
            return Err(Error::NoSpeechFound {
                speech_seconds: 0.0,
                reason: format!(
                    "none of the {} clips of speaker {speaker:?} holds speech",
                    clips.len()
                ),
            });
        }
        let replaced = self.speakers.iter().any(|s| s == speaker);

        let mut next = self.clone();
        // The simple embedding: mean standardised clip vector, same scaler.
        let xs = next
            .clip_vectors
            .scaler
            .transform(clip_matrix(&voiced)?.view())?;
        let mean: Array1<f32> = xs
            .mean_axis(ndarray::Axis(0))
            .ok_or_else(|| Error::too_short("the enrolment clips", 1.0, 0.0, "clip"))?;
        next.clip_vectors.enrolled.upsert(speaker, &mean.to_vec())?;

        let done = if replaced { "replaced" } else { "enrolled" };
        let (updated, stale) = next.change_models(speaker, done, |kind, m| {
            m.enroll(speaker, &voiced)
                .map_err(|e| e.within(format_args!("{kind} of speaker {speaker:?}")))
        })?;
        match next.speakers.iter().position(|s| s == speaker) {
            Some(i) => next.clip_counts[i] = voiced.len(),
            None => {
                next.speakers.push(speaker.to_string());
                next.clip_counts.push(voiced.len());
            }
        }
        if let Some(n) = name {
            next.names.insert(speaker.to_string(), n.to_string());
        }
        next.out_of_date.extend(stale.iter().cloned());
        let cal = next
            .calibration
            .as_mut()
            .map(|c| c.after_change(speaker, false));
        // The narrowband set is built from audio: without the clips' narrowband
        // features it is dropped (narrowband queries then go to the main models)
        // until `train` runs again.
        let narrowband = match (next.narrowband.as_mut(), narrowband) {
            (None, _) => None,
            (Some(nb), Some(c)) => match nb.enroll(speaker, name, c) {
                Ok(_) => Some(format!(
                    "speaker {speaker:?} {done} in the narrowband models too"
                )),
                Err(e) => {
                    next.narrowband = None;
                    Some(format!(
                        "narrowband models dropped: speaker {speaker:?} could not be {done} in \
                         them ({e}); narrowband queries use the main models until \
                         `speaker-similarity train` runs again"
                    ))
                }
            },
            (Some(_), None) => {
                next.narrowband = None;
                Some(format!(
                    "narrowband models dropped: speaker {speaker:?} was {done} from features \
                     only; narrowband queries use the main models until `speaker-similarity \
                     train` runs again"
                ))
            }
        };
        next.validate()?;
        *self = next;
        Ok(EnrolReport {
            speaker: speaker.to_string(),
            replaced,
            updated,
            out_of_date: stale,
            n_speakers: self.speakers.len(),
            calibration_refreshed: cal.as_ref().is_some_and(|c| c.0),
            calibration: cal.map(|c| c.1),
            narrowband,
        })
    }

    /// Remove speaker `speaker` (its display name too); the other speakers' parts
    /// stay bit-identical, models that share parameters become out of date as in
    /// [`SpeakerModels::enroll`]. The set is changed only on success.
    ///
    /// Errors: an unknown speaker, or a set that would keep fewer than two
    /// speakers ([`Error::InvalidParameter`]).
    pub fn remove_speaker(&mut self, speaker: &str) -> Result<EnrolReport> {
        let Some(i) = self.speakers.iter().position(|s| s == speaker) else {
            return Err(Error::param(
                "speaker",
                format!("{speaker:?} is not a speaker of this model"),
            ));
        };
        if self.speakers.len() <= 2 {
            return Err(Error::param(
                "speaker",
                format!("cannot remove {speaker:?}: a model needs at least 2 speakers"),
            ));
        }
        let mut next = self.clone();
        next.clip_vectors.enrolled.remove(speaker)?;
        let (updated, stale) = next.change_models(speaker, "removed", |_, m| m.remove(speaker))?;
        next.speakers.remove(i);
        next.clip_counts.remove(i);
        next.names.remove(speaker);
        next.out_of_date.extend(stale.iter().cloned());
        let cal = next
            .calibration
            .as_mut()
            .map(|c| c.after_change(speaker, true));
        // The narrowband set loses the speaker the same way.
        let narrowband = match next.narrowband.as_mut() {
            Some(nb) => Some(match nb.remove_speaker(speaker) {
                Ok(_) => format!("speaker {speaker:?} removed from the narrowband models too"),
                Err(e) => {
                    next.narrowband = None;
                    format!("narrowband models dropped ({e}); retrain to restore them")
                }
            }),
            None => None,
        };
        next.validate()?;
        *self = next;
        Ok(EnrolReport {
            speaker: speaker.to_string(),
            replaced: true,
            updated,
            out_of_date: stale,
            n_speakers: self.speakers.len(),
            calibration_refreshed: cal.as_ref().is_some_and(|c| c.0),
            calibration: cal.map(|c| c.1),
            narrowband,
        })
    }

    /// Apply `change` (given the model's kind) to every model that enrols per speaker; drop the models that
    /// share parameters between speakers and mark them out of date, saying that
    /// `speaker` was `done` (enrolled, replaced, removed). The kinds updated, and the
    /// (kind, reason) of those now out of date.
    fn change_models(
        &mut self,
        speaker: &str,
        done: &str,
        mut change: impl FnMut(ModelKind, &mut dyn SpeakerModel) -> Result<()>,
    ) -> Result<ChangedModels> {
        let mut updated = Vec::new();
        let mut stale = Vec::new();
        let mut kept = Vec::new();
        for mut m in std::mem::take(&mut self.models) {
            let kind = m.kind();
            match m.model().enrolment() {
                Enrolment::PerSpeaker => {
                    change(kind, m.model_mut())?;
                    updated.push(kind);
                    kept.push(m);
                }
                Enrolment::Retrain => {
                    stale.push((
                        kind,
                        format!(
                            "speaker {speaker:?} was {done} after training; {kind} shares \
                             parameters between speakers: run `speaker-similarity train` again"
                        ),
                    ));
                    self.train_seconds.remove(&kind);
                }
            }
        }
        self.models = kept;
        Ok((updated, stale))
    }
}
