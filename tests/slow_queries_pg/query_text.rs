//! `query_text` against the real PostgreSQL: the SQL of a Sentry span, in every spelling a
//! Python driver or ORM gives it, finds the statement pg_stat_statements recorded (the
//! workload's Django statements, sent through psycopg 2 with their values in the text, and a
//! statement bound on the server as psycopg 3 does it), with its figures; a text that names
//! no statement says so and what to check.

use python_web_troubleshooter::render::Summary;
use serde_json::json;

use crate::common::servers::POSTGRES;
use crate::common::*;

/// What pg_stat_statements recorded for the workload's 30 Django lookups.
const LOOKUP: &str = r#"SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" = $1 LIMIT $2"#;

#[tokio::test]
async fn query_text_finds_the_statement_in_every_spelling() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    for (form, text) in [
        (
            "Django, psycopg %s",
            r#"SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" = %s LIMIT 21"#,
        ),
        (
            "psycopg %(name)s",
            r#"SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" = %(id)s LIMIT %(limit)s"#,
        ),
        (
            "SQLAlchemy, psycopg2 dialect",
            "SELECT customers.id, customers.email \nFROM customers \nWHERE customers.id = %(id_1)s \n LIMIT %(param_1)s",
        ),
        (
            "SQLAlchemy :name",
            "SELECT customers.id, customers.email FROM customers WHERE customers.id = :id_1 LIMIT :param_1",
        ),
        (
            "qmark",
            "SELECT customers.id, customers.email FROM customers WHERE customers.id = ? LIMIT ?",
        ),
        ("asyncpg $1", LOOKUP),
        (
            "inlined literals",
            r#"select "customers"."id", "customers"."email" from "customers" where "customers"."id" = 17 limit 21;"#,
        ),
        (
            "comments, case, whitespace",
            "/* controller=customers */ Select Customers.ID,customers.email -- who\n\tFROM CUSTOMERS WHERE customers.id = '17' LIMIT 21 ;",
        ),
    ] {
        let r = report(
            &config,
            json!({"query_text": text, "include_running": false}),
        )
        .await;
        let q = r
            .query_match
            .as_ref()
            .unwrap_or_else(|| panic!("{form}: no query_match"));
        assert_eq!((q.matched, q.query_ids), (1, 1), "{form}: {}", r.summary());
        assert_eq!(q.matched_on_prefix, 0, "{form}");
        assert_eq!(
            q.compared_as,
            "select customers.id, customers.email from customers where customers.id = ? limit ?",
            "{form}"
        );
        assert_eq!(r.statements.len(), 1, "{form}: {}", r.summary());
        let s = &r.statements[0];
        assert_eq!(s.query, LOOKUP, "{form}");
        assert_eq!((s.calls, s.rows), (30, 30), "{form}");
        assert!(
            r.conclusion
                .verdict
                .starts_with(&format!("`{}", &LOOKUP[..40]))
                && r.conclusion
                    .verdict
                    .contains("matches the given query text"),
            "{form}: {}",
            r.conclusion.verdict
        );
        assert!(
            r.statements_considered > 10,
            "every statement is counted: {}",
            r.statements_considered
        );
    }
}

/// `id__in` lists: the workload ran lists of 3, 5 and 1000 ids (three queryids; the last
/// text is longer than the 4 KiB the adapter reads), the span has a list of another length.
#[tokio::test]
async fn query_text_finds_in_lists_of_any_length() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    for text in [
        r#"SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" IN (%s, %s, %s, %s)"#,
        r#"SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" IN (7, 8)"#,
    ] {
        let r = report(
            &config,
            json!({"query_text": text, "include_running": false}),
        )
        .await;
        let q = r.query_match.as_ref().unwrap();
        assert_eq!(q.query_ids, 3, "{text}: {}", r.summary());
        assert!(q.matched >= 1 && q.not_compared == 0, "{q:?}");
        assert_eq!(r.statements.iter().map(|s| s.calls).sum::<u64>(), 3);
        assert!(
            r.statements.iter().all(|s| s.query.starts_with(
                r#"SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" IN ($1, $2"#
            )),
            "{}",
            r.summary()
        );
    }
}

/// psycopg 3 binds on the server: pg_stat_statements keeps the `$1` text the client sent.
/// The statement is new to the tool when it is asked for.
#[tokio::test]
async fn query_text_finds_a_statement_bound_on_the_server() {
    if !POSTGRES.ready() {
        return;
    }
    const BOUND_SQL: &str = r#"SELECT "accounts"."id", "accounts"."balance" FROM "accounts" WHERE "accounts"."id" = $1 LIMIT $2"#;
    let (app, conn) = tokio_postgres::connect(&env("PWT_TEST_PG_ADMIN_URL"), tokio_postgres::NoTls)
        .await
        .expect("connects to database shop");
    tokio::spawn(conn);
    for id in [2i32, 3, 4] {
        assert_eq!(app.query(BOUND_SQL, &[&id, &21i64]).await.unwrap().len(), 1);
    }
    let r = report(
        &config(),
        json!({
            "query_text": r#"SELECT "accounts"."id", "accounts"."balance" FROM "accounts" WHERE "accounts"."id" = %s LIMIT 21"#,
            "include_running": false
        }),
    )
    .await;
    assert_eq!(
        r.query_match.as_ref().map(|q| q.matched),
        Some(1),
        "{}",
        r.summary()
    );
    assert_eq!(r.statements[0].query, BOUND_SQL);
    assert_eq!(r.statements[0].calls, 3);
}

#[tokio::test]
async fn query_text_that_matches_nothing_says_what_to_check() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let text = r#"SELECT "customers"."id" FROM "customers" WHERE "customers"."email" = 'alice@example.com'"#;
    let r = report(&config, json!({"query_text": text})).await;
    assert!(r.statements.is_empty(), "{}", r.summary());
    let q = r.query_match.as_ref().unwrap();
    assert_eq!((q.matched, q.query_ids), (0, 0));
    assert_eq!(
        q.compared_as,
        "select customers.id from customers where customers.email = ?"
    );
    assert!(
        r.conclusion
            .verdict
            .starts_with("No statement in pg_stat_statements matches the given query text"),
        "{}",
        r.conclusion.verdict
    );
    let steps: Vec<&str> = r
        .conclusion
        .next_steps
        .iter()
        .map(|s| s.action.as_str())
        .collect();
    assert!(steps[0].contains("pg_stat_statements.max"), "{steps:?}");
    assert!(steps[1].starts_with("Check the target"), "{steps:?}");
    assert!(steps[2].contains("whole SQL"), "{steps:?}");
    // The value in the given text is customer data: it is never shown.
    assert_no_customer_data("report", &serde_json::to_string(&r).unwrap());
    assert_no_customer_data("summary", &r.summary());
    // The text is checked before anything connects.
    for (bad, says) in [("", "holds no SQL"), ("-- nothing", "holds no SQL")] {
        let err = error(&config, json!({"query_text": bad})).await;
        assert!(
            err.contains("invalid argument `query_text`") && err.contains(says),
            "{err}"
        );
    }
    let err = error(&config, json!({"query_text": "x".repeat(100_001)})).await;
    assert!(
        err.contains("`query_text`") && err.contains("at most 100000"),
        "{err}"
    );
}

#[tokio::test]
async fn the_cli_takes_query_text() {
    if !POSTGRES.ready() {
        return;
    }
    let (ok, out, err) = cli(&[
        "--no-running",
        "--query-text",
        r#"SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" = %s LIMIT 21"#,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("matches the given query text"), "{out}");
    assert!(out.contains("query_text: 1 matching statement(s)"), "{out}");
}
