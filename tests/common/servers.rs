//! Suites that need servers a runner script starts (a throwaway PostgreSQL and MariaDB,
//! LocalStack and moto_server). The runner exports the servers' addresses in environment
//! variables; without them a suite cannot run.
//!
//! So a plain `cargo test` on a bare checkout passes, each test of such a suite starts with
//! `if !SUITE.ready() { return; }`: when a variable is missing, the suite says once on stderr
//! that it was skipped and how to run it. The runners (and `scripts/test.sh`) set
//! `PWT_REQUIRE_SERVERS=1`, and then a missing variable fails the test instead: there, a
//! skip would hide a broken set-up.

use std::io::Write;
use std::sync::Once;

/// A suite and the servers it needs.
pub struct Suite {
    /// The test file, as the skip line names it.
    pub name: &'static str,
    /// What it needs, e.g. "a PostgreSQL".
    pub needs: &'static str,
    /// The script that starts the servers and runs the suite.
    pub runner: &'static str,
    /// The variables the runner exports; every one must be set.
    pub vars: &'static [&'static str],
}

/// tests/slow_queries_pg.rs.
pub const POSTGRES: Suite = Suite {
    name: "slow_queries_pg",
    needs: "a PostgreSQL",
    runner: "scripts/db.sh",
    vars: &["PWT_TEST_CONFIG", "PWT_TEST_PG_ADMIN_URL", "PWT_TEST_WORK"],
};

/// tests/slow_queries_mysql.rs.
pub const MARIADB: Suite = Suite {
    name: "slow_queries_mysql",
    needs: "a MariaDB",
    runner: "scripts/db.sh",
    vars: &["PWT_TEST_CONFIG", "PWT_TEST_MY_APP_URL"],
};

/// tests/db_tls.rs.
pub const DB_TLS: Suite = Suite {
    name: "db_tls",
    needs: "a PostgreSQL and a MariaDB with TLS",
    runner: "scripts/db.sh",
    vars: &[
        "PWT_TEST_CA",
        "PWT_TEST_WRONG_CA",
        "PWT_TEST_PG_PORT",
        "PWT_TEST_MY_PORT",
        "PWT_TEST_PG_ADMIN_URL",
    ],
};

/// tests/rds_iops_aws.rs.
pub const AWS: Suite = Suite {
    name: "rds_iops_aws",
    needs: "LocalStack and moto_server",
    runner: "scripts/aws.sh",
    vars: &[
        "PWT_AWS_IT",
        "AWS_ENDPOINT_URL_CLOUDWATCH",
        "AWS_ENDPOINT_URL_RDS",
        "AWS_ENDPOINT_URL_STS",
    ],
};

/// tests/load_balancer_aws.rs (CloudWatch only).
pub const AWS_LB: Suite = Suite {
    name: "load_balancer_aws",
    needs: "LocalStack",
    runner: "scripts/aws.sh",
    vars: &["PWT_AWS_IT", "AWS_ENDPOINT_URL_CLOUDWATCH"],
};

/// tests/fleet_prometheus.rs.
pub const FLEET: Suite = Suite {
    name: "fleet_prometheus",
    needs: "Prometheus scraping three Gunicorn replicas behind nginx",
    runner: "scripts/fleet.sh",
    vars: &[
        "PWT_FLEET_CONFIG",
        "PWT_FLEET_LOAD",
        "PWT_FLEET_SINCE",
        "PWT_FLEET_UNTIL",
        "PWT_FLEET_SMALL_REPLICA",
        "PWT_FLEET_WORKERS",
        "PWT_PROMETHEUS_URL",
        "PWT_PROMETHEUS_TOKEN",
    ],
};

impl Suite {
    /// Whether the servers are there. If not: with `PWT_REQUIRE_SERVERS=1` the test fails
    /// naming the missing variables; otherwise one line on stderr (once per test binary)
    /// says how to run the suite, and the caller returns without testing anything.
    pub fn ready(&self) -> bool {
        let missing: Vec<&str> = self
            .vars
            .iter()
            .copied()
            .filter(|v| std::env::var_os(v).is_none_or(|value| value.is_empty()))
            .collect();
        if missing.is_empty() {
            return true;
        }
        if std::env::var("PWT_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
            panic!(
                "{}: {} not set although PWT_REQUIRE_SERVERS=1: it needs {}; run bash {}",
                self.name,
                missing.join(", "),
                self.needs,
                self.runner
            );
        }
        // Straight to the process's stderr: the test harness captures `eprintln!` and shows
        // it only for failed tests.
        static SAID: Once = Once::new();
        SAID.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "{}: skipped — needs {}; run bash {} (or scripts/test.sh)",
                self.name,
                self.needs,
                self.runner
            );
        });
        false
    }
}
