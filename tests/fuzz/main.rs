//! Fuzzing every place where text or JSON from outside enters the server: the five tools'
//! JSON arguments, the nginx `log_format` compiler, the access-log line parser, the
//! Prometheus text parser, uWSGI's stats JSON and the SQL tokenizer behind redaction.
//!
//! Each target is a property test (proptest: generated inputs, shrunk to a minimal one on
//! failure) that feeds both arbitrary input and input built to the target's real structure,
//! and checks more than "no panic": that errors name a field, that generated valid lines and
//! scrapes read back what was written, that redaction leaves no literal, that results are
//! deterministic.
//!
//! The same harness serves the bounded run of the test suite and the long run of
//! `scripts/fuzz.sh`:
//! - `PWT_FUZZ_CASES` — cases per target (default 10,000);
//! - `PWT_FUZZ_SEED` — the seed (default: a fresh one per run, printed), to replay a failure.
//!
//! Every target prints `fuzz <target>: <cases> cases in <seconds> s (seed <seed>)`; run with
//! `--nocapture` to see it.

use std::cell::Cell;
use std::fmt::Debug;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

mod json_args;
mod log_format;
mod log_line;
mod prometheus;
mod sql;
mod uwsgi;

/// Cases per target when `PWT_FUZZ_CASES` is not set.
const DEFAULT_CASES: u32 = 10_000;

fn cases() -> u32 {
    match std::env::var("PWT_FUZZ_CASES") {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("PWT_FUZZ_CASES={v} is not a number of cases")),
        Err(_) => DEFAULT_CASES,
    }
}

/// The run's seed: `PWT_FUZZ_SEED`, or one taken from the clock so that every run explores
/// new inputs (a failure prints the seed that replays it).
fn base_seed() -> u64 {
    match std::env::var("PWT_FUZZ_SEED") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("PWT_FUZZ_SEED={v} is not a u64")),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    }
}

/// A 32-byte ChaCha seed from the run's seed and the target's name, so targets draw
/// different inputs from one seed.
fn rng_for(seed: u64, target: &str) -> TestRng {
    let mut bytes = [0u8; 32];
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in target.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    for chunk in bytes.chunks_mut(8) {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Runs `test` on `cases()` inputs drawn from `strategy`, reports the count and the time,
/// and fails with the minimal failing input (a panic inside `test` is a failure too).
pub fn fuzz<S>(target: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let cases = cases();
    let seed = base_seed();
    let config = Config {
        cases,
        // Failures are fixed in the source with a regression test beside the code, not
        // replayed from a file the run writes.
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng_for(seed, target));
    let ran = Cell::new(0u64);
    let started = Instant::now();
    let result = runner.run(&strategy, |input| {
        ran.set(ran.get() + 1);
        test(input)
    });
    println!(
        "fuzz {target}: {} cases in {:.2} s (seed {seed})",
        ran.get(),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("fuzz {target} failed (replay with PWT_FUZZ_SEED={seed}): {e}");
    }
}

/// Any finite `f64` (a mapping, not a filter: filters count rejections, and a long run
/// would run out of them).
pub fn finite() -> impl Strategy<Value = f64> {
    proptest::prelude::any::<f64>().prop_map(|x| if x.is_finite() { x } else { 0.5 })
}
