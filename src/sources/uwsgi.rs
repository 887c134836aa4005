//! Worker state from uWSGI's stats server (`--stats ADDR`, optionally `--stats-http`).
//!
//! The stats server writes one JSON document per connection and closes it. It is read at
//! a TCP address (`127.0.0.1:9191`), a unix socket path (`/run/uwsgi/stats.sock`) or over
//! HTTP (`http://127.0.0.1:9191` with `--stats-http`). From it: each worker's `status`
//! (`busy` counts as busy, `idle` as idle; `cheap` workers are stopped by the cheaper
//! subsystem and count as neither) and `listen_queue`, the number of connections waiting
//! in the listen socket's backlog for a free worker.

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use serde::Deserialize;

use super::fetch;
use super::reach::Reach;
use super::sampling::Sampling;
use crate::diagnosis::latency::{WorkerSample, WorkerSamples};
use crate::error::ToolError;
use crate::progress::Lane;

/// Largest stats document read.
const MAX_STATS: u64 = 16 << 20;

#[derive(Debug, Deserialize)]
struct Stats {
    #[serde(default)]
    listen_queue: Option<f64>,
    #[serde(default)]
    workers: Vec<Worker>,
}

#[derive(Debug, Deserialize)]
struct Worker {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    status: String,
}

/// Reads busy/idle workers and the listen queue from one stats document.
pub fn parse(text: &str) -> Result<WorkerSample, String> {
    // serde_json's message can quote the document (`invalid type: string "…"`): only its
    // kind and position are repeated.
    let stats: Stats = serde_json::from_str(text).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "JSON of another shape",
            serde_json::error::Category::Eof => "JSON cut short",
            _ => "not JSON",
        };
        format!(
            "not uWSGI stats JSON ({} bytes, {what}: it stops matching at line {}, column {}); point it at the address given to --stats",
            text.len(),
            e.line(),
            e.column()
        )
    })?;
    let mut busy = 0.0;
    let mut idle = 0.0;
    for w in stats.workers.iter().filter(|w| w.id != 0) {
        match w.status.as_str() {
            "busy" => busy += 1.0,
            "idle" => idle += 1.0,
            // `pause`, `sig`, `cheap` and anything newer: not serving, not free either.
            s if s.starts_with("sig") => busy += 1.0,
            _ => {}
        }
    }
    if busy + idle == 0.0 {
        return Err(
            "the stats list no running worker (all cheap or paused, or an empty workers list)"
                .into(),
        );
    }
    Ok(WorkerSample {
        busy,
        idle,
        queue: stats.listen_queue.filter(|q| q.is_finite() && *q >= 0.0),
    })
}

fn fetch(field: &str, addr: &str, timeout: Duration, reach: &Reach) -> Result<String, ToolError> {
    if addr.starts_with("http://") || addr.starts_with("https://") {
        return fetch::get(field, addr, timeout, reach).map(|r| r.body);
    }
    // Errors say what went wrong, not what the other end sent.
    let err = |e: std::io::Error| {
        ToolError::io(
            field,
            format_args!("cannot read uWSGI stats from {addr}"),
            &std::io::Error::from(e.kind()),
        )
        .hint("pass the address given to uWSGI's --stats (HOST:PORT, a socket path, or http://HOST:PORT with --stats-http)")
    };
    let mut body = Vec::new();
    if addr.starts_with('/') {
        #[cfg(unix)]
        {
            let path = reach.socket(field, addr)?;
            let s = std::os::unix::net::UnixStream::connect(path).map_err(err)?;
            s.set_read_timeout(Some(timeout)).map_err(err)?;
            s.take(MAX_STATS).read_to_end(&mut body).map_err(err)?;
        }
        #[cfg(not(unix))]
        return Err(ToolError::bad_input(
            field,
            "unix sockets are not available on this platform",
        ));
    } else {
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                ToolError::bad_input(
                    field,
                    format!("`{addr}` is not HOST:PORT, a socket path or an http:// URL; pass the address given to uWSGI's --stats"),
                )
            })?;
        let sock = reach.metrics_addrs(field, host, port)?[0];
        let s =
            TcpStream::connect_timeout(&sock, timeout.min(Duration::from_secs(3))).map_err(err)?;
        s.set_read_timeout(Some(timeout)).map_err(err)?;
        s.take(MAX_STATS).read_to_end(&mut body).map_err(err)?;
    }
    String::from_utf8(body).map_err(|_| {
        ToolError::bad_input(
            field,
            format!("{addr} sent data that is not UTF-8 text; pass the address given to --stats"),
        )
    })
}

/// Reads the stats `sampling.samples` times, `sampling.interval` apart.
pub fn sample_workers(
    field: &str,
    addr: &str,
    sampling: Sampling,
    reach: &Reach,
    lane: &Lane,
) -> Result<WorkerSamples, ToolError> {
    let samples = sampling.run(lane, "worker state", || {
        let text = fetch(field, addr, sampling.timeout, reach)?;
        parse(&text).map_err(|m| ToolError::bad_input(field, format!("{addr}: {m}")))
    })?;
    Ok(WorkerSamples {
        source: format!("uwsgi:{addr}"),
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Abridged from a uWSGI 2.0 stats document.
    const STATS: &str = r#"{"version":"2.0.21","listen_queue":3,"listen_queue_errors":0,"signal_queue":0,"load":3,"pid":100,"uid":0,"gid":0,"cwd":"/app","locks":[{"user 0":0}],"sockets":[{"name":"127.0.0.1:8000","proto":"uwsgi","queue":3,"max_queue":100,"shared":0,"can_offload":0}],"workers":[{"id":1,"pid":101,"accepting":1,"requests":10,"status":"busy","rss":0,"cores":[]},{"id":2,"pid":102,"accepting":1,"requests":9,"status":"busy"},{"id":3,"pid":103,"status":"idle"},{"id":4,"pid":0,"status":"cheap"}]}"#;

    #[test]
    fn counts_busy_idle_and_queue() {
        let w = parse(STATS).unwrap();
        assert_eq!((w.busy, w.idle, w.queue), (2.0, 1.0, Some(3.0)));
        assert!(parse("{}").is_err());
        assert!(parse("<html>").unwrap_err().contains("not uWSGI stats"));
        // The document is described, never quoted.
        let e = parse(r#"{"workers": "AKIASECRETVALUE"}"#).unwrap_err();
        assert!(!e.contains("SECRET") && e.contains("another shape"), "{e}");
    }
}
