//! The latencies of one endpoint: kept exactly up to [`EXACT_SAMPLES`] requests, then in an
//! HDR histogram with 3 significant digits from 1 ms to [`MAX_TRACKED_MS`]; p50/p95/p99 are
//! the nearest-rank percentiles.

use hdrhistogram::Histogram;

use super::{EXACT_SAMPLES, MAX_TRACKED_MS};

/// The latencies of one endpoint: exact while few, an HDR histogram after.
#[derive(Debug, Clone)]
pub(super) enum Samples {
    Exact(Vec<u32>),
    Hdr(Box<Histogram<u32>>),
}

fn new_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_TRACKED_MS, 3).expect("constant, valid bounds")
}

impl Samples {
    pub(super) fn record(&mut self, ms: u64) {
        let ms = ms.min(MAX_TRACKED_MS);
        match self {
            Self::Exact(v) => {
                v.push(ms as u32);
                if v.len() > EXACT_SAMPLES {
                    let mut h = new_histogram();
                    for x in v.iter() {
                        h.saturating_record(u64::from(*x));
                    }
                    *self = Self::Hdr(Box::new(h));
                }
            }
            Self::Hdr(h) => h.saturating_record(ms),
        }
    }

    pub(super) fn merge(&mut self, other: Samples) {
        match other {
            Self::Exact(v) => v.into_iter().for_each(|x| self.record(u64::from(x))),
            Self::Hdr(h) => {
                if let Self::Exact(v) = self {
                    let mut mine = new_histogram();
                    for x in v.iter() {
                        mine.saturating_record(u64::from(*x));
                    }
                    *self = Self::Hdr(Box::new(mine));
                }
                if let Self::Hdr(mine) = self {
                    // Same bounds on both sides, so adding cannot fail.
                    let _ = mine.add(&*h);
                }
            }
        }
    }

    /// Nearest-rank percentiles `qs` (0–1) and the maximum, ms.
    pub(super) fn quantiles(&mut self, qs: &[f64]) -> (Vec<f64>, f64) {
        match self {
            Self::Exact(v) => {
                if v.is_empty() {
                    return (vec![0.0; qs.len()], 0.0);
                }
                v.sort_unstable();
                let n = v.len();
                let at = |q: f64| {
                    let rank = (q * n as f64).ceil().max(1.0) as usize;
                    f64::from(v[rank.min(n) - 1])
                };
                (qs.iter().map(|q| at(*q)).collect(), f64::from(v[n - 1]))
            }
            Self::Hdr(h) => (
                qs.iter().map(|q| h.value_at_quantile(*q) as f64).collect(),
                h.max() as f64,
            ),
        }
    }
}
