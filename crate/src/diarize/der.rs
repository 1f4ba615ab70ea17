//! Diarization error rate (DER): missed speech + false alarm + speaker confusion,
//! over the total reference speech, with the optimal one-to-one mapping of
//! hypothesis labels onto reference labels.
//!
//! The conventions are pyannote.metrics' `DiarizationErrorRate(collar, skip_overlap=False)`,
//! and a test compares with it on the same RTTM files:
//!
//! - the scored region is the union of the reference's and the hypothesis'
//!   extents (first start to last end), minus a **collar** of `collar / 2` seconds on
//!   each side of every reference boundary (`collar` is the total width, as in
//!   pyannote; NIST's ±0.25 s is `collar = 0.5`);
//! - on every elementary piece of that region, with `R` reference and `H` hypothesis
//!   speakers active, `total += R·d`, `missed += max(R − H, 0)·d`,
//!   `false_alarm += max(H − R, 0)·d`, `confusion += (min(R, H) − correct)·d`,
//!   where `correct` counts the reference speakers whose mapped hypothesis label is
//!   also active; overlapped speech counts once per speaker;
//! - the mapping maximises the total co-occurrence time of mapped pairs
//!   (Hungarian algorithm), computed inside the scored region.
//!
//! Overlapping turns that carry the *same* label are merged first (a speaker cannot
//! speak twice at once).
//!
//! ```
//! use speaker_similarity::diarize::{der, rttm::Turn};
//! # fn main() -> speaker_similarity::Result<()> {
//! let reference = vec![Turn::new(0.0, 10.0, "alice")?, Turn::new(10.0, 20.0, "bob")?];
//! // Labels swapped and bob's turn starts 1 s late.
//! let hypothesis = vec![Turn::new(0.0, 10.0, "B")?, Turn::new(11.0, 20.0, "A")?];
//! let r = der::der(&reference, &hypothesis, 0.0)?;
//! assert!((r.der() - 0.05).abs() < 1e-12); // 1 s missed of 20 s
//! assert_eq!(r.mapping, vec![("B".to_string(), "alice".to_string()), ("A".to_string(), "bob".to_string())]);
//! // With NIST's ±0.25 s collar.
//! let r = der::der(&reference, &hypothesis, 0.5)?;
//! assert!((r.missed - 0.75).abs() < 1e-12);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rttm::Turn;
use crate::error::{Error, Result};

/// NIST's forgiveness collar, total width in seconds (±0.25 s around each
/// reference boundary).
pub const NIST_COLLAR: f64 = 0.5;

/// The parts of a diarization error rate, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DerReport {
    /// Reference speech scored (overlap counted once per speaker).
    pub total: f64,
    /// Reference speech with too few hypothesis speakers.
    pub missed: f64,
    /// Hypothesis speech with too few reference speakers.
    pub false_alarm: f64,
    /// Speech given to the wrong speaker after the optimal mapping.
    pub confusion: f64,
    /// The optimal mapping, `(hypothesis label, reference label)`, in the order of
    /// the hypothesis labels' first appearance. Unmapped labels are left out.
    pub mapping: Vec<(String, String)>,
}

impl DerReport {
    /// `(missed + false_alarm + confusion) / total`; 0 when nothing is scored and
    /// nothing is wrong, infinite when only false alarms are scored.
    pub fn der(&self) -> f64 {
        let err = self.missed + self.false_alarm + self.confusion;
        if self.total > 0.0 {
            err / self.total
        } else if err > 0.0 {
            f64::INFINITY
        } else {
            0.0
        }
    }

    /// Add another file's parts (for a corpus-level DER, as pyannote's `abs(metric)`).
    pub fn accumulate(&mut self, other: &DerReport) {
        self.total += other.total;
        self.missed += other.missed;
        self.false_alarm += other.false_alarm;
        self.confusion += other.confusion;
    }

    /// An empty report to [`accumulate`](Self::accumulate) into.
    pub fn zero() -> DerReport {
        DerReport {
            total: 0.0,
            missed: 0.0,
            false_alarm: 0.0,
            confusion: 0.0,
            mapping: Vec::new(),
        }
    }
}

/// Labels in order of first appearance, and every turn's label index.
fn index_labels(turns: &[Turn]) -> (Vec<String>, Vec<usize>) {
    let mut names: Vec<String> = Vec::new();
    let mut map: BTreeMap<&str, usize> = BTreeMap::new();
    let mut order: Vec<usize> = (0..turns.len()).collect();
    order.sort_by(|&a, &b| turns[a].start.total_cmp(&turns[b].start));
    let mut first = vec![0usize; turns.len()];
    for &i in &order {
        let l = turns[i].label.as_str();
        let n = map.len();
        let k = *map.entry(l).or_insert_with(|| {
            names.push(l.to_string());
            n
        });
        first[i] = k;
    }
    (names, first)
}

/// Scored intervals: the extent of both, minus the collars around reference boundaries.
fn scored_region(reference: &[Turn], hypothesis: &[Turn], collar: f64) -> Vec<(f64, f64)> {
    let all = reference.iter().chain(hypothesis);
    let lo = all.clone().map(|t| t.start).fold(f64::INFINITY, f64::min);
    let hi = all.map(|t| t.end).fold(f64::NEG_INFINITY, f64::max);
    if lo >= hi {
        return Vec::new();
    }
    let mut cuts: Vec<(f64, f64)> = if collar > 0.0 {
        reference
            .iter()
            .flat_map(|t| [t.start, t.end])
            .map(|b| (b - collar / 2.0, b + collar / 2.0))
            .collect()
    } else {
        Vec::new()
    };
    cuts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    let mut pos = lo;
    for (a, b) in cuts {
        if a > pos {
            out.push((pos, a.min(hi)));
        }
        pos = pos.max(b);
        if pos >= hi {
            break;
        }
    }
    if pos < hi {
        out.push((pos, hi));
    }
    out.retain(|(a, b)| b > a);
    out
}

/// Elementary pieces: `(duration, active reference labels, active hypothesis labels)`.
fn pieces(
    reference: &[Turn],
    r_idx: &[usize],
    hypothesis: &[Turn],
    h_idx: &[usize],
    region: &[(f64, f64)],
    n_ref: usize,
    n_hyp: usize,
) -> Vec<(f64, Vec<usize>, Vec<usize>)> {
    // Events: (time, kind, label, +1/-1); kind 0 = region, 1 = reference, 2 = hypothesis.
    let mut ev: Vec<(f64, u8, usize, i32)> = Vec::new();
    for &(a, b) in region {
        ev.push((a, 0, 0, 1));
        ev.push((b, 0, 0, -1));
    }
    for (t, &l) in reference.iter().zip(r_idx) {
        ev.push((t.start, 1, l, 1));
        ev.push((t.end, 1, l, -1));
    }
    for (t, &l) in hypothesis.iter().zip(h_idx) {
        ev.push((t.start, 2, l, 1));
        ev.push((t.end, 2, l, -1));
    }
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rc = vec![0i32; n_ref];
    let mut hc = vec![0i32; n_hyp];
    let mut inside = 0i32;
    let mut out = Vec::new();
    let mut prev = f64::NEG_INFINITY;
    let mut i = 0;
    while i < ev.len() {
        let t = ev[i].0;
        if inside > 0 && t > prev {
            let r: Vec<usize> = (0..n_ref).filter(|&k| rc[k] > 0).collect();
            let h: Vec<usize> = (0..n_hyp).filter(|&k| hc[k] > 0).collect();
            if !r.is_empty() || !h.is_empty() {
                out.push((t - prev, r, h));
            }
        }
        while i < ev.len() && ev[i].0 == t {
            let (_, kind, l, d) = ev[i];
            match kind {
                0 => inside += d,
                1 => rc[l] += d,
                _ => hc[l] += d,
            }
            i += 1;
        }
        prev = t;
    }
    out
}

/// The diarization error rate of `hypothesis` against `reference` (see the module
/// docs), `collar` being the total width in seconds (0 = none, [`NIST_COLLAR`]).
pub fn der(reference: &[Turn], hypothesis: &[Turn], collar: f64) -> Result<DerReport> {
    if !(collar.is_finite() && collar >= 0.0) {
        return Err(Error::param(
            "collar",
            format!("{collar} is not a width >= 0 s"),
        ));
    }
    for t in reference.iter().chain(hypothesis) {
        t.validate()?;
    }
    let (r_names, r_idx) = index_labels(reference);
    let (h_names, h_idx) = index_labels(hypothesis);
    let region = scored_region(reference, hypothesis, collar);
    let pcs = pieces(
        reference,
        &r_idx,
        hypothesis,
        &h_idx,
        &region,
        r_names.len(),
        h_names.len(),
    );
    // Co-occurrence (hypothesis × reference).
    let mut co = vec![vec![0.0f64; r_names.len()]; h_names.len()];
    for (d, r, h) in &pcs {
        for &hi in h {
            for &ri in r {
                co[hi][ri] += d;
            }
        }
    }
    let assign = hungarian_max(&co);
    let mut map: Vec<Option<usize>> = vec![None; h_names.len()];
    for (hi, ri) in assign.into_iter().enumerate() {
        if let Some(ri) = ri {
            if co[hi][ri] > 0.0 {
                map[hi] = Some(ri);
            }
        }
    }
    let mut rep = DerReport::zero();
    for (d, r, h) in &pcs {
        let (nr, nh) = (r.len() as f64, h.len() as f64);
        let correct = h
            .iter()
            .filter(|&&hi| map[hi].is_some_and(|ri| r.contains(&ri)))
            .count() as f64;
        rep.total += nr * d;
        rep.missed += (nr - nh).max(0.0) * d;
        rep.false_alarm += (nh - nr).max(0.0) * d;
        rep.confusion += (nr.min(nh) - correct) * d;
    }
    rep.mapping = map
        .iter()
        .enumerate()
        .filter_map(|(hi, m)| m.map(|ri| (h_names[hi].clone(), r_names[ri].clone())))
        .collect();
    Ok(rep)
}

/// Maximum-weight assignment of rows to columns of a (possibly rectangular) matrix
/// of weights >= 0: `out[row] = Some(col)`, each column used at most once. The
/// O(n³) Hungarian algorithm (Kuhn–Munkres with potentials) on the square matrix
/// padded with zeros.
#[allow(clippy::needless_range_loop)] // several arrays indexed in step
pub fn hungarian_max(w: &[Vec<f64>]) -> Vec<Option<usize>> {
    let rows = w.len();
    let cols = w.first().map_or(0, Vec::len);
    let n = rows.max(cols);
    if n == 0 {
        return vec![None; rows];
    }
    let maxw = w.iter().flatten().copied().fold(0.0f64, f64::max);
    // Minimise cost = maxw - weight, 1-based arrays (e-maxx formulation).
    let cost = |i: usize, j: usize| -> f64 {
        if i < rows && j < cols {
            maxw - w[i][j]
        } else {
            maxw
        }
    };
    let inf = f64::INFINITY;
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; n + 1];
    let mut p = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = inf;
            let mut j1 = 0usize;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; rows];
    for j in 1..=n {
        let i = p[j];
        if i >= 1 && i - 1 < rows && j - 1 < cols {
            out[i - 1] = Some(j - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(a: f64, b: f64, l: &str) -> Turn {
        Turn::new(a, b, l).unwrap()
    }

    #[test]
    fn hungarian_finds_the_best_assignment() {
        // Brute force over all permutations of 4.
        let w = vec![
            vec![3.0, 1.0, 4.0, 1.0],
            vec![5.0, 9.0, 2.0, 6.0],
            vec![5.0, 3.0, 5.0, 8.0],
            vec![9.0, 7.0, 9.0, 3.0],
        ];
        let a = hungarian_max(&w);
        let got: f64 = a.iter().enumerate().map(|(i, j)| w[i][j.unwrap()]).sum();
        let mut best = 0.0f64;
        let perms = [
            [0, 1, 2, 3],
            [0, 1, 3, 2],
            [0, 2, 1, 3],
            [0, 2, 3, 1],
            [0, 3, 1, 2],
            [0, 3, 2, 1],
        ];
        for first in 0..4 {
            for p in perms {
                let q: Vec<usize> = p.iter().map(|&x| (x + first) % 4).collect();
                let mut seen = [false; 4];
                if q.iter().all(|&x| !std::mem::replace(&mut seen[x], true)) {
                    best = best.max((0..4).map(|i| w[i][q[i]]).sum());
                }
            }
        }
        assert_eq!(got, best);
        // Rectangular both ways.
        assert_eq!(hungarian_max(&[vec![1.0, 5.0, 2.0]]), vec![Some(1)]);
        assert_eq!(
            hungarian_max(&[vec![1.0], vec![4.0], vec![2.0]]),
            vec![None, Some(0), None]
        );
    }

    #[test]
    fn der_parts_by_hand() {
        let r = vec![t(0.0, 4.0, "a"), t(4.0, 8.0, "b"), t(6.0, 8.0, "c")];
        let h = vec![t(1.0, 4.0, "x"), t(4.0, 9.0, "y")];
        let rep = der(&r, &h, 0.0).unwrap();
        assert!((rep.total - 10.0).abs() < 1e-12);
        assert!((rep.missed - 3.0).abs() < 1e-12); // 0-1 and the overlap 6-8
        assert!((rep.false_alarm - 1.0).abs() < 1e-12); // 8-9
        assert!(rep.confusion.abs() < 1e-12);
        assert!((rep.der() - 0.4).abs() < 1e-12);
        // Perfect but permuted labels: zero.
        let p = vec![t(0.0, 4.0, "q"), t(4.0, 8.0, "p"), t(6.0, 8.0, "z")];
        assert_eq!(der(&r, &p, 0.5).unwrap().der(), 0.0);
        // Empty hypothesis: everything missed; empty both: zero.
        assert_eq!(der(&r, &[], 0.0).unwrap().der(), 1.0);
        assert_eq!(der(&[], &[], 0.0).unwrap().der(), 0.0);
        assert!(der(&r, &h, -1.0).is_err());
    }
}
