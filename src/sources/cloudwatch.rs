//! CloudWatch: the `AWS/RDS` metrics of one DB instance as plain series.
//!
//! All metrics go into one GetMetricData request (one query per metric, statistic Average,
//! one period), so a check costs one call per page of results; pages are followed through
//! `NextToken` up to [`MAX_PAGES`]. CloudWatch omits periods without data: a missing period
//! is missing here too, never a zero.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric as CwMetric, MetricDataQuery, MetricStat, ScanBy, StatusCode,
};
use aws_smithy_types::DateTime;

use super::aws::{SourceError, classify};
use crate::diagnosis::storage::{Metric, Point};

/// Pages of GetMetricData followed at most (one page holds up to 100,800 datapoints).
pub const MAX_PAGES: usize = 20;

/// The series, and caveats CloudWatch reported (partial data, per-query messages).
#[derive(Debug, Default)]
pub struct Series {
    pub series: BTreeMap<Metric, Vec<Point>>,
    pub notes: Vec<String>,
}

/// Reads every metric of [`Metric::ALL`] for `db_instance_identifier` over `[start, end)`.
pub async fn fetch(
    client: &Client,
    db_instance_identifier: &str,
    start: i64,
    end: i64,
    period_seconds: u32,
) -> Result<Series, SourceError> {
    let queries: Vec<MetricDataQuery> = Metric::ALL
        .into_iter()
        .map(|m| {
            MetricDataQuery::builder()
                .id(m.query_id())
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            CwMetric::builder()
                                .namespace("AWS/RDS")
                                .metric_name(m.name())
                                .dimensions(
                                    Dimension::builder()
                                        .name("DBInstanceIdentifier")
                                        .value(db_instance_identifier)
                                        .build(),
                                )
                                .build(),
                        )
                        .period(i32::try_from(period_seconds).unwrap_or(300))
                        .stat("Average")
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();

    let mut out = Series::default();
    let mut token: Option<String> = None;
    for page in 0..MAX_PAGES {
        let response = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| classify("cloudwatch", "cloudwatch:GetMetricData", e))?;
        for result in response.metric_data_results() {
            let Some(metric) = result.id().and_then(Metric::from_query_id) else {
                continue;
            };
            let points = out.series.entry(metric).or_default();
            for (ts, value) in result.timestamps().iter().zip(result.values()) {
                if value.is_finite() {
                    points.push(Point {
                        timestamp: ts.secs(),
                        value: *value,
                    });
                }
            }
            if let Some(StatusCode::InternalError) = result.status_code() {
                out.notes.push(format!(
                    "CloudWatch reported an internal error for {}; its series may be incomplete.",
                    metric.name()
                ));
            }
            for m in result.messages() {
                if let Some(text) = m.value() {
                    out.notes
                        .push(format!("CloudWatch ({}): {text}", metric.name()));
                }
            }
        }
        token = response.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        if page + 1 == MAX_PAGES {
            out.notes.push(format!(
                "GetMetricData still had more pages after {MAX_PAGES}; the series are truncated."
            ));
        }
    }
    for points in out.series.values_mut() {
        points.sort_by_key(|p| p.timestamp);
        points.dedup_by_key(|p| p.timestamp);
    }
    Ok(out)
}
