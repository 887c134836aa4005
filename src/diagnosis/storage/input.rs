//! What check_rds_iops is asked: the arguments as typed ([`RdsIopsInput`], and the
//! shorter [`RdsInstanceRef`] other tools name an instance with), and [`validate`], which
//! checks them once, before anything is sent to AWS, into an [`InstanceWindow`]. The
//! adapters and the analysis take only that checked value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::limits::StorageType;
use crate::diagnosis::InputError;
use crate::diagnosis::window::resolve_time;

/// What to check (the tool's arguments).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsIopsInput {
    /// The RDS DB instance identifier as shown in the console (not the endpoint host name,
    /// not the ARN), e.g. `orders-db`.
    pub db_instance_identifier: String,
    /// AWS region of the instance, e.g. `eu-west-1`. Default: the AWS default chain
    /// (AWS_REGION, then the profile's region).
    #[serde(default)]
    pub region: Option<String>,
    /// Named AWS profile to use (from ~/.aws/config). Default: AWS_PROFILE, then `default`.
    #[serde(default)]
    pub profile: Option<String>,
    /// How far back to look, in minutes (default 60; at most 43,200 = 30 days).
    #[serde(default)]
    #[schemars(extend("default" = 60))]
    pub window_minutes: Option<u32>,
    /// Instead of window_minutes: `24h`, `7d` or an RFC 3339 time.
    #[serde(default)]
    pub since: Option<String>,
    /// End of the window (default now), in the same forms.
    #[serde(default)]
    pub until: Option<String>,
    /// CloudWatch period in seconds, a multiple of 60 (default 300). Use 60 to see
    /// minute-level bursts; peaks shorter than the period are averaged away.
    #[serde(default = "default_period_seconds")]
    pub period_seconds: u32,
    /// The volume's IOPS limit when DescribeDBInstances is not allowed (or to override it).
    #[serde(default)]
    pub provisioned_iops: Option<f64>,
    /// The volume's throughput limit in MiB/s when DescribeDBInstances is not allowed.
    #[serde(default)]
    pub provisioned_throughput_mibps: Option<f64>,
    /// The storage type when DescribeDBInstances is not allowed: gp2, gp3, io1, io2, standard.
    #[serde(default)]
    pub storage_type: Option<String>,
    /// Allocated storage in GiB when DescribeDBInstances is not allowed (decides gp2 and
    /// gp3 limits).
    #[serde(default)]
    pub allocated_storage_gib: Option<f64>,
}

pub const DEFAULT_WINDOW_MINUTES: u32 = 60;
pub const DEFAULT_PERIOD_SECONDS: u32 = 300;
/// GetMetricData returns at most 100,800 datapoints per call; 13 metrics × 1,440 stay under.
pub const MAX_PERIODS: u32 = 1440;

fn default_window_minutes() -> u32 {
    DEFAULT_WINDOW_MINUTES
}
/// The longest window, in minutes (30 days).
const MAX_WINDOW_MINUTES: i64 = 43_200;
fn default_period_seconds() -> u32 {
    DEFAULT_PERIOD_SECONDS
}

/// An RDS instance named by `break_down_latency` (and other tools) so that its storage
/// verdict fills the DB observations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RdsInstanceRef {
    /// The RDS DB instance identifier, e.g. `orders-db`.
    pub db_instance_identifier: String,
    /// AWS region of the instance. Default: the AWS default chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How far back to look, in minutes (default 60).
    #[serde(default = "default_window_minutes")]
    pub window_minutes: u32,
}

impl RdsInstanceRef {
    /// The check_rds_iops input this reference stands for.
    pub fn to_input(&self) -> RdsIopsInput {
        RdsIopsInput {
            db_instance_identifier: self.db_instance_identifier.clone(),
            region: self.region.clone(),
            profile: None,
            window_minutes: Some(self.window_minutes),
            since: None,
            until: None,
            period_seconds: DEFAULT_PERIOD_SECONDS,
            provisioned_iops: None,
            provisioned_throughput_mibps: None,
            storage_type: None,
            allocated_storage_gib: None,
        }
    }

    /// The checked request this reference stands for; a wrong field is named under
    /// `rds_instance`, where the caller wrote it.
    pub fn check(&self, now: i64) -> Result<InstanceWindow, InputError> {
        validate(&self.to_input(), now)
            .map_err(|e| InputError::new(format!("rds_instance.{}", e.field), e.message))
    }
}

/// A check_rds_iops request that passed [`validate`]: which instance to read, in which
/// region and with which profile, over which window and period, and what the caller states
/// about its storage.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceWindow {
    /// The identifier, trimmed.
    pub db_instance_identifier: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// The window, Unix seconds: whole periods, the current partial one left out.
    pub start: i64,
    pub end: i64,
    pub period_seconds: u32,
    pub stated: StatedStorage,
}

/// What the caller states about the storage, for when DescribeDBInstances is not allowed
/// (or to override what it says). Every figure is positive and finite.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatedStorage {
    pub storage_type: Option<StorageType>,
    pub allocated_storage_gib: Option<f64>,
    pub provisioned_iops: Option<f64>,
    pub provisioned_throughput_mibps: Option<f64>,
}

impl StatedStorage {
    /// Whether the caller stated anything at all.
    pub fn any(&self) -> bool {
        self.storage_type.is_some()
            || self.allocated_storage_gib.is_some()
            || self.provisioned_iops.is_some()
            || self.provisioned_throughput_mibps.is_some()
    }
}

/// Checks the arguments before anything is sent to AWS; `now` (Unix seconds) resolves the
/// window.
pub fn validate(input: &RdsIopsInput, now: i64) -> Result<InstanceWindow, InputError> {
    let id = input.db_instance_identifier.trim();
    let id_ok = !id.is_empty()
        && id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !id_ok {
        return Err(InputError::new(
            "db_instance_identifier",
            "must be an RDS DB instance identifier: 1–63 letters, digits or hyphens, starting with a letter (e.g. `orders-db`; not the endpoint host name or the ARN)",
        ));
    }
    if let Some(region) = &input.region {
        check_region("region", region)?;
    }
    if let Some(profile) = &input.profile {
        let ok = !profile.is_empty()
            && profile.len() <= 64
            && profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'));
        if !ok {
            return Err(InputError::new(
                "profile",
                "must be the name of a profile in ~/.aws/config (letters, digits, - _ . @ +)",
            ));
        }
    }
    let p = input.period_seconds;
    if !(60..=86_400).contains(&p) || !p.is_multiple_of(60) {
        return Err(InputError::new(
            "period_seconds",
            format!("must be a multiple of 60 between 60 and 86400 (got {p}); default 300"),
        ));
    }
    let (start, end) = span(input, now)?;
    let periods = ((end - start) / i64::from(p)).max(0) as u64;
    if periods == 0 {
        return Err(InputError::new(
            "period_seconds",
            "is longer than the window: make period_seconds at most the window's length",
        ));
    }
    if periods > u64::from(MAX_PERIODS) {
        return Err(InputError::new(
            "period_seconds",
            format!(
                "gives {periods} periods over the window; at most {MAX_PERIODS}: raise period_seconds or shorten the window"
            ),
        ));
    }
    let positive = |field: &str, v: Option<f64>, max: f64| -> Result<(), InputError> {
        match v {
            Some(v) if !v.is_finite() || v <= 0.0 || v > max => Err(InputError::new(
                field,
                format!("must be a positive number no larger than {max} (got {v})"),
            )),
            _ => Ok(()),
        }
    };
    positive("provisioned_iops", input.provisioned_iops, 1_000_000.0)?;
    positive(
        "provisioned_throughput_mibps",
        input.provisioned_throughput_mibps,
        100_000.0,
    )?;
    positive(
        "allocated_storage_gib",
        input.allocated_storage_gib,
        1_000_000.0,
    )?;
    let storage_type = match &input.storage_type {
        Some(t) => Some(StorageType::parse(t).ok_or_else(|| {
            InputError::new(
                "storage_type",
                format!("unknown storage type `{t}`: use one of gp2, gp3, io1, io2, standard"),
            )
        })?),
        None => None,
    };
    Ok(InstanceWindow {
        db_instance_identifier: id.to_owned(),
        region: input.region.clone(),
        profile: input.profile.clone(),
        start,
        end,
        period_seconds: p,
        stated: StatedStorage {
            storage_type,
            allocated_storage_gib: input.allocated_storage_gib,
            provisioned_iops: input.provisioned_iops,
            provisioned_throughput_mibps: input.provisioned_throughput_mibps,
        },
    })
}

/// The window in Unix seconds: from `since` (or `window_minutes` before the end, default 60)
/// to `until` (default now, never later), each aligned down to the period so that the
/// current, partial period is left out.
fn span(input: &RdsIopsInput, now: i64) -> Result<(i64, i64), InputError> {
    let period = i64::from(input.period_seconds);
    let align = |t: i64| t - t.rem_euclid(period);
    let end = match &input.until {
        Some(t) => resolve_time("until", t, now)?.min(now),
        None => now,
    };
    let end = align(end);
    let start = match (&input.since, input.window_minutes) {
        (Some(_), Some(_)) => {
            return Err(InputError::new(
                "since",
                "give either since or window_minutes, not both",
            ));
        }
        (Some(t), None) => align(resolve_time("since", t, now)?),
        (None, minutes) => {
            let minutes = minutes.unwrap_or(DEFAULT_WINDOW_MINUTES);
            if !(5..=MAX_WINDOW_MINUTES).contains(&i64::from(minutes)) {
                return Err(InputError::new(
                    "window_minutes",
                    format!(
                        "must be between 5 and {MAX_WINDOW_MINUTES} minutes (30 days) (got {minutes}); default {DEFAULT_WINDOW_MINUTES}"
                    ),
                ));
            }
            end - i64::from(minutes) * 60
        }
    };
    let field = if input.since.is_some() {
        "since"
    } else {
        "until"
    };
    if end - start < 5 * 60 {
        return Err(InputError::new(
            field,
            "the window must be at least 5 minutes long, with since before until and not in the future",
        ));
    }
    if end - start > MAX_WINDOW_MINUTES * 60 {
        return Err(InputError::new(
            field,
            "the window is longer than 30 days: move since later (e.g. 7d)",
        ));
    }
    Ok((start, end))
}

/// Checks an AWS region name (`us-east-1`) before it goes into an endpoint's host name.
pub fn check_region(field: &str, region: &str) -> Result<(), InputError> {
    let ok = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(InputError::new(
            field,
            "must be an AWS region name such as `us-east-1` or `eu-west-1`",
        ))
    }
}
