//! The M/M/c queue (Erlang C): the probability that a request waits for a free worker and
//! the mean wait, for a number of slots, an arrival rate and a mean service time.
//!
//! P(wait) comes from the Erlang B recursion `B(k) = A·B(k−1) / (k + A·B(k−1))`, which
//! never forms a factorial or a power and so stays exact for thousands of workers;
//! `C = c·B / (c − A·(1 − B))`, `Wq = C·T / (c − A)`. Utilisation ≥ 1 is not an error but
//! the answer: the queue grows without bound.

/// Result of the M/M/c model for one configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Queue {
    /// Offered load A = λ·T, in Erlangs.
    pub offered_load: f64,
    /// ρ = A / c.
    pub utilization: f64,
    /// Erlang C: probability of waiting (1 when unstable).
    pub p_wait: f64,
    /// Mean wait in the queue, seconds (`None` when unstable: it grows without bound).
    pub mean_wait_s: Option<f64>,
}

/// Erlang B blocking probability for `servers` servers and `offered_load` Erlangs, by the
/// recursion `B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))`.
pub fn erlang_b(servers: u64, offered_load: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=servers {
        let ab = offered_load * b;
        b = ab / (k as f64 + ab);
        if b == 0.0 {
            break;
        }
    }
    b
}

/// The M/M/c queue for `servers` slots, `arrival_rps` arrivals and `service_s` mean service time.
pub fn mmc(servers: u64, arrival_rps: f64, service_s: f64) -> Queue {
    let a = arrival_rps * service_s;
    let c = servers as f64;
    let rho = a / c;
    if rho >= 1.0 {
        return Queue {
            offered_load: a,
            utilization: rho,
            p_wait: 1.0,
            mean_wait_s: None,
        };
    }
    if a == 0.0 {
        return Queue {
            offered_load: 0.0,
            utilization: 0.0,
            p_wait: 0.0,
            mean_wait_s: Some(0.0),
        };
    }
    let b = erlang_b(servers, a);
    let p_wait = (c * b / (c - a * (1.0 - b))).clamp(0.0, 1.0);
    let mean_wait_s = p_wait * service_s / (c - a);
    Queue {
        offered_load: a,
        utilization: rho,
        p_wait,
        mean_wait_s: Some(mean_wait_s),
    }
}
