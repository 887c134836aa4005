//! How far a long call has got, for whoever is waiting on it: an MCP client that sent a
//! progress token, a person watching a terminal, or nobody.
//!
//! A call can run several readers at once (an access log while worker state is sampled).
//! Each reader reports on its own [`Lane`] as a fraction of its work; the call's progress is
//! the mean of its lanes, in percent, and only ever moves forward. Reports are cheap when
//! nobody listens, and a listener is called at most every [`MIN_INTERVAL`] (plus once at
//! the end of each lane), so a reader may report as often as it likes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The least time between two reports to the listener.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// One report: percent done (0–100) and what is being done.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub percent: f64,
    pub message: String,
}

type Listener = Arc<dyn Fn(Update) + Send + Sync>;

/// Where progress goes. Cloning shares the same listener and lanes.
#[derive(Clone, Default)]
pub struct Progress {
    inner: Option<Arc<Shared>>,
}

struct Shared {
    listener: Listener,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    lanes: Vec<f64>,
    sent: f64,
    last: Option<Instant>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.inner.is_some() {
            "Progress(listening)"
        } else {
            "Progress(none)"
        })
    }
}

impl Progress {
    /// Progress that nobody listens to.
    pub fn none() -> Self {
        Self::default()
    }

    /// Progress sent to `listener`.
    pub fn to(listener: impl Fn(Update) + Send + Sync + 'static) -> Self {
        Self {
            inner: Some(Arc::new(Shared {
                listener: Arc::new(listener),
                state: Mutex::new(State::default()),
            })),
        }
    }

    /// Whether anybody listens (a reader can skip work that only feeds progress).
    pub fn is_listening(&self) -> bool {
        self.inner.is_some()
    }

    /// A lane for one reader of this call.
    pub fn lane(&self) -> Lane {
        let index = self.inner.as_ref().map(|shared| {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.lanes.push(0.0);
            state.lanes.len() - 1
        });
        Lane {
            progress: self.clone(),
            index,
        }
    }
}

/// One reader's share of a call's progress.
#[derive(Debug, Clone)]
pub struct Lane {
    progress: Progress,
    index: Option<usize>,
}

impl Lane {
    /// Whether anybody listens to this lane.
    pub fn is_listening(&self) -> bool {
        self.progress.is_listening()
    }

    /// This reader has done `done` of `total`; `message` says what it is doing (built only
    /// when the report is sent).
    pub fn report(&self, done: f64, total: f64, message: impl FnOnce() -> String) {
        let (Some(shared), Some(index)) = (&self.progress.inner, self.index) else {
            return;
        };
        let fraction = if total > 0.0 && done.is_finite() {
            (done / total).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let update = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let lane = &mut state.lanes[index];
            if fraction <= *lane {
                return;
            }
            *lane = fraction;
            let percent = 100.0 * state.lanes.iter().sum::<f64>() / state.lanes.len().max(1) as f64;
            let now = Instant::now();
            let due = state
                .last
                .is_none_or(|t| now.duration_since(t) >= MIN_INTERVAL);
            if percent <= state.sent || !(due || fraction >= 1.0) {
                return;
            }
            state.sent = percent;
            state.last = Some(now);
            Update {
                percent: (percent * 10.0).round() / 10.0,
                message: message(),
            }
        };
        (shared.listener)(update);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect() -> (Progress, Arc<Mutex<Vec<Update>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        (Progress::to(move |u| sink.lock().unwrap().push(u)), seen)
    }

    #[test]
    fn lanes_average_and_progress_only_moves_forward() {
        let (progress, seen) = collect();
        let log = progress.lane();
        let workers = progress.lane();
        log.report(1.0, 1.0, || "log read".into());
        workers.report(1.0, 2.0, || "sample 1 of 2".into());
        std::thread::sleep(MIN_INTERVAL);
        workers.report(2.0, 2.0, || "sample 2 of 2".into());
        log.report(0.5, 1.0, || "going back".into());
        let seen = seen.lock().unwrap();
        let percents: Vec<f64> = seen.iter().map(|u| u.percent).collect();
        // The first half-lane report came within MIN_INTERVAL of the first one: not sent.
        assert_eq!(percents, vec![50.0, 100.0]);
        assert_eq!(seen[1].message, "sample 2 of 2");
    }

    #[test]
    fn nobody_listening_costs_nothing_and_builds_no_message() {
        let lane = Progress::none().lane();
        lane.report(1.0, 2.0, || panic!("the message is built only when sent"));
        assert!(!Progress::none().is_listening());
    }
}
