//! The accept loop and the life of each connection: HTTP/1.1 by hyper, with the deadlines
//! and the cap of [`connections`](super::connections) around it.
//!
//! axum's own `serve` has no header or idle timeout and sleeps a whole second when
//! `accept()` fails, so a client that opens connections and sends nothing could hold every
//! file descriptor and keep the team out. Here:
//!
//! - every connection is closed at its deadline (header, idle, exchange);
//! - at most `--max-connections` are held, a number below the open-files limit. At the cap
//!   a new connection is still accepted (the reserve under the limit leaves a descriptor for
//!   it) and the oldest connections without a request in progress are closed to make room;
//!   when every connection is serving a request, the new one is refused (closed at once,
//!   rather than left to wait in the kernel's queue);
//! - when `accept()` fails anyway (descriptors taken by database or AWS connections, or a
//!   limit lowered while running), the loop closes idle connections to free descriptors and
//!   retries after a short pause that doubles while nothing can be freed: it never spins and
//!   never gives up;
//! - a request head is at most [`MAX_BUFFER_BYTES`], and the listen queue as long as the
//!   system allows;
//! - what these limits did is logged at most once per [`REPORT_EVERY`], with counts.
//!
//! On shutdown the listener is closed at once (new connections are refused), idle
//! connections are closed, and requests in progress finish; the caller bounds how long.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::{Router, extract::ConnectInfo};
use hyper::{Request, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::connections::{Answer, ConnectionHandle, Expiry, Registered, Table, Timeouts, Watched};
use super::settings::human;

/// How often, at most, the limits' actions are logged.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The pause after a failed `accept()`, and the longest it doubles to while nothing can be
/// freed: long enough that the loop never spins, short enough that a teammate's connection
/// waiting in the queue is taken soon after a descriptor frees up.
const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// How long a new connection at the cap waits for an evicted one to give its slot back
/// (its task closes it as soon as it runs: microseconds, unless the machine is starved).
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// At the cap, connections are evicted in batches of this share of the cap (1/32, at least
/// one): under a flood, the next connections then find a free slot at once instead of each
/// waiting for one eviction, so the accept loop keeps up and the kernel's queue does not
/// overflow (a dropped SYN costs a real client a one-second retransmission).
const EVICTION_BATCH_DIVISOR: usize = 32;

/// The most a connection buffers: a request head larger than this is refused (431), so that
/// connections sending endless headers hold 64 KiB each at most, not hyper's default of
/// about 400 KiB. An MCP request's head is well under 8 KiB; bodies stream through.
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// The listen backlog asked for; the kernel caps it at `net.core.somaxconn` (4096 by default
/// since Linux 5.4). A long queue absorbs a burst of connections while the loop accepts
/// them: when it overflows, the kernel drops new handshakes, and a real client retries its
/// SYN only after a second.
const LISTEN_BACKLOG: u32 = 65_535;

/// A listener on `addr` with the longest accept queue the system allows.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std and tokio do: a restarted server can bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// What the connection loop needs besides the listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeouts: Timeouts,
    pub max_connections: usize,
}

/// Accepts and serves connections until `draining` is cancelled, then closes the listener
/// and returns when every connection has ended. Dropping the future closes them all.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    draining: CancellationToken,
) {
    let table = Arc::new(Table::default());
    let tally = Arc::new(Tally::default());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Cancelled when this future ends or is dropped: connections still open are closed.
    let stop = CancellationToken::new();
    let _stop_on_drop = stop.clone().drop_guard();
    // Every connection holds a receiver; `closed()` resolves when the last one has ended.
    let (all_closed, open) = watch::channel(());
    tokio::spawn(report(tally.clone(), table.clone(), limits, stop.clone()));

    let refusal = refusal(limits.max_connections);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let accepted = tokio::select! {
            biased;
            () = draining.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // The client gave up before the accept: nothing to do.
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                // Most likely out of file descriptors (EMFILE: taken by database or AWS
                // connections, or a limit lowered while running). The connection stays in
                // the kernel's queue; idle connections closed free descriptors for it, and
                // the pause lets their tasks close them. While nothing can be freed, the
                // pause doubles: the listener stays readable, so retrying at once would spin.
                tally.accept_error(&err);
                let evicted = table.evict_oldest_idle(eviction_batch(&limits));
                tally.add(&tally.freed, evicted);
                tokio::select! {
                    () = draining.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = if evicted > 0 {
                    FIRST_BACKOFF
                } else {
                    (backoff * 2).min(MAX_BACKOFF)
                };
                continue;
            }
        };
        backoff = FIRST_BACKOFF;
        let Some(slot) = admit(&slots, &table, &tally, &limits).await else {
            // Best effort, without waiting: a fresh socket's send buffer is empty.
            let _ = stream.try_write(&refusal);
            drop(stream);
            continue;
        };
        let connection = Connection {
            entry: table.register(),
            timeouts: limits.timeouts,
            draining: draining.clone(),
            stop: stop.clone(),
            tally: tally.clone(),
        };
        let router = router.clone();
        let open = open.clone();
        tokio::spawn(async move {
            connection.serve(stream, peer, router).await;
            // The descriptor is closed (the stream was dropped in `serve`) before the slot
            // is given back, so that the count never exceeds what is open.
            drop(slot);
            drop(open);
        });
    }
    drop(listener);
    drop(open);
    all_closed.closed().await;
    tally.report(table.len(), &limits);
}

/// A slot for a new connection: a free one, or the one of the oldest idle connection,
/// closed for it. `None` when every connection is serving a request.
async fn admit(
    slots: &Arc<Semaphore>,
    table: &Table,
    tally: &Tally,
    limits: &Limits,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(slot) = slots.clone().try_acquire_owned() {
        return Some(slot);
    }
    let evicted = table.evict_oldest_idle(eviction_batch(limits));
    if evicted == 0 {
        tally.count(&tally.refused);
        return None;
    }
    tally.add(&tally.evicted, evicted);
    match tokio::time::timeout(EVICTION_WAIT, slots.clone().acquire_owned()).await {
        Ok(Ok(slot)) => Some(slot),
        _ => {
            tally.count(&tally.refused);
            None
        }
    }
}

/// What a connection refused at the cap receives before it is closed: a 503 with a JSON-RPC
/// error, as for the other refusals, so that the client shows the reason.
fn refusal(max_connections: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32005,
            "message": format!(
                "Server busy: all {max_connections} connections are serving requests \
                 (--max-connections); retry in a few seconds"
            ),
        },
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         cache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn eviction_batch(limits: &Limits) -> usize {
    (limits.max_connections / EVICTION_BATCH_DIVISOR).max(1)
}

/// Errors about one connection that went away, not about the listener.
fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// One accepted connection and what it is served with.
struct Connection {
    entry: Registered,
    timeouts: Timeouts,
    draining: CancellationToken,
    stop: CancellationToken,
    tally: Arc<Tally>,
}

impl Connection {
    /// Serves requests until the client closes, a deadline passes, the connection is
    /// evicted, or the server stops; the socket is closed on return.
    async fn serve(self, stream: TcpStream, peer: SocketAddr, router: Router) {
        // Answers are single small writes: send them at once rather than wait for an ACK.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let tracker = self.entry.tracker().clone();
        let io = TokioIo::new(Watched::new(stream, tracker.clone()));
        let requests = tracker.clone();
        let service = service_fn(move |mut request: Request<Incoming>| {
            let in_flight = requests.begin_request();
            request.extensions_mut().insert(ConnectInfo(peer));
            request
                .extensions_mut()
                .insert(ConnectionHandle::new(requests.clone()));
            let answer = router.clone().oneshot(request);
            async move {
                let response = answer.await?;
                Ok::<_, Infallible>(response.map(|body| Answer::new(body, in_flight)))
            }
        });
        // hyper's own header timeout is off: it would also cut kept-alive connections at
        // the header timeout; the deadlines below tell the two apart.
        let connection = http1::Builder::new()
            .header_read_timeout(None)
            .max_buf_size(MAX_BUFFER_BYTES)
            .serve_connection(io, service);
        tokio::pin!(connection);
        let (deadline, _) = tracker.deadline(&self.timeouts);
        let timer = tokio::time::sleep_until(deadline);
        tokio::pin!(timer);
        let mut shutting_down = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(%err, %peer, "connection ended with an error");
                    }
                    return;
                }
                () = tracker.changed() => {
                    if tracker.is_evicted() {
                        // One more turn for the connection: a request already in its
                        // socket is read and started, and then spares it.
                        let turn = std::future::poll_fn(|cx| {
                            std::task::Poll::Ready(connection.as_mut().poll(cx))
                        });
                        if turn.await.is_ready() || !tracker.spare_if_serving() {
                            return;
                        }
                    }
                    let (deadline, _) = tracker.deadline(&self.timeouts);
                    timer.as_mut().reset(deadline);
                }
                () = timer.as_mut() => {
                    // The phase may have changed at the same moment: look again.
                    let (deadline, expiry) = tracker.deadline(&self.timeouts);
                    if deadline <= Instant::now() {
                        self.tally.closed(expiry);
                        return;
                    }
                    timer.as_mut().reset(deadline);
                }
                () = self.draining.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    // Closes it if idle; otherwise after the answer in progress.
                    connection.as_mut().graceful_shutdown();
                }
                () = self.stop.cancelled() => return,
            }
        }
    }
}

/// What the limits did since the last report.
#[derive(Debug, Default)]
struct Tally {
    header_timeouts: AtomicU64,
    idle_timeouts: AtomicU64,
    stalled: AtomicU64,
    /// Closed to make room at the cap.
    evicted: AtomicU64,
    refused: AtomicU64,
    accept_errors: AtomicU64,
    /// Closed to free descriptors after `accept()` failed.
    freed: AtomicU64,
    last_accept_error: std::sync::Mutex<Option<String>>,
}

impl Tally {
    fn count(&self, counter: &AtomicU64) {
        self.add(counter, 1);
    }

    fn add(&self, counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn closed(&self, expiry: Expiry) {
        self.count(match expiry {
            Expiry::Header => &self.header_timeouts,
            Expiry::Idle => &self.idle_timeouts,
            Expiry::Exchange => &self.stalled,
        });
    }

    fn accept_error(&self, err: &std::io::Error) {
        self.count(&self.accept_errors);
        if let Ok(mut last) = self.last_accept_error.lock() {
            *last = Some(err.to_string());
        }
    }

    /// Logs what happened since the last call, if anything: a warning when connections were
    /// closed or refused to protect the server, an info line when only idle ones were.
    fn report(&self, open: usize, limits: &Limits) {
        let take = |counter: &AtomicU64| counter.swap(0, Ordering::Relaxed);
        let header = take(&self.header_timeouts);
        let idle = take(&self.idle_timeouts);
        let stalled = take(&self.stalled);
        let evicted = take(&self.evicted);
        let refused = take(&self.refused);
        let accept_errors = take(&self.accept_errors);
        let freed = take(&self.freed);
        let last_accept_error = self
            .last_accept_error
            .lock()
            .ok()
            .and_then(|mut last| last.take())
            .unwrap_or_default();
        let timeouts = &limits.timeouts;
        let max = limits.max_connections;
        let mut parts = Vec::new();
        if header > 0 {
            parts.push(format!(
                "{header} without complete request headers within {} (--header-timeout)",
                human(timeouts.header)
            ));
        }
        if evicted > 0 {
            parts.push(format!(
                "{evicted} idle to make room at the cap of {max} (--max-connections)"
            ));
        }
        if refused > 0 {
            parts.push(format!(
                "{refused} new refused: all {max} connections were serving requests"
            ));
        }
        if stalled > 0 {
            parts.push(format!(
                "{stalled} whose answer the client did not read within {}",
                human(timeouts.exchange)
            ));
        }
        if accept_errors > 0 {
            parts.push(format!(
                "accept() failed {accept_errors} times ({last_accept_error}) and {freed} idle \
                 were closed to free descriptors: something else holds them (database or AWS \
                 connections, files); raise the open-files limit or lower --max-connections"
            ));
        }
        let window = human(REPORT_EVERY);
        if !parts.is_empty() {
            if idle > 0 {
                parts.push(format!(
                    "{idle} idle for {} (--idle-timeout)",
                    human(timeouts.idle)
                ));
            }
            tracing::warn!(
                header_timeouts = header,
                evicted,
                refused,
                stalled,
                accept_errors,
                freed,
                idle_timeouts = idle,
                open,
                max_connections = max,
                "connections closed in the last {window} to keep the server reachable: {}",
                parts.join("; ")
            );
        } else if idle > 0 {
            tracing::info!(
                idle_timeouts = idle,
                open,
                max_connections = max,
                "{idle} kept-alive connections closed in the last {window}: no request for {} \
                 (--idle-timeout)",
                human(timeouts.idle)
            );
        }
    }
}

/// Reports every [`REPORT_EVERY`] until `stop`.
async fn report(tally: Arc<Tally>, table: Arc<Table>, limits: Limits, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(REPORT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => tally.report(table.len(), &limits),
        }
    }
}
