//! Clusters named after enrolled speakers through the open-set verdicts.
//!
//! [`VerdictLabeler`] hands a cluster's pooled speech (up to
//! [`DiarizeParams::label_seconds`](super::DiarizeParams::label_seconds) of its
//! longest turns) to [`SpeakerModels::verdict_audio`]: an accepted verdict names the
//! cluster after the enrolled speaker (label = the speaker id, `name` = the display
//! name), a rejected one (or "no speech") leaves it `unknown_k`.
//!
//! ```no_run
//! use speaker_similarity::diarize::{diarize_file, label::VerdictLabeler, DiarizeParams};
//! use speaker_similarity::pipeline::SpeakerModels;
//! # fn main() -> speaker_similarity::Result<()> {
//! let models = SpeakerModels::load("model")?;
//! let labeler = VerdictLabeler::new(&models, None)?;
//! let d = diarize_file("meeting.wav", &DiarizeParams::default(), Some(&labeler), &|_, _| {})?;
//! for s in &d.speakers {
//!     println!("{} {} {:.1} s", s.label, s.name, s.seconds);
//! }
//! # Ok(())
//! # }
//! ```

use super::pipeline::{ClusterLabeler, Verdict};
use crate::audio::Audio;
use crate::error::Result;
use crate::pipeline::SpeakerModels;

/// Names clusters with a model set's open-set verdicts.
pub struct VerdictLabeler<'a> {
    models: &'a SpeakerModels,
    threshold: Option<f64>,
}

impl<'a> VerdictLabeler<'a> {
    /// A labeler for `models` at the acceptance `threshold` (calibrated natural-log
    /// LLR; `None`: the model's own). Errors when the model set has no open-set
    /// calibration, before any audio is read.
    pub fn new(models: &'a SpeakerModels, threshold: Option<f64>) -> Result<Self> {
        models.open_set()?;
        Ok(VerdictLabeler { models, threshold })
    }
}

impl ClusterLabeler for VerdictLabeler<'_> {
    fn verdict(&self, speech: &Audio) -> Result<Option<Verdict>> {
        let v = self.models.verdict_audio(speech, self.threshold)?;
        Ok(match (v.accepted, v.speaker, v.score) {
            (true, Some(id), Some(score)) => Some(Verdict {
                name: v.name.unwrap_or_else(|| id.clone()),
                speaker: id,
                score,
            }),
            _ => None,
        })
    }
}
