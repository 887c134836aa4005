//! The HTTP transport in-process: `server::http::serve` on a real listener on port 0, driven
//! over TCP, stopped by the shutdown future the test hands it; and, where the process's own
//! open-files limit matters, the real binary started under a limit of 1,024.

use std::time::Duration;

use python_web_troubleshooter::server::http::{self, HttpOptions, HttpSettings};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const TOKEN: &str = "in-process-test-token-0123456789";

fn settings() -> HttpSettings {
    let mut options = HttpOptions::new("127.0.0.1:0");
    options.token_env = Some(TOKEN.into());
    options.shutdown_grace = Duration::from_secs(5);
    HttpSettings::resolve(options).expect("valid settings")
}

fn post(port: u16, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         MCP-Protocol-Version: 2025-06-18\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Reads one response with a Content-Length; returns status and body.
async fn response(stream: &mut TcpStream) -> (u16, Value) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .expect("content-length");
            break (i + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let status = String::from_utf8_lossy(&buf[9..12])
        .parse()
        .expect("status");
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    (status, body)
}

fn capacity_call(id: u64) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "capacity_math",
        "arguments": {"replicas": 32, "workers_per_replica": 4, "avg_latency_ms": 4000}}})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn serves_on_port_zero_and_drains_on_shutdown() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, settings(), async {
        let _ = stopped.await;
    }));

    // A complete call.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(&post(port, &capacity_call(1)))
        .await
        .unwrap();
    let (status, body) = response(&mut stream).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["total_workers"], 128);

    // A call in flight when the shutdown starts: half of its body is sent.
    let call = capacity_call(2);
    let request = post(port, &call);
    let split = request.len() - call.len() / 2;
    let mut in_flight = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    in_flight.write_all(&request[..split]).await.unwrap();
    // Time for the server to accept the connection and start reading the request.
    tokio::time::sleep(Duration::from_millis(500)).await;

    stop.send(()).unwrap();
    // New connections are refused once the listener is closed.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "still accepting connections after the shutdown signal"
    );
    assert!(
        !server.is_finished(),
        "stopped before the call in flight finished"
    );

    // The call in flight still gets its answer, then the server returns.
    in_flight.write_all(&request[split..]).await.unwrap();
    let (status, body) = response(&mut in_flight).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["total_workers"], 128);
    drop(in_flight);
    drop(stream);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns after the drain")
        .unwrap()
        .expect("serve ends without an error");
}

// ---------------------------------------------------------------- connection limits
//
// Clients that connect and send nothing, or stop in the middle of their headers,
// must not take the server down for the team.

/// The server's settings with short connection deadlines.
fn settings_with(configure: impl FnOnce(&mut HttpOptions)) -> HttpSettings {
    let mut options = HttpOptions::new("127.0.0.1:0");
    options.token_env = Some(TOKEN.into());
    options.shutdown_grace = Duration::from_secs(5);
    configure(&mut options);
    HttpSettings::resolve(options).expect("valid settings")
}

/// A server on port 0, stopped when the returned sender is dropped or used.
async fn start(settings: HttpSettings) -> (u16, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(http::serve(listener, settings, async {
        let _ = stopped.await;
    }));
    (port, stop)
}

/// How long until the server closes `stream` (end of stream or reset), if it does before
/// `limit`; `None` while it stays open. Panics if the server sends anything.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = tokio::time::Instant::now();
    let mut byte = [0u8; 1];
    match tokio::time::timeout(limit, stream.read(&mut byte)).await {
        Err(_elapsed) => None,
        Ok(Ok(0)) | Ok(Err(_)) => Some(start.elapsed()),
        Ok(Ok(_)) => panic!("the server answered a request that was never complete"),
    }
}

/// A complete authenticated call on `stream`; panics unless it is answered with 200.
async fn call(stream: &mut TcpStream, port: u16, id: u64) {
    stream
        .write_all(&post(port, &capacity_call(id)))
        .await
        .unwrap();
    let (status, body) = response(stream).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["total_workers"], 128);
}

fn half_sent_head(port: u16) -> Vec<u8> {
    format!("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-a: ").into_bytes()
}

#[tokio::test]
async fn silent_and_half_sent_connections_are_closed_at_the_header_timeout() {
    let header_timeout = Duration::from_secs(1);
    let (port, _stop) = start(settings_with(|o| o.header_timeout = header_timeout)).await;

    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut half = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    half.write_all(&half_sent_head(port)).await.unwrap();
    // Still sending, slowly: bytes do not restart the clock.
    tokio::time::sleep(Duration::from_millis(500)).await;
    half.write_all(b"1\r\nX-b: ").await.unwrap();

    let limit = header_timeout + Duration::from_millis(1500);
    let silent_closed = closed_within(&mut silent, limit).await;
    assert!(silent_closed.is_some(), "a silent connection is still open");
    let half_closed = closed_within(&mut half, limit).await;
    assert!(half_closed.is_some(), "a half-sent request is still open");
    // Closed by the deadline, not before it (500 ms have passed since the connect).
    assert!(
        silent_closed.unwrap() >= Duration::from_millis(400),
        "{silent_closed:?}"
    );

    // The server serves on.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    call(&mut stream, port, 1).await;
}

#[tokio::test]
async fn requests_being_refused_do_not_keep_the_team_out_at_the_cap() {
    let (port, _stop) = start(settings_with(|o| o.max_connections = Some(2))).await;
    // Without the token, with a body that trickles in: the server reads and discards it
    // for up to a second before answering 401.
    let mut refused = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 100000\r\n\r\nx"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        refused.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = tokio::time::Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    call(&mut stream, port, 1).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_request_head_over_64_kib_is_refused() {
    let (port, _stop) = start(settings()).await;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut head = half_sent_head(port);
    head.extend(std::iter::repeat_n(b'a', 70 * 1024));
    // The server may stop reading before it has all of it.
    let _ = stream.write_all(&head).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(80)])
    );
    // A large but reasonable head is fine.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let body = capacity_call(1);
    let mut request = post(port, &body);
    let padding = format!("X-Padding: {}\r\n", "p".repeat(16 * 1024));
    let at = request.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    request.splice(at..at, padding.into_bytes());
    stream.write_all(&request).await.unwrap();
    let (status, body) = response(&mut stream).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_kept_alive_connection_waits_for_the_idle_timeout_not_the_header_timeout() {
    let (port, _stop) = start(settings_with(|o| {
        o.header_timeout = Duration::from_secs(1);
        o.idle_timeout = Duration::from_secs(2);
    }))
    .await;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    call(&mut stream, port, 1).await;
    // Past the header timeout, within the idle timeout: the next call on the same
    // connection is served.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    call(&mut stream, port, 2).await;
    let closed = closed_within(&mut stream, Duration::from_secs(4)).await;
    let closed = closed.expect("an idle connection is still open after the idle timeout");
    assert!(
        closed >= Duration::from_millis(1500),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn at_the_cap_the_oldest_connection_without_a_request_makes_room() {
    let (port, _stop) = start(settings_with(|o| o.max_connections = Some(4))).await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        // Accepted in this order.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    call(&mut stream, port, 1).await;
    assert!(
        closed_within(&mut silent[0], Duration::from_secs(1))
            .await
            .is_some(),
        "the oldest silent connection was not closed to make room"
    );
    for other in &mut silent[1..] {
        assert!(
            closed_within(other, Duration::from_millis(100))
                .await
                .is_none(),
            "a younger connection was closed"
        );
    }
}

#[tokio::test]
async fn at_the_cap_with_every_connection_serving_a_request_a_new_one_is_refused() {
    let (port, _stop) = start(settings_with(|o| o.max_connections = Some(2))).await;
    // Two calls whose headers are in and whose bodies are not: both are being served.
    let call_body = capacity_call(1);
    let request = post(port, &call_body);
    let head = request.len() - call_body.len();
    let mut serving = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(&request[..head]).await.unwrap();
        serving.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(2), response(&mut third))
        .await
        .expect("a connection over the cap is answered at once");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], -32005);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-connections"),
        "{body}"
    );
    let mut rest = Vec::new();
    assert_eq!(
        third.read_to_end(&mut rest).await.unwrap(),
        0,
        "then closed"
    );
    // The calls in progress finish, and then there is room again.
    for stream in &mut serving {
        stream.write_all(&request[head..]).await.unwrap();
        let (status, body) = response(stream).await;
        assert_eq!(status, 200, "{body}");
    }
    drop(serving);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    call(&mut stream, port, 2).await;
}

/// The real binary, as a team runs it, under an open-files limit of 1,024 (systemd's default
/// soft limit): with more connections that send nothing than that, a teammate's call is
/// still answered within a second and the health check still answers; connections that
/// stop mid-headers are closed at the header timeout; everything works afterwards.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_open_files_limit_do_not_keep_the_team_out() {
    const SERVER_FILES: u64 = 1024;
    const CONNECTIONS: usize = 1400;
    const CONNECT_LIMIT: Duration = Duration::from_secs(3);
    let header_timeout = Duration::from_secs(2);
    raise_own_open_files_limit(CONNECTIONS + 200);

    let mut server = Binary::start(SERVER_FILES, &["--header-timeout", "2s"]);
    let port = server.port;
    let listening = &server.listening;
    assert!(listening.contains("open_files_limit=1024"), "{listening}");
    let cap: usize = field(listening, "max_connections=").expect("max_connections on start");
    assert!(cap < SERVER_FILES as usize, "{listening}");

    // The flood: connections that send nothing, and some that stop in their headers, all
    // at once. Bounded: a server that stops accepting leaves connects hanging in SYN
    // retries; those are given up after CONNECT_LIMIT.
    let flood_started = tokio::time::Instant::now();
    let mut connects = tokio::task::JoinSet::new();
    for i in 0..CONNECTIONS {
        connects.spawn(async move {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
            let half_sent = i % 7 == 0;
            if half_sent {
                stream.write_all(&half_sent_head(port)).await.ok()?;
            }
            Some((half_sent, stream))
        });
    }
    let mut idle = Vec::with_capacity(CONNECTIONS);
    let mut half = Vec::with_capacity(CONNECTIONS / 7 + 1);
    let _ = tokio::time::timeout(CONNECT_LIMIT, async {
        while let Some(joined) = connects.join_next().await {
            match joined.unwrap() {
                Some((true, stream)) => half.push(stream),
                Some((false, stream)) => idle.push(stream),
                None => {}
            }
        }
    })
    .await;
    connects.abort_all();
    let opened = flood_started.elapsed();

    // A teammate's call and the load balancer's health check, on fresh connections, while
    // the flood is held open.
    let started = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(1), async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        call(&mut stream, port, 1).await;
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no answer within 1 s with {} connections open ({} sent nothing, {} half a \
                 request), opened in {opened:?}",
            idle.len() + half.len(),
            idle.len(),
            half.len()
        )
    });
    let latency = started.elapsed();
    let started = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(1), async {
        let mut probe = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        healthz(&mut probe, port).await;
    })
    .await
    .expect("/healthz answered within 1 s during the flood");
    let health_latency = started.elapsed();
    eprintln!(
        "{} silent and {} half-sent connections opened in {opened:?}; call answered in \
         {latency:?}, /healthz in {health_latency:?}",
        idle.len(),
        half.len()
    );

    assert_eq!(
        idle.len() + half.len(),
        CONNECTIONS,
        "some connections of the flood were never accepted"
    );

    // Every half-sent request is closed by the header timeout (or earlier, to make room).
    let deadline = flood_started + opened + header_timeout + Duration::from_millis(1500);
    for (i, stream) in half.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            closed_within(stream, left).await.is_some(),
            "half-sent connection {i} still open {:?} after the flood began",
            flood_started.elapsed()
        );
    }
    // And so is every silent one the server accepted.
    for (i, stream) in idle.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            closed_within(stream, left).await.is_some(),
            "silent connection {i} still open {:?} after the flood began",
            flood_started.elapsed()
        );
    }
    drop(idle);
    drop(half);

    // Afterwards: calls on new and kept-alive connections.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    call(&mut stream, port, 2).await;
    call(&mut stream, port, 3).await;
    assert!(server.is_running(), "the server exited");

    // What the limits did is logged (rate-limited, and once more at shutdown).
    drop(stream);
    let log = server.stop();
    // Which limit closes a half-sent or silent connection depends on timing (the cap can
    // make room before the header timeout fires); each line names the limits that acted,
    // and together they account for every connection of the flood.
    let reports: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("to keep the server reachable"))
        .collect();
    assert!(
        !reports.is_empty(),
        "no line about the connections closed in {log:#?}"
    );
    let count = |line: &str, field: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{field}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field}= in {line}"))
    };
    let (mut by_header, mut by_cap) = (0, 0);
    for report in &reports {
        let header = count(report, "header_timeouts");
        let evicted = count(report, "evicted");
        if header > 0 {
            assert!(report.contains("--header-timeout"), "{report}");
        }
        if evicted > 0 {
            assert!(report.contains("--max-connections"), "{report}");
        }
        by_header += header;
        by_cap += evicted;
    }
    assert!(
        by_cap > 0,
        "past the cap, idle connections made room: {reports:#?}"
    );
    assert!(
        by_header + by_cap >= CONNECTIONS as u64,
        "{by_header} closed by the header timeout and {by_cap} to make room, of {CONNECTIONS}: {reports:#?}"
    );
}

/// When `accept()` fails for lack of file descriptors (taken by something else than client
/// connections, here a limit lowered while the server runs), the server neither spins nor
/// exits: it closes idle connections to free descriptors, pauses, and serves again as soon
/// as a descriptor is free.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_server_backs_off_and_recovers() {
    raise_own_open_files_limit(600);
    let mut server = Binary::start(1024, &[]);
    let port = server.port;

    // No descriptor left at all, and no connection to close: a call waits in the queue.
    let open = server.open_files();
    let lowest_free = (0..).find(|fd| !open.contains(fd)).unwrap();
    server.set_open_files_limit(lowest_free);
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    waiting
        .write_all(&post(port, &capacity_call(1)))
        .await
        .unwrap();
    let cpu_before = server.cpu_ticks();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_secs(1), waiting.peek(&mut byte))
            .await
            .is_err(),
        "answered although the server had no descriptor to accept with"
    );
    // Clock ticks are 1/100 s: a loop retrying at once would burn about 100 of them.
    let cpu = server.cpu_ticks() - cpu_before;
    assert!(cpu <= 20, "{cpu} ticks of CPU in 1 s without a descriptor");
    assert!(server.is_running(), "the server exited");

    // A descriptor frees up: the waiting call is served after at most one pause.
    server.set_open_files_limit(1024);
    let (status, body) = tokio::time::timeout(Duration::from_secs(1), response(&mut waiting))
        .await
        .expect("the waiting call answered within 1 s of the limit being raised");
    assert_eq!(status, 200, "{body}");
    drop(waiting);

    // Descriptors for 50 connections only, and 300 that send nothing: the server closes the
    // oldest of them to accept the others and a teammate's call.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lowest_free = {
        let open = server.open_files();
        (0..).find(|fd| !open.contains(fd)).unwrap()
    };
    server.set_open_files_limit(lowest_free + 50);
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let started = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(1), async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        call(&mut stream, port, 2).await;
    })
    .await
    .expect("a call answered within 1 s while descriptors ran out");
    eprintln!("call answered in {:?}", started.elapsed());
    assert!(server.is_running(), "the server exited");
    drop(silent);

    let log = server.stop();
    let report = log
        .iter()
        .find(|line| line.contains("accept() failed"))
        .unwrap_or_else(|| panic!("no line about accept() failing in {log:#?}"));
    assert!(report.contains("Too many open files"), "{report}");
}

async fn healthz(stream: &mut TcpStream, port: u16) {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, body) = response(stream).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

/// `name=<number>` in a log line.
fn field<T: std::str::FromStr>(line: &str, name: &str) -> Option<T> {
    let rest = line.split(name).nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// This test process holds every connection of the flood: its soft open-files limit is
/// raised to its hard limit, which must allow `needed`.
#[cfg(target_os = "linux")]
fn raise_own_open_files_limit(needed: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed, which lives
    // for the call.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    assert!(
        limit.rlim_cur >= needed as libc::rlim_t,
        "this test opens {needed} connections, and the open-files hard limit is {}: raise it \
         (ulimit -Hn) to run it",
        limit.rlim_cur
    );
}

/// `python-web-troubleshooter serve --http 127.0.0.1:0` with an open-files limit; killed on
/// drop.
#[cfg(target_os = "linux")]
struct Binary {
    child: std::process::Child,
    port: u16,
    /// The start-up line with the settings.
    listening: String,
    /// Every line of its log so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

#[cfg(target_os = "linux")]
impl Binary {
    fn start(open_files: u64, args: &[&str]) -> Self {
        use std::io::{BufRead, BufReader};
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};

        let mut command = Command::new(env!("CARGO_BIN_EXE_python-web-troubleshooter"));
        command
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(args)
            .env("PWT_HTTP_TOKEN", TOKEN)
            .env("RUST_LOG", "warn,python_web_troubleshooter=info")
            .env_remove("PWT_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let limit = libc::rlimit {
            rlim_cur: open_files as libc::rlim_t,
            rlim_max: open_files as libc::rlim_t,
        };
        // SAFETY: between fork and exec the closure only calls setrlimit, which is
        // async-signal-safe, on a struct it owns.
        unsafe {
            command.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let mut child = command.spawn().expect("the server binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on http://127.0.0.1:") {
                    let _ = tx.send(line.clone());
                }
                // The server's log, for a failing test's output.
                eprintln!("server: {line}");
                lines.lock().unwrap().push(line);
            }
        });
        let Ok(listening) = rx.recv_timeout(Duration::from_secs(15)) else {
            let _ = child.kill();
            panic!("the server did not report its address within 15 s");
        };
        let port = field(&listening, "listening on http://127.0.0.1:").expect("a port");
        Self {
            child,
            port,
            listening,
            log,
            reader: Some(reader),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sets the server's open-files limit while it runs (as `prlimit --pid`).
    fn set_open_files_limit(&self, limit: u64) {
        let limit = libc::rlimit {
            rlim_cur: limit as libc::rlim_t,
            rlim_max: 1024,
        };
        // SAFETY: prlimit reads the struct passed, which lives for the call, and writes
        // nothing (the old-limit pointer is null).
        let status = unsafe {
            libc::prlimit(
                self.pid(),
                libc::RLIMIT_NOFILE,
                &limit,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, 0, "prlimit: {}", std::io::Error::last_os_error());
    }

    /// The server's open file descriptors, by number.
    fn open_files(&self) -> Vec<u64> {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("/proc/<pid>/fd")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// User plus system CPU time of the server, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after_name = &stat[stat.rfind(')').expect("(comm)") + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; `after_name` starts at field 3.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    /// SIGTERM, then the whole log once the server has exited (within 15 s).
    fn stop(&mut self) -> Vec<String> {
        // SAFETY: kill sends a signal to our own child; no memory is involved.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let until = std::time::Instant::now() + Duration::from_secs(15);
        while self.is_running() {
            assert!(
                std::time::Instant::now() < until,
                "no exit within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log.lock().unwrap().clone()
    }
}

#[cfg(target_os = "linux")]
impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
