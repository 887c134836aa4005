//! The sampling loop the worker-state and accept-queue readers share: read a gauge a fixed
//! number of times at a fixed pace, so that one busy instant is not taken for the state.

use std::time::{Duration, Instant};

use crate::progress::Lane;

/// How often to sample, and how long one read may take.
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    pub samples: u32,
    pub interval: Duration,
    pub timeout: Duration,
}

impl Sampling {
    /// Calls `read` `samples` times (at least once), `interval` apart measured from the
    /// first call (a slow read does not push the later ones back), and stops at the first
    /// error. `lane` hears each sample taken, as `what: sample i of n`.
    pub fn run<T, E>(
        self,
        lane: &Lane,
        what: &str,
        mut read: impl FnMut() -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        let count = self.samples.max(1);
        let mut out = Vec::with_capacity(count as usize);
        let start = Instant::now();
        for i in 0..count {
            if i > 0 {
                let due = start + self.interval * i;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            out.push(read()?);
            let taken = i + 1;
            lane.report(f64::from(taken), f64::from(count), || {
                format!("{what}: sample {taken} of {count}")
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;

    #[test]
    fn reads_at_a_fixed_pace_and_stops_at_the_first_error() {
        let sampling = Sampling {
            samples: 3,
            interval: Duration::from_millis(20),
            timeout: Duration::from_secs(1),
        };
        let started = Instant::now();
        let mut n = 0;
        let lane = Progress::none().lane();
        let got = sampling.run(&lane, "test", || -> Result<u32, ()> {
            n += 1;
            Ok(n)
        });
        assert_eq!(got, Ok(vec![1, 2, 3]));
        assert!(started.elapsed() >= Duration::from_millis(40));

        let mut calls = 0;
        let failed = sampling.run(&lane, "test", || {
            calls += 1;
            if calls == 2 {
                Err("second read failed")
            } else {
                Ok(calls)
            }
        });
        assert_eq!(failed, Err("second read failed"));
        assert_eq!(calls, 2);

        let once = Sampling {
            samples: 0,
            ..sampling
        }
        .run(&lane, "test", || Ok::<_, ()>(7));
        assert_eq!(once, Ok(vec![7]));
    }
}
