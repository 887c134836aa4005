//! The configuration as an operator writes it: environment, URLs and config files in,
//! resolved targets and settings out.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn database_url_is_the_default_and_its_scheme_picks_the_engine() {
    let c = Config::from_parts(
        None,
        &env_of(&[(
            "DATABASE_URL",
            "postgresql://app:s3cr%40t@db.internal:6432/shop?sslmode=disable",
        )]),
    )
    .unwrap();
    let t = c.target(None).unwrap();
    assert_eq!(t.engine, EngineKind::Postgres);
    assert_eq!(
        (t.host.as_str(), t.port, t.user.as_str()),
        ("db.internal", 6432, "app")
    );
    assert_eq!(t.database.as_deref(), Some("shop"));
    assert_eq!(t.password, PasswordSource::Inline(Secret::new("s3cr@t")));
    assert_eq!(t.sslmode, SslMode::Disable);
    assert!(!format!("{t:?}").contains("s3cr"));
    assert!(!t.describe().contains("s3cr"));
    assert_eq!(
        t.describe(),
        "target `default` (postgresql://app@db.internal:6432/shop)"
    );

    let c = Config::from_parts(
        None,
        &env_of(&[("DATABASE_URL", "mariadb://root@127.0.0.1/orders")]),
    )
    .unwrap();
    let t = c.target(None).unwrap();
    assert_eq!((t.engine, t.port), (EngineKind::Mysql, 3306));
}

#[test]
fn libpq_variables_fill_in_and_define_a_default() {
    let env = env_of(&[
        ("PGHOST", "/run/pg"),
        ("PGPORT", "5433"),
        ("PGUSER", "mon"),
        ("PGPASSWORD", "pw"),
    ]);
    let c = Config::from_parts(None, &env).unwrap();
    let t = c.target(None).unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.user.as_str()),
        ("/run/pg", 5433, "mon")
    );
    assert_eq!(t.database.as_deref(), Some("mon"));
    assert_eq!(c.pgpassword, Some(Secret::new("pw")));
    // A URL without a host takes PGHOST, as libpq does.
    let env = env_of(&[("PGHOST", "pg.local"), ("DATABASE_URL", "postgres:///shop")]);
    let c = Config::from_parts(None, &env).unwrap();
    assert_eq!(c.target(None).unwrap().host, "pg.local");
}

#[test]
fn no_target_at_all_says_how_to_configure_one() {
    let c = Config::from_parts(None, &env_of(&[])).unwrap();
    let err = c.target(None).unwrap_err().to_string();
    assert!(
        err.contains("DATABASE_URL") && err.contains("PWT_CONFIG"),
        "{err}"
    );
    let err = c.target(Some("prod")).unwrap_err().to_string();
    assert!(
        err.contains("unknown database target `prod`") && err.contains("none"),
        "{err}"
    );
}

#[test]
fn config_file_targets_and_settings() {
    let file = r#"
        [settings]
        timeout_seconds = 2.5
        redact_literals = false
        default_target = "orders"

        [targets.shop]
        url = "postgresql://monitor@10.0.0.5/shop"
        password_env = "SHOP_PW"

        [targets.orders]
        engine = "mariadb"
        host = "127.0.0.1"
        port = 3307
        user = "mon"
        database = "orders"
    "#;
    let c = Config::from_parts(Some(("pwt.toml", file)), &env_of(&[])).unwrap();
    assert_eq!(c.db.timeout, Duration::from_millis(2500));
    assert!(!c.db.redact_literals);
    assert_eq!(c.target(None).unwrap().name, "orders");
    assert_eq!(c.target(None).unwrap().port, 3307);
    let shop = c.target(Some("shop")).unwrap();
    assert_eq!(shop.password, PasswordSource::Env("SHOP_PW".into()));
    assert_eq!(c.target_names(), ["orders", "shop"]);
    let err = c.target(Some("nope")).unwrap_err().to_string();
    assert!(err.contains("orders, shop"), "{err}");
}

#[test]
fn config_errors_never_echo_a_password() {
    let bad = "[targets.x]\nurl = \"postgresql://u:hunter2@h/db\"\npassword_env = \"X\"\n";
    let err = Config::from_parts(Some(("f", bad)), &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("targets.x") && !err.contains("hunter2"),
        "{err}"
    );
    let bad = "[targets.x]\nurl = \"postgresql://u:hunter2@h/db\nfoo";
    let err = Config::from_parts(Some(("f", bad)), &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    let err = Config::from_parts(None, &env_of(&[("DATABASE_URL", "redis://u:hunter2@h")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("DATABASE_URL") && !err.contains("hunter2"),
        "{err}"
    );
    let err = Config::from_parts(
        None,
        &env_of(&[("DATABASE_URL", "postgresql://u:hunter2@h:99999/x")]),
    )
    .unwrap_err()
    .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    let bad = "[targets.\"a b\"]\nengine = \"postgres\"\n";
    assert!(Config::from_parts(Some(("f", bad)), &env_of(&[])).is_err());
    let bad = "[settings]\ntimeout_seconds = 0\n";
    assert!(Config::from_parts(Some(("f", bad)), &env_of(&[])).is_err());
}

#[test]
fn tls_settings_follow_libpq_and_mysql() {
    let one = |url: &str, env: &[(&str, &str)]| {
        let mut pairs = vec![("DATABASE_URL", url)];
        pairs.extend_from_slice(env);
        Config::from_parts(None, &env_of(&pairs)).map(|c| c.target(None).unwrap().clone())
    };
    let t = one(
        "postgresql://u@db/x?sslmode=verify-full&sslrootcert=/etc/rds/global-bundle.pem",
        &[],
    )
    .unwrap();
    assert_eq!(t.sslmode, SslMode::VerifyFull);
    assert_eq!(
        t.sslrootcert,
        RootCerts::File("/etc/rds/global-bundle.pem".into())
    );
    // Defaults: prefer, PGSSLROOTCERT, else ~/.postgresql/root.crt when it exists.
    let t = one("postgresql://u@db/x", &[("HOME", "/home/mon")]).unwrap();
    assert_eq!(t.sslmode, SslMode::Prefer);
    assert_eq!(
        t.sslrootcert,
        RootCerts::DefaultFile("/home/mon/.postgresql/root.crt".into())
    );
    let t = one(
        "postgres://u@db/x",
        &[("PGSSLMODE", "verify-ca"), ("PGSSLROOTCERT", "/ca.pem")],
    )
    .unwrap();
    assert_eq!(
        (t.sslmode, t.sslrootcert),
        (SslMode::VerifyCa, RootCerts::File("/ca.pem".into()))
    );
    let t = one(
        "postgresql://u@db/x?sslmode=require&sslrootcert=system",
        &[],
    )
    .unwrap();
    assert_eq!(
        (t.sslmode, t.sslrootcert),
        (SslMode::Require, RootCerts::System)
    );
    assert_eq!(
        one("postgresql://u@db/x?sslmode=allow", &[])
            .unwrap()
            .sslmode,
        SslMode::Allow
    );
    // MySQL's names; a CA without a mode means VERIFY_CA, as in the mysql client.
    let t = one(
        "mysql://u@db/x?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem",
        &[],
    )
    .unwrap();
    assert_eq!(
        (t.sslmode, t.sslrootcert),
        (SslMode::VerifyFull, RootCerts::File("/ca.pem".into()))
    );
    assert_eq!(
        one("mariadb://u@db/x?ssl-ca=/ca.pem", &[]).unwrap().sslmode,
        SslMode::VerifyCa
    );
    assert_eq!(
        one("mysql://u@db/x?ssl-mode=required", &[])
            .unwrap()
            .sslmode,
        SslMode::Require
    );
    assert_eq!(one("mysql://u@db/x", &[]).unwrap().sslmode, SslMode::Prefer);
    let err = one("postgresql://u:hunter2@db/x?sslmode=on", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("verify-full") && !err.contains("hunter2"),
        "{err}"
    );
    // The config file's keys.
    let file = "[targets.pg]\nengine = \"postgres\"\nhost = \"db\"\nsslmode = \"verify-full\"\nsslrootcert = \"/b.pem\"\n\n[targets.my]\nengine = \"mysql\"\nsslrootcert = \"/c.pem\"\n";
    let c = Config::from_parts(Some(("f", file)), &env_of(&[])).unwrap();
    let pg = c.target(Some("pg")).unwrap();
    assert_eq!(
        (pg.sslmode, &pg.sslrootcert),
        (SslMode::VerifyFull, &RootCerts::File("/b.pem".into()))
    );
    assert_eq!(c.target(Some("my")).unwrap().sslmode, SslMode::VerifyCa);
}

#[test]
fn prometheus_engines_come_from_the_environment_and_the_config_file() {
    let text = r#"
[prometheus.mimir]
url = "https://mimir.internal/prometheus/"
basic_auth_env = "MIMIR_AUTH"
ca_file = "/etc/pwt/mimir.pem"
route_label = "handler"
replica_label = "pod"
timeout_seconds = 90
"#;
    let c = Config::from_parts(
        Some(("pwt.toml", text)),
        &env_of(&[
            ("PWT_PROMETHEUS_URL", "http://127.0.0.1:9090"),
            ("PWT_PROMETHEUS_TOKEN", "tok3n"),
        ]),
    )
    .unwrap();
    assert_eq!(c.engines.names(), "default, mimir");
    let m = c.engines.get("mimir").unwrap();
    assert_eq!(m.url, "https://mimir.internal/prometheus");
    assert_eq!(m.auth, EngineAuth::BasicEnv("MIMIR_AUTH".into()));
    assert_eq!(m.overrides.replica_label(), "pod");
    assert_eq!(m.overrides.workers(), "gunicorn_workers");
    assert_eq!(m.timeout, Duration::from_secs(90));
    assert_eq!(
        c.engines.get("default").unwrap().timeout,
        DEFAULT_ENGINE_TIMEOUT
    );
    assert!(!format!("{c:?}").contains("tok3n"));
    for (bad, says) in [
        ("[prometheus.x]\nurl = \"https://u:pw@h\"\n", "credentials"),
        ("[prometheus.x]\nurl = \"h:9090\"\n", "http"),
        (
            "[prometheus.x]\nurl = \"http://h\"\ntoken_env = \"A\"\nbasic_auth_env = \"B\"\n",
            "keep one",
        ),
        (
            "[prometheus.x]\nurl = \"http://h\"\nroute_label = \"a b\"\n",
            "route_label",
        ),
        (
            "[prometheus.x]\nurl = \"http://h\"\npassword = \"pw\"\n",
            "not valid",
        ),
        (
            "[prometheus.x]\nurl = \"http://h\"\ntimeout_seconds = 0\n",
            "timeout_seconds",
        ),
    ] {
        let e = Config::from_parts(Some(("pwt.toml", bad)), &env_of(&[])).unwrap_err();
        let m = e.to_string();
        assert!(m.contains(says), "{bad}: {m}");
        assert!(!m.contains("pw@") && !m.contains("\"pw\""), "{m}");
    }
}
