use super::*;
use crate::diagnosis::symptoms::{BacklogShape, Observations};

const NOW: i64 = 1_700_000_000;

fn lb(name: &str) -> LoadBalancerRef {
    LoadBalancerRef {
        name: name.to_owned(),
        target_group: None,
        region: None,
        since: None,
        until: None,
    }
}

fn points(values: &[f64]) -> Vec<Point> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Point {
            timestamp: 1_000 + 60 * i as i64,
            value: *v,
        })
        .collect()
}

fn window(kind: LbKind) -> LoadBalancerWindow {
    LoadBalancerWindow {
        kind,
        name: match kind {
            LbKind::Alb => "app/web/50dc6c495c0c9188".to_owned(),
            LbKind::Classic => "web-elb".to_owned(),
        },
        target_group: None,
        region: None,
        start: 1_000,
        end: 1_000 + 600,
        period_seconds: 60,
    }
}

fn sample(series: &[(Signal, Vec<f64>)]) -> LbSample {
    LbSample {
        region: "us-east-1".to_owned(),
        series: series.iter().map(|(s, v)| (*s, points(v))).collect(),
        notes: Vec::new(),
    }
}

#[test]
fn names_decide_the_kind_and_bad_shapes_are_bad_input() {
    let w = lb("app/my-alb/50dc6c495c0c9188").check(NOW).unwrap();
    assert_eq!(w.kind, LbKind::Alb);
    assert_eq!(w.name, "app/my-alb/50dc6c495c0c9188");
    let w = lb("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-alb/50dc6c495c0c9188")
        .check(NOW)
        .unwrap();
    assert_eq!(w.name, "app/my-alb/50dc6c495c0c9188");
    let w = lb("legacy-web").check(NOW).unwrap();
    assert_eq!(w.kind, LbKind::Classic);
    for bad in [
        "",
        "app/my-alb",
        "app/my alb/50dc6c495c0c9188",
        "app/my-alb/not-hex-zz",
        "my-alb.us-east-1.elb.amazonaws.com",
        "-leading",
        "a-name-that-is-far-too-long-for-an-elb-name",
    ] {
        let e = lb(bad).check(NOW).unwrap_err();
        assert_eq!(e.field, "aws_load_balancer.name", "{bad}");
        assert!(e.message.contains("app/NAME/ID"), "{bad}: {}", e.message);
    }
    let e = lb("net/my-nlb/50dc6c495c0c9188").check(NOW).unwrap_err();
    assert!(e.message.contains("Network Load Balancer"), "{}", e.message);
}

#[test]
fn target_groups_only_on_an_alb_and_in_shape() {
    let mut r = lb("app/my-alb/50dc6c495c0c9188");
    r.target_group = Some("targetgroup/web/943f017f100becff".to_owned());
    assert_eq!(
        r.check(NOW).unwrap().target_group.as_deref(),
        Some("targetgroup/web/943f017f100becff")
    );
    r.target_group = Some(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/943f017f100becff"
            .to_owned(),
    );
    assert_eq!(
        r.check(NOW).unwrap().target_group.as_deref(),
        Some("targetgroup/web/943f017f100becff")
    );
    r.target_group = Some("web".to_owned());
    assert_eq!(
        r.check(NOW).unwrap_err().field,
        "aws_load_balancer.target_group"
    );
    let mut c = lb("legacy-web");
    c.target_group = Some("targetgroup/web/943f017f100becff".to_owned());
    let e = c.check(NOW).unwrap_err();
    assert!(e.message.contains("Classic ELB has no target groups"));
}

#[test]
fn the_window_defaults_to_15_minutes_of_whole_minutes() {
    let w = lb("legacy-web").check(NOW).unwrap();
    let end = NOW - NOW.rem_euclid(60);
    assert_eq!((w.start, w.end, w.period_seconds), (end - 900, end, 60));
    let mut r = lb("legacy-web");
    r.since = Some("2h".to_owned());
    r.until = Some("1h".to_owned());
    let w = r.check(NOW).unwrap();
    assert_eq!(w.end - w.start, 3600);
    r.since = Some("3m".to_owned());
    r.until = None;
    assert_eq!(r.check(NOW).unwrap_err().field, "aws_load_balancer.since");
    r.since = Some("yesterday".to_owned());
    assert_eq!(r.check(NOW).unwrap_err().field, "aws_load_balancer.since");
    r.since = Some("40d".to_owned());
    assert!(r.check(NOW).unwrap_err().message.contains("30 days"));
    let mut r = lb("legacy-web");
    r.region = Some("US East".to_owned());
    assert_eq!(r.check(NOW).unwrap_err().field, "aws_load_balancer.region");
}

#[test]
fn long_windows_get_coarser_periods_within_the_bound() {
    assert_eq!(period_for(900), 60);
    assert_eq!(period_for(86_400), 60);
    assert_eq!(period_for(7 * 86_400), 600);
    assert_eq!(period_for(30 * 86_400), 1800);
    for days in 2..=30 {
        let p = period_for(days * 86_400);
        assert!(p % 300 == 0 && days * 86_400 / p <= 1440, "{days}: {p}");
    }
}

#[test]
fn percentiles_are_weighted_by_the_requests_of_their_period() {
    // Two periods: 900 requests at p99 0.2 s, 100 at 2.0 s.
    let p99 = points(&[0.2, 2.0]);
    let requests = points(&[900.0, 100.0]);
    assert!((weighted_mean(&p99, &requests).unwrap() - 0.38).abs() < 1e-9);
    // Without counts, a plain mean.
    assert!((weighted_mean(&p99, &[]).unwrap() - 1.1).abs() < 1e-9);
    assert_eq!(weighted_mean(&[], &requests), None);
    // A period with percentiles but no request count weighs nothing when others have one.
    let requests = points(&[900.0]);
    assert!((weighted_mean(&p99, &requests).unwrap() - 0.2).abs() < 1e-9);
}

#[test]
fn an_alb_incident_reads_as_504s_and_a_long_tail() {
    let s = sample(&[
        (Signal::ResponseP50, vec![0.08; 10]),
        (Signal::ResponseP90, vec![0.4; 10]),
        (
            Signal::ResponseP99,
            vec![4.0, 4.0, 4.0, 4.0, 4.0, 6.0, 4.0, 4.0, 4.0, 4.0],
        ),
        (Signal::ResponseAvg, vec![0.25; 10]),
        (Signal::Requests, vec![1200.0; 10]),
        (Signal::Target5xx, vec![6.0; 10]),
        (Signal::Lb5xx, vec![30.0; 10]),
        (Signal::Lb502, vec![0.0; 10]),
        (Signal::Lb503, vec![0.0; 10]),
        (Signal::Lb504, vec![30.0; 10]),
        (Signal::RejectedConnections, vec![5.0; 10]),
        (Signal::TargetConnectionErrors, vec![0.0; 10]),
    ]);
    let r = analyze(&window(LbKind::Alb), &s);
    assert_eq!(r.status, LbStatus::Measured);
    let rt = r.response_time.as_ref().unwrap();
    assert_eq!(rt.p50_ms, Some(80.0));
    assert_eq!(rt.p90_ms, Some(400.0));
    assert_eq!(rt.p99_ms, Some(4200.0));
    assert_eq!(rt.p99_max_ms, Some(6000.0));
    assert_eq!(rt.avg_ms, Some(250.0));
    assert_eq!(
        rt.source,
        "cloudwatch:AWS/ApplicationELB/TargetResponseTime"
    );
    assert_eq!(r.requests, Some(12_000.0));
    assert_eq!(r.requests_per_second, Some(20.0));
    assert_eq!(r.errors.target_5xx_percent, Some(0.5));
    assert_eq!(r.errors.lb_5xx_percent, Some(2.5));
    assert_eq!(r.errors.lb_504, Some(300.0));
    assert_eq!(r.errors.lb_502, Some(0.0));
    assert_eq!(r.errors.lb_504_percent, Some(2.5));
    assert_eq!(r.errors.lb_502_percent, Some(0.0));
    assert_eq!(r.errors.lb_503_percent, Some(0.0));
    assert_eq!(r.rejected_connections, Some(50.0));
    assert!(r.surge_queue.is_none() && r.spillover.is_none());
    let signals: Vec<&str> = r.findings.iter().map(|f| f.signal.as_str()).collect();
    assert_eq!(
        signals,
        [
            "elb_504",
            "rejected_connections",
            "target_5xx_percent",
            "p99_ms"
        ]
    );
    assert_eq!(
        r.findings[0].source,
        "cloudwatch:AWS/ApplicationELB/HTTPCode_ELB_504_Count"
    );
    assert!(r.findings[0].meaning.contains("idle timeout"));
    assert!(
        r.findings[3].meaning.contains("52.5× the p50"),
        "{}",
        r.findings[3].meaning
    );
    assert!(
        r.verdict.starts_with(
            "ALB app/web/50dc6c495c0c9188: 12000 requests (20 rps), p50 80 / p99 4200 ms"
        ),
        "{}",
        r.verdict
    );
    // ALB metrics do not touch the backlog observations.
    let (o, a) = fold(&r, Observations::default());
    assert_eq!(o, Observations::default());
    let ev: Vec<(&str, &str)> = a
        .evidence
        .iter()
        .map(|e| (e.metric.as_str(), e.source.as_str()))
        .collect();
    assert!(ev.contains(&(
        "lb_p99_ms",
        "cloudwatch:AWS/ApplicationELB/TargetResponseTime"
    )));
    assert!(ev.contains(&(
        "lb_elb_504",
        "cloudwatch:AWS/ApplicationELB/HTTPCode_ELB_504_Count"
    )));
    assert!(a.warnings[0].starts_with("Load balancer (alb, us-east-1): ALB"));
}

#[test]
fn a_classic_surge_queue_is_the_fleets_backlog() {
    let s = sample(&[
        (Signal::ResponseAvg, vec![1.5; 6]),
        (Signal::Requests, vec![600.0; 6]),
        (
            Signal::SurgeQueue,
            vec![0.0, 40.0, 180.0, 420.0, 800.0, 1024.0],
        ),
        (Signal::Spillover, vec![0.0, 0.0, 0.0, 0.0, 0.0, 75.0]),
        (Signal::Lb5xx, vec![0.0, 0.0, 0.0, 0.0, 0.0, 75.0]),
        (Signal::Target5xx, vec![0.0; 6]),
        (Signal::TargetConnectionErrors, vec![0.0; 6]),
    ]);
    let r = analyze(&window(LbKind::Classic), &s);
    let q = r.surge_queue.as_ref().unwrap();
    assert_eq!((q.max, q.periods_above_zero, q.periods), (1024.0, 5, 6));
    assert_eq!(q.shape, Some(BacklogShape::Growing));
    assert_eq!(r.spillover, Some(75.0));
    assert_eq!(r.findings[0].signal, "spillover");
    assert_eq!(r.findings[1].signal, "surge_queue_max");
    assert_eq!(r.findings[1].source, "cloudwatch:AWS/ELB/SurgeQueueLength");
    assert!(r.findings[1].meaning.contains("out of free workers"));
    // No percentiles: said, and the mean is kept.
    assert_eq!(r.response_time.as_ref().unwrap().avg_ms, Some(1500.0));
    assert!(
        r.notes.iter().any(|n| n.contains("no percentiles")),
        "{:?}",
        r.notes
    );
    let (o, a) = fold(&r, Observations::default());
    assert_eq!(o.backlog_growing, Some(true));
    assert_eq!(o.backlog_shape, Some(BacklogShape::Growing));
    assert_eq!(
        o.sources.get("backlog_shape").map(String::as_str),
        Some("cloudwatch:AWS/ELB/SurgeQueueLength")
    );
    assert!(a.evidence.iter().any(|e| e.metric == "lb_surge_queue_max"));
    // The accept queue read on the host wins.
    let local = Observations {
        backlog_growing: Some(false),
        backlog_shape: Some(BacklogShape::Empty),
        ..Default::default()
    };
    let (o, _) = fold(&r, local);
    assert_eq!(o.backlog_growing, Some(false));
    assert_eq!(o.backlog_shape, Some(BacklogShape::Empty));
    assert!(o.sources.is_empty());
}

#[test]
fn an_empty_surge_queue_says_no_backlog() {
    let s = sample(&[
        (Signal::SurgeQueue, vec![0.0; 5]),
        (Signal::Requests, vec![10.0; 5]),
    ]);
    let r = analyze(&window(LbKind::Classic), &s);
    let (o, _) = fold(&r, Observations::default());
    assert_eq!(o.backlog_growing, Some(false));
    assert_eq!(o.backlog_shape, Some(BacklogShape::Empty));
    assert!(r.findings.is_empty());
    assert!(
        r.verdict.contains("No queueing or load-balancer errors"),
        "{}",
        r.verdict
    );
}

#[test]
fn no_datapoints_is_unknown_with_the_reason() {
    let r = analyze(&window(LbKind::Alb), &sample(&[]));
    assert_eq!(r.status, LbStatus::Unknown);
    assert!(r.verdict.starts_with("Unknown: CloudWatch has no AWS/ApplicationELB datapoints for LoadBalancer app/web/50dc6c495c0c9188 in us-east-1"), "{}", r.verdict);
    assert!(r.verdict.contains("aws elbv2 describe-load-balancers"));
    assert!(r.findings.is_empty() && r.response_time.is_none());
    let (o, a) = fold(&r, Observations::default());
    assert_eq!(o, Observations::default());
    assert!(a.evidence.is_empty());
    assert!(a.warnings[0].contains("Unknown"));
}

#[test]
fn every_signal_has_a_query_id_that_round_trips() {
    for s in Signal::ALL {
        assert_eq!(Signal::from_query_id(s.query_id()), Some(s));
        let id = s.query_id();
        assert!(id.starts_with(|c: char| c.is_ascii_lowercase()));
    }
    assert_eq!(Signal::of(LbKind::Alb).count(), 12);
    assert_eq!(Signal::of(LbKind::Classic).count(), 10);
}
