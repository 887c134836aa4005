//! The CLI as a person runs it: the real binary, its exit code and its output.

use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_python-web-troubleshooter"))
}

#[test]
fn demo_walks_the_incident_through_the_steps() {
    let out = bin().arg("demo").output().expect("demo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for step in [
        "Step 1 — break_down_latency",
        "Step 2 — match_symptom",
        "capacity_math",
    ] {
        assert!(text.contains(step), "missing {step} in:\n{text}");
    }
    assert!(text.contains("Death spiral #1"), "{text}");
}

/// `python-web-troubleshooter demo | head` closes the pipe early: that must end the output
/// quietly, not panic.
#[test]
fn a_reader_that_leaves_early_is_not_a_crash() {
    let mut child = bin()
        .arg("demo")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    // Close the read end before the demo writes (it computes three reports first): its
    // write then gets EPIPE, as under `| head` once head has what it wants.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("demo ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
}

#[test]
fn bad_flags_give_a_clear_error_and_a_failure_exit() {
    let out = bin()
        .args([
            "capacity",
            "--replicas",
            "0",
            "--workers-per-replica",
            "4",
            "--avg-latency-ms",
            "100",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("replicas"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
