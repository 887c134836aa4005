//! The breakdown as a sequence of named steps over a checked input and what the sources
//! read: the access log fills the nginx figures, worker state and the backlog are
//! summarised, the request is split into layers (with queue wait told from service time
//! where Little's law can), the endpoints are judged, and the observations and the
//! conclusion are written. Each step adds its evidence and warnings, in that order, to one
//! [`Notes`].

use crate::diagnosis::bound::Bound;
use crate::diagnosis::fleet::{self, FleetData, FleetReport};
use crate::diagnosis::{Conclusion, Evidence, InputError, SOURCE_CALLER, bound, fmt_num, round};

use super::check::{CallerTimings, LatencyCheck};
use super::layers::{self, Layers};
use super::measured::Measured;
use super::report::LatencyReport;
use super::{conclusion, endpoints, log, observations, sampled, split};

/// Breaks latency down by layer, from the caller's figures only.
pub fn analyze(check: &LatencyCheck) -> Result<LatencyReport, InputError> {
    analyze_measured(check, &Measured::default())
}

/// Breaks latency down by layer, from the caller's figures and what the sources read.
pub fn analyze_measured(check: &LatencyCheck, m: &Measured) -> Result<LatencyReport, InputError> {
    let input = check.input();
    let mut t = Timings::new(check.timings());
    let mut notes = Notes::default();

    let log = match &m.access_log {
        Some((source, data)) => Some(log::read(source, data, input, m, &mut t, &mut notes)?),
        None => None,
    };
    let fleet_workers = m.fleet.as_ref().and_then(fleet::worker_reading);
    let workers = sampled::workers(
        &input.figures.gunicorn,
        m.workers.as_ref().or(fleet_workers.as_ref()),
        &mut notes,
    );
    if let Some(f) = &m.fleet {
        fleet_timings(f, &mut t, &mut notes);
    }
    let backlog = sampled::backlog(m, &mut notes);
    t.evidence(&mut notes);

    let mut layers = Layers::default();
    layers::outer(&t, &mut layers, &mut notes);
    let load = log.as_ref().map(|l| l.load).unwrap_or_default();
    let splits = split::queue_from_service(
        &t,
        load,
        workers.busy.value,
        backlog.report.as_ref(),
        &mut notes,
    );
    layers::app_server(&t, splits.whole, &mut layers, &mut notes);
    layers::handler(&t, &mut layers, &mut notes);
    let totals = layers::totals(&t, &mut layers, &mut notes);
    let worker_utilization_percent = workers.utilization(&mut notes);

    let (log_endpoints, mut access_log) = match log {
        Some(l) => (l.endpoints, Some(l.report)),
        None => (None, None),
    };
    let fleet_source = m.fleet.as_ref().and_then(|f| {
        f.histogram
            .as_ref()
            .map(|h| f.source(&format!("{}_bucket", h.histogram.metric)))
    });
    let (log_endpoints, pattern_source) = match (log_endpoints, m.fleet.as_ref()) {
        (Some(l), Some(_)) => {
            notes.warnings.push("An access log and a Prometheus engine were both read; the endpoints come from the access log.".to_owned());
            (
                Some(l),
                m.access_log.as_ref().map_or("derived", |(s, _)| s.as_str()),
            )
        }
        (Some(l), None) => (
            Some(l),
            m.access_log.as_ref().map_or("derived", |(s, _)| s.as_str()),
        ),
        (None, Some(f)) => match fleet::endpoints(f) {
            Some(e) => (Some(e), fleet_source.as_deref().unwrap_or("derived")),
            None => (None, "derived"),
        },
        (None, None) => (None, "derived"),
    };
    let ranked = endpoints::rank(
        input,
        log_endpoints,
        splits.whole.map(|sp| sp.queue_ms),
        access_log.as_mut(),
        &mut notes,
    );
    ranked.evidence(pattern_source, &mut notes);

    let observations = observations::gather(observations::Gathered {
        input,
        worker_utilization_percent,
        workers: &workers,
        backlog: &backlog,
        ranked: &ranked,
        pattern_source,
        dominant_layer: totals.dominant_layer.clone(),
    });
    let (fleet_report, fleet_bound) = match &m.fleet {
        Some(f) => {
            let (r, b) = fleet_evidence(f, &mut notes);
            (Some(r), b)
        }
        None => (None, Default::default()),
    };
    let judged = ranked.judged;
    let pattern = ranked.pattern;
    let focus = ranked.focus;
    let mut report = LatencyReport {
        total_ms: totals.total.map(|t| round(t, 3)),
        layers: layers.0,
        worker_utilization_percent,
        queue_wait_percent: totals.queue_wait_percent,
        dominant_layer: totals.dominant_layer,
        latency_pattern: pattern.map(|(p, _)| p),
        service_time_ms: splits.recent.map(|sp| sp.service_ms),
        head_of_line: judged.head_of_line.clone(),
        slow_threshold_ms: pattern.map(|_| judged.threshold_ms),
        slow_threshold_basis: pattern.map(|_| judged.basis),
        endpoints: ranked.endpoints,
        lists: bound::lists([("endpoints", ranked.bound), ("fleet.replicas", fleet_bound)]),
        focus,
        observations,
        access_log,
        workers: workers.report,
        accept_queue: backlog.report,
        load_balancer: None,
        fleet: fleet_report,
        conclusion: Conclusion {
            evidence: notes.evidence,
            warnings: notes.warnings,
            ..Conclusion::default()
        },
    };
    report.conclusion.verdict = conclusion::verdict(&report);
    report.conclusion.next_steps = conclusion::next_steps(&report, &t, input);
    Ok(report)
}

/// Evidence and warnings, gathered in the order the steps run.
#[derive(Debug, Default)]
pub(super) struct Notes {
    pub evidence: Vec<Evidence>,
    pub warnings: Vec<String>,
}

/// A figure and where it came from: `caller`, or the source that filled it in.
#[derive(Debug, Clone)]
pub(super) struct Sourced {
    pub value: Option<f64>,
    pub source: String,
}

impl Sourced {
    /// A figure as the caller gave it (or left it out).
    pub fn caller(value: Option<f64>) -> Self {
        Self {
            value,
            source: SOURCE_CALLER.to_owned(),
        }
    }

    /// Fills a figure the caller left out with one read from a source; when both exist the
    /// caller's wins and a disagreement over 10 % is reported.
    pub fn fill(&mut self, measured: Option<f64>, from: &str, name: &str, notes: &mut Notes) {
        let Some(m) = measured else { return };
        match self.value {
            None => {
                self.value = Some(m);
                self.source = from.to_owned();
            }
            Some(g) if (g - m).abs() > 0.1 * g.max(m) && (g - m).abs() > 1.0 => {
                notes.warnings.push(format!(
                    "{name}: the figure given ({}) differs from the one read from {from} ({}); the given one is used.",
                    fmt_num(g),
                    fmt_num(m)
                ));
            }
            Some(_) => {}
        }
    }

    /// Whether the figure was read from a source rather than given.
    pub fn measured(&self) -> bool {
        self.source != SOURCE_CALLER
    }
}

/// The per-request timings the layers are computed from: the caller's, with the nginx
/// figures filled from the access log where the caller left them out.
#[derive(Debug, Clone)]
pub(super) struct Timings {
    pub request: Sourced,
    pub upstream: Sourced,
    pub connect: Sourced,
    pub duration: Option<f64>,
    pub queue: Option<f64>,
    pub external: Option<f64>,
    pub db: Option<f64>,
}

impl Timings {
    fn new(c: &CallerTimings) -> Self {
        Self {
            request: Sourced::caller(c.request),
            upstream: Sourced::caller(c.upstream),
            connect: Sourced::caller(c.connect),
            duration: c.duration,
            queue: c.queue,
            external: c.external,
            db: c.db,
        }
    }

    /// Each timing known, with where it came from.
    fn evidence(&self, notes: &mut Notes) {
        for (metric, v, src) in [
            (
                "nginx.request_time_ms",
                self.request.value,
                self.request.source.as_str(),
            ),
            (
                "nginx.upstream_response_time_ms",
                self.upstream.value,
                self.upstream.source.as_str(),
            ),
            (
                "nginx.upstream_connect_time_ms",
                self.connect.value,
                self.connect.source.as_str(),
            ),
            ("app.request_duration_ms", self.duration, SOURCE_CALLER),
            ("app.queue_wait_ms", self.queue, SOURCE_CALLER),
            ("app.external_calls_ms", self.external, SOURCE_CALLER),
            ("db.time_per_request_ms", self.db, SOURCE_CALLER),
        ] {
            if let Some(v) = v {
                notes.evidence.push(Evidence::number(metric, v, "ms", src));
            }
        }
    }

    /// What is known to be spent outside the app's own handler code, ms.
    pub fn inside_handler(&self) -> f64 {
        self.db.unwrap_or(0.0) + self.external.unwrap_or(0.0)
    }
}

/// ingress-nginx's whole-request and upstream means fill the nginx timings the caller left
/// out.
fn fleet_timings(f: &FleetData, t: &mut Timings, notes: &mut Notes) {
    if let Some((request, upstream)) = f.ingress_split_ms {
        let src = f.source(fleet::plan::INGRESS_UPSTREAM);
        t.request.fill(
            Some(round(request, 3)),
            &src,
            "figures.nginx.request_time_ms",
            notes,
        );
        t.upstream.fill(
            Some(round(upstream, 3)),
            &src,
            "figures.nginx.upstream_response_time_ms",
            notes,
        );
    }
}

/// The fleet report, its evidence, and a warning for each figure left unknown and for a
/// replica that stands out.
fn fleet_evidence(f: &FleetData, notes: &mut Notes) -> (FleetReport, Bound) {
    let (r, bound) = fleet::report(f);
    if let (Some(rps), Some(h)) = (r.requests_per_second, &f.histogram) {
        notes.evidence.push(Evidence::number(
            "fleet_requests_per_second",
            rps,
            "rps",
            &f.source(&format!("{}_count", h.histogram.metric)),
        ));
    }
    if let (Some(u), Some((gauge, _))) = (r.utilization_percent, &f.workers) {
        notes.evidence.push(Evidence::number(
            "fleet_worker_utilization_percent",
            u,
            "percent",
            &f.source(gauge),
        ));
        notes.evidence.push(Evidence::number(
            "fleet_replicas",
            bound.total as f64,
            "replicas",
            &f.source(gauge),
        ));
    }
    for why in &f.unknown {
        notes.warnings.push(why.clone());
    }
    notes.warnings.extend(fleet::raw_path_note(f));
    if let (Some(hot), Some((gauge, _))) = (&r.hot_replica, &f.workers) {
        notes.evidence.push(Evidence::text(
            "hot_replica",
            &hot.replica,
            &f.source(gauge),
        ));
        notes.warnings.push(format!(
            "Replica {} is {} % busy against a median of {} % for the others: {}. That is a replica-level fix (its workers, its host, the balancer), not a route-level one.",
            hot.replica,
            fmt_num(hot.utilization_percent),
            fmt_num(hot.others_median_percent),
            hot.why
        ));
    }
    (r, bound)
}
