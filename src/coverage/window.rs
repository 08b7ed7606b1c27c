//! SPICE windows: ordered sets of disjoint closed intervals, with CSPICE's merge rules.
//!
//! `wninsd` (NAIF *Windows Required Reading*) merges an inserted interval with every
//! interval it overlaps *or touches* (the intervals are closed, so `[a, b]` and
//! `[b, c]` become `[a, c]`, and a singleton `[t, t]` inside or at the edge of an
//! interval disappears into it). The union is independent of insertion order, so
//! [`Window::from_intervals`] sorts once and sweeps. [`Window::complement`] is
//! `wncomd` line for line (its output is built with the same merging insert).

use serde::Serialize;

/// A normalised window: sorted, disjoint, non-touching closed intervals.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Window(Vec<[f64; 2]>);

impl Window {
    pub fn new() -> Self {
        Window(Vec::new())
    }

    /// The union of `intervals`, as repeated `wninsd` calls would build it. Intervals
    /// with `start > stop` or a NaN bound are the caller's to reject first; here they
    /// are skipped (`wninsd` signals an error for them).
    pub fn from_intervals(intervals: impl IntoIterator<Item = [f64; 2]>) -> Self {
        let mut v: Vec<[f64; 2]> = intervals.into_iter().filter(|[a, b]| a <= b).collect();
        v.sort_by(|x, y| x[0].total_cmp(&y[0]).then(x[1].total_cmp(&y[1])));
        let mut out: Vec<[f64; 2]> = Vec::with_capacity(v.len());
        for [a, b] in v {
            match out.last_mut() {
                Some(last) if a <= last[1] => {
                    if b > last[1] {
                        last[1] = b;
                    }
                }
                _ => out.push([a, b]),
            }
        }
        Window(out)
    }

    /// `wninsd`: inserts `[a, b]`, merging what it overlaps or touches.
    pub fn insert(&mut self, a: f64, b: f64) {
        if a.is_nan() || b.is_nan() || a > b {
            return;
        }
        // First interval whose end is >= a, last whose start is <= b.
        let lo = self.0.partition_point(|iv| iv[1] < a);
        let hi = self.0.partition_point(|iv| iv[0] <= b);
        if lo >= hi {
            self.0.insert(lo, [a, b]);
        } else {
            let start = a.min(self.0[lo][0]);
            let end = b.max(self.0[hi - 1][1]);
            self.0.drain(lo + 1..hi);
            self.0[lo] = [start, end];
        }
    }

    /// The union of two windows.
    pub fn union(&self, other: &Window) -> Window {
        Window::from_intervals(self.0.iter().chain(other.0.iter()).copied())
    }

    pub fn intervals(&self) -> &[[f64; 2]] {
        &self.0
    }

    pub fn into_intervals(self) -> Vec<[f64; 2]> {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `t` lies in one of the (closed) intervals.
    pub fn contains(&self, t: f64) -> bool {
        let i = self.0.partition_point(|iv| iv[1] < t);
        self.0.get(i).is_some_and(|iv| iv[0] <= t)
    }

    /// `wncomd`: the complement of the window with respect to `[left, right]` — the
    /// gaps in coverage inside that span. `None` when `left > right`.
    pub fn complement(&self, left: f64, right: f64) -> Option<Window> {
        if left > right {
            return None;
        }
        let mut out = Window::new();
        let e: Vec<f64> = self.0.iter().flat_map(|iv| [iv[0], iv[1]]).collect();
        let card = e.len();
        // Endpoints are 1-based in the CSPICE code: endpoint(i) = e[i - 1].
        let ep = |i: usize| e[i - 1];
        if card == 0 || ep(1) >= right || ep(card) <= left {
            out.insert(left, right);
            return Some(out);
        }
        let mut i = 2;
        while i <= card && ep(i) < left {
            i += 2;
        }
        if i <= card && ep(i - 1) > left {
            out.insert(left, ep(i - 1));
        }
        while i < card && ep(i + 1) < right {
            out.insert(ep(i), ep(i + 1));
            i += 2;
        }
        if i <= card && ep(i) < right {
            out.insert(ep(i), right);
        }
        Some(out)
    }
}

/// The gaps of the union of `windows` inside `[from, to]` (what `kdb gaps` prints):
/// `wncomd` then intersected with `[from, to]` (`wnintd`). The intersection matters:
/// when `[from, to]` lies inside one gap of the window, CSPICE's `wncomd` returns that
/// whole gap, reaching past `to` (SpiceyPy: window `[-28,-28] [0,0]`, interval `[-5,-3]`
/// gives `[-5, 0]`).
pub fn gaps<'a>(
    windows: impl IntoIterator<Item = &'a Window>,
    from: f64,
    to: f64,
) -> Option<Window> {
    let union = Window::from_intervals(windows.into_iter().flat_map(|w| w.0.iter().copied()));
    let c = union.complement(from, to)?;
    Some(Window(
        c.0.into_iter()
            .filter_map(|[a, b]| {
                let (a, b) = (a.max(from), b.min(to));
                (a <= b).then_some([a, b])
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn touching_intervals_merge_and_singletons_vanish() {
        let w =
            Window::from_intervals([[3.0, 4.0], [1.0, 2.0], [2.0, 3.0], [10.0, 10.0], [4.0, 4.0]]);
        assert_eq!(w.intervals(), &[[1.0, 4.0], [10.0, 10.0]]);
    }

    #[test]
    fn complement_matches_wncomd_examples() {
        // The example in the WNCOMD header: window [1,3] [7,11] [23,27], interval [2,20].
        let w = Window::from_intervals([[1.0, 3.0], [7.0, 11.0], [23.0, 27.0]]);
        assert_eq!(
            w.complement(2.0, 20.0).unwrap().intervals(),
            &[[3.0, 7.0], [11.0, 20.0]]
        );
        assert_eq!(
            w.complement(0.0, 100.0).unwrap().intervals(),
            &[[0.0, 1.0], [3.0, 7.0], [11.0, 23.0], [27.0, 100.0]]
        );
        assert_eq!(
            w.complement(30.0, 40.0).unwrap().intervals(),
            &[[30.0, 40.0]]
        );
        assert!(w.complement(5.0, 4.0).is_none());
        // CSPICE's quirk, kept by `complement` and clipped by `gaps`.
        let q = Window::from_intervals([[-28.0, -28.0], [0.0, 0.0]]);
        assert_eq!(
            q.complement(-5.0, -3.0).unwrap().intervals(),
            &[[-5.0, 0.0]]
        );
        assert_eq!(gaps([&q], -5.0, -3.0).unwrap().intervals(), &[[-5.0, -3.0]]);
        assert_eq!(
            Window::new().complement(1.0, 2.0).unwrap().intervals(),
            &[[1.0, 2.0]]
        );
    }

    fn arb_intervals() -> impl Strategy<Value = Vec<[f64; 2]>> {
        prop::collection::vec((-50i32..50, 0i32..10), 0..20).prop_map(|v| {
            v.into_iter()
                .map(|(a, l)| [a as f64, (a + l) as f64])
                .collect()
        })
    }

    proptest! {
        #[test]
        fn insert_equals_from_intervals(ivs in arb_intervals()) {
            let mut w = Window::new();
            for [a, b] in &ivs { w.insert(*a, *b); }
            prop_assert_eq!(w, Window::from_intervals(ivs));
        }

        #[test]
        fn complement_is_the_set_difference(ivs in arb_intervals(), l in -60i32..60, len in 0i32..60) {
            let w = Window::from_intervals(ivs);
            let (l, r) = (l as f64, (l + len) as f64);
            let c = gaps([&w], l, r).unwrap();
            // Sample half-integer points: none is an endpoint, so open/closed does not matter.
            let mut t = l + 0.5;
            while t < r {
                prop_assert_eq!(c.contains(t), !w.contains(t), "t = {}", t);
                t += 1.0;
            }
            for iv in c.intervals() { prop_assert!(iv[0] >= l && iv[1] <= r); }
        }
    }
}
