//! From raw scores to calibrated open-set verdicts: "this is speaker X", or "this
//! voice is not one of the enrolled speakers".
//!
//! A speaker model gives a *score* for each enrolled speaker: a log-likelihood
//! ratio against a background model, a cosine similarity of embeddings. Raw scores
//! are not comparable across models, recordings or data sets, and a bare
//! "probability 0.99" from a closed-set classifier says nothing about a voice that
//! was never enrolled. This module turns scores into **calibrated log-likelihood
//! ratios** (natural log): `llr > 0` means the trial is more likely a target trial
//! (same speaker) than a non-target one, and `llr = ln 10` means ten times more
//! likely, whatever the model.
//!
//! - [`LinearCalibration`] maps a score `s` to `llr = scale * s + offset`, fitted by
//!   prior-weighted logistic regression on held-out *target* trials (a speaker's own
//!   clips, held out of its enrolment by cross-validation) and *non-target* trials
//!   (the other enrolled speakers' clips) — never on queries (Brümmer & du Preez
//!   2006, "Application-independent evaluation of speaker detection").
//! - [`CohortStats`] and [`snorm`] normalise scores with an impostor cohort
//!   (symmetric normalisation, and adaptive s-norm with the top-K closest cohort
//!   members; Matějka et al. 2017), which removes per-speaker and per-recording
//!   score offsets, as a channel change produces.
//! - [`threshold_at_false_alarm`] picks the threshold of a stated operating point, for
//!   instance 1 % false acceptance on the held-out non-target trials.
//! - [`Verdict`] is the answer for one recording: a speaker, or `None` with a
//!   [`Reason`] (`"unknown"`, `"no speech"`).
//! - [`open_set_eer`] and [`open_set_report`] measure open-set identification: enrolled
//!   queries are positives, scored by their verdict score when the named speaker is
//!   right and counted as misses when it is wrong; queries of never-enrolled speakers
//!   are negatives.
//!
//! ```
//! use speaker_similarity::calibration::{threshold_at_false_alarm, CalibrationParams, LinearCalibration};
//! # fn main() -> speaker_similarity::Result<()> {
//! // Held-out trials: targets score high, non-targets low.
//! let targets = [2.1, 1.7, 2.5, 0.9, 1.9, 2.8, 1.2];
//! let nontargets = [-0.4, 0.3, -1.2, 0.1, -0.8, 0.6, -0.2, -1.5, 0.0, 1.0];
//! let cal = LinearCalibration::fit(&targets, &nontargets, &CalibrationParams::default())?;
//! assert!(cal.llr(2.5) > 0.0 && cal.llr(-1.0) < 0.0);
//! // The threshold (in LLR) that accepts at most 10 % of the non-target trials.
//! let llrs: Vec<f64> = nontargets.iter().map(|&s| cal.llr(s)).collect();
//! let t = threshold_at_false_alarm(&llrs, 0.1)?;
//! assert!(llrs.iter().filter(|&&l| l >= t).count() <= 1);
//! # Ok(())
//! # }
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Settings of [`LinearCalibration::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationParams {
    /// The effective prior probability of a target trial the calibration is
    /// optimised for, in (0, 1). Default 0.5: targets and non-targets weigh alike
    /// whatever their counts (scikit-learn's `class_weight="balanced"`).
    pub prior: f64,
    /// L2 penalty on the scale, for a stable fit on few trials. Default 0 (none).
    pub l2: f64,
    /// Newton iterations at most. Default 100.
    pub max_iter: usize,
    /// Stop when the largest parameter step is below this. Default 1e-10.
    pub tol: f64,
}

impl Default for CalibrationParams {
    fn default() -> Self {
        CalibrationParams {
            prior: 0.5,
            l2: 0.0,
            max_iter: 100,
            tol: 1e-10,
        }
    }
}

impl CalibrationParams {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        if !(self.prior > 0.0 && self.prior < 1.0) {
            return Err(Error::param(
                "prior",
                format!("must be in (0, 1), got {}", self.prior),
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::param("l2", format!("must be >= 0, got {}", self.l2)));
        }
        if self.max_iter == 0 {
            return Err(Error::param("max_iter", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(Error::param(
                "tol",
                format!("must be > 0, got {}", self.tol),
            ));
        }
        Ok(())
    }
}

/// An affine map from raw scores to calibrated log-likelihood ratios (natural log):
/// `llr = scale * score + offset`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearCalibration {
    /// Multiplies the raw score (positive when higher scores mean "same speaker").
    pub scale: f64,
    /// Added after scaling.
    pub offset: f64,
}

fn check_scores(name: &'static str, s: &[f64]) -> Result<()> {
    if s.is_empty() {
        return Err(Error::param(name, "no trials"));
    }
    if let Some(i) = s.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: name.to_string(),
            index: i,
            value: s[i] as f32,
        });
    }
    Ok(())
}

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else if x < -30.0 {
        x.exp()
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

impl LinearCalibration {
    /// The identity map (raw scores taken as LLRs).
    pub const IDENTITY: LinearCalibration = LinearCalibration {
        scale: 1.0,
        offset: 0.0,
    };

    /// Fit by prior-weighted logistic regression: minimise
    /// `π/Nt Σ ln(1 + e^-(a·s_t + b + logit π)) + (1-π)/Nn Σ ln(1 + e^(a·s_n + b + logit π))`
    /// over `a` (scale) and `b` (offset) with Newton's method. With `prior = 0.5`
    /// this is scikit-learn's `LogisticRegression(penalty=None,
    /// class_weight="balanced")` on the scores. Needs at least one trial of each
    /// kind; perfectly separated trials are fitted with a small L2 penalty so the
    /// scale stays finite.
    pub fn fit(
        targets: &[f64],
        nontargets: &[f64],
        params: &CalibrationParams,
    ) -> Result<LinearCalibration> {
        params.validate()?;
        check_scores("target trials", targets)?;
        check_scores("non-target trials", nontargets)?;
        let separated = targets.iter().cloned().fold(f64::INFINITY, f64::min)
            > nontargets.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let l2 = if separated && params.l2 == 0.0 {
            1e-3
        } else {
            params.l2
        };
        // Scores are centred and scaled for the solver, then mapped back.
        let all = targets.iter().chain(nontargets);
        let n = (targets.len() + nontargets.len()) as f64;
        let mean = all.clone().sum::<f64>() / n;
        let var = all.map(|s| (s - mean).powi(2)).sum::<f64>() / n;
        let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
        let lp = logit(params.prior);
        let wt = params.prior / targets.len() as f64;
        let wn = (1.0 - params.prior) / nontargets.len() as f64;
        let (mut a, mut b) = (1.0f64, 0.0f64);
        for _ in 0..params.max_iter {
            // Gradient and Hessian of the weighted loss in (a, b); x = standardised score.
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            let mut add = |x: f64, y: f64, w: f64| {
                let p = sigmoid(a * x + b + lp);
                let r = w * (p - y);
                let h = w * p * (1.0 - p);
                ga += r * x;
                gb += r;
                haa += h * x * x;
                hab += h * x;
                hbb += h;
            };
            for &s in targets {
                add((s - mean) / sd, 1.0, wt);
            }
            for &s in nontargets {
                add((s - mean) / sd, 0.0, wn);
            }
            ga += l2 * a;
            haa += l2;
            let det = haa * hbb - hab * hab;
            if !(det.is_finite() && det > 1e-300) {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs().max(db.abs()) < params.tol {
                break;
            }
        }
        let cal = LinearCalibration {
            scale: a / sd,
            offset: b - a * mean / sd,
        };
        if !(cal.scale.is_finite() && cal.offset.is_finite()) {
            return Err(Error::training(
                "score calibration",
                "it diverged (are the trial scores constant?)",
            ));
        }
        Ok(cal)
    }

    /// The calibrated log-likelihood ratio of a raw score.
    pub fn llr(&self, score: f64) -> f64 {
        self.scale * score + self.offset
    }

    /// The weighted cross-entropy of these LLRs on trials (`C_llr`-like, in nats,
    /// with the prior of `params`): the lower, the better calibrated and more
    /// discriminating. 0.693 (ln 2) is what an LLR of 0 everywhere costs at prior 0.5.
    pub fn cost(&self, targets: &[f64], nontargets: &[f64], prior: f64) -> Result<f64> {
        check_scores("target trials", targets)?;
        check_scores("non-target trials", nontargets)?;
        let lp = logit(prior);
        let ct = targets
            .iter()
            .map(|&s| softplus(-(self.llr(s) + lp)))
            .sum::<f64>()
            / targets.len() as f64;
        let cn = nontargets
            .iter()
            .map(|&s| softplus(self.llr(s) + lp))
            .sum::<f64>()
            / nontargets.len() as f64;
        Ok(prior * ct + (1.0 - prior) * cn)
    }
}

/// The threshold at which at most a fraction `rate` of the non-target `scores` is
/// accepted (a trial is accepted when its score is `>= threshold`): halfway between
/// the last accepted and the first rejected non-target score, or just above the
/// highest one when `rate` accepts none.
pub fn threshold_at_false_alarm(scores: &[f64], rate: f64) -> Result<f64> {
    check_scores("non-target scores", scores)?;
    if !(0.0..1.0).contains(&rate) {
        return Err(Error::param(
            "false_alarm",
            format!("must be in [0, 1), got {rate}"),
        ));
    }
    let mut s = scores.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    // Accept the k highest at most; ties must not push the count over k.
    let k = (rate * s.len() as f64 + 1e-9).floor() as usize;
    let mut k = k.min(s.len() - 1);
    while k > 0 && s[k - 1] == s[k] {
        k -= 1;
    }
    if k == 0 {
        let top = s[0];
        return Ok(top + top.abs().max(1.0) * 1e-9);
    }
    Ok(0.5 * (s[k - 1] + s[k]))
}

/// Mean and standard deviation of a score distribution, for score normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CohortStats {
    /// Mean score.
    pub mean: f64,
    /// Standard deviation (floored at 1e-6 so normalisation stays finite).
    pub std: f64,
}

impl CohortStats {
    /// Statistics of the `top_k` highest of `scores` (all of them when `top_k` is
    /// `None` or larger than the cohort): the adaptive cohort of AS-norm.
    pub fn from_scores(scores: &[f64], top_k: Option<usize>) -> Result<CohortStats> {
        check_scores("cohort scores", scores)?;
        let mut s = scores.to_vec();
        if let Some(k) = top_k {
            if k == 0 {
                return Err(Error::param("top_k", "must be at least 1"));
            }
            if k < s.len() {
                s.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
                s.truncate(k);
            }
        }
        let n = s.len() as f64;
        let mean = s.iter().sum::<f64>() / n;
        let var = s.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Ok(CohortStats {
            mean,
            std: var.sqrt().max(1e-6),
        })
    }

    /// `(score - mean) / std`.
    pub fn z(&self, score: f64) -> f64 {
        (score - self.mean) / self.std
    }
}

/// Symmetric score normalisation: the mean of the score normalised by the enrolled
/// speaker's cohort statistics (the speaker's model against impostor recordings)
/// and by the query's (the query against impostor models).
pub fn snorm(score: f64, enrolled: &CohortStats, query: &CohortStats) -> f64 {
    0.5 * (enrolled.z(score) + query.z(score))
}

/// Why a recording got no speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// The voice scores below the threshold for every enrolled speaker: not an
    /// enrolled speaker.
    #[serde(rename = "unknown")]
    Unknown,
    /// The recording holds no speech to score.
    #[serde(rename = "no speech")]
    NoSpeech,
}

impl Reason {
    /// As written in JSON: `"unknown"`, `"no speech"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unknown => "unknown",
            Reason::NoSpeech => "no speech",
        }
    }
}

/// The open-set answer for one recording or segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The enrolled speaker's id, or `None`: not an enrolled speaker (or no speech).
    pub speaker: Option<String>,
    /// Display name of the accepted speaker; for a rejected voice, the name of the
    /// closest enrolled speaker (shown as "closest: …"), `None` without speech.
    pub name: Option<String>,
    /// The closest enrolled speaker's id, accepted or not (`None` without speech).
    pub closest: Option<String>,
    /// The calibrated log-likelihood ratio (natural log) of the closest speaker;
    /// `None` without speech.
    pub score: Option<f64>,
    /// The acceptance threshold, in the same unit.
    pub threshold: f64,
    /// Whether the closest speaker was accepted.
    pub accepted: bool,
    /// Why no speaker was named, when none was.
    pub reason: Option<Reason>,
}

impl Verdict {
    /// The verdict for the best-scoring speaker `closest` (id, display name) with a
    /// calibrated `score`: accepted when `score >= threshold`.
    pub fn decide(closest: (&str, &str), score: f64, threshold: f64) -> Verdict {
        let accepted = score >= threshold;
        Verdict {
            speaker: accepted.then(|| closest.0.to_string()),
            name: Some(closest.1.to_string()),
            closest: Some(closest.0.to_string()),
            score: Some(score),
            threshold,
            accepted,
            reason: (!accepted).then_some(Reason::Unknown),
        }
    }

    /// The verdict for a recording without speech.
    pub fn no_speech(threshold: f64) -> Verdict {
        Verdict {
            speaker: None,
            name: None,
            closest: None,
            score: None,
            threshold,
            accepted: false,
            reason: Some(Reason::NoSpeech),
        }
    }
}

/// One scored query of an open-set evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSetTrial {
    /// Whether the query's speaker is enrolled.
    pub enrolled: bool,
    /// For an enrolled speaker's query, whether the best-scoring speaker is the
    /// right one (ignored for never-enrolled queries).
    pub correct: bool,
    /// The verdict score: the calibrated LLR of the best-scoring speaker.
    pub score: f64,
}

/// Error rates of open-set identification at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpenSetPoint {
    /// Queries scoring at least this are accepted.
    pub threshold: f64,
    /// Fraction of never-enrolled queries accepted (false acceptance).
    pub false_alarm: f64,
    /// Fraction of enrolled queries not accepted with the right speaker (missed,
    /// or named wrongly).
    pub miss: f64,
}

fn open_set_counts(trials: &[OpenSetTrial]) -> Result<(usize, usize)> {
    let p = trials.iter().filter(|t| t.enrolled).count();
    let n = trials.len() - p;
    if p == 0 || n == 0 {
        return Err(Error::param(
            "trials",
            format!("need enrolled and never-enrolled queries ({p} enrolled, {n} never-enrolled)"),
        ));
    }
    if let Some(i) = trials.iter().position(|t| !t.score.is_finite()) {
        return Err(Error::NonFinite {
            what: "open-set scores".into(),
            index: i,
            value: trials[i].score as f32,
        });
    }
    Ok((p, n))
}

/// The open-set detection error trade-off: one point per distinct score of a
/// never-enrolled or correctly named query, thresholds descending, after a first
/// point that accepts nothing. A wrongly named enrolled
/// query is a miss at every threshold, so the miss rate ends at the closed-set
/// error rate, not at 0.
pub fn open_set_det(trials: &[OpenSetTrial]) -> Result<Vec<OpenSetPoint>> {
    let (p, n) = open_set_counts(trials)?;
    let mut sorted: Vec<&OpenSetTrial> = trials.iter().collect();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut points = vec![OpenSetPoint {
        threshold: f64::INFINITY,
        false_alarm: 0.0,
        miss: 1.0,
    }];
    let (mut hits, mut fa) = (0usize, 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].score;
        let before = (hits, fa);
        while i < sorted.len() && sorted[i].score == t {
            let q = sorted[i];
            if !q.enrolled {
                fa += 1;
            } else if q.correct {
                hits += 1;
            }
            i += 1;
        }
        // Wrongly named queries alone change nothing: no point of their own.
        if (hits, fa) == before {
            continue;
        }
        points.push(OpenSetPoint {
            threshold: t,
            false_alarm: fa as f64 / n as f64,
            miss: (p - hits) as f64 / p as f64,
        });
    }
    Ok(points)
}

/// The open-set equal error rate `(eer, threshold)`: where the open-set DET curve,
/// joined linearly between its points, crosses false alarm = miss. When even
/// accepting everything misses more than it falsely accepts (many wrong names), the
/// EER is the miss rate at that last point.
pub fn open_set_eer(trials: &[OpenSetTrial]) -> Result<(f64, f64)> {
    let det = open_set_det(trials)?;
    for w in det.windows(2) {
        let (a, b) = (w[0], w[1]);
        let crossing =
            crate::similarity::eer_between((a.false_alarm, a.miss), (b.false_alarm, b.miss));
        if let Some((eer, f)) = crossing {
            let threshold = if a.threshold.is_finite() {
                a.threshold + f * (b.threshold - a.threshold)
            } else {
                b.threshold
            };
            return Ok((eer, threshold));
        }
    }
    let last = det[det.len() - 1];
    Ok((last.miss, last.threshold))
}

/// Open-set identification at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpenSetReport {
    /// The threshold.
    pub threshold: f64,
    /// Fraction of never-enrolled queries rejected.
    pub unknown_rejected: f64,
    /// Fraction of enrolled queries accepted with the right speaker (the detection
    /// and identification rate at this threshold).
    pub enrolled_identified: f64,
    /// Fraction of enrolled queries whose best-scoring speaker is right, ignoring
    /// the threshold (closed-set top-1).
    pub closed_set_correct: f64,
    /// Fraction of never-enrolled queries accepted (false acceptance rate).
    pub false_alarm: f64,
}

/// Rates of open-set identification at `threshold`.
pub fn open_set_report(trials: &[OpenSetTrial], threshold: f64) -> Result<OpenSetReport> {
    let (p, n) = open_set_counts(trials)?;
    let fa = trials
        .iter()
        .filter(|t| !t.enrolled && t.score >= threshold)
        .count();
    let hits = trials
        .iter()
        .filter(|t| t.enrolled && t.correct && t.score >= threshold)
        .count();
    let correct = trials.iter().filter(|t| t.enrolled && t.correct).count();
    Ok(OpenSetReport {
        threshold,
        unknown_rejected: 1.0 - fa as f64 / n as f64,
        enrolled_identified: hits as f64 / p as f64,
        closed_set_correct: correct as f64 / p as f64,
        false_alarm: fa as f64 / n as f64,
    })
}

/// The detection-and-identification rate at false-acceptance rate `rate`: the
/// fraction of enrolled queries accepted with the right speaker at the threshold
/// that accepts at most `rate` of the never-enrolled queries.
pub fn dir_at_false_alarm(trials: &[OpenSetTrial], rate: f64) -> Result<OpenSetReport> {
    open_set_counts(trials)?;
    let neg: Vec<f64> = trials
        .iter()
        .filter(|t| !t.enrolled)
        .map(|t| t.score)
        .collect();
    let t = threshold_at_false_alarm(&neg, rate)?;
    open_set_report(trials, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(enrolled: bool, correct: bool, score: f64) -> OpenSetTrial {
        OpenSetTrial {
            enrolled,
            correct,
            score,
        }
    }

    #[test]
    fn threshold_accepts_at_most_the_rate() {
        let s: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let t = threshold_at_false_alarm(&s, 0.01).unwrap();
        assert_eq!(s.iter().filter(|&&v| v >= t).count(), 1);
        let t = threshold_at_false_alarm(&s, 0.0).unwrap();
        assert_eq!(s.iter().filter(|&&v| v >= t).count(), 0);
        // Ties at the boundary are all rejected rather than over-accepted.
        let t = threshold_at_false_alarm(&[5.0, 5.0, 5.0, 1.0], 0.3).unwrap();
        assert!(t > 5.0);
        assert!(threshold_at_false_alarm(&s, 1.0).is_err());
        assert!(threshold_at_false_alarm(&[], 0.1).is_err());
        assert!(threshold_at_false_alarm(&[f64::NAN], 0.1).is_err());
    }

    #[test]
    fn calibration_of_separated_scores_stays_finite() {
        let c = LinearCalibration::fit(&[3.0, 4.0], &[0.0, 1.0], &CalibrationParams::default())
            .unwrap();
        assert!(c.scale > 0.0 && c.scale.is_finite());
        assert!(c.llr(2.0).abs() < 1.0);
        assert!(LinearCalibration::fit(&[], &[1.0], &CalibrationParams::default()).is_err());
        let bad = CalibrationParams {
            prior: 1.0,
            ..CalibrationParams::default()
        };
        assert!(LinearCalibration::fit(&[1.0], &[0.0], &bad).is_err());
    }

    #[test]
    fn open_set_eer_counts_wrong_names_as_misses() {
        // 4 enrolled queries: one named wrongly; 4 never-enrolled.
        let t = [
            trial(true, true, 5.0),
            trial(true, true, 4.0),
            trial(true, true, 1.0),
            trial(true, false, 6.0),
            trial(false, false, 3.0),
            trial(false, false, 0.0),
            trial(false, false, -1.0),
            trial(false, false, -2.0),
        ];
        let det = open_set_det(&t).unwrap();
        assert_eq!(det.last().unwrap().miss, 0.25);
        let (eer, _) = open_set_eer(&t).unwrap();
        // At threshold 4: FA 0, miss 2/4 (wrong + the 1.0); at 3: FA 1/4, miss 2/4;
        // at 1: FA 1/4, miss 1/4 — the crossing.
        assert!((eer - 0.25).abs() < 1e-12, "{eer}");
        let r = open_set_report(&t, 2.0).unwrap();
        assert_eq!(r.unknown_rejected, 0.75);
        assert_eq!(r.enrolled_identified, 0.5);
        assert_eq!(r.closed_set_correct, 0.75);
        let d = dir_at_false_alarm(&t, 0.0).unwrap();
        assert!(d.false_alarm == 0.0 && d.enrolled_identified == 0.5);
    }

    #[test]
    fn snorm_removes_offsets() {
        let e = CohortStats::from_scores(&[1.0, 2.0, 3.0], None).unwrap();
        let q = CohortStats::from_scores(&[10.0, 11.0, 12.0, -50.0], Some(3)).unwrap();
        assert!((q.mean - 11.0).abs() < 1e-12);
        let s = snorm(11.0, &e, &q);
        assert!((s - 0.5 * ((11.0 - 2.0) / e.std)).abs() < 1e-9);
        assert!(CohortStats::from_scores(&[1.0], Some(0)).is_err());
    }

    #[test]
    fn verdict_json_has_the_reason_strings() {
        let v = Verdict::decide(("id1", "Ada"), -2.0, 0.5);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["speaker"], serde_json::Value::Null);
        assert_eq!(j["reason"], "unknown");
        assert_eq!(j["accepted"], false);
        let j = serde_json::to_value(Verdict::no_speech(0.5)).unwrap();
        assert_eq!(j["reason"], "no speech");
        let v = Verdict::decide(("id1", "Ada"), 3.0, 0.5);
        assert_eq!(v.speaker.as_deref(), Some("id1"));
        assert!(v.reason.is_none());
    }
}
