//! Speaker similarity: "which enrolled speaker do you sound like?", and verification.
//!
//! A speaker is summarised by one vector, an *embedding*: the mean supervector of a
//! GMM adapted to the speaker's speech from a universal background model (see
//! `models::Ubm`), or — the simple baseline — the mean of the speaker's 52-dim clip
//! vectors. Two voices are compared by the **cosine** of their embeddings after
//! centring (subtracting the mean embedding of the enrolled speakers, so the
//! direction that all voices share does not dominate) and length normalisation.
//!
//! [`EnrolledSpeakers::most_similar`] ranks the enrolled speakers for a query voice.
//! For **verification** ("is this the speaker it claims to be?") every test
//! utterance is scored against every enrolled speaker ([`verification_trials`]):
//! *target* trials pair an utterance with its own speaker, *non-target* trials with
//! somebody else. A threshold on the score trades false alarms against misses; the
//! [`det_curve`] lists that trade-off at every threshold and the equal error rate
//! ([`eer`]) is the point where both error rates are equal.
//!
//! ```
//! use ndarray::array;
//! use speaker_similarity::similarity::{EnrolledSpeakers, Trial, eer};
//! # fn main() -> speaker_similarity::Result<()> {
//! let names = vec!["ada".to_string(), "ben".to_string(), "cy".to_string()];
//! let speakers = EnrolledSpeakers::enroll(
//!     names,
//!     array![[1.0, 0.0, 0.2], [0.0, 1.0, 0.1], [0.7, 0.7, 0.0]].view(),
//!     false,
//! )?;
//! let ranked = speakers.most_similar(&[0.9, 0.1, 0.2], 2)?;
//! assert_eq!(ranked[0].speaker, "ada");
//! assert_eq!(ranked.len(), 2);
//! let trials = [
//!     Trial { score: 0.9, target: true },
//!     Trial { score: 0.4, target: false },
//!     Trial { score: 0.6, target: true },
//!     Trial { score: 0.7, target: false },
//! ];
//! let e = eer(&trials)?;
//! assert!((e.eer - 0.5).abs() < 1e-9);
//! # Ok(())
//! # }
//! ```

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Cosine similarity of two vectors of the same length, in [-1, 1]. A zero vector
/// has similarity 0 with everything.
pub fn cosine(a: &[f32], b: &[f32]) -> Result<f32> {
    if a.len() != b.len() {
        return Err(Error::shape(
            "the second vector of a cosine",
            a.len(),
            b.len(),
        ));
    }
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if !(ab.is_finite() && aa.is_finite() && bb.is_finite()) {
        return Err(Error::NonFinite {
            what: "embedding".into(),
            index: 0,
            value: f32::NAN,
        });
    }
    if aa == 0.0 || bb == 0.0 {
        return Ok(0.0);
    }
    Ok((ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0) as f32)
}

/// One entry of a similarity ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Similar {
    /// The enrolled speaker.
    pub speaker: String,
    /// Cosine similarity of the query to that speaker, in [-1, 1].
    pub score: f32,
}

/// Enrolled speakers, one embedding each, ready for cosine scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolledSpeakers {
    names: Vec<String>,
    /// Subtracted from every embedding before normalisation (zeros when not centred).
    center: Vec<f32>,
    /// One centred, unit-length row per speaker.
    vectors: Array2<f32>,
}

impl EnrolledSpeakers {
    /// Enrol speakers from one embedding row each. With `center`, the mean of the rows
    /// is subtracted from every row and every later query (recommended with two or more
    /// speakers: embeddings share a large common component).
    pub fn enroll(names: Vec<String>, embeddings: ArrayView2<f32>, center: bool) -> Result<Self> {
        let (n, dim) = embeddings.dim();
        if n == 0 || dim == 0 {
            return Err(Error::param(
                "embeddings",
                "at least one speaker and one dimension are needed",
            ));
        }
        if names.len() != n {
            return Err(Error::shape(
                "names",
                format_args!("one per embedding ({n})"),
                names.len(),
            ));
        }
        let mut sorted = names.clone();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::param(
                "names",
                format!("speaker {:?} enrolled twice", w[0]),
            ));
        }
        if let Some(i) = embeddings.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "embeddings".into(),
                index: i,
                value: embeddings.iter().nth(i).copied().unwrap_or(f32::NAN),
            });
        }
        let center_vec: Vec<f32> = if center && n > 1 {
            embeddings
                .mean_axis(Axis(0))
                .map(|m| m.to_vec())
                .unwrap_or_else(|| vec![0.0; dim])
        } else {
            vec![0.0; dim]
        };
        let mut vectors = embeddings.to_owned();
        for mut row in vectors.rows_mut() {
            for (v, c) in row.iter_mut().zip(&center_vec) {
                *v -= c;
            }
            normalize(row.as_slice_mut().expect("owned rows are contiguous"));
        }
        Ok(EnrolledSpeakers {
            names,
            center: center_vec,
            vectors,
        })
    }

    /// Add `name` with one embedding row as the last speaker, or replace its row
    /// when it is enrolled already. The stored centre is kept fixed (it stays the
    /// mean of the speakers enrolled by [`Self::enroll`]), so every other
    /// speaker's row, and every query's projection, stays bit-identical; a speaker
    /// added later is centred by the same vector as the first ones.
    pub fn upsert(&mut self, name: &str, embedding: &[f32]) -> Result<()> {
        if embedding.len() != self.dim() {
            return Err(Error::shape(
                "embedding values",
                self.dim(),
                embedding.len(),
            ));
        }
        if let Some(i) = embedding.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "embedding".into(),
                index: i,
                value: embedding[i],
            });
        }
        let mut row: Vec<f32> = embedding
            .iter()
            .zip(&self.center)
            .map(|(v, c)| v - c)
            .collect();
        normalize(&mut row);
        match self.names.iter().position(|n| n == name) {
            Some(i) => self.vectors.row_mut(i).assign(&Array1::from(row)),
            None => {
                self.vectors
                    .push_row(ndarray::ArrayView1::from(&row))
                    .map_err(|e| Error::shape("embedding", self.dim(), e))?;
                self.names.push(name.to_string());
            }
        }
        Ok(())
    }

    /// Drop speaker `name` (the centre and the other rows are kept as they are).
    pub fn remove(&mut self, name: &str) -> Result<()> {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::param("speaker", format!("{name:?} is not enrolled")))?;
        self.names.remove(i);
        self.vectors.remove_index(Axis(0), i);
        Ok(())
    }

    /// The enrolled speakers, in enrolment order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of enrolled speakers.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no speaker is enrolled (never, for a value built by [`Self::enroll`]).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Length of the embeddings.
    pub fn dim(&self) -> usize {
        self.vectors.ncols()
    }

    /// Centre and length-normalise a query embedding as the enrolled ones were.
    pub fn project(&self, query: &[f32]) -> Result<Array1<f32>> {
        if query.len() != self.dim() {
            return Err(Error::shape(
                "query embedding values",
                self.dim(),
                query.len(),
            ));
        }
        if let Some(i) = query.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "query embedding".into(),
                index: i,
                value: query[i],
            });
        }
        let mut q: Vec<f32> = query.iter().zip(&self.center).map(|(v, c)| v - c).collect();
        normalize(&mut q);
        Ok(Array1::from(q))
    }

    /// Cosine similarity of the query to every enrolled speaker, in enrolment order.
    pub fn scores(&self, query: &[f32]) -> Result<Vec<f32>> {
        let q = self.project(query)?;
        Ok(self.vectors.dot(&q).to_vec())
    }

    /// The `k` enrolled speakers most similar to the query, best first (ties keep
    /// enrolment order). `k` larger than the number of speakers returns them all.
    pub fn most_similar(&self, query: &[f32], k: usize) -> Result<Vec<Similar>> {
        let scores = self.scores(query)?;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        Ok(order
            .into_iter()
            .take(k)
            .map(|i| Similar {
                speaker: self.names[i].clone(),
                score: scores[i],
            })
            .collect())
    }

    /// Cosine similarity between every pair of enrolled speakers (n x n, ones on the
    /// diagonal).
    pub fn similarity_matrix(&self) -> Array2<f32> {
        self.vectors.dot(&self.vectors.t())
    }
}

fn normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        let inv = (1.0 / norm) as f32;
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// A verification trial: a score and whether the utterance really is the claimed
/// speaker's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Similarity of the utterance to the claimed speaker (higher = more alike).
    pub score: f32,
    /// True for a target trial (same speaker).
    pub target: bool,
}

/// Score every test utterance against every enrolled speaker: `queries` are
/// (true speaker, embedding) pairs. Utterances of speakers who are not enrolled give
/// only non-target trials.
pub fn verification_trials(
    enrolled: &EnrolledSpeakers,
    queries: &[(String, Vec<f32>)],
) -> Result<Vec<Trial>> {
    let mut trials = Vec::with_capacity(queries.len() * enrolled.len());
    for (speaker, emb) in queries {
        for (name, score) in enrolled.names.iter().zip(enrolled.scores(emb)?) {
            trials.push(Trial {
                score,
                target: name == speaker,
            });
        }
    }
    Ok(trials)
}

/// As [`verification_trials`], but each query keeps its target trial and at most
/// `max_nontargets` of its non-target trials, drawn uniformly without replacement
/// with the query's own seed (`seeds[i]` for `queries[i]`): the trials then grow
/// with the number of queries, not with queries × enrolled speakers. A query with
/// no more than `max_nontargets` non-target speakers keeps all of them, so on small
/// sets this equals [`verification_trials`] exactly. Every query keeps the same
/// number of non-target trials (or all of its own), so each still weighs equally
/// in the false-alarm rate, as in the full set.
///
/// ```
/// use ndarray::array;
/// use speaker_similarity::similarity::{verification_trials, verification_trials_sampled, EnrolledSpeakers};
/// let names: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
/// let e = EnrolledSpeakers::enroll(names, array![[1.0f32, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]].view(), false).unwrap();
/// let q = vec![("a".to_string(), vec![0.9f32, 0.1])];
/// let some = verification_trials_sampled(&e, &q, &[7], 2).unwrap();
/// assert_eq!((some.len(), some.iter().filter(|t| t.target).count()), (3, 1));
/// assert_eq!(verification_trials_sampled(&e, &q, &[7], 3).unwrap(), verification_trials(&e, &q).unwrap());
/// ```
pub fn verification_trials_sampled(
    enrolled: &EnrolledSpeakers,
    queries: &[(String, Vec<f32>)],
    seeds: &[u64],
    max_nontargets: usize,
) -> Result<Vec<Trial>> {
    use rand::SeedableRng;
    if seeds.len() != queries.len() {
        return Err(Error::shape(
            "trial seeds",
            format_args!("one per query ({})", queries.len()),
            seeds.len(),
        ));
    }
    let per_query = enrolled.len().min(max_nontargets + 1);
    let mut trials = Vec::with_capacity(queries.len() * per_query);
    let mut nontargets = Vec::with_capacity(enrolled.len());
    for ((speaker, emb), &seed) in queries.iter().zip(seeds) {
        let scores = enrolled.scores(emb)?;
        let n_targets = enrolled.names.iter().filter(|n| *n == speaker).count();
        if scores.len() - n_targets <= max_nontargets {
            // Nothing to sample: every trial, in enrolled order (as verification_trials).
            trials.extend(
                enrolled
                    .names
                    .iter()
                    .zip(&scores)
                    .map(|(name, &score)| Trial {
                        score,
                        target: name == speaker,
                    }),
            );
            continue;
        }
        nontargets.clear();
        for (name, &score) in enrolled.names.iter().zip(&scores) {
            if name == speaker {
                trials.push(Trial {
                    score,
                    target: true,
                });
            } else {
                nontargets.push(score);
            }
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut picked =
            rand::seq::index::sample(&mut rng, nontargets.len(), max_nontargets).into_vec();
        picked.sort_unstable();
        trials.extend(picked.into_iter().map(|j| Trial {
            score: nontargets[j],
            target: false,
        }));
    }
    Ok(trials)
}

/// One point of a detection error trade-off curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetPoint {
    /// Trials scoring at least this are accepted.
    pub threshold: f32,
    /// Fraction of non-target trials accepted (false positive rate).
    pub false_alarm: f64,
    /// Fraction of target trials rejected (false negative rate).
    pub miss: f64,
}

/// The equal error rate and the threshold where it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eer {
    /// The rate at which false alarms and misses are equal, in [0, 1].
    pub eer: f64,
    /// The score threshold at that point (interpolated between trial scores).
    pub threshold: f32,
}

fn check_trials(trials: &[Trial]) -> Result<(usize, usize)> {
    let targets = trials.iter().filter(|t| t.target).count();
    let nontargets = trials.len() - targets;
    if targets == 0 || nontargets == 0 {
        return Err(Error::param(
            "trials",
            format!(
                "need both target and non-target trials ({targets} target, {nontargets} non-target)"
            ),
        ));
    }
    if let Some(i) = trials.iter().position(|t| !t.score.is_finite()) {
        return Err(Error::NonFinite {
            what: "trial scores".into(),
            index: i,
            value: trials[i].score,
        });
    }
    Ok((targets, nontargets))
}

/// The detection error trade-off: one point per distinct score, thresholds
/// descending, plus a first point that accepts nothing (threshold +inf: no false
/// alarm, every target missed). At threshold `t` a trial is accepted when its score
/// is `>= t`, as scikit-learn's `det_curve` counts.
pub fn det_curve(trials: &[Trial]) -> Result<Vec<DetPoint>> {
    let (p, n) = check_trials(trials)?;
    let mut sorted: Vec<Trial> = trials.to_vec();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut points = vec![DetPoint {
        threshold: f32::INFINITY,
        false_alarm: 0.0,
        miss: 1.0,
    }];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].score;
        while i < sorted.len() && sorted[i].score == t {
            if sorted[i].target {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        points.push(DetPoint {
            threshold: t,
            false_alarm: fp as f64 / n as f64,
            miss: (p - tp) as f64 / p as f64,
        });
    }
    Ok(points)
}

/// The equal error rate: where the DET curve, joined linearly between its points,
/// crosses false alarm = miss.
pub fn eer(trials: &[Trial]) -> Result<Eer> {
    let det = det_curve(trials)?;
    // false_alarm - miss rises from -1 to +1 along the curve: find the crossing.
    det.windows(2)
        .find_map(|w| crossing(w[0], w[1]))
        .ok_or_else(no_crossing)
}

/// The EER crossing between two consecutive DET points, if it lies there.
fn crossing(a: DetPoint, b: DetPoint) -> Option<Eer> {
    let (eer, f) = eer_between((a.false_alarm, a.miss), (b.false_alarm, b.miss))?;
    let threshold = if a.threshold.is_finite() {
        a.threshold + (f as f32) * (b.threshold - a.threshold)
    } else {
        b.threshold
    };
    Some(Eer { eer, threshold })
}

/// Where the segment between two consecutive (false alarm, miss) points of a DET
/// curve crosses false alarm = miss, if it does: the rate there and the fraction
/// of the way from `a` to `b` (to interpolate the threshold with).
pub(crate) fn eer_between(a: (f64, f64), b: (f64, f64)) -> Option<(f64, f64)> {
    let da = a.0 - a.1;
    let db = b.0 - b.1;
    if da <= 0.0 && db >= 0.0 {
        let f = if db - da > 0.0 { -da / (db - da) } else { 0.0 };
        return Some((a.0 + f * (b.0 - a.0), f));
    }
    None
}

fn no_crossing() -> Error {
    // Unreachable for a curve from (0, 1) to (1, 0), kept as an error for safety.
    Error::training(
        "the equal error rate",
        "the DET curve does not cross the EER line",
    )
}

/// [`eer`] and a thinned [`det_curve`] of many trials in one pass over them, sorted
/// in place (no copy, no full curve held): what evaluation on a large data set
/// uses. The EER is exactly [`eer`]'s. The curve keeps its first and last points
/// and every point where the false alarm or miss rate moved by more than 2 % of
/// itself (at least 0.01 percentage points) since the last kept point: at most a few
/// thousand points whatever the number of trials, fine enough for a DET plot.
pub fn eer_and_det(mut trials: Vec<Trial>) -> Result<(Eer, Vec<DetPoint>)> {
    let (p, n) = check_trials(&trials)?;
    trials.sort_by(|a, b| b.score.total_cmp(&a.score));
    let moved = |a: f64, b: f64| (a - b).abs() > (0.02 * b.min(1.0 - b)).max(1e-4);
    let mut prev = DetPoint {
        threshold: f32::INFINITY,
        false_alarm: 0.0,
        miss: 1.0,
    };
    let mut kept = vec![prev];
    let mut found: Option<Eer> = None;
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < trials.len() {
        let t = trials[i].score;
        while i < trials.len() && trials[i].score == t {
            if trials[i].target {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let point = DetPoint {
            threshold: t,
            false_alarm: fp as f64 / n as f64,
            miss: (p - tp) as f64 / p as f64,
        };
        if found.is_none() {
            found = crossing(prev, point);
        }
        let last = kept[kept.len() - 1];
        if i == trials.len()
            || moved(point.false_alarm, last.false_alarm)
            || moved(point.miss, last.miss)
        {
            kept.push(point);
        }
        prev = point;
    }
    Ok((found.ok_or_else(no_crossing)?, kept))
}
