//! The HTTP transport in-process: `server::http::serve` on a real listener on port 0, driven
//! over TCP, stopped by the shutdown future the test hands it.

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
