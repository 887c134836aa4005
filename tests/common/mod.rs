//! Helpers shared by the integration tests that need servers: [`servers`] says whether a
//! suite's servers are there; the rest serves the database suites, whose servers, workload
//! and environment variables come from `scripts/db.sh`.

#![allow(dead_code)]

pub mod servers;

use std::process::{Command, Output};
use std::time::Duration;

use python_web_troubleshooter::config::Config;
use python_web_troubleshooter::diagnosis::queries::{SlowQueriesInput, SlowQueriesReport};
use python_web_troubleshooter::flows::{self, ErrorKind, ToolError};
use python_web_troubleshooter::input;
use python_web_troubleshooter::progress::Progress;
use python_web_troubleshooter::render::Summary;
use python_web_troubleshooter::sources;
use serde_json::Value;

/// An environment variable set by scripts/db.sh.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the throwaway PostgreSQL and MariaDB that \
             `bash scripts/db.sh` starts (it runs them too)"
        )
    })
}

/// The configuration scripts/db.sh wrote (its targets point at the throwaway servers).
pub fn config() -> Config {
    let path = env("PWT_TEST_CONFIG");
    Config::load(Some(std::path::Path::new(&path))).expect("the test config loads")
}

/// The passwords planted by scripts/db.sh: none may appear in any output.
pub fn planted_passwords() -> Vec<String> {
    [
        "PWT_TEST_MONITOR_PASSWORD",
        "PWT_TEST_NOSTATS_PASSWORD",
        "PWT_TEST_WRONG_PASSWORD",
        "PWT_TEST_ADMIN_PASSWORD",
        "PWT_TEST_TLS_PASSWORD",
    ]
    .iter()
    .map(|v| env(v))
    .collect()
}

pub fn assert_no_secret(what: &str, text: &str) {
    for p in planted_passwords() {
        assert!(
            !text.contains(&p),
            "{what} contains a planted password: {text}"
        );
    }
}

/// Customer data planted in live statements and utility statements by scripts/db.sh.
pub const CUSTOMER_DATA: [&str; 4] = [
    "alice@example.com",
    "alice",
    "4111 1111 1111 1111",
    "1111 1111",
];

pub fn assert_no_customer_data(what: &str, text: &str) {
    for d in CUSTOMER_DATA {
        assert!(
            !text.contains(d),
            "{what} contains customer data `{d}`: {text}"
        );
    }
}

pub fn args(v: Value) -> SlowQueriesInput {
    input::parse_value(v).expect("valid arguments")
}

/// One slow_queries call through the library, as the server and the CLI make it.
pub async fn call(config: &Config, v: Value) -> Result<SlowQueriesReport, ToolError> {
    flows::slow_queries::run(
        config,
        &sources::Connections::default(),
        &args(v),
        &Progress::none(),
    )
    .await
}

pub async fn report(config: &Config, v: Value) -> SlowQueriesReport {
    let r = call(config, v.clone())
        .await
        .unwrap_or_else(|e| panic!("slow_queries {v}: {e}"));
    let json = serde_json::to_string(&r).unwrap();
    assert_no_secret("report", &json);
    assert_no_secret("summary", &r.summary());
    r
}

pub async fn error(config: &Config, v: Value) -> String {
    match call(config, v.clone()).await {
        Ok(r) => panic!("slow_queries {v}: expected an error, got {}", r.summary()),
        Err(e) => {
            let text = e.to_string();
            assert_no_secret("error", &text);
            text
        }
    }
}

/// A config with one target and a short timeout, built like an operator's file.
pub fn config_with(target_toml: &str, timeout_seconds: f64) -> Config {
    let text = format!(
        "[settings]\ntimeout_seconds = {timeout_seconds}\ndefault_target = \"t\"\n\n[targets.t]\n{target_toml}\n"
    );
    Config::from_parts(Some(("test.toml", &text)), &|k| std::env::var(k).ok()).expect("config")
}

/// A TCP listener that accepts connections and never answers: a hung server or proxy.
pub async fn hung_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            if let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        }
    });
    (port, task)
}

/// A port on which nothing listens.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs the real binary's `slow-queries` subcommand; returns (success, stdout, stderr).
pub fn cli(extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_python-web-troubleshooter"))
        .arg("--config")
        .arg(env("PWT_TEST_CONFIG"))
        .arg("slow-queries")
        .args(extra)
        .env("RUST_LOG", "debug")
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub const BOUND: Duration = Duration::from_secs(4);

/// Runs the real binary (`PWT_BIN`, else the one cargo built for these tests) with `args`,
/// the variables of `env` set and those of `remove` unset, logging at debug so that the
/// log is checked too.
pub fn run_binary(args: &[&str], env: &[(&str, String)], remove: &[&str]) -> Output {
    let bin = std::env::var("PWT_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_python-web-troubleshooter").to_owned());
    let mut cmd = Command::new(&bin);
    cmd.args(args).env("RUST_LOG", "debug");
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("running {bin}: {e} (build it with cargo build)"))
}

/// A command's stdout and stderr, one after the other.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the real binary's `slow-queries` subcommand against a config with one target `t`
/// (written to a file in scripts/db.sh's work directory); returns (success, stdout, stderr).
pub fn cli_with(target_toml: &str, extra: &[&str]) -> (bool, String, String) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let path = std::path::Path::new(&env("PWT_TEST_WORK")).join(format!(
        "cli-{}-{}.toml",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(
        &path,
        format!("[settings]\ndefault_target = \"t\"\n\n[targets.t]\n{target_toml}\n"),
    )
    .expect("config file written");
    let out = Command::new(env!("CARGO_BIN_EXE_python-web-troubleshooter"))
        .arg("--config")
        .arg(&path)
        .arg("slow-queries")
        .args(extra)
        .env("RUST_LOG", "debug")
        .output()
        .expect("the binary runs");
    let _ = std::fs::remove_file(&path);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The kind of failure of one call that must fail.
pub async fn failure_kind(config: &Config, v: Value) -> ErrorKind {
    match call(config, v.clone()).await {
        Ok(r) => panic!("slow_queries {v}: expected an error, got {}", r.summary()),
        Err(e) => e.kind,
    }
}

/// The kinds of failure of a `scheme` target on a port where nothing listens, and of one
/// whose server accepts connections and never answers.
pub async fn refused_and_hung_kinds(scheme: &str) -> (ErrorKind, ErrorKind) {
    let pw = env("PWT_TEST_MONITOR_PASSWORD");
    let url = |port: u16| format!("url = \"{scheme}://monitor:{pw}@127.0.0.1:{port}/shop\"");
    let refused = failure_kind(
        &config_with(&url(closed_port()), 5.0),
        Value::Object(Default::default()),
    )
    .await;
    let (port, _server) = hung_server().await;
    let hung = failure_kind(
        &config_with(&url(port), 1.0),
        Value::Object(Default::default()),
    )
    .await;
    (refused, hung)
}
