//! The load balancer break_down_latency is asked to read ([`LoadBalancerRef`], as typed), and
//! [`LoadBalancerRef::check`], which validates it once, before anything is sent to AWS, into
//! a [`LoadBalancerWindow`]: which CloudWatch dimensions, which region, which window and
//! period.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnosis::InputError;
use crate::diagnosis::storage::check_region;
use crate::diagnosis::window::resolve_time;

/// An AWS load balancer whose CloudWatch metrics are read.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerRef {
    /// ALB `app/NAME/ID` (or its ARN), or a Classic ELB's name.
    pub name: String,
    /// ALB target group `targetgroup/NAME/ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Default 15m before now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// Which kind of load balancer: it decides the CloudWatch namespace and metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum LbKind {
    /// Application Load Balancer (`AWS/ApplicationELB`, dimension `LoadBalancer`).
    Alb,
    /// Classic ELB (`AWS/ELB`, dimension `LoadBalancerName`).
    Classic,
}

impl LbKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alb => "alb",
            Self::Classic => "classic",
        }
    }

    /// The CloudWatch namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Alb => "AWS/ApplicationELB",
            Self::Classic => "AWS/ELB",
        }
    }

    /// The CloudWatch dimension that names the load balancer.
    pub fn dimension(self) -> &'static str {
        match self {
            Self::Alb => "LoadBalancer",
            Self::Classic => "LoadBalancerName",
        }
    }
}

/// The window when `since` is not given, minutes.
pub const DEFAULT_WINDOW_MINUTES: i64 = 15;
/// The longest window: CloudWatch keeps 1-minute data 15 days, 5-minute data 63 days.
const MAX_WINDOW_DAYS: i64 = 30;
/// Periods per query at most (GetMetricData returns up to 100,800 datapoints per call; 14
/// queries × 1,440 stay well under).
pub const MAX_PERIODS: i64 = 1440;

/// A load balancer reference that passed [`LoadBalancerRef::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalancerWindow {
    pub kind: LbKind,
    /// The value of the `LoadBalancer` / `LoadBalancerName` dimension.
    pub name: String,
    /// The value of the `TargetGroup` dimension (ALB only).
    pub target_group: Option<String>,
    pub region: Option<String>,
    /// The window, Unix seconds: whole periods, the current partial one left out.
    pub start: i64,
    pub end: i64,
    /// 60 s up to a day; longer windows get whole multiples of 5 minutes, at most
    /// [`MAX_PERIODS`] of them.
    pub period_seconds: u32,
}

impl LoadBalancerRef {
    /// Checks the reference; a wrong field is named under `aws_load_balancer`.
    pub fn check(&self, now: i64) -> Result<LoadBalancerWindow, InputError> {
        let field = |f: &str| format!("aws_load_balancer.{f}");
        let (kind, name) = parse_name(&self.name).map_err(|m| InputError::new(field("name"), m))?;
        let target_group = match &self.target_group {
            None => None,
            Some(_) if kind == LbKind::Classic => {
                return Err(InputError::new(
                    field("target_group"),
                    "a Classic ELB has no target groups: leave target_group out, or name the ALB as `app/NAME/ID`",
                ));
            }
            Some(tg) => Some(
                parse_target_group(tg).map_err(|m| InputError::new(field("target_group"), m))?,
            ),
        };
        if let Some(region) = &self.region {
            check_region(&field("region"), region)?;
        }
        let (start, end, period_seconds) = span(self, now)?;
        Ok(LoadBalancerWindow {
            kind,
            name,
            target_group,
            region: self.region.clone(),
            start,
            end,
            period_seconds,
        })
    }
}

/// The kind and the dimension value of a load balancer name (an ARN is cut to its name).
pub fn parse_name(text: &str) -> Result<(LbKind, String), String> {
    let t = text.trim();
    let t = match t.find(":loadbalancer/") {
        Some(i) if t.starts_with("arn:") => &t[i + ":loadbalancer/".len()..],
        _ => t,
    };
    let parts: Vec<&str> = t.split('/').collect();
    match parts.as_slice() {
        [name] if resource_name(name) => Ok((LbKind::Classic, (*name).to_owned())),
        ["app", name, id] if resource_name(name) && resource_id(id) => {
            Ok((LbKind::Alb, t.to_owned()))
        }
        ["net", ..] => Err(
            "is a Network Load Balancer: it has no request latency or HTTP codes in CloudWatch; name the ALB (`app/NAME/ID`) or the Classic ELB instead"
                .to_owned(),
        ),
        _ => Err(format!(
            "`{}` is not a load balancer name: give an ALB as CloudWatch's LoadBalancer dimension `app/NAME/ID` (e.g. `app/my-alb/50dc6c495c0c9188`, the end of its ARN), or a Classic ELB's name (1–32 letters, digits or hyphens)",
            shown(text)
        )),
    }
}

/// The `TargetGroup` dimension value of a target group (an ARN is cut to it).
pub fn parse_target_group(text: &str) -> Result<String, String> {
    let t = text.trim();
    let t = match t.find(":targetgroup/") {
        Some(i) if t.starts_with("arn:") => &t[i + 1..],
        _ => t,
    };
    match t.split('/').collect::<Vec<_>>().as_slice() {
        ["targetgroup", name, id] if resource_name(name) && resource_id(id) => Ok(t.to_owned()),
        _ => Err(format!(
            "`{}` is not a target group: give CloudWatch's TargetGroup dimension `targetgroup/NAME/ID` (e.g. `targetgroup/web/943f017f100becff`, the end of its ARN)",
            shown(text)
        )),
    }
}

/// A load balancer or target group name: 1–32 letters, digits or hyphens, not starting or
/// ending with a hyphen.
fn resource_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The hexadecimal id AWS appends to an ALB or target group name.
fn resource_id(s: &str) -> bool {
    (8..=32).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The caller's text, cut short, for an error message.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The window and its period: from `since` (default 15 minutes before the end) to `until`
/// (default now, never later), aligned down to the period so the partial current period
/// is left out.
fn span(r: &LoadBalancerRef, now: i64) -> Result<(i64, i64, u32), InputError> {
    let until = match &r.until {
        Some(t) => resolve_time("aws_load_balancer.until", t, now)?.min(now),
        None => now,
    };
    let since = match &r.since {
        Some(t) => resolve_time("aws_load_balancer.since", t, now)?,
        None => until - DEFAULT_WINDOW_MINUTES * 60,
    };
    let field = if r.since.is_some() {
        "aws_load_balancer.since"
    } else {
        "aws_load_balancer.until"
    };
    let length = until - since;
    if length < 5 * 60 {
        return Err(InputError::new(
            field,
            "the window must be at least 5 minutes long, with since before until and not in the future",
        ));
    }
    if length > MAX_WINDOW_DAYS * 86_400 {
        return Err(InputError::new(
            field,
            "the window is longer than 30 days: move since later (e.g. 7d)",
        ));
    }
    let period = period_for(length);
    let align = |t: i64| t - t.rem_euclid(period);
    let (start, end) = (align(since), align(until));
    Ok((start, end, period as u32))
}

/// 60 s while that gives at most [`MAX_PERIODS`] periods; otherwise the smallest multiple
/// of 300 s that does (CloudWatch serves older data only at 5-minute resolution).
pub fn period_for(length_secs: i64) -> i64 {
    if length_secs <= 60 * MAX_PERIODS {
        return 60;
    }
    let minimum = (length_secs + MAX_PERIODS - 1) / MAX_PERIODS;
    (minimum + 299) / 300 * 300
}
