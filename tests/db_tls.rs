//! TLS to a real PostgreSQL and MariaDB, both started with TLS on by `scripts/db.sh`
//! (which runs these tests) with a throwaway CA: libpq's sslmode semantics (verify-full,
//! verify-ca, require, prefer with its plain retry, disable), a role that may only log in
//! over TLS, wrong CAs and host names failing with messages that say what to change, and
//! MariaDB's ssl-mode. Whether a session really is encrypted is read from the server
//! (`pg_stat_ssl`); the MariaDB user is `REQUIRE SSL`, so its logging in proves it.

mod common;

use std::time::Instant;

use common::servers::DB_TLS;
use common::*;
use python_web_troubleshooter::diagnosis::queries::Engine;
use python_web_troubleshooter::flows;
use python_web_troubleshooter::progress::Progress;
use python_web_troubleshooter::sources::Connections;
use serde_json::json;

fn pg_port() -> String {
    env("PWT_TEST_PG_PORT")
}

fn my_port() -> String {
    env("PWT_TEST_MY_PORT")
}

/// A PostgreSQL target for `user` at `host` with URL parameters `params`; the password
/// comes from the environment (or, with `inline`, sits in the URL, for the leak checks).
fn pg(user: &str, host: &str, params: &str, inline: bool) -> String {
    let (password_var, secret) = match user {
        "tlsonly" => ("PWT_TEST_TLS_PASSWORD", env("PWT_TEST_TLS_PASSWORD")),
        _ => (
            "PWT_TEST_MONITOR_PASSWORD",
            env("PWT_TEST_MONITOR_PASSWORD"),
        ),
    };
    if inline {
        format!(
            "url = \"postgresql://{user}:{secret}@{host}:{}/shop?{params}\"",
            pg_port()
        )
    } else {
        format!(
            "url = \"postgresql://{user}@{host}:{}/shop?{params}\"\npassword_env = \"{password_var}\"",
            pg_port()
        )
    }
}

/// Whether the server sees the session of `application_name` as encrypted (pg_stat_ssl).
async fn pg_session_encrypted(application_name: &str) -> bool {
    // In database `postgres`, so as not to add statements to the statistics of `shop`.
    let url = env("PWT_TEST_PG_ADMIN_URL").replace("/shop", "/postgres");
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(conn);
    let rows = admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = $1",
            &[&application_name],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one kept session named {application_name}");
    rows[0].get(0)
}

/// One call that keeps its connection, then whether that connection is encrypted.
async fn call_and_check_encryption(target_toml: &str, application_name: &str) -> bool {
    let config = config_with(target_toml, 5.0);
    let connections = Connections::default();
    let r = flows::slow_queries::run(
        &config,
        &connections,
        &args(json!({"limit": 3, "include_running": false})),
        &Progress::none(),
    )
    .await
    .unwrap_or_else(|e| panic!("{target_toml}: {e}"));
    assert_eq!(r.engine, Engine::Postgresql);
    assert!(!r.statements.is_empty(), "{target_toml}");
    assert_no_secret("report", &serde_json::to_string(&r).unwrap());
    pg_session_encrypted(application_name).await
}

#[tokio::test]
async fn verify_full_with_the_right_ca_connects_encrypted() {
    if !DB_TLS.ready() {
        return;
    }
    let t = pg(
        "tlsonly",
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}&application_name=pwt-tls-full",
            env("PWT_TEST_CA")
        ),
        false,
    );
    assert!(call_and_check_encryption(&t, "pwt-tls-full").await);
}

#[tokio::test]
async fn verify_full_with_a_wrong_ca_fails_clearly() {
    if !DB_TLS.ready() {
        return;
    }
    let wrong = env("PWT_TEST_WRONG_CA");
    let t = pg(
        "tlsonly",
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={wrong}"),
        true,
    );
    let started = Instant::now();
    let err = error(&config_with(&t, 5.0), json!({})).await;
    assert!(started.elapsed() < BOUND);
    assert!(err.contains("target `t`"), "{err}");
    assert!(err.contains("sslmode=verify-full"), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(
        err.contains(&format!("not signed by a CA in the CA file {wrong}"))
            && err.contains("global-bundle.pem"),
        "says which roots were tried and what to set: {err}"
    );
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    if !DB_TLS.ready() {
        return;
    }
    let ca = env("PWT_TEST_CA");
    // The certificate names `localhost` only.
    let t = pg(
        "tlsonly",
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
        true,
    );
    let err = error(&config_with(&t, 5.0), json!({})).await;
    assert!(err.contains("not valid for name"), "{err}");
    assert!(
        err.contains("does not name host 127.0.0.1") && err.contains("sslmode=verify-ca"),
        "{err}"
    );
    let t = pg(
        "tlsonly",
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}&application_name=pwt-tls-ca"),
        false,
    );
    assert!(call_and_check_encryption(&t, "pwt-tls-ca").await);
}

#[tokio::test]
async fn require_encrypts_without_checking_the_certificate() {
    if !DB_TLS.ready() {
        return;
    }
    let t = pg(
        "tlsonly",
        "127.0.0.1",
        "sslmode=require&application_name=pwt-tls-require",
        false,
    );
    assert!(call_and_check_encryption(&t, "pwt-tls-require").await);
}

#[tokio::test]
async fn hostssl_only_role_is_refused_without_tls_and_says_so() {
    if !DB_TLS.ready() {
        return;
    }
    let t = pg("tlsonly", "127.0.0.1", "sslmode=disable", true);
    let err = error(&config_with(&t, 5.0), json!({})).await;
    assert!(
        err.contains("target `t`") && err.contains("sslmode=disable"),
        "{err}"
    );
    assert!(
        err.contains("no pg_hba.conf entry") && err.contains("no encryption"),
        "the server's own reason: {err}"
    );
    assert!(
        err.contains("only over TLS") && err.contains("sslmode=require"),
        "what to change: {err}"
    );
    let (ok, out, stderr) = cli_with(&t, &[]);
    assert!(!ok);
    assert_no_secret("CLI stdout", &out);
    assert_no_secret("CLI stderr", &stderr);
    assert!(stderr.contains("only over TLS"), "{stderr}");
}

#[tokio::test]
async fn prefer_uses_tls_when_offered_and_disable_does_not() {
    if !DB_TLS.ready() {
        return;
    }
    // The default (prefer): the same role that is refused without TLS gets in.
    let t = pg(
        "tlsonly",
        "127.0.0.1",
        "application_name=pwt-tls-prefer",
        false,
    );
    assert!(call_and_check_encryption(&t, "pwt-tls-prefer").await);
    let t = pg(
        "monitor",
        "127.0.0.1",
        "sslmode=disable&application_name=pwt-tls-disable",
        false,
    );
    assert!(!call_and_check_encryption(&t, "pwt-tls-disable").await);
}

#[tokio::test]
async fn prefer_retries_without_tls_when_the_tls_attempt_fails() {
    if !DB_TLS.ready() {
        return;
    }
    // With a root file, libpq checks the chain even for prefer; a failed check falls back
    // to a plain connection where the server allows one...
    let wrong = env("PWT_TEST_WRONG_CA");
    let t = pg(
        "monitor",
        "127.0.0.1",
        &format!("sslmode=prefer&sslrootcert={wrong}&application_name=pwt-tls-fallback"),
        false,
    );
    assert!(!call_and_check_encryption(&t, "pwt-tls-fallback").await);
    // ...and where it does not, the error tells both attempts apart.
    let t = pg(
        "tlsonly",
        "127.0.0.1",
        &format!("sslmode=prefer&sslrootcert={wrong}"),
        true,
    );
    let err = error(&config_with(&t, 5.0), json!({})).await;
    assert!(
        err.contains("with TLS:") && err.contains("UnknownIssuer"),
        "{err}"
    );
    assert!(
        err.contains("then without TLS:") && err.contains("no encryption"),
        "{err}"
    );
}

#[tokio::test]
async fn unusable_root_files_are_named() {
    if !DB_TLS.ready() {
        return;
    }
    let t = pg(
        "tlsonly",
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/rds-global-bundle.pem",
        true,
    );
    let err = error(&config_with(&t, 5.0), json!({})).await;
    assert!(
        err.contains("sslrootcert /nonexistent/rds-global-bundle.pem cannot be read"),
        "{err}"
    );
}

#[tokio::test]
async fn ssl_settings_in_the_config_file_work_like_url_parameters() {
    if !DB_TLS.ready() {
        return;
    }
    let t = format!(
        "engine = \"postgres\"\nhost = \"localhost\"\nport = {}\nuser = \"tlsonly\"\ndatabase = \"shop\"\npassword_env = \"PWT_TEST_TLS_PASSWORD\"\nsslmode = \"verify-full\"\nsslrootcert = \"{}\"",
        pg_port(),
        env("PWT_TEST_CA")
    );
    let r = report(&config_with(&t, 5.0), json!({"limit": 1})).await;
    assert_eq!(r.engine, Engine::Postgresql);
}

// ------------------------------------------------------------------------------ MariaDB

/// A MariaDB target for `tlsmon` (REQUIRE SSL) at `host` with URL parameters `params`.
fn my(host: &str, params: &str) -> String {
    format!(
        "url = \"mariadb://tlsmon:{}@{host}:{}/shop?{params}\"",
        env("PWT_TEST_TLS_PASSWORD"),
        my_port()
    )
}

#[tokio::test]
async fn mariadb_verify_identity_with_the_ca_works() {
    if !DB_TLS.ready() {
        return;
    }
    let t = my(
        "localhost",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", env("PWT_TEST_CA")),
    );
    let r = report(&config_with(&t, 5.0), json!({"limit": 5})).await;
    assert_eq!(r.engine, Engine::Mariadb);
    assert!(!r.statements.is_empty(), "digests over TLS");
    assert!(!r.running.is_empty(), "the process list over TLS");
}

#[tokio::test]
async fn mariadb_preferred_and_required_use_tls() {
    if !DB_TLS.ready() {
        return;
    }
    // tlsmon is REQUIRE SSL: getting in at all proves the session is encrypted.
    for params in ["", "ssl-mode=REQUIRED"] {
        let r = report(
            &config_with(&my("127.0.0.1", params), 5.0),
            json!({"limit": 1}),
        )
        .await;
        assert_eq!(r.engine, Engine::Mariadb, "{params}");
    }
}

#[tokio::test]
async fn mariadb_require_ssl_user_without_tls_fails_clearly() {
    if !DB_TLS.ready() {
        return;
    }
    let err = error(
        &config_with(&my("127.0.0.1", "ssl-mode=DISABLED"), 5.0),
        json!({}),
    )
    .await;
    assert!(
        err.contains("target `t`") && err.contains("with ssl-mode=DISABLED"),
        "{err}"
    );
    assert!(err.contains("Access denied"), "{err}");
    assert!(
        err.contains("REQUIRE SSL") && err.contains("ssl-mode=REQUIRED"),
        "{err}"
    );
}

#[tokio::test]
async fn mariadb_wrong_ca_fails_clearly() {
    if !DB_TLS.ready() {
        return;
    }
    let wrong = env("PWT_TEST_WRONG_CA");
    let err = error(
        &config_with(
            &my(
                "localhost",
                &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={wrong}"),
            ),
            5.0,
        ),
        json!({}),
    )
    .await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(
        err.contains(&format!("not signed by a CA in the CA file {wrong}")),
        "{err}"
    );
}
