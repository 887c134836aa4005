//! The accept queue of a listening socket, from `/proc/net/tcp` and `/proc/net/tcp6`.
//!
//! For a socket in the LISTEN state the kernel reports, in the `rx_queue` column, how many
//! connections have completed the handshake and wait for the application to `accept()`
//! them (what `ss -ltn` shows as Recv-Q). For Gunicorn or uWSGI that is the number of
//! requests waiting for a free worker: a queue that stays above zero means the workers
//! are saturated. It needs nothing installed and no access to the app, only to run on the
//! same host (and network namespace) as the app server.

use super::sampling::Sampling;

use crate::diagnosis::latency::QueueSamples;
use crate::error::ToolError;
use crate::progress::Lane;

/// TCP state code of LISTEN in /proc/net/tcp.
const LISTEN: &str = "0A";

/// One listening socket on the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Local address as the kernel writes it (hex), e.g. `0100007F` for 127.0.0.1.
    pub address: String,
    /// Connections waiting to be accepted.
    pub queued: u64,
}

/// The LISTEN sockets on `port` in one `/proc/net/tcp{,6}` table.
pub fn parse(table: &str, port: u16) -> Vec<Listener> {
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 5 || cols[3] != LISTEN {
            continue;
        }
        let Some((addr, p)) = cols[1].rsplit_once(':') else {
            continue;
        };
        if u16::from_str_radix(p, 16) != Ok(port) {
            continue;
        }
        let Some((_, rx)) = cols[4].split_once(':') else {
            continue;
        };
        if let Ok(queued) = u64::from_str_radix(rx, 16) {
            out.push(Listener {
                address: addr.to_owned(),
                queued,
            });
        }
    }
    out
}

/// Reads the queue on `port` from both tables: the sum over the port's LISTEN sockets
/// (several with SO_REUSEPORT, or one per address family), or `None` when none listens.
pub fn read(port: u16) -> std::io::Result<Option<u64>> {
    let mut found = false;
    let mut total = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = match std::fs::read_to_string(table) {
            Ok(t) => t,
            // No IPv6 on this host.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && table.ends_with('6') => continue,
            Err(e) => return Err(e),
        };
        for l in parse(&text, port) {
            found = true;
            total += l.queued;
        }
    }
    Ok(found.then_some(total))
}

/// Samples the queue on `port` as `sampling` says (a read of /proc takes no time to bound).
pub fn sample(
    field: &str,
    port: u16,
    sampling: Sampling,
    lane: &Lane,
) -> Result<QueueSamples, ToolError> {
    let samples = sampling.run(lane, "accept queue", || {
        let q = read(port).map_err(|e| {
            ToolError::io(field, "cannot read /proc/net/tcp", &e)
                .hint("the listen queue can only be read on Linux, on the app's host")
        })?;
        q.map(|q| q as f64).ok_or_else(|| {
            ToolError::bad_input(
                field,
                format!(
                    "no socket listens on port {port} in this host's network namespace; pass the port Gunicorn/uWSGI binds (not nginx's), and run this on the app's host or inside its container"
                ),
            )
        })
    })?;
    Ok(QueueSamples {
        source: format!("proc:/proc/net/tcp:{port}"),
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;
    use std::time::Duration;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000011 00:00000000 00000000     0        0 9511 1 0000000006e52389 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 9512 1 0000000006e52389 100 0 0 10 0
   2: 0100007F:0050 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 9513 1 0000000006e52389 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000003 00:00000000 00000000   106        0 7272 1 0000000026f6bea9 100 0 0 10 0
";

    #[test]
    fn reads_the_listen_rows_of_the_port() {
        let l = parse(TCP, 8080);
        assert_eq!(
            l,
            vec![Listener {
                address: "0100007F".into(),
                queued: 17
            }]
        );
        assert_eq!(parse(TCP6, 8080)[0].queued, 3);
        assert!(parse(TCP, 9999).is_empty());
    }

    #[test]
    fn a_real_listener_on_this_host_is_found() {
        // A socket of this test process, listening and never accepting.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _clients: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let sampling = |samples, ms| Sampling {
            samples,
            interval: Duration::from_millis(ms),
            timeout: Duration::ZERO,
        };
        let s = sample(
            "listen_port",
            port,
            sampling(2, 5),
            &Progress::none().lane(),
        )
        .unwrap();
        assert_eq!(s.samples, vec![3.0, 3.0]);
        drop(listener);
        let e = sample(
            "listen_port",
            port,
            sampling(1, 0),
            &Progress::none().lane(),
        )
        .unwrap_err();
        assert!(e.message.contains("no socket listens"), "{e}");
    }
}
