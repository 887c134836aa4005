//! CloudWatch: the `AWS/RDS` metrics of one DB instance, and the `AWS/ApplicationELB` or
//! `AWS/ELB` metrics of one load balancer, as plain series.
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
use crate::diagnosis::load_balancer::{LoadBalancerWindow, Scope, Signal};
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

    let (series, notes) = get_metric_data(client, queries, start, end, |id| {
        Metric::from_query_id(id).map(|m| m.name().to_owned())
    })
    .await?;
    Ok(Series {
        series: series
            .into_iter()
            .filter_map(|(id, points)| Metric::from_query_id(&id).map(|m| (m, points)))
            .collect(),
        notes,
    })
}

/// Runs `queries` over `[start, end)` with GetMetricData, following `NextToken` up to
/// [`MAX_PAGES`]: each query's finite points by query id, oldest first and one per
/// timestamp, and CloudWatch's caveats, named with `label` (the query's metric).
async fn get_metric_data(
    client: &Client,
    queries: Vec<MetricDataQuery>,
    start: i64,
    end: i64,
    label: impl Fn(&str) -> Option<String>,
) -> Result<(BTreeMap<String, Vec<Point>>, Vec<String>), SourceError> {
    let mut series: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    let mut notes = Vec::new();
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
            let Some(id) = result.id() else { continue };
            let Some(name) = label(id) else { continue };
            let points = series.entry(id.to_owned()).or_default();
            for (ts, value) in result.timestamps().iter().zip(result.values()) {
                if value.is_finite() {
                    points.push(Point {
                        timestamp: ts.secs(),
                        value: *value,
                    });
                }
            }
            if let Some(StatusCode::InternalError) = result.status_code() {
                notes.push(format!(
                    "CloudWatch reported an internal error for {name}; its series may be incomplete."
                ));
            }
            for m in result.messages() {
                if let Some(text) = m.value() {
                    notes.push(format!("CloudWatch ({name}): {}", shorten(text)));
                }
            }
        }
        token = response.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        if page + 1 == MAX_PAGES {
            notes.push(format!(
                "GetMetricData still had more pages after {MAX_PAGES}; the series are truncated."
            ));
        }
    }
    for points in series.values_mut() {
        points.sort_by_key(|p| p.timestamp);
        points.dedup_by_key(|p| p.timestamp);
    }
    Ok((series, notes))
}

/// A CloudWatch message, bounded: it is passed on as a caveat, so it stays short.
fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    let cut: String = text.chars().take(MAX).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Reads a load balancer's series ([`Signal::of`] its kind) over the checked window. With a
/// target group, the metrics published per target group are read for it; the load
/// balancer's own codes and connection counts stay load-balancer-wide.
///
/// The percentiles go in a request of their own, sent at the same time: an endpoint that
/// does not serve extended statistics (some emulators) fails the whole request that holds
/// one, and the averages and counts are still worth having. Their failure is a caveat; the
/// other request's failure is the read's.
pub async fn fetch_load_balancer(
    client: &Client,
    w: &LoadBalancerWindow,
) -> Result<(BTreeMap<Signal, Vec<Point>>, Vec<String>), SourceError> {
    let (percentiles, plain): (Vec<Signal>, Vec<Signal>) = Signal::of(w.kind).partition(|s| {
        s.metric(w.kind)
            .is_some_and(|(_, stat)| stat.starts_with('p'))
    });
    let read = |signals: Vec<Signal>| {
        let queries: Vec<MetricDataQuery> =
            signals.into_iter().filter_map(|s| query(w, s)).collect();
        let kind = w.kind;
        get_metric_data(client, queries, w.start, w.end, move |id| {
            Signal::from_query_id(id)
                .and_then(|s| s.metric(kind).map(|(m, stat)| format!("{m} {stat}")))
        })
    };
    let (plain, percentiles) = tokio::join!(read(plain), read(percentiles));
    let (mut series, mut notes) = plain?;
    match percentiles {
        Ok((more, more_notes)) => {
            series.extend(more);
            notes.extend(more_notes);
        }
        Err(e) => notes.push(format!(
            "CloudWatch did not return the percentiles (p50/p90/p99) of {}: the request for them failed ({}); only the average is known.",
            Signal::ResponseAvg
                .metric(w.kind)
                .map(|(m, _)| m)
                .unwrap_or_default(),
            e.kind_words()
        )),
    }
    Ok((
        series
            .into_iter()
            .filter_map(|(id, points)| Signal::from_query_id(&id).map(|s| (s, points)))
            .collect(),
        notes,
    ))
}

/// The GetMetricData query for one signal of the load balancer.
fn query(w: &LoadBalancerWindow, signal: Signal) -> Option<MetricDataQuery> {
    let (metric, stat) = signal.metric(w.kind)?;
    let mut dimensions = vec![
        Dimension::builder()
            .name(w.kind.dimension())
            .value(&w.name)
            .build(),
    ];
    if let (Some(tg), Scope::Target) = (&w.target_group, signal.scope()) {
        dimensions.push(Dimension::builder().name("TargetGroup").value(tg).build());
    }
    Some(
        MetricDataQuery::builder()
            .id(signal.query_id())
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        CwMetric::builder()
                            .namespace(w.kind.namespace())
                            .metric_name(metric)
                            .set_dimensions(Some(dimensions))
                            .build(),
                    )
                    .period(i32::try_from(w.period_seconds).unwrap_or(60))
                    .stat(stat)
                    .build(),
            )
            .return_data(true)
            .build(),
    )
}
