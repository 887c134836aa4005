//! Unit tests of route folding, percentiles, the last seconds and the statistics.

use super::recent::RecentSeconds;
use super::samples::Samples;
use super::*;
use crate::diagnosis::nginx_format::LogFormat;

fn route(req: &str, templates: &[RouteTemplate]) -> String {
    let (m, t) = req.split_once(' ').unwrap();
    let mut out = Vec::new();
    route_into(m.as_bytes(), t.as_bytes(), templates, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn recent_seconds_keep_the_end_of_the_log() {
    let n = |t: &(i64, SecondCounts)| (t.0, t.1.requests);
    let mut a = RecentSeconds::default();
    for ts in 1000..1300 {
        a.add(ts, 2, 20, 2);
    }
    a.add(1299, 1, 500, 1);
    // An old line written late does not disturb the recent seconds.
    a.add(1100, 5, 0, 0);
    let tail = a.tail(Some(1299));
    assert_eq!(tail.len(), RECENT_SECONDS);
    assert_eq!(n(&tail[0]), (1299 - RECENT_SECONDS as i64 + 1, 2));
    assert_eq!(
        tail[RECENT_SECONDS - 1].1,
        SecondCounts {
            requests: 3,
            upstream_ms: 520,
            upstream_n: 3
        }
    );
    // Two parts of one file merge into the same counts.
    let mut b = RecentSeconds::default();
    b.add(1299, 4, 40, 4);
    b.add(1301, 7, 70, 7);
    a.merge(&b);
    let tail = a.tail(Some(1301));
    assert_eq!(n(&tail[RECENT_SECONDS - 1]), (1301, 7));
    assert_eq!(n(&tail[RECENT_SECONDS - 2]), (1300, 0));
    assert_eq!(n(&tail[RECENT_SECONDS - 3]), (1299, 7));
    assert!(a.tail(None).is_empty());
}

#[test]
fn paths_fold_into_routes() {
    assert_eq!(route("GET /api/orders/12345", &[]), "GET /api/orders/{id}");
    assert_eq!(
        route("GET /api/orders/12345/items/7?page=2", &[]),
        "GET /api/orders/{id}/items/{id}"
    );
    assert_eq!(
        route("DELETE /u/3f2504e0-4f89-11d3-9a0c-0305e82c3301/", &[]),
        "DELETE /u/{uuid}/"
    );
    assert_eq!(
        route("GET /assets/app.9f86d081884c7d659a2feaa0c55ad015.js", &[]),
        "GET /assets/app.{hash}.js"
    );
    assert_eq!(
        route("GET /static/css/site.012bdad5.css", &[]),
        "GET /static/css/site.{hash}.css"
    );
    assert_eq!(
        route("GET /invoices/1234.pdf", &[]),
        "GET /invoices/{id}.pdf"
    );
    assert_eq!(route("GET /robots.txt", &[]), "GET /robots.txt");
    assert_eq!(
        route("GET /commit/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", &[]),
        "GET /commit/{hash}"
    );
    assert_eq!(
        route("GET /share/aZ3kLm9QpR7sT2uVwX5y", &[]),
        "GET /share/{token}"
    );
    assert_eq!(route("GET /api/users/me", &[]), "GET /api/users/me");
    assert_eq!(route("GET /", &[]), "GET /");
    assert_eq!(route("GET http://example.com/a/1", &[]), "GET /a/{id}");
    assert_eq!(route("GET *", &[]), "GET (not a path)");
}

#[test]
fn operator_templates_come_first() {
    let t = vec![
        RouteTemplate::parse("/users/{name}/profile").unwrap(),
        RouteTemplate::parse("/static/{*path}").unwrap(),
    ];
    assert_eq!(
        route("GET /users/alice/profile", &t),
        "GET /users/{name}/profile"
    );
    assert_eq!(
        route("GET /users/alice/other", &t),
        "GET /users/alice/other"
    );
    assert_eq!(route("GET /static/css/a.css", &t), "GET /static/{*path}");
    assert!(RouteTemplate::parse("users").is_err());
    assert!(RouteTemplate::parse("/a/{*x}/b").is_err());
    assert!(RouteTemplate::parse("/a/x{id}").is_err());
}

#[test]
fn exact_and_histogram_percentiles_agree_within_one_percent() {
    // 20 000 latencies with a long tail; compare the histogram with an exact sort.
    let mut values: Vec<u64> = (0..20_000u64)
        .map(|i| {
            let x = (i * 7919) % 20_000;
            if x % 50 == 0 {
                1500 + x % 3000
            } else {
                5 + x % 400
            }
        })
        .collect();
    let mut s = Samples::Exact(Vec::new());
    for v in &values {
        s.record(*v);
    }
    assert!(matches!(s, Samples::Hdr(_)));
    let (q, max) = s.quantiles(&[0.5, 0.95, 0.99]);
    values.sort_unstable();
    let exact = |p: f64| values[((p * values.len() as f64).ceil() as usize).max(1) - 1] as f64;
    for (i, p) in [0.5, 0.95, 0.99].iter().enumerate() {
        let e = exact(*p);
        assert!((q[i] - e).abs() <= e * 0.01, "p{p}: {} vs {e}", q[i]);
    }
    assert!((max - *values.last().unwrap() as f64).abs() <= max * 0.01);
    // Few values stay exact.
    let mut few = Samples::Exact(Vec::new());
    for v in [10, 20, 30, 40, 1000] {
        few.record(v);
    }
    assert_eq!(few.quantiles(&[0.5, 0.99]), (vec![30.0, 1000.0], 1000.0));
}

#[test]
fn stats_count_errors_worker_time_and_window() {
    let format = LogFormat::compile("timed").unwrap();
    let options = LogOptions {
        since: Some(1_696_946_100),
        ..Default::default()
    };
    let mut stats = LogStats::new(&format, &options);
    let lines = [
        r#"1.1.1.1 - - [10/Oct/2023:13:55:36 +0000] "GET /api/orders/1 HTTP/1.1" 200 5 "-" "c" rt=0.120 uct="0.001" uht="0.100" urt="0.100""#,
        r#"1.1.1.1 - - [10/Oct/2023:13:55:37 +0000] "GET /api/orders/2 HTTP/1.1" 502 5 "-" "c" rt=0.300 uct="0.001, 0.001" uht="-, 0.2" urt="0.050, 0.200""#,
        r#"1.1.1.1 - - [10/Oct/2023:13:55:38 +0000] "GET /health HTTP/1.1" 200 5 "-" "c" rt=0.001 uct="-" uht="-" urt="-""#,
        r#"1.1.1.1 - - [10/Oct/2023:13:00:00 +0000] "GET /old HTTP/1.1" 200 5 "-" "c" rt=9.000 uct="-" uht="-" urt="9.000""#,
        "garbage that is not a log line",
        "",
        r#"1.1.1.1 - - [10/Oct/2023:13:55:39 +0000] "\x16\x03\x01" 400 0 "-" "-" rt=0.000 uct="-" uht="-" urt="-""#,
    ];
    for (i, l) in lines.iter().enumerate() {
        stats.add_line(l.as_bytes(), i as u64 + 1);
    }
    assert_eq!((stats.lines, stats.parsed, stats.unparsed), (6, 5, 1));
    assert_eq!(stats.outside_window, 1);
    assert_eq!(stats.first_error.as_ref().unwrap().line, 5);
    assert_eq!(stats.sums.upstream_ms, 350);
    assert_eq!(stats.sums.upstream_n, 2);
    assert_eq!(stats.sums.multi_upstream, 1);
    let mut eps = stats.endpoints();
    eps.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    let names: Vec<_> = eps.iter().map(|e| e.endpoint.as_str()).collect();
    assert_eq!(
        names,
        [
            "(invalid request line)",
            "GET /api/orders/{id}",
            "GET /health"
        ]
    );
    let orders = &eps[1];
    assert_eq!(orders.requests, 2);
    assert_eq!(orders.errors, 1);
    assert_eq!(orders.worker_ms, Some(350));
    assert_eq!(orders.p50_ms, 120.0);
    assert_eq!(orders.max_ms, 300.0);
    assert_eq!(eps[2].worker_ms, Some(0));
}

#[test]
fn merging_parts_keeps_line_numbers_and_counts() {
    let format = LogFormat::compile("$status $request_time $request").unwrap();
    let options = LogOptions::default();
    let mut a = LogStats::new(&format, &options);
    let mut b = LogStats::new(&format, &options);
    for i in 0..600 {
        a.add_line(
            format!("200 0.{:03} GET /x/{i}", i % 1000).as_bytes(),
            i + 1,
        );
        b.add_line(
            format!("500 1.{:03} GET /x/{i}", i % 1000).as_bytes(),
            i + 1,
        );
    }
    b.add_line(b"oops", 601);
    a.merge(b, 600);
    assert_eq!(a.first_error.as_ref().unwrap().line, 1201);
    let eps = a.endpoints();
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].requests, 1200);
    assert_eq!(eps[0].errors, 600);
    assert_eq!(eps[0].worker_ms, None);
    assert!((eps[0].p50_ms - 599.0).abs() <= 6.0, "{}", eps[0].p50_ms);
}

#[test]
fn route_limit_folds_the_rest() {
    let format = LogFormat::compile("$status $request").unwrap();
    let options = LogOptions {
        max_routes: 3,
        ..Default::default()
    };
    let mut s = LogStats::new(&format, &options);
    for p in ["a", "b", "c", "d", "e", "a"] {
        s.add_line(format!("200 GET /{p}").as_bytes(), 1);
    }
    assert_eq!(s.route_count(), 4);
    assert_eq!(s.routes_overflowed, 2);
    let eps = s.endpoints();
    let other = eps.iter().find(|e| e.endpoint == OTHER_ROUTES).unwrap();
    assert_eq!(other.requests, 2);
}

#[test]
fn arbitrary_bytes_never_panic_and_every_line_is_counted() {
    // A small xorshift generator: deterministic noise mixed with real fragments.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pieces: [&[u8]; 14] = [
        b"\"",
        b" ",
        b"[",
        b"]",
        b"-",
        b"0.010, 0.020",
        b" : ",
        b"GET /a/1 HTTP/1.1",
        b"10/Oct/2023:13:55:36 +0000",
        b"rt=",
        b"urt=\"",
        b"\\",
        b"{\"t\":",
        b"\xff\xfe",
    ];
    for spec in [
        "timed",
        "combined",
        r#"{"t":"$time_iso8601","s":$status,"u":"$uri","rt":$request_time}"#,
        "$msec $upstream_response_time $request",
    ] {
        let format = LogFormat::compile(spec).unwrap();
        let options = LogOptions::default();
        let mut stats = LogStats::new(&format, &options);
        let mut line = Vec::new();
        for n in 0..5000u64 {
            line.clear();
            for _ in 0..(next() % 24) {
                let r = next();
                if r % 3 == 0 {
                    line.push((r >> 8) as u8);
                } else {
                    line.extend_from_slice(pieces[(r >> 8) as usize % pieces.len()]);
                }
            }
            line.retain(|&b| b != b'\n');
            stats.add_line(&line, n + 1);
        }
        assert_eq!(stats.lines, stats.parsed + stats.unparsed, "{spec}");
        let _ = stats.endpoints();
    }
}
