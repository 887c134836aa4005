//! The requests of the log's last seconds, kept in a fixed ring whatever the log's length:
//! the current throughput, to set against worker state sampled now.

/// Seconds of per-second request counts kept at the end of the log.
pub const RECENT_SECONDS: usize = 128;

/// Requests, and their upstream time, for the latest seconds seen, in a ring indexed by the
/// second: nginx writes lines in completion order, so the end of the log is its last
/// seconds. Fixed size and a few instructions per line, whatever the log's length.
#[derive(Debug, Clone)]
pub(super) struct RecentSeconds {
    second: Box<[i64; RECENT_SECONDS]>,
    slot: Box<[SecondCounts; RECENT_SECONDS]>,
}

/// One second of the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondCounts {
    pub requests: u32,
    /// Sum of `$upstream_response_time`, ms, over the `upstream_n` requests that have one.
    pub upstream_ms: u64,
    pub upstream_n: u32,
}

impl Default for RecentSeconds {
    fn default() -> Self {
        Self {
            second: Box::new([i64::MIN; RECENT_SECONDS]),
            slot: Box::new([SecondCounts::default(); RECENT_SECONDS]),
        }
    }
}

impl RecentSeconds {
    #[inline]
    pub(super) fn add(&mut self, ts: i64, requests: u32, upstream_ms: u64, upstream_n: u32) {
        let i = ts.rem_euclid(RECENT_SECONDS as i64) as usize;
        if self.second[i] < ts {
            // A newer second takes the slot; an older one than the slot holds is dropped.
            self.second[i] = ts;
            self.slot[i] = SecondCounts::default();
        }
        if self.second[i] == ts {
            let s = &mut self.slot[i];
            s.requests = s.requests.saturating_add(requests);
            s.upstream_ms = s.upstream_ms.saturating_add(upstream_ms);
            s.upstream_n = s.upstream_n.saturating_add(upstream_n);
        }
    }

    pub(super) fn merge(&mut self, other: &Self) {
        for i in 0..RECENT_SECONDS {
            if other.second[i] != i64::MIN {
                let o = other.slot[i];
                self.add(other.second[i], o.requests, o.upstream_ms, o.upstream_n);
            }
        }
    }

    /// The seconds in `(last − RECENT_SECONDS, last]`, oldest first; seconds with no request
    /// are listed empty.
    pub(super) fn tail(&self, last: Option<i64>) -> Vec<(i64, SecondCounts)> {
        let Some(last) = last else { return Vec::new() };
        (last - RECENT_SECONDS as i64 + 1..=last)
            .map(|ts| {
                let i = ts.rem_euclid(RECENT_SECONDS as i64) as usize;
                let counts = if self.second[i] == ts {
                    self.slot[i]
                } else {
                    SecondCounts::default()
                };
                (ts, counts)
            })
            .collect()
    }
}
