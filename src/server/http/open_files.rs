//! The process's open-files limit, and how many client connections fit under it.
//!
//! Every TCP connection is a file descriptor. When a process reaches its limit
//! (`RLIMIT_NOFILE`, 1,024 by default under systemd and in many containers), `accept()`
//! fails with "too many open files" and nobody gets in: not a teammate with the token, not
//! the load balancer's health check. The server therefore caps the connections it holds
//! below the limit it was started with, and keeps the rest for what a call needs besides
//! its own connection: database connections, AWS HTTPS connections, the log files it
//! reads, and the runtime itself.

/// Descriptors kept for the process itself: standard streams, the listener, the runtime's
/// event queues, AWS SDK connection pools, `/proc` reads.
pub const RESERVED_FILES: u64 = 128;

/// Descriptors kept for each call that may run at once (`--max-concurrent-calls`): a
/// database connection, an AWS connection, an access log being read, with room to spare.
pub const FILES_PER_CALL: u64 = 4;

/// The default cap when the limit allows more. A team server needs a few hundred
/// connections; more only costs memory (each holds buffers), and at the cap the oldest idle
/// connection makes room for a new one, so a larger cap would not serve anyone better.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The largest `--max-connections` accepted: Linux's default ceiling on a process's open
/// files (`fs.nr_open`), which no open-files limit can exceed.
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// The smallest cap the server starts with: below it, a handful of clients with a
/// connection pool each would crowd each other out.
pub const MIN_CONNECTIONS: usize = 16;

/// The soft `RLIMIT_NOFILE` of this process (what `ulimit -n` shows): `None` when unlimited
/// or unknown.
#[cfg(unix)]
pub fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if status != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    // rlim_t is u64 on 64-bit Linux, narrower on some other targets.
    #[allow(clippy::useless_conversion)]
    u64::try_from(limit.rlim_cur).ok()
}

#[cfg(not(unix))]
pub fn open_files_limit() -> Option<u64> {
    None
}

/// Descriptors the server keeps for everything but client connections.
pub fn reserved_files(max_concurrent_calls: usize) -> u64 {
    RESERVED_FILES.saturating_add(FILES_PER_CALL.saturating_mul(max_concurrent_calls as u64))
}

/// The most connections that fit under `limit` with the reserve kept: `None` when the
/// limit is unknown or unlimited.
pub fn connections_room(limit: Option<u64>, max_concurrent_calls: usize) -> Option<usize> {
    let limit = limit?;
    let room = limit.saturating_sub(reserved_files(max_concurrent_calls));
    Some(usize::try_from(room).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_for_connections_keeps_the_reserve() {
        // systemd's default soft limit, on a 2-CPU machine (4 call slots).
        assert_eq!(connections_room(Some(1024), 4), Some(1024 - 128 - 16));
        assert_eq!(connections_room(Some(100), 4), Some(0));
        assert_eq!(connections_room(None, 4), None);
        assert_eq!(reserved_files(usize::MAX), u64::MAX);
    }

    #[cfg(unix)]
    #[test]
    fn the_limit_of_this_process_is_read() {
        // Test runners raise or keep it, never lower it to nothing.
        if let Some(limit) = open_files_limit() {
            assert!(limit >= 64, "{limit}");
        }
    }
}
