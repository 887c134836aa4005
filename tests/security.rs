//! A hostile caller against the real binary over stdio: secrets planted in the server's own
//! environment, in a file beside the allowed log directory (reached by `..` and by a
//! symlink), in an allowed log line outside the field that fails, and in the replies of a
//! local HTTP server, never appear — in any 12-byte window — in any reply or log line,
//! across every tool, path, glob and log_format tried. A real log inside `PWT_LOG_DIRS` still
//! analyses.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    transport::TokioChildProcess,
};
use serde_json::{Value, json};

/// A secret no output may contain any 12-byte window of: the tag, then 16 random bytes in
/// hex, so no two secrets share a window.
fn secret(tag: &str) -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("random bytes");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{tag}{hex}")
}

/// The 12-byte windows of a secret that include some of its random part.
fn windows(s: &str) -> Vec<&str> {
    let start = s.len() - 32;
    (start.saturating_sub(11)..=s.len() - 12)
        .map(|i| &s[i..i + 12])
        .collect()
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        for w in windows(s) {
            assert!(
                !text.contains(w),
                "{what} leaks `{w}` of a planted secret:\n{text}"
            );
        }
    }
}

/// A loopback HTTP server answering every request with the next of `bodies` (cycling):
/// `(status line, extra headers, body)`.
fn hostile_server(bodies: Vec<(&'static str, String, String)>) -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        let mut i = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while !stopped.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).ok();
                    s.set_read_timeout(Some(Duration::from_millis(500))).ok();
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf);
                    let (status, headers, body) = &bodies[i % bodies.len()];
                    i += 1;
                    let reply = format!(
                        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(reply.as_bytes());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (port, stop)
}

fn texts(r: &CallToolResult) -> String {
    let mut out: Vec<String> = r
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect();
    if let Some(s) = &r.structured_content {
        out.push(s.to_string());
    }
    out.join("\n")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_leave_the_server() {
    let env_secret = secret("ENVSECRET");
    let file_secret = secret("FILESECRET");
    let line_secret = secret("LINESECRET");
    let http_secret = secret("HTTPSECRET");
    let db_secret = secret("DBPASSWORD");
    let secrets = vec![
        env_secret.clone(),
        file_secret.clone(),
        line_secret.clone(),
        http_secret.clone(),
        db_secret.clone(),
    ];

    // The operator's log directory, and a key file beside it.
    let root = std::env::temp_dir().join(format!("pwt-security-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let root = std::fs::canonicalize(&root).unwrap();
    let logs = root.join("logs");
    std::fs::copy(data("nginx-timed.log"), logs.join("access.log")).unwrap();
    std::fs::write(
        root.join("credentials"),
        format!("[default]\naws_secret_access_key = {file_secret}\n{file_secret} 1\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink(root.join("credentials"), logs.join("creds.log")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", logs.join("environ.log")).unwrap();
    std::os::unix::fs::symlink(&root, logs.join("up")).unwrap();
    // An allowed log whose first line fails in one field; the rest of the line is private.
    std::fs::write(
        logs.join("odd.log"),
        format!("rt=abc ip={line_secret} ua={line_secret}\n"),
    )
    .unwrap();

    let (port, stop) = hostile_server(vec![
        (
            "200 OK",
            "Content-Type: text/plain\r\n".into(),
            format!("{http_secret} is not a metric\n"),
        ),
        (
            "200 OK",
            "Content-Type: text/plain\r\n".into(),
            format!("{http_secret} 1\n"),
        ),
        (
            "200 OK",
            format!("Content-Type: text/{http_secret}\r\n"),
            format!("{{\"workers\": \"{http_secret}\"}}"),
        ),
        (
            "302 Found",
            format!("Location: http://127.0.0.1:1/{http_secret}\r\n"),
            String::new(),
        ),
        (
            "200 OK",
            String::new(),
            format!("m{{{http_secret}}} 1\nx 1 {http_secret}\n"),
        ),
    ]);

    let stderr_path = root.join("server-stderr.log");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_python-web-troubleshooter"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &root)
        .env("RUST_LOG", "debug")
        .env("PWT_LOG_DIRS", &logs)
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID0000")
        .env("AWS_SECRET_ACCESS_KEY", &env_secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env(
            "DATABASE_URL",
            format!("postgresql://app:{db_secret}@127.0.0.1:1/app"),
        )
        .env("PLANTED", &env_secret);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .spawn()
        .expect("the server starts");
    let client = ().serve(transport).await.expect("client connects");

    let call = |name: &'static str, args: Value| {
        let client = &client;
        async move {
            client
                .call_tool(
                    CallToolRequestParams::new(name)
                        .with_arguments(args.as_object().unwrap().clone()),
                )
                .await
                .expect("a tool result, never a protocol failure")
        }
    };

    let l = logs.display().to_string();
    let r = root.display().to_string();
    let paths = [
        "/proc/self/environ".to_owned(),
        "/proc/self/env*".to_owned(),
        "/proc/1/environ".to_owned(),
        format!("{l}/../credentials"),
        format!("{l}/up/credentials"),
        format!("{l}/creds.log"),
        format!("{l}/environ.log"),
        format!("{l}/*.log"),
        format!("{l}/cred*"),
        format!("{l}/env*"),
        format!("{l}/up/*"),
        format!("{r}/*"),
        format!("{r}/credentials"),
        "/etc/passwd".to_owned(),
        "/dev/stdin".to_owned(),
        "~/.aws/credentials".to_owned(),
        "../../../../../proc/self/environ".to_owned(),
    ];
    let formats = [
        "timed",
        "combined",
        "x AWS_SECRET_ACCESS_KEY=$request_time",
        "PLANTED=$request_time",
        "aws_secret_access_key = $status",
        "$request_time",
        "$status",
        "$request",
        "$remote_addr $request_time",
        "log_format x escape=json '{\"t\":\"$request_time\"}';",
        "rt=$request_time ip=$remote_addr ua=$http_user_agent",
    ];
    let mut replies = Vec::new();
    for p in &paths {
        for f in &formats {
            let res = call(
                "break_down_latency",
                json!({"access_log": {"path": p, "log_format": f}}),
            )
            .await;
            assert_eq!(res.is_error, Some(true), "{p} with {f}: {}", texts(&res));
            let t = texts(&res);
            assert!(
                t.contains("access_log.path"),
                "{p} with {f}: the refusal names the field: {t}"
            );
            replies.push(t);
        }
    }
    // A path outside is refused the same way whether it exists or not.
    let exists = texts(
        &call(
            "break_down_latency",
            json!({"access_log": {"path": format!("{r}/credentials"), "log_format": "timed"}}),
        )
        .await,
    );
    let missing = texts(
        &call(
            "break_down_latency",
            json!({"access_log": {"path": format!("{r}/nothing-here"), "log_format": "timed"}}),
        )
        .await,
    );
    assert_eq!(exists, missing);
    assert!(exists.contains("PWT_LOG_DIRS"), "{exists}");

    // The allowed log that fails: only the failing field is quoted (a format whose one
    // variable spans the whole line quotes the line's start: the operator allowed that file).
    let mut odd_replies = Vec::new();
    for f in formats {
        let res = call(
            "break_down_latency",
            json!({"access_log": {"path": format!("{l}/odd.log"), "log_format": f}}),
        )
        .await;
        odd_replies.push(texts(&res));
    }
    let odd = call(
        "break_down_latency",
        json!({"access_log": {"path": format!("{l}/odd.log"), "log_format": "rt=$request_time ip=$remote_addr ua=$http_user_agent"}}),
    )
    .await;
    assert_eq!(odd.is_error, Some(true));
    assert!(texts(&odd).contains("`abc`"), "{}", texts(&odd));
    replies.push(texts(&odd));

    // Metrics URLs and uWSGI stats: the replies are described, never quoted.
    for _ in 0..5 {
        for args in [
            json!({"gunicorn_metrics_url": format!("http://127.0.0.1:{port}/metrics"), "samples": 1}),
            json!({"gunicorn_metrics_url": format!("http://localhost:{port}/x"), "samples": 1}),
            json!({"uwsgi_stats": format!("127.0.0.1:{port}"), "samples": 1}),
            json!({"uwsgi_stats": format!("http://127.0.0.1:{port}/"), "samples": 1}),
        ] {
            let res = call("break_down_latency", args.clone()).await;
            assert_eq!(res.is_error, Some(true), "{args}: {}", texts(&res));
            // The caller's own URL may be repeated; nothing of the reply.
            let t = texts(&res);
            replies.push(t);
        }
    }
    // Places the server never reaches.
    for args in [
        json!({"gunicorn_metrics_url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}),
        json!({"gunicorn_metrics_url": "http://[fd00:ec2::254]/latest/"}),
        json!({"gunicorn_metrics_url": "http://10.0.0.1:9100/metrics"}),
        json!({"uwsgi_stats": "169.254.170.2:80"}),
        json!({"uwsgi_stats": "/proc/self/environ"}),
        json!({"uwsgi_stats": format!("{l}/../credentials")}),
    ] {
        let res = call("break_down_latency", args.clone()).await;
        assert_eq!(res.is_error, Some(true), "{args}: {}", texts(&res));
        replies.push(texts(&res));
    }

    // Every other tool, with what a hostile caller might try.
    for (tool, args) in [
        ("slow_queries", json!({})),
        ("slow_queries", json!({"target": "default"})),
        (
            "slow_queries",
            json!({"target": "postgresql://app@127.0.0.1/app"}),
        ),
        (
            "check_rds_iops",
            json!({"db_instance_identifier": "orders-db"}),
        ),
        (
            "capacity_math",
            json!({"replicas": "PLANTED", "workers_per_replica": 4, "avg_latency_ms": 10}),
        ),
        (
            "match_symptom",
            json!({"observations": {"latency_pattern": "$AWS_SECRET_ACCESS_KEY"}}),
        ),
    ] {
        let res = call(tool, args).await;
        replies.push(texts(&res));
    }

    // A real log inside the allowed directory still analyses.
    let ok = call(
        "break_down_latency",
        json!({"access_log": {"path": format!("{l}/access.log"), "log_format": "timed"}}),
    )
    .await;
    assert_ne!(ok.is_error, Some(true), "{}", texts(&ok));
    let s = ok.structured_content.clone().unwrap();
    assert_eq!(s["access_log"]["parsed_lines"], 7, "{s}");
    let glob = call(
        "break_down_latency",
        json!({"access_log": {"path": format!("{l}/acc*"), "log_format": "timed"}}),
    )
    .await;
    assert_ne!(glob.is_error, Some(true), "{}", texts(&glob));

    client.cancel().await.unwrap();
    stop.store(true, Ordering::Relaxed);

    for (i, t) in replies.iter().enumerate() {
        assert_clean(&format!("reply {i}"), t, &secrets);
    }
    for (i, t) in odd_replies.iter().enumerate() {
        assert_clean(&format!("odd.log reply {i}"), t, &secrets[..2]);
        assert_clean(&format!("odd.log reply {i}"), t, &secrets[3..]);
    }
    // The server's log, at debug level.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!log.is_empty(), "the server logged nothing at debug level");
    // At debug level the MCP SDK logs whole replies, the allowed odd.log's quote included.
    assert_clean("the server log", &log, &secrets[..2]);
    assert_clean("the server log", &log, &secrets[3..]);
    let _ = std::fs::remove_dir_all(&root);
}
