//! The `aws` CLI commands a report prints for a person to rerun or review: the CloudWatch
//! reads behind the verdict, and the region and profile flags that every command carries,
//! so a command runs against the same account and region as the check did. Also
//! [`iso8601`], the timestamps those commands (and the report's window) are written in.

use super::input::InstanceWindow;
use super::sample::{Metric, Sample};

/// ` --region <region>` and, when one was named, ` --profile <profile>`.
pub(super) fn region_and_profile(region: &str, profile: Option<&str>) -> String {
    match profile {
        Some(profile) => format!(" --region {region} --profile {profile}"),
        None => format!(" --region {region}"),
    }
}

/// The `aws cloudwatch get-metric-statistics` commands for the same instance and window.
pub(super) fn cli_commands(check: &InstanceWindow, s: &Sample) -> Vec<String> {
    let flags = region_and_profile(&s.region, check.profile.as_deref());
    [Metric::ReadIops, Metric::WriteIops, Metric::DiskQueueDepth]
        .into_iter()
        .map(|m| {
            format!(
                "aws cloudwatch get-metric-statistics --namespace AWS/RDS --metric-name {} --dimensions Name=DBInstanceIdentifier,Value={} --start-time {} --end-time {} --period {} --statistics Average Maximum{flags}",
                m.name(),
                check.db_instance_identifier,
                iso8601(s.start),
                iso8601(s.end),
                check.period_seconds,
            )
        })
        .collect()
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn iso8601(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
