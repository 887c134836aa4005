//! Capacity arithmetic: how many requests per second the fleet can serve, how close to the
//! cliff it runs, and what actually moves the ceiling.
//!
//! The model is deliberately simple and stated in every answer:
//! - **Little's law**: the ceiling is `concurrent slots ÷ mean latency`. A slot is one
//!   worker (× threads per worker). This is why latency, not worker count, decides capacity:
//!   cutting latency from 4 s to 1 s is a 4× gain with no new worker, while doubling workers
//!   is 2× and also doubles database concurrency ([`WhatIf`]).
//! - **M/M/c (Erlang C)** when an arrival rate is known: the probability that a request
//!   waits for a free worker and the mean wait ([`mmc`]).
//! - **Worker formula**: Gunicorn's `(2 × cores) + 1`, adjusted for the workload, then
//!   capped by memory and by the database connection budget ([`WorkerRecommendation`]).
//!
//! [`CapacityInput`] is checked once, then [`analyze`] runs the steps, a file each.

mod analysis;
mod check;
mod input;
mod queue;
mod report;
#[cfg(test)]
mod tests;
mod what_if;
mod workers;

pub use analysis::analyze;
pub use input::{CapacityInput, Workload};
pub use queue::{Queue, erlang_b, mmc};
pub use report::{CapacityReport, DbConnections, WhatIf, WorkerRecommendation};

/// Largest number of concurrent slots (replicas × workers × threads) the queue model accepts.
/// Far above any real deployment; it bounds the Erlang recursion to a few milliseconds.
pub const MAX_SLOTS: u64 = 10_000_000;

/// Shortest mean latency accepted, ms (1 µs). Little's law divides by the latency, so a
/// figure such as 1e-300 would make the ceiling and the what-if gain infinite — numbers JSON
/// cannot carry — and no request through nginx and a Python worker takes less.
pub const MIN_LATENCY_MS: f64 = 0.001;
