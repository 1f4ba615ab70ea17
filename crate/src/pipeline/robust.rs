//! Channel robustness around the models: multi-condition training (enrolment with
//! degraded copies of the training clips), bandwidth-matched models (a second set
//! trained on narrowband copies, used for narrowband queries), and evaluation on
//! degraded copies of the test clips (`evaluate --query-condition`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

use super::extract::{extract, ClipFeatures};
use super::params::{ModelKind, NarrowbandParams, PipelineParams};
use super::train::{SpeakerModels, TrainEvent};
use crate::audio::Audio;
use crate::dataset::Dataset;
use crate::degrade::{self, Condition};
use crate::error::{Error, Result};

/// The default multi-condition training copies (see the README's table for how they
/// were chosen). None of them is a test condition: their band edges, filter orders,
/// noise kinds, SNRs and rooms differ from `telephone`, `white:15`, `babble:10` and
/// `reverb:0.5`.
pub fn default_augment() -> Vec<String> {
    Vec::new()
}

/// How many other-speaker clips are offered to one babble step.
const BABBLE_POOL: usize = 12;

/// Power above `detect_hz` relative to power in 300-3400 Hz, in dB (negative: less
/// above), from the averaged power spectrum of the whole clip (512-point frames).
/// `-inf` when nothing lies above `detect_hz` (the clip's Nyquist frequency is below
/// it) and `+inf` for a clip with no power in the voice band.
///
/// ```
/// use speaker_similarity::{Audio, degrade, pipeline::upper_band_db};
/// # fn main() -> speaker_similarity::Result<()> {
/// let hiss = Audio::new((0..16000).map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5).collect(), 16000)?;
/// assert!(upper_band_db(&hiss, 4000.0)?.abs() < 10.0);     // broadband: about level
/// let phone = degrade::telephone(&hiss, &Default::default())?.resample(16000)?;
/// assert!(upper_band_db(&phone, 4000.0)? < -50.0);          // nothing above 4 kHz
/// # Ok(())
/// # }
/// ```
pub fn upper_band_db(audio: &Audio, detect_hz: f64) -> Result<f64> {
    let nyq = audio.sample_rate as f64 / 2.0;
    if nyq <= detect_hz {
        return Ok(f64::NEG_INFINITY);
    }
    let n_fft = 512;
    let mut s = audio.samples.clone();
    if s.len() < n_fft {
        s.resize(n_fft, 0.0);
    }
    let p = crate::features::stft_power(&s, n_fft, n_fft / 2)?;
    let hz_per_bin = audio.sample_rate as f64 / n_fft as f64;
    let (mut high, mut band) = (0f64, 0f64);
    for (k, row) in p.rows().into_iter().enumerate() {
        let f = k as f64 * hz_per_bin;
        let e: f64 = row.iter().map(|&v| v as f64).sum();
        if f >= detect_hz {
            high += e;
        } else if (300.0..=3400.0).contains(&f) {
            band += e;
        }
    }
    if band <= 0.0 {
        return Ok(f64::INFINITY);
    }
    Ok(10.0 * (high.max(1e-300) / band).log10())
}

/// Whether a recording is narrowband by the rule of [`NarrowbandParams`].
pub fn is_narrowband(audio: &Audio, params: &NarrowbandParams) -> Result<bool> {
    Ok(upper_band_db(audio, params.detect_hz)? < -params.detect_db)
}

impl SpeakerModels {
    /// The models that should score this recording: the narrowband models for a
    /// narrowband recording when they were trained, else these.
    pub fn route(&self, audio: &Audio) -> Result<&SpeakerModels> {
        match (&self.narrowband, &self.params.narrowband) {
            (Some(nb), Some(p)) if is_narrowband(audio, p)? => Ok(nb),
            _ => Ok(self),
        }
    }

    /// Features of a recording for the models that [`SpeakerModels::route`] picks,
    /// with those models.
    pub fn routed_features(&self, audio: &Audio) -> Result<(&SpeakerModels, ClipFeatures)> {
        let m = self.route(audio)?;
        Ok((m, extract(audio, &m.params)?))
    }
}

/// A deterministic per-clip seed.
fn clip_seed(seed: u64, clip: usize, salt: u64) -> u64 {
    seed ^ (clip as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ salt.wrapping_mul(0x9E37_79B9)
}

/// Up to [`BABBLE_POOL`] clips (by position in `audios`) of other speakers than
/// `labels[me]`, chosen by `seed`.
fn babble_pool(audios: &[Audio], labels: &[usize], me: usize, seed: u64) -> Vec<Audio> {
    let mut others: Vec<usize> = (0..audios.len())
        .filter(|&j| labels[j] != labels[me])
        .collect();
    others.shuffle(&mut StdRng::seed_from_u64(seed));
    others.truncate(BABBLE_POOL);
    others.into_iter().map(|j| audios[j].clone()).collect()
}

/// Train the models as [`SpeakerModels::train`] does, plus the robustness methods of
/// `params`: every training clip also enrolled through each `params.augment`
/// condition (babble from other speakers' training clips), and, with
/// `params.narrowband`, a second model set trained on narrowband copies (clean and
/// augmented, resampled to the narrowband rate, frame features on its mel range) —
/// unless every training clip is narrowband already (then the main models are).
/// `clips[i]` is the data-set index of the clip whose features are `features[i]`,
/// labelled `labels[i]`. Without augmentation and narrowband models this is
/// `SpeakerModels::train` on the features given.
#[allow(clippy::too_many_arguments)]
pub fn train_robust(
    data: &Dataset,
    clips: &[usize],
    features: &[ClipFeatures],
    labels: &[usize],
    speakers: Vec<String>,
    names: BTreeMap<String, String>,
    params: &PipelineParams,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<SpeakerModels> {
    params.validate()?;
    let nb_params = params.narrowband_params();
    if params.augment.is_empty() && nb_params.is_none() {
        return SpeakerModels::train(features, labels, speakers, names, params, on_event);
    }
    if clips.len() != features.len() || labels.len() != features.len() {
        return Err(Error::Shape(format!(
            "{} clips, {} feature sets, {} labels",
            clips.len(),
            features.len(),
            labels.len()
        )));
    }
    let audios: Vec<Audio> = clips
        .par_iter()
        .map(|&i| {
            data.clips
                .get(i)
                .ok_or_else(|| Error::param("clips", format!("no clip {i}")))?
                .load()
        })
        .collect::<Result<_>>()?;
    let conditions: Vec<Condition> = params
        .augment
        .iter()
        .map(|c| Condition::parse(c))
        .collect::<Result<_>>()?;
    // The augmented copies: (audio, label). A copy that cannot be made or used (too
    // short after a filter, say) is left out; the clean clip is still there.
    let jobs: Vec<(usize, usize)> = (0..audios.len())
        .flat_map(|j| (0..conditions.len()).map(move |c| (j, c)))
        .collect();
    let copies: Vec<(Audio, usize)> = jobs
        .par_iter()
        .filter_map(|&(j, c)| {
            let seed = clip_seed(params.seed, clips[j], c as u64 + 17);
            let pool = if conditions[c].needs_babble() {
                babble_pool(&audios, labels, j, seed)
            } else {
                Vec::new()
            };
            degrade::apply(&audios[j], &conditions[c], seed, &pool)
                .ok()
                .map(|a| (a, labels[j]))
        })
        .collect();
    let copy_features: Vec<(ClipFeatures, usize)> = copies
        .par_iter()
        .filter_map(|(a, l)| extract(a, params).ok().map(|f| (f, *l)))
        .collect();
    let mut all_f: Vec<ClipFeatures> = features.to_vec();
    let mut all_y: Vec<usize> = labels.to_vec();
    for (f, l) in copy_features {
        all_f.push(f);
        all_y.push(l);
    }
    let mut models = SpeakerModels::train(
        &all_f,
        &all_y,
        speakers.clone(),
        names.clone(),
        params,
        on_event,
    )?;
    drop(all_f);
    // Bandwidth matching matters only when the enrolment is wideband: when every
    // training clip is narrowband already (8 kHz corpora), the main models are
    // narrowband models, and a second set would only drop their low band.
    let all_narrow = match &params.narrowband {
        Some(nb) => audios
            .par_iter()
            .map(|a| is_narrowband(a, nb))
            .collect::<Result<Vec<bool>>>()?
            .into_iter()
            .all(|b| b),
        None => true,
    };
    if let (Some(nbp), Some(nb), false) = (nb_params, &params.narrowband, all_narrow) {
        let narrow: Vec<(ClipFeatures, usize)> = audios
            .par_iter()
            .zip(labels.par_iter())
            .chain(copies.par_iter().map(|(a, l)| (a, l)))
            .filter_map(|(a, &l)| {
                let a = a.resample(nb.sample_rate.min(a.sample_rate)).ok()?;
                extract(&a, &nbp).ok().map(|f| (f, l))
            })
            .collect();
        let (f, y): (Vec<ClipFeatures>, Vec<usize>) = narrow.into_iter().unzip();
        let sub = SpeakerModels::train(&f, &y, speakers, names, &nbp, on_event)?;
        models.narrowband = Some(Box::new(sub));
    }
    Ok(models)
}

/// A test clip as the models see it: features for the main models, and, when the
/// (degraded) clip is narrowband and narrowband models exist, features for those.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub main: ClipFeatures,
    pub narrow: Option<ClipFeatures>,
}

/// Degrade the test clips by `condition` (seeded per clip; babble mixed from test
/// clips of other speakers — never from training clips, never from the query's own
/// speaker), extract their features and route them. Returns the queries, in
/// order, and the positions of clips that could not be used with the reason.
pub(crate) fn degraded_queries(
    data: &Dataset,
    test_clips: &[usize],
    y_test: &[usize],
    condition: &Condition,
    models: &SpeakerModels,
    on_progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<(usize, Result<Query>)>> {
    let audios: Vec<Result<Audio>> = test_clips
        .par_iter()
        .map(|&i| {
            data.clips
                .get(i)
                .ok_or_else(|| Error::param("clips", format!("no clip {i}")))?
                .load()
        })
        .collect();
    // The babble pool of a query: loaded test clips of other speakers.
    let ok: Vec<usize> = (0..audios.len()).filter(|&j| audios[j].is_ok()).collect();
    let ok_audio: Vec<Audio> = ok
        .iter()
        .filter_map(|&j| audios[j].as_ref().ok().cloned())
        .collect();
    let ok_labels: Vec<usize> = ok.iter().map(|&j| y_test[j]).collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = test_clips.len();
    let seed = models.params.seed;
    Ok((0..audios.len())
        .into_par_iter()
        .map(|j| {
            let r = (|| -> Result<Query> {
                let clean = audios[j]
                    .as_ref()
                    .map_err(|e| Error::Shape(e.to_string()))?;
                let s = clip_seed(seed, test_clips[j], 0xdead);
                let audio = if condition.is_clean() {
                    clean.clone()
                } else {
                    let pool = if condition.needs_babble() {
                        let me = ok.iter().position(|&k| k == j).unwrap_or(0);
                        babble_pool(&ok_audio, &ok_labels, me, s)
                    } else {
                        Vec::new()
                    };
                    degrade::apply(clean, condition, s, &pool)?
                };
                let main = extract(&audio, &models.params)?;
                let routed = models.route(&audio)?;
                let narrow = if std::ptr::eq(routed, models) {
                    None
                } else {
                    Some(extract(&audio, &routed.params)?)
                };
                Ok(Query { main, narrow })
            })();
            on_progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            (j, r)
        })
        .collect())
}

/// The class every model predicts for each query, narrowband queries scored by the
/// narrowband models.
pub(crate) fn predict_queries(
    models: &SpeakerModels,
    queries: &[Query],
) -> Result<Vec<(ModelKind, Vec<usize>)>> {
    let mains: Vec<ClipFeatures> = queries.iter().map(|q| q.main.clone()).collect();
    let mut out = models.predict_classes(&mains)?;
    let narrow_at: Vec<usize> = (0..queries.len())
        .filter(|&i| queries[i].narrow.is_some())
        .collect();
    if let (Some(nb), false) = (&models.narrowband, narrow_at.is_empty()) {
        let nf: Vec<ClipFeatures> = narrow_at
            .iter()
            .filter_map(|&i| queries[i].narrow.clone())
            .collect();
        for (kind, pred) in nb.predict_classes(&nf)? {
            if let Some((_, main_pred)) = out.iter_mut().find(|(k, _)| *k == kind) {
                for (&i, &p) in narrow_at.iter().zip(&pred) {
                    main_pred[i] = p;
                }
            }
        }
    }
    Ok(out)
}

/// The class of the most similar enrolled speaker (what `similar -k 1` answers) for
/// each query.
pub(crate) fn similar_top1(models: &SpeakerModels, queries: &[Query]) -> Result<Vec<usize>> {
    queries
        .par_iter()
        .map(|q| {
            let (m, f) = match (&q.narrow, &models.narrowband) {
                (Some(f), Some(nb)) => (nb.as_ref(), f),
                _ => (models, &q.main),
            };
            let e = m.embedding(f)?;
            let enrolled = m
                .enrolled_supervectors
                .as_ref()
                .filter(|_| m.gmm_ubm.is_some())
                .unwrap_or(&m.enrolled_clip_vectors);
            let top = enrolled.most_similar(&e.to_vec(), 1)?;
            let id = top
                .first()
                .map(|s| s.speaker.clone())
                .ok_or_else(|| Error::Training("no enrolled speaker".into()))?;
            models
                .speakers
                .binary_search(&id)
                .or_else(|_| models.speakers.iter().position(|s| *s == id).ok_or(()))
                .map_err(|_| Error::Training(format!("unknown speaker {id}")))
        })
        .collect()
}

/// Paths of clips, for reports.
pub(crate) fn clip_path(data: &Dataset, i: usize) -> PathBuf {
    data.clips
        .get(i)
        .map(|c| c.path.clone())
        .unwrap_or_else(|| PathBuf::from(format!("<clip {i}>")))
}
