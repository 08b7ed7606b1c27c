//! Which segment CSPICE would use at an epoch, and which others also cover it.
//!
//! Precedence (NAIF *SPK Required Reading*, "Segment Order and Priority"; the same rule
//! holds for CK and binary PCK): among loaded binary kernels the last loaded wins, and
//! within a file the segment that comes last. The search stops at the first segment for
//! the ID whose coverage contains the epoch. For CK the coverage of a segment is its
//! interval-level window (a segment can have holes; CSPICE then goes on to the next
//! segment), which the caller supplies.

use serde::Serialize;

use super::segment::Segment;
use super::window::Window;

/// One segment's coverage for the precedence search.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentCover {
    pub id: i32,
    /// Position in its file (summary order).
    pub index: usize,
    pub windows: Window,
}

impl SegmentCover {
    /// Segment-level coverage (SPK, PCK, or CK at segment level).
    pub fn of(seg: &Segment) -> SegmentCover {
        SegmentCover {
            id: seg.id,
            index: seg.index,
            windows: Window::from_intervals([[seg.start, seg.stop]]),
        }
    }
}

/// One loaded kernel: its name and its segments in file order.
#[derive(Clone, Debug)]
pub struct KernelCover<'a> {
    pub file: &'a str,
    pub segments: &'a [SegmentCover],
}

/// A segment that covers the epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub file: String,
    /// Load-order position of the file (0 = loaded first).
    #[serde(skip)]
    pub kernel: usize,
    pub segment: usize,
}

/// The precedence answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Which {
    pub winner: Option<Hit>,
    /// Every other kernel that also covers the epoch, in precedence order, each with its
    /// own highest-precedence covering segment.
    pub covering: Vec<Hit>,
}

/// The winner among `kernels` (in load order) for `id` at `t`, and the runners-up.
pub fn which(kernels: &[KernelCover<'_>], id: i32, t: f64) -> Which {
    let mut hits = Vec::new();
    for (k, kc) in kernels.iter().enumerate().rev() {
        if let Some(seg) = kc
            .segments
            .iter()
            .rev()
            .find(|s| s.id == id && s.windows.contains(t))
        {
            hits.push(Hit {
                file: kc.file.to_string(),
                kernel: k,
                segment: seg.index,
            });
        }
    }
    let mut it = hits.into_iter();
    Which {
        winner: it.next(),
        covering: it.collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: i32, index: usize, a: f64, b: f64) -> SegmentCover {
        SegmentCover {
            id,
            index,
            windows: Window::from_intervals([[a, b]]),
        }
    }

    #[test]
    fn last_file_then_last_segment_wins() {
        let a = vec![
            seg(1, 0, 0.0, 10.0),
            seg(1, 1, 5.0, 6.0),
            seg(2, 2, 0.0, 100.0),
        ];
        let b = vec![seg(1, 0, 8.0, 20.0)];
        let ks = [
            KernelCover {
                file: "a.bsp",
                segments: &a,
            },
            KernelCover {
                file: "b.bsp",
                segments: &b,
            },
        ];
        let w = which(&ks, 1, 5.5);
        assert_eq!(
            w.winner.as_ref().map(|h| (h.file.as_str(), h.segment)),
            Some(("a.bsp", 1))
        );
        assert!(w.covering.is_empty());
        let w = which(&ks, 1, 9.0);
        assert_eq!(
            w.winner.as_ref().map(|h| (h.file.as_str(), h.segment)),
            Some(("b.bsp", 0))
        );
        assert_eq!(
            w.covering
                .iter()
                .map(|h| (h.file.as_str(), h.segment))
                .collect::<Vec<_>>(),
            [("a.bsp", 0)]
        );
        assert_eq!(which(&ks, 1, 50.0).winner, None);
        assert_eq!(which(&ks, 3, 1.0).winner, None);
        // Closed intervals: the bounds are covered.
        assert!(which(&ks, 1, 20.0).winner.is_some());
    }
}
