//! Agglomerative clustering of speaker embeddings with centroid linkage on cosine
//! distance, stopped by a threshold or at a given number of clusters.
//!
//! Every cluster is held as the sum of its members' unit-length embeddings; the
//! distance of two clusters is `1 − cos(sum_a, sum_b)`, and the closest pair is
//! merged until no pair is closer than the threshold (or until `n` clusters are
//! left). Merging sums is associative, so a long recording can be clustered in two
//! stages with flat memory: windows within a chunk first (a few hundred at a time,
//! with a stricter threshold), then the chunks' clusters together — no all-pairs
//! matrix over every window of the recording.
//!
//! ```
//! use speaker_similarity::diarize::cluster::{agglomerate, Stop};
//! let v = vec![vec![1.0, 0.1], vec![0.9, 0.0], vec![0.0, 1.0], vec![0.1, 0.8]];
//! let (labels, n) = agglomerate(&v, &[1.0; 4], Stop::Threshold(0.5));
//! assert_eq!(n, 2);
//! assert_eq!(labels, vec![0, 0, 1, 1]);
//! let (_, n) = agglomerate(&v, &[1.0; 4], Stop::Clusters(1));
//! assert_eq!(n, 1);
//! ```

/// When agglomeration stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// No pair of clusters closer than this cosine distance is left.
    Threshold(f64),
    /// This many clusters are left (or fewer if there were fewer items).
    Clusters(usize),
}

/// Cosine distance `1 − cos(a, b)`; 1 when either is zero.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        1.0
    } else {
        1.0 - ab / (aa * bb).sqrt()
    }
}

/// Cluster `vectors` (cluster sums, or single unit embeddings) of weights `weights`
/// (window counts; used to break no ties but kept for the merged sums' record).
/// Returns every item's cluster index (0.., in order of first item) and the number of
/// clusters. Centroid linkage on the sums: O(m²) memory and O(m³) time in the number
/// of items `m`, so call it on at most a few thousand items.
pub fn agglomerate(vectors: &[Vec<f32>], weights: &[f64], stop: Stop) -> (Vec<usize>, usize) {
    let m = vectors.len();
    if m == 0 {
        return (Vec::new(), 0);
    }
    debug_assert_eq!(weights.len(), m);
    let mut sums: Vec<Vec<f32>> = vectors.to_vec();
    let mut alive: Vec<bool> = vec![true; m];
    let mut parent: Vec<usize> = (0..m).collect();
    let mut dist = vec![f64::INFINITY; m * m];
    for i in 0..m {
        for j in i + 1..m {
            let d = cosine_distance(&sums[i], &sums[j]);
            dist[i * m + j] = d;
            dist[j * m + i] = d;
        }
    }
    let mut n = m;
    loop {
        if let Stop::Clusters(k) = stop {
            if n <= k.max(1) {
                break;
            }
        }
        let (d, a, b) = closest_pair(&dist, &alive);
        if !d.is_finite() {
            break;
        }
        if let Stop::Threshold(t) = stop {
            if d >= t {
                break;
            }
        }
        // Merge b into a.
        let sb = std::mem::take(&mut sums[b]);
        for (x, y) in sums[a].iter_mut().zip(&sb) {
            *x += y;
        }
        alive[b] = false;
        parent[b] = a;
        n -= 1;
        for j in 0..m {
            if alive[j] && j != a {
                let d = cosine_distance(&sums[a], &sums[j]);
                dist[a * m + j] = d;
                dist[j * m + a] = d;
            }
        }
    }
    forest_labels(&parent)
}

/// The whole merge tree of centroid-linkage clustering (cosine on the sums): the
/// merges `(a, b, distance)` in order, item `b`'s cluster joining item `a`'s (each
/// named by its first item). [`cut`] turns it into labels for any number of
/// clusters. Same cost as [`agglomerate`].
pub fn dendrogram(vectors: &[Vec<f32>]) -> Vec<(usize, usize, f64)> {
    let m = vectors.len();
    let mut sums: Vec<Vec<f32>> = vectors.to_vec();
    let mut alive: Vec<bool> = vec![true; m];
    let mut dist = vec![f64::INFINITY; m * m];
    for i in 0..m {
        for j in i + 1..m {
            let d = cosine_distance(&sums[i], &sums[j]);
            dist[i * m + j] = d;
            dist[j * m + i] = d;
        }
    }
    let mut merges = Vec::with_capacity(m.saturating_sub(1));
    for _ in 1..m {
        let (d, a, b) = closest_pair(&dist, &alive);
        if !d.is_finite() {
            break;
        }
        let sb = std::mem::take(&mut sums[b]);
        for (x, y) in sums[a].iter_mut().zip(&sb) {
            *x += y;
        }
        alive[b] = false;
        merges.push((a, b, d));
        for j in 0..m {
            if alive[j] && j != a {
                let d = cosine_distance(&sums[a], &sums[j]);
                dist[a * m + j] = d;
                dist[j * m + a] = d;
            }
        }
    }
    merges
}

/// Labels of `m` items after the first merges of `merges` ([`dendrogram`]) that
/// leave `k` clusters (or as few as the tree has): cluster indices 0.. in order of
/// first item, and their number.
pub fn cut(m: usize, merges: &[(usize, usize, f64)], k: usize) -> (Vec<usize>, usize) {
    let mut parent: Vec<usize> = (0..m).collect();
    let take = m.saturating_sub(k.max(1)).min(merges.len());
    for &(a, b, _) in &merges[..take] {
        parent[b] = a;
    }
    forest_labels(&parent)
}

/// Weighted mean silhouette of a clustering under cosine distance: for every item,
/// `(b − a) / max(a, b)` with `a` its weighted mean distance to the rest of its
/// cluster and `b` the smallest weighted mean distance to another cluster; items
/// alone in their cluster count 0 (scikit-learn's convention). In [−1, 1]; 0 with
/// fewer than 2 clusters. Scale-free, so it compares clusterings with different
/// numbers of clusters — the rule that estimates the number of speakers.
pub fn silhouette(vectors: &[Vec<f32>], weights: &[f64], labels: &[usize], n: usize) -> f64 {
    let m = vectors.len();
    if n < 2 || m < 2 {
        return 0.0;
    }
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..m {
        let mut sum = vec![0.0f64; n];
        let mut wt = vec![0.0f64; n];
        for j in 0..m {
            if j == i {
                continue;
            }
            sum[labels[j]] += weights[j] * cosine_distance(&vectors[i], &vectors[j]);
            wt[labels[j]] += weights[j];
        }
        let own = labels[i];
        if wt[own] <= 0.0 {
            den += weights[i];
            continue;
        }
        let a = sum[own] / wt[own];
        let b = (0..n)
            .filter(|&c| c != own && wt[c] > 0.0)
            .map(|c| sum[c] / wt[c])
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            let s = if a.max(b) > 0.0 {
                (b - a) / a.max(b)
            } else {
                0.0
            };
            num += weights[i] * s;
        }
        den += weights[i];
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// `v` scaled to unit length (unchanged when zero).
pub fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if n > 0.0 {
        let s = (1.0 / n) as f32;
        v.iter_mut().for_each(|x| *x *= s);
    }
    v
}

/// The closest pair `(distance, i, j)`, `i < j`, of the alive items of an
/// `m × m` distance matrix (row-major); an infinite distance when fewer than two
/// are alive.
fn closest_pair(dist: &[f64], alive: &[bool]) -> (f64, usize, usize) {
    let m = alive.len();
    let mut best = (f64::INFINITY, 0, 0);
    for i in (0..m).filter(|&i| alive[i]) {
        for j in (i + 1..m).filter(|&j| alive[j]) {
            if dist[i * m + j] < best.0 {
                best = (dist[i * m + j], i, j);
            }
        }
    }
    best
}

/// The cluster of every item of a merge forest (`parent[i]` is `i`'s parent; a
/// root is its own): the roots numbered in order of their first item. Returns the
/// labels and the number of clusters.
fn forest_labels(parent: &[usize]) -> (Vec<usize>, usize) {
    let root = |mut i: usize| {
        while parent[i] != i {
            i = parent[i];
        }
        i
    };
    let mut id = vec![usize::MAX; parent.len()];
    let mut labels = Vec::with_capacity(parent.len());
    let mut next = 0;
    for i in 0..parent.len() {
        let r = root(i);
        if id[r] == usize::MAX {
            id[r] = next;
            next += 1;
        }
        labels.push(id[r]);
    }
    (labels, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn three_directions_and_forced_counts() {
        let mut v = Vec::new();
        for i in 0..30 {
            let e = (i % 7) as f32 * 0.02;
            v.push(match i % 3 {
                0 => vec![1.0, e, 0.0],
                1 => vec![e, 1.0, 0.0],
                _ => vec![0.0, e, 1.0],
            });
        }
        let w = vec![1.0; v.len()];
        let (l, n) = agglomerate(&v, &w, Stop::Threshold(0.3));
        assert_eq!(n, 3);
        for i in 0..30 {
            assert_eq!(l[i], i % 3);
        }
        assert_eq!(agglomerate(&v, &w, Stop::Clusters(2)).1, 2);
        assert_eq!(agglomerate(&v, &w, Stop::Clusters(50)).1, 30);
        assert_eq!(agglomerate(&v, &w, Stop::Threshold(0.0)).1, 30);
        assert_eq!(agglomerate(&[], &[], Stop::Clusters(2)), (vec![], 0));
        assert_eq!(cosine_distance(&[0.0, 0.0], &[1.0, 0.0]), 1.0);
    }

    #[test]
    fn the_tree_cut_at_k_is_agglomeration_to_k() {
        let v: Vec<Vec<f32>> = (0..24)
            .map(|i| {
                let e = ((i * 7) % 5) as f32 * 0.05;
                match i % 4 {
                    0 => vec![1.0, e, 0.1, 0.0],
                    1 => vec![e, 1.0, 0.0, 0.2],
                    2 => vec![0.0, 0.1, 1.0, e],
                    _ => vec![0.3, 0.0, e, 1.0],
                }
            })
            .collect();
        let w = vec![1.0; v.len()];
        let tree = dendrogram(&v);
        assert_eq!(tree.len(), v.len() - 1);
        for k in 1..=v.len() {
            assert_eq!(
                cut(v.len(), &tree, k),
                agglomerate(&v, &w, Stop::Clusters(k)),
                "k {k}"
            );
        }
        // Merge distances of the four tight groups come first.
        assert!(tree[..20].iter().all(|m| m.2 < 0.1));
        assert!(tree[20..].iter().all(|m| m.2 > 0.5));
        assert_eq!(dendrogram(&[]), vec![]);
        assert_eq!(cut(0, &[], 3), (vec![], 0));
    }

    #[test]
    fn silhouette_by_hand() {
        // Two pairs on orthogonal axes: within-pair distance 1 − cos(θ), across 1.
        let c = 0.95f32; // cos θ of the pair members
        let s = (1.0 - c * c).sqrt();
        let v = vec![vec![1.0, 0.0], vec![c, s], vec![0.0, 1.0], vec![s, c]];
        // v[1] and v[3] are not orthogonal to the other pair: compute the reference
        // silhouette here from the definition, in f64.
        let d = |a: &[f32], b: &[f32]| cosine_distance(a, b);
        let labels = vec![0, 0, 1, 1];
        let mut want = 0.0;
        for i in 0..4 {
            let own: Vec<usize> = (0..4)
                .filter(|&j| j != i && labels[j] == labels[i])
                .collect();
            let other: Vec<usize> = (0..4).filter(|&j| labels[j] != labels[i]).collect();
            let a = own.iter().map(|&j| d(&v[i], &v[j])).sum::<f64>() / own.len() as f64;
            let b = other.iter().map(|&j| d(&v[i], &v[j])).sum::<f64>() / other.len() as f64;
            want += (b - a) / a.max(b) / 4.0;
        }
        let got = silhouette(&v, &[1.0; 4], &labels, 2);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert!(got > 0.5);
        // Weights count an item that many times.
        let w2 = silhouette(&v, &[2.0, 2.0, 1.0, 1.0], &labels, 2);
        assert!(w2.is_finite() && (w2 - got).abs() < 0.5);
        // One cluster, or items alone in theirs: 0.
        assert_eq!(silhouette(&v, &[1.0; 4], &[0; 4], 1), 0.0);
        assert_eq!(silhouette(&v, &[1.0; 4], &[0, 1, 2, 3], 4), 0.0);
        // A wrong split scores below the right one.
        assert!(silhouette(&v, &[1.0; 4], &[0, 1, 0, 1], 2) < got);
    }
}
