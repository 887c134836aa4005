//! What the server knows about each client connection it holds: where the connection is in
//! its request cycle and since when. That decides when the connection is closed, and which
//! one makes room when every slot is taken.
//!
//! The token, the Host/Origin check and the body limits all act on a request, so none of
//! them stops a client that connects and sends nothing, or stops halfway through its
//! headers. Each connection therefore has a deadline from the moment it is accepted:
//!
//! - waiting for its first request: the header timeout, counted from the accept, so that a
//!   connection that never sends a byte is closed as surely as one that stops mid-headers;
//! - waiting for a next request (kept alive): the idle timeout, then from the first byte
//!   the header timeout;
//! - serving a request: from its complete headers to the end of its answer, the call
//!   deadline plus some slack (the call itself stops at its deadline; this closes a
//!   connection whose client stopped reading its answer).
//!
//! At the cap, the connections that make room are those that have waited longest without a
//! request being served, preferring connections that never completed one: a client with a
//! real call sends its headers within milliseconds of connecting, so it is never among the
//! oldest, and an attacker's connections only push out each other. A connection chosen
//! while its request was already in its socket, unread because its task had not run yet, is
//! spared ([`Tracker::spare_if_serving`]); one whose request is being refused is not
//! ([`ConnectionHandle`]).
//!
//! [`Watched`] (the socket) and [`Answer`] (the response body) report the request cycle;
//! `listen` runs the deadlines and the cap.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The deadlines of every connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To send a request's headers.
    pub header: Duration,
    /// To start the next request on a kept-alive connection.
    pub idle: Duration,
    /// From a request's headers to the end of its answer.
    pub exchange: Duration,
}

/// Why a connection was closed on a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No complete request headers in time (including a connection that sent nothing).
    Header,
    /// Kept alive with no next request.
    Idle,
    /// A request whose answer did not go out in time: the client stopped reading it.
    Exchange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No byte of the next request yet: just accepted, or its last answer was sent.
    Waiting,
    /// Part of a request's headers has arrived.
    Head,
    /// Serving a request, from its complete headers to the end of its answer.
    Busy,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// When the phase's clock started.
    since: Instant,
    /// Requests answered on this connection.
    answered: u64,
    /// Requests being served (one at a time in HTTP/1.1, but counted to be safe).
    in_flight: usize,
    /// The request being served is being refused (no token, a forbidden Host...).
    refusing: bool,
}

/// One connection's place in its request cycle, shared by its socket, its requests and the
/// task that serves it.
#[derive(Debug)]
pub struct Tracker {
    state: Mutex<State>,
    /// Wakes the serving task when the deadline may have moved or the connection is evicted.
    wake: Notify,
    evicted: AtomicBool,
}

impl Tracker {
    fn new(now: Instant) -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Waiting,
                since: now,
                answered: 0,
                in_flight: 0,
                refusing: false,
            }),
            wake: Notify::new(),
            evicted: AtomicBool::new(false),
        }
    }

    /// A poisoned lock only means another thread panicked while holding it; the state is
    /// plain data, still usable.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived on the socket.
    fn on_read(&self) {
        let mut state = self.state();
        if state.phase != Phase::Waiting {
            return;
        }
        state.phase = Phase::Head;
        // The first request's header clock runs from the accept; a next one's from its
        // first byte (the idle clock ran until then).
        if state.answered > 0 {
            state.since = Instant::now();
        }
        drop(state);
        self.wake.notify_one();
    }

    /// A request's headers are complete and it is handed to the router; serving lasts as
    /// long as the returned guard.
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.phase = Phase::Busy;
        state.since = Instant::now();
        state.in_flight += 1;
        state.refusing = false;
        drop(state);
        self.wake.notify_one();
        InFlight(self.clone())
    }

    fn end_request(&self) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight > 0 {
            return;
        }
        state.phase = Phase::Waiting;
        state.since = Instant::now();
        state.answered += 1;
        drop(state);
        self.wake.notify_one();
    }

    /// When the connection is due to be closed, and why.
    pub fn deadline(&self, timeouts: &Timeouts) -> (Instant, Expiry) {
        let state = self.state();
        let (after, expiry) = match state.phase {
            Phase::Waiting if state.answered > 0 => (timeouts.idle, Expiry::Idle),
            Phase::Waiting | Phase::Head => (timeouts.header, Expiry::Header),
            Phase::Busy => (timeouts.exchange, Expiry::Exchange),
        };
        (later(state.since, after), expiry)
    }

    /// Resolves when the deadline may have moved, or the connection was evicted.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Called by an evicted connection's task once it has let the connection read what was
    /// already waiting in its socket: if that started a request (one not being refused),
    /// the eviction is withdrawn and `true` returned, and the connection is served on.
    ///
    /// A connection is chosen while it has sent nothing the server has read, but under a
    /// flood its task may run only later: a client that sent its request at once must not
    /// lose it to that delay.
    pub fn spare_if_serving(&self) -> bool {
        let state = self.state();
        let serving = state.phase == Phase::Busy && !state.refusing;
        if serving {
            self.evicted.store(false, Ordering::Release);
        }
        serving
    }

    fn mark_refusing(&self) {
        let mut state = self.state();
        if state.phase == Phase::Busy {
            state.refusing = true;
        }
    }

    /// Lower goes first at the cap; `None` while serving a request that is not being
    /// refused (or already evicted).
    fn eviction_rank(&self) -> Option<(bool, Instant)> {
        if self.is_evicted() {
            return None;
        }
        let state = self.state();
        let serving = state.phase == Phase::Busy && !state.refusing;
        (!serving).then_some((state.answered > 0, state.since))
    }
}

/// `since + after`, or far in the future when that does not fit (a deadline of years).
fn later(since: Instant, after: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    since
        .checked_add(after)
        .or_else(|| since.checked_add(FAR))
        .unwrap_or(since)
}

/// A request's handle on its connection, in the request's extensions.
///
/// A request that is refused (no token, a forbidden Host or Origin) keeps its connection
/// busy while the refusal goes out, up to a second when its body is read and discarded
/// first. Marked, that connection may make room at the cap like an idle one: otherwise
/// clients without the token, sending requests slowly enough, could keep every connection
/// "serving" and the team's new connections refused.
#[derive(Debug, Clone)]
pub struct ConnectionHandle(Arc<Tracker>);

impl ConnectionHandle {
    pub fn new(tracker: Arc<Tracker>) -> Self {
        Self(tracker)
    }

    /// The request being served on this connection is being refused.
    pub fn mark_refusing(&self) {
        self.0.mark_refusing();
    }
}

/// A request being served; its end (the guard's drop) puts the connection back to waiting.
#[derive(Debug)]
pub struct InFlight(Arc<Tracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// The connections the server holds.
#[derive(Debug, Default)]
pub struct Table {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Tracker>>>,
}

impl Table {
    fn open(&self) -> MutexGuard<'_, HashMap<u64, Arc<Tracker>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection, accepted now; it leaves the table when the guard is dropped.
    pub fn register(self: &Arc<Self>) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tracker = Arc::new(Tracker::new(Instant::now()));
        self.open().insert(id, tracker.clone());
        Registered {
            id,
            tracker,
            table: self.clone(),
        }
    }

    /// Closes the `n` connections that have waited longest without a request being served,
    /// preferring those that never completed one. Returns how many it closed: fewer when
    /// the others are serving requests.
    pub fn evict_oldest_idle(&self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let open = self.open();
        let mut idle: Vec<_> = open
            .values()
            .filter_map(|tracker| tracker.eviction_rank().map(|rank| (rank, tracker)))
            .collect();
        if idle.len() > n {
            idle.select_nth_unstable_by_key(n - 1, |(rank, _)| *rank);
            idle.truncate(n);
        }
        for (_, tracker) in &idle {
            tracker.evict();
        }
        idle.len()
    }

    pub fn len(&self) -> usize {
        self.open().len()
    }
}

/// A connection's entry in the [`Table`].
#[derive(Debug)]
pub struct Registered {
    id: u64,
    tracker: Arc<Tracker>,
    table: Arc<Table>,
}

impl Registered {
    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.table.open().remove(&self.id);
    }
}

/// A client socket that tells its [`Tracker`] when bytes arrive.
pub struct Watched<S> {
    inner: S,
    tracker: Arc<Tracker>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, tracker: Arc<Tracker>) -> Self {
        Self { inner, tracker }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.tracker.on_read();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A response body that ends its request's [`InFlight`] when it has been sent (or dropped
/// unsent: the connection closed).
pub struct Answer {
    body: Body,
    _in_flight: InFlight,
}

impl Answer {
    pub fn new(body: Body, in_flight: InFlight) -> Self {
        Self {
            body,
            _in_flight: in_flight,
        }
    }
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header: Duration::from_secs(5),
        idle: Duration::from_secs(75),
        exchange: Duration::from_secs(35),
    };

    #[tokio::test(start_paused = true)]
    async fn each_phase_has_its_deadline() {
        let table = Arc::new(Table::default());
        let entry = table.register();
        let tracker = entry.tracker().clone();
        let accepted = Instant::now();

        // Nothing sent yet: the header timeout, from the accept.
        assert_eq!(
            tracker.deadline(&TIMEOUTS),
            (accepted + TIMEOUTS.header, Expiry::Header)
        );
        // The first bytes do not restart that clock.
        tokio::time::advance(Duration::from_secs(2)).await;
        tracker.on_read();
        assert_eq!(
            tracker.deadline(&TIMEOUTS),
            (accepted + TIMEOUTS.header, Expiry::Header)
        );

        let served = Instant::now();
        let request = tracker.begin_request();
        assert_eq!(
            tracker.deadline(&TIMEOUTS),
            (served + TIMEOUTS.exchange, Expiry::Exchange)
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(request);
        let answered = Instant::now();
        assert_eq!(
            tracker.deadline(&TIMEOUTS),
            (answered + TIMEOUTS.idle, Expiry::Idle)
        );

        // Kept alive: the next request's header clock starts at its first byte.
        tokio::time::advance(Duration::from_secs(60)).await;
        tracker.on_read();
        assert_eq!(
            tracker.deadline(&TIMEOUTS),
            (Instant::now() + TIMEOUTS.header, Expiry::Header)
        );

        drop(entry);
        assert_eq!(table.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_connection_without_a_request_makes_room() {
        let table = Arc::new(Table::default());
        let kept_alive = table.register();
        drop(kept_alive.tracker().begin_request()); // answered one request, now idle
        tokio::time::advance(Duration::from_millis(10)).await;
        let silent = table.register();
        tokio::time::advance(Duration::from_millis(10)).await;
        let busy = table.register();
        busy.tracker().on_read();
        let _serving = busy.tracker().begin_request();
        tokio::time::advance(Duration::from_millis(10)).await;
        let half_sent = table.register();
        half_sent.tracker().on_read();

        // The oldest that never completed a request goes first, then the next one, then
        // the kept-alive one; a connection serving a request never does.
        assert_eq!(table.evict_oldest_idle(1), 1);
        assert!(silent.tracker().is_evicted());
        assert!(!half_sent.tracker().is_evicted());
        assert_eq!(table.evict_oldest_idle(1), 1);
        assert!(half_sent.tracker().is_evicted());
        assert!(!kept_alive.tracker().is_evicted());
        assert_eq!(table.evict_oldest_idle(5), 1);
        assert!(kept_alive.tracker().is_evicted());
        assert_eq!(table.evict_oldest_idle(1), 0);
        assert!(!busy.tracker().is_evicted());
        assert_eq!(table.len(), 4);

        // Evicted while its request was starting: it is spared, and no longer evicted.
        assert!(busy.tracker().spare_if_serving());
        assert!(!busy.tracker().is_evicted());
        assert!(!silent.tracker().spare_if_serving());

        // A request being refused does not keep its connection from making room.
        ConnectionHandle::new(busy.tracker().clone()).mark_refusing();
        assert_eq!(table.evict_oldest_idle(1), 1);
        assert!(busy.tracker().is_evicted());
    }

    #[test]
    fn a_deadline_of_years_does_not_overflow() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now + Duration::from_secs(3600));
    }
}
