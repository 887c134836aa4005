//! The fleet as an AWS load balancer sees it: CloudWatch's per-period series of an ALB
//! (`AWS/ApplicationELB`) or a Classic ELB (`AWS/ELB`) turned into latency percentiles,
//! request rate, 5xx split between the app and the load balancer, connection failures and
//! queueing, with what each notable signal means.
//!
//! An engineer on a laptop has no log file or listen port of the fleet; the load balancer's
//! metrics are where the whole fleet reports. A Classic ELB's surge queue is the fleet's
//! accept queue: requests waiting for a backend with a free worker, so it fills
//! `observations.backlog_growing` / `backlog_shape` the way the listen socket does on a host.
//!
//! - [`LoadBalancerRef`]: what break_down_latency takes (`aws_load_balancer`);
//!   [`LoadBalancerRef::check`] validates it into a [`LoadBalancerWindow`];
//! - [`LbSample`]: what the CloudWatch adapter reads, one series per [`Signal`];
//! - [`analyze`]: the [`LoadBalancerReport`]; [`fold`]: what it adds to a latency breakdown.

mod analysis;
mod input;
mod report;
mod sample;
#[cfg(test)]
mod tests;

pub use analysis::{analyze, evidence, fold, weighted_mean};
pub use input::{
    DEFAULT_WINDOW_MINUTES, LbKind, LoadBalancerRef, LoadBalancerWindow, parse_name,
    parse_target_group, period_for,
};
pub use report::{Errors, Finding, LbStatus, LoadBalancerReport, ResponseTime, SurgeQueue};
pub use sample::{LbSample, Point, Scope, Signal};
