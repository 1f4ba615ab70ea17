//! Channel robustness around the models: multi-condition training (enrolment with
//! degraded copies of the training clips), bandwidth-matched models (a second set
//! trained on narrowband copies, used for narrowband queries), and the degraded
//! test clips of `evaluate --query-condition`.
//!
//! Multi-condition training holds the frame features of every training clip and
//! copy in memory, unlike the streaming [`train_dataset`](super::train_dataset)
//! without it: a model of a few thousand clips needs a few hundred MB. The
//! narrowband models alone stream: their clips are read again and resampled as
//! they are read, so memory stays flat in the data set's size.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

use super::extract::{extract_valid, ClipFeatures};
use super::params::{ModelKind, NarrowbandParams, ValidParams};
use super::stream::{first_pass, train_streaming, usable, Counter, DatasetTraining, Usable};
use super::train::SpeakerModels;
use crate::audio::Audio;
use crate::dataset::Dataset;
use crate::degrade::{self, Condition};
use crate::error::{Error, Result};
use crate::models::speaker::TrainingSet;
use crate::progress::ProgressFn;

/// The default multi-condition training copies: none, because every copy costs
/// a full pass of frame-model training (three copies: about four times the frame
/// models' training time), and notebooks and CI train models. See
/// [`robust_augment`] for the measured set to turn on.
pub fn default_augment() -> Vec<String> {
    Vec::new()
}

/// Multi-condition training copies measured in the README's table
/// (`--augment robust`): a 200-3700 Hz 2nd-order band with pink noise at 20 dB,
/// babble of 3 other speakers at 15 dB, a 0.3 s room with a 5 dB direct-to-
/// reverberant ratio. None is a test condition: other band edges, filter order,
/// noise kind, SNRs, talker count and room than `telephone`, `white:15`,
/// `babble:10` and `reverb:0.5`.
pub fn robust_augment() -> Vec<String> {
    ["band:200:3700:2+pink:20", "babble:15:3", "reverb:0.3:5"]
        .map(String::from)
        .to_vec()
}

/// How many other-speaker clips are offered to one babble step.
const BABBLE_POOL: usize = 12;

/// At most this many test clips are held as the babble sources of
/// `evaluate --query-condition babble:...` (spread over the speakers).
const TEST_BABBLE_CLIPS: usize = 64;

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
        Ok((m, extract_valid(audio, &m.params)?))
    }
}

/// A deterministic per-clip seed.
fn clip_seed(seed: u64, clip: usize, salt: u64) -> u64 {
    seed ^ (clip as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ salt.wrapping_mul(0x9E37_79B9)
}

/// Up to [`BABBLE_POOL`] clips of `pool` (labelled `labels`) of other speakers than
/// `me`, chosen by `seed`.
fn babble_pool(pool: &[Audio], labels: &[usize], me: usize, seed: u64) -> Vec<Audio> {
    let mut others: Vec<usize> = (0..pool.len()).filter(|&j| labels[j] != me).collect();
    others.shuffle(&mut StdRng::seed_from_u64(seed));
    others.truncate(BABBLE_POOL);
    others.into_iter().map(|j| pool[j].clone()).collect()
}

/// Load clip `i` of `data`, naming it in the error.
fn load(data: &Dataset, i: usize) -> Result<Audio> {
    data.clips
        .get(i)
        .ok_or_else(|| Error::param("clips", format!("no clip {i}")))?
        .load()
        .map_err(|e| e.within(data.clips[i].path.display()))
}

/// Train `params.models` on the clips `clips` of `data` with the robustness methods
/// of `params`, as [`train_dataset`](super::train_dataset) does without them:
/// - `params.augment`: every training clip is also enrolled through each
///   condition (seeded per clip; babble mixed from other speakers' training clips);
///   a copy that cannot be made or used (too short after a filter, say) is left
///   out, the clean clip stays. The open-set calibration is fitted on the clean
///   clips alone.
/// - `params.narrowband`: a second model set on narrowband copies of the clips
///   (clean and augmented, resampled to the narrowband rate, frame features on its
///   mel range) — unless every training clip is narrowband already, when the main
///   models are narrowband models.
///
/// Without either this is the streaming training itself.
pub(crate) fn train_robust(
    data: &Dataset,
    clips: &[usize],
    params: &ValidParams,
    counter: &Counter<'_>,
    on_progress: ProgressFn<'_>,
) -> Result<DatasetTraining> {
    let calibrate = params.calibrate;
    if params.augment.is_empty() && params.narrowband.is_none() {
        return train_streaming(data, clips, params, counter, on_progress, None);
    }
    let conditions: Vec<Condition> = params
        .augment
        .iter()
        .map(|c| Condition::parse(c))
        .collect::<Result<_>>()?;
    let mut training = if conditions.is_empty() {
        train_streaming(data, clips, params, counter, on_progress, None)?
    } else {
        // Which clips and speakers are usable, as the streaming training decides.
        let first = first_pass(data, clips, params, counter, false, None)?;
        let Usable {
            speakers,
            skipped,
            unusable,
            train_clips,
            labels,
            ..
        } = usable(data, clips, first)?;
        let audios = load_all(data, &train_clips)?;
        let clean: Vec<ClipFeatures> = audios
            .par_iter()
            .map(|a| extract_valid(a, params))
            .collect::<Result<_>>()?;
        let copies = augmented(&audios, &labels, &train_clips, &conditions, params.seed);
        let copy_f: Vec<(ClipFeatures, usize)> = copies
            .par_iter()
            .filter_map(|(a, l)| extract_valid(a, params).ok().map(|f| (f, *l)))
            .collect();
        let mut all_f = clean.clone();
        let mut all_y = labels.clone();
        for (f, l) in copy_f {
            all_f.push(f);
            all_y.push(l);
        }
        let set = TrainingSet::new(
            &all_f,
            &all_y,
            &speakers,
            params.seed,
            params.validation_fraction,
        )?;
        let mut models = SpeakerModels::train_set_with(
            &set,
            data.names.clone(),
            params,
            Vec::new(),
            false,
            on_progress,
        )?;
        drop(set);
        drop(all_f);
        let clean_set = TrainingSet::new(
            &clean,
            &labels,
            &speakers,
            params.seed,
            params.validation_fraction,
        )?;
        if calibrate {
            models.calibrate(&clean_set);
        }
        DatasetTraining {
            models,
            train_clips,
            labels,
            skipped,
            unusable,
        }
    };
    let (Some(nb), Some(nbp)) = (&params.narrowband, params.narrowband_params()) else {
        return Ok(training);
    };
    let nbp = nbp.check()?;
    // Bandwidth matching matters only when the enrolment is wideband: when every
    // training clip is narrowband already (8 kHz corpora), the main models are
    // narrowband models, and a second set would only drop their low band. The
    // search stops at the first wideband clip (or error); no clip is held.
    let wideband = training
        .train_clips
        .par_iter()
        .map(|&i| load(data, i).and_then(|a| is_narrowband(&a, nb)))
        .find_any(|r| !matches!(r, Ok(true)));
    match wideband {
        None => return Ok(training),
        Some(Err(e)) => return Err(e),
        Some(Ok(_)) => {}
    }
    if conditions.is_empty() {
        // No copies to make: the narrowband models stream their clips too, each
        // resampled as it is read, so memory stays flat in the data set's size.
        let counter = Counter::new(training.train_clips.len(), on_progress);
        let sub = train_streaming(
            data,
            &training.train_clips,
            &nbp,
            &counter,
            on_progress,
            Some(nb.sample_rate),
        )?;
        if sub.models.speakers != training.models.speakers {
            let lost: Vec<&String> = training
                .models
                .speakers
                .iter()
                .filter(|s| !sub.models.speakers.contains(s))
                .collect();
            return Err(Error::training(
                "narrowband models",
                format!(
                    "speakers {lost:?} keep fewer than two usable clips once resampled to {} \
                     Hz; train without --narrowband, or give them longer clips",
                    nb.sample_rate
                ),
            ));
        }
        training.models.narrowband = Some(Box::new(sub.models));
        return Ok(training);
    }
    let audios = load_all(data, &training.train_clips)?;
    let copies = augmented(
        &audios,
        &training.labels,
        &training.train_clips,
        &conditions,
        params.seed,
    );
    // (features, class, clean?) of every narrowband copy, clean clips first.
    let narrow: Vec<(ClipFeatures, usize, bool)> = audios
        .par_iter()
        .zip(training.labels.par_iter())
        .map(|(a, l)| (a, l, true))
        .chain(copies.par_iter().map(|(a, l)| (a, l, false)))
        .filter_map(|(a, &l, clean)| {
            let a = a.resample(nb.sample_rate.min(a.sample_rate)).ok()?;
            extract_valid(&a, &nbp).ok().map(|f| (f, l, clean))
        })
        .collect();
    drop(audios);
    drop(copies);
    let n_clean = narrow.iter().filter(|(_, _, c)| *c).count();
    let (f, y): (Vec<ClipFeatures>, Vec<usize>) =
        narrow.into_iter().map(|(f, l, _)| (f, l)).unzip();
    let speakers = training.models.speakers.clone();
    let set = TrainingSet::new(&f, &y, &speakers, nbp.seed, nbp.validation_fraction)?;
    let mut sub = SpeakerModels::train_set_with(
        &set,
        data.names.clone(),
        &nbp,
        Vec::new(),
        calibrate && conditions.is_empty(),
        on_progress,
    )?;
    drop(set);
    if calibrate && !conditions.is_empty() {
        // Calibrated on the clean narrowband copies alone.
        match TrainingSet::new(
            &f[..n_clean],
            &y[..n_clean],
            &speakers,
            nbp.seed,
            nbp.validation_fraction,
        ) {
            Ok(s) => sub.calibrate(&s),
            Err(e) => sub.calibration_skipped = Some(e.to_string()),
        }
    }
    training.models.narrowband = Some(Box::new(sub));
    Ok(training)
}

/// Every clip of `clips`, decoded.
fn load_all(data: &Dataset, clips: &[usize]) -> Result<Vec<Audio>> {
    clips.par_iter().map(|&i| load(data, i)).collect()
}

/// The augmented copies of the training clips: (audio, label), every clip through
/// every condition, seeded per clip and condition; babble from other speakers'
/// training clips. Copies that cannot be made are left out.
fn augmented(
    audios: &[Audio],
    labels: &[usize],
    clips: &[usize],
    conditions: &[Condition],
    seed: u64,
) -> Vec<(Audio, usize)> {
    let jobs: Vec<(usize, usize)> = (0..audios.len())
        .flat_map(|j| (0..conditions.len()).map(move |c| (j, c)))
        .collect();
    jobs.par_iter()
        .filter_map(|&(j, c)| {
            let s = clip_seed(seed, clips[j], c as u64 + 17);
            let pool = if conditions[c].needs_babble() {
                babble_pool(audios, labels, labels[j], s)
            } else {
                Vec::new()
            };
            degrade::apply(&audios[j], &conditions[c], s, &pool)
                .ok()
                .map(|a| (a, labels[j]))
        })
        .collect()
}

/// A test clip as the models see it: features for the main models, and, when the
/// (degraded) clip is narrowband and narrowband models exist, features for those.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) main: ClipFeatures,
    pub(crate) narrow: Option<ClipFeatures>,
}

/// The babble sources of degraded test clips: up to [`TEST_BABBLE_CLIPS`] test
/// clips (never training clips), taken round-robin over the speakers in a seeded
/// order, with their classes.
pub(crate) struct TestBabble {
    audio: Vec<Audio>,
    labels: Vec<usize>,
}

impl TestBabble {
    /// The sources for `condition` (none unless it mixes babble) from the test
    /// clips `test` of `data`, of the classes `speakers` (sorted); clips of other
    /// speakers or that cannot be read are passed over.
    pub(crate) fn new(
        data: &Dataset,
        test: &[usize],
        speakers: &[String],
        condition: &Condition,
        seed: u64,
    ) -> TestBabble {
        let mut out = TestBabble {
            audio: Vec::new(),
            labels: Vec::new(),
        };
        if !condition.needs_babble() {
            return out;
        }
        let mut per: Vec<Vec<usize>> = vec![Vec::new(); speakers.len()];
        for &i in test {
            if let Ok(c) = speakers.binary_search(&data.clips[i].speaker) {
                per[c].push(i);
            }
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0xbabb1e);
        for p in per.iter_mut() {
            p.shuffle(&mut rng);
        }
        let mut picked = Vec::new();
        let deepest = per.iter().map(Vec::len).max().unwrap_or(0);
        'fill: for depth in 0..deepest {
            for (c, p) in per.iter().enumerate() {
                if let Some(&i) = p.get(depth) {
                    picked.push((i, c));
                    if picked.len() == TEST_BABBLE_CLIPS {
                        break 'fill;
                    }
                }
            }
        }
        let loaded: Vec<Option<(Audio, usize)>> = picked
            .par_iter()
            .map(|&(i, c)| load(data, i).ok().map(|a| (a, c)))
            .collect();
        for (a, c) in loaded.into_iter().flatten() {
            out.audio.push(a);
            out.labels.push(c);
        }
        out
    }
}

/// Test clip `i` (of class `class`) of `data`, degraded by `condition` (seeded by
/// the clip; babble from `babble`, never of the query's own speaker), as the
/// models see it.
pub(crate) fn degraded_query(
    data: &Dataset,
    i: usize,
    class: usize,
    condition: &Condition,
    babble: &TestBabble,
    models: &SpeakerModels,
) -> Result<Query> {
    let clean = load(data, i)?;
    let audio = if condition.is_clean() {
        clean
    } else {
        let s = clip_seed(models.params.seed, i, 0xdead);
        let pool = babble_pool(&babble.audio, &babble.labels, class, s);
        degrade::apply(&clean, condition, s, &pool)?
    };
    let main = extract_valid(&audio, &models.params)?;
    let routed = models.route(&audio)?;
    let narrow = if std::ptr::eq(routed, models) {
        None
    } else {
        Some(extract_valid(&audio, &routed.params)?)
    };
    Ok(Query { main, narrow })
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
/// each query, narrowband queries ranked by the narrowband models.
pub(crate) fn similar_top1(models: &SpeakerModels, queries: &[Query]) -> Result<Vec<usize>> {
    queries
        .par_iter()
        .map(|q| {
            let (m, f) = match (&q.narrow, &models.narrowband) {
                (Some(f), Some(nb)) => (nb.as_ref(), f),
                _ => (models, &q.main),
            };
            let embedding = m.embedding();
            let e = embedding.embed(f)?;
            let top = embedding.enrolled().most_similar(&e.to_vec(), 1)?;
            let id = top
                .first()
                .map(|s| s.speaker.clone())
                .ok_or_else(|| Error::training("similarity", "no enrolled speaker"))?;
            models
                .speakers
                .iter()
                .position(|s| *s == id)
                .ok_or_else(|| Error::training("similarity", format!("unknown speaker {id}")))
        })
        .collect()
}
