//! Unit tests of the tokenizer, redaction, classification, keys and scan targets.

use super::*;

const EMAIL: &str = "alice@example.com";
const CARD: &str = "4111111111111111";

fn pg(sql: &str) -> String {
    redact(sql, Dialect::Postgres)
}

fn my(sql: &str) -> String {
    redact(sql, Dialect::MySql)
}

#[test]
fn strings_and_numbers_become_placeholders() {
    assert_eq!(
        pg("SELECT * FROM customers WHERE email = 'alice@example.com' AND card = 4111111111111111"),
        "SELECT * FROM customers WHERE email = ? AND card = ?"
    );
    assert_eq!(pg("SELECT 1.5e-3, .5, 0x1F, 1_000"), "SELECT ?, ?, ?, ?");
    assert_eq!(pg("SELECT -42"), "SELECT -?");
}

#[test]
fn identifiers_with_digits_and_parameters_stay() {
    assert_eq!(
        pg("SELECT t1.c2 FROM t1 WHERE id = $1 AND x = $12"),
        "SELECT t1.c2 FROM t1 WHERE id = $1 AND x = $12"
    );
    assert_eq!(
        my("SELECT `t1`.* FROM t1 WHERE a = ?"),
        "SELECT `t1`.* FROM t1 WHERE a = ?"
    );
    assert_eq!(pg("SELECT a$b FROM x"), "SELECT a$b FROM x");
}

#[test]
fn postgres_plain_strings_have_no_backslash_escapes() {
    // Under standard_conforming_strings 'C:\' is a complete string; a lexer that took
    // the backslash as an escape would show the e-mail as code.
    let sql = format!("SELECT 'C:\\' || '{EMAIL}' || 'x'");
    let out = pg(&sql);
    assert_eq!(out, "SELECT ? || ? || ?");
}

#[test]
fn escape_strings_honour_backslashes() {
    let sql = format!("SELECT E'it\\'s {EMAIL}', e'\\\\', 'x'");
    assert_eq!(pg(&sql), "SELECT ?, ?, ?");
    let sql = format!("SELECT U&'d\\0061t\\+000061 {EMAIL}', B'0101', X'1F', N'{EMAIL}'");
    assert_eq!(pg(&sql), "SELECT ?, ?, ?, ?");
}

#[test]
fn dollar_quoted_strings() {
    let sql = format!("DO $$ BEGIN PERFORM '{EMAIL}'; END $$; SELECT $tag$ {CARD} $not$ $tag$, $1");
    assert_eq!(pg(&sql), "DO ?; SELECT ?, $1");
    // Unterminated (text cut off by track_activity_query_size): literal to the end.
    assert_eq!(pg(&format!("SELECT $q$ {EMAIL}")), "SELECT ?");
}

#[test]
fn comments_are_dropped_and_postgres_nests_them() {
    let sql = format!("SELECT /* user={EMAIL} /* nested {CARD} */ still */ 1 -- {EMAIL}\nFROM t");
    assert_eq!(pg(&sql), "SELECT ? FROM t");
    let sql = format!("SELECT 1 # {EMAIL}\nFROM t /* {CARD} */");
    assert_eq!(my(&sql), "SELECT ? FROM t");
}

#[test]
fn quoted_identifiers_are_kept_in_postgres_and_strings_in_mysql() {
    assert_eq!(
        pg("SELECT \"Email\" FROM \"Users\""),
        "SELECT \"Email\" FROM \"Users\""
    );
    assert_eq!(my(&format!("SELECT \"{EMAIL}\"")), "SELECT ?");
}

#[test]
fn mysql_strings_take_backslash_escapes_and_introducers() {
    let sql = format!("SELECT 'it\\'s {EMAIL}', _utf8mb4'{CARD}', X'0F', 'a''b'");
    assert_eq!(my(&sql), "SELECT ?, ?, ?, ?");
}

#[test]
fn unterminated_strings_hide_everything_after_the_quote() {
    let out = pg(&format!(
        "UPDATE t SET note = 'call {EMAIL} about card {CARD}"
    ));
    assert_eq!(out, "UPDATE t SET note = ?");
    let out = pg(&format!("SELECT 1 /* {EMAIL}"));
    assert_eq!(out, "SELECT ?");
}

#[test]
fn multibyte_text_is_safe() {
    assert_eq!(
        pg("SELECT 'Zürich', größe FROM städte WHERE x → 1"),
        "SELECT ?, größe FROM städte WHERE x → ?"
    );
}

#[test]
fn redaction_is_idempotent_on_normalised_text() {
    let normalised = "SELECT id FROM orders WHERE customer_id = $1 AND status IN ($2, $3)";
    assert_eq!(pg(normalised), normalised);
    let digest = "SELECT `id` FROM `orders` WHERE `customer_id` = ?";
    assert_eq!(my(digest), digest);
}

#[test]
fn classification() {
    use StatementKind::*;
    let cases = [
        ("SELECT 1", Read),
        ("  (SELECT 1) UNION (SELECT 2)", Read),
        ("/* app */ select * from t for update", Read),
        ("WITH x AS (SELECT 1) SELECT * FROM x", Read),
        (
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            Write,
        ),
        ("insert into t values ($1)", Write),
        ("UPDATE t SET a = 1", Write),
        ("DELETE FROM t", Write),
        ("COPY t FROM STDIN", Write),
        ("COPY t TO STDOUT", Read),
        ("COMMIT", Write),
        ("BEGIN", Other),
        ("SET search_path = x", Other),
        ("CREATE INDEX i ON t (a)", Other),
        ("", Other),
        ("REPLACE INTO t VALUES (?)", Write),
    ];
    for (sql, kind) in cases {
        assert_eq!(classify(sql, Dialect::Postgres), kind, "{sql}");
    }
}

#[test]
fn leads_classify_like_whole_statements() {
    use StatementKind::*;
    assert_eq!(classify_lead("select c", false), Read);
    assert_eq!(classify_lead("insert i", false), Write);
    assert_eq!(classify_lead("with d a", true), Write);
    assert_eq!(classify_lead("with d a", false), Read);
    assert_eq!(classify_lead("truncate", false), Write);
    assert_eq!(classify_lead("begin", false), Other);
    assert_eq!(classify_lead("", false), Other);
}

#[test]
fn statement_keys_ignore_what_a_reader_ignores() {
    let key = |s: &str| statement_key(s, Dialect::Postgres);
    let base = key("SELECT id, amount FROM orders WHERE customer_id = $1");
    for same in [
        "SELECT id, amount FROM orders WHERE customer_id = $1",
        "select  id,amount\n  from ORDERS where customer_id = $2;",
        "/* controller:orders */ SELECT id, amount FROM orders -- by customer\n WHERE customer_id = 42",
        "SELECT id, amount FROM orders WHERE customer_id = :customer",
    ] {
        assert_eq!(key(same), base, "{same}");
    }
    for different in [
        "SELECT id FROM orders WHERE customer_id = $1",
        "SELECT id, amount FROM orders WHERE customer_id = $1::int2",
        "SELECT id, amount FROM \"Orders\" WHERE customer_id = $1",
        "SELECT id, amount FROM orders WHERE customer_id > $1",
    ] {
        assert_ne!(key(different), base, "{different}");
    }
    // Lists of ids of any length are one statement; other lists are not folded.
    assert_eq!(
        key("SELECT * FROM t WHERE id IN ($1, $2, $3)"),
        key("SELECT * FROM t WHERE id IN ($1)")
    );
    assert_ne!(
        key("INSERT INTO t VALUES ($1, $2)"),
        key("INSERT INTO t VALUES ($1)")
    );
    // A MySQL digest text and the same statement as PostgreSQL shows it.
    assert_eq!(
        statement_key(
            "SELECT `id` , `amount` FROM `orders` WHERE `customer_id` = ?",
            Dialect::MySql
        ),
        statement_key(
            "SELECT `id`, `amount` FROM `orders` WHERE `customer_id` = 7",
            Dialect::MySql
        )
    );
}

#[test]
fn scan_targets_come_from_the_outer_statement() {
    let pg = |s: &str| scan_target(s, Dialect::Postgres);
    let target = |table: &str, cols: &[&str]| {
        Some(ScanTarget {
            table: table.into(),
            filter_columns: cols.iter().map(|c| c.to_string()).collect(),
        })
    };
    assert_eq!(
        pg("SELECT id, amount FROM orders WHERE customer_id = $1"),
        target("orders", &["customer_id"])
    );
    assert_eq!(
        pg(
            "select o.id from public.orders o where o.status = $1 and o.created_at >= $2 and o.customer_id in ($3, $4) order by o.id limit $5"
        ),
        target("public.orders", &["status", "customer_id", "created_at"])
    );
    assert_eq!(
        pg("SELECT customer_id, count(*) FROM orders GROUP BY customer_id"),
        target("orders", &[])
    );
    assert_eq!(
        pg("UPDATE orders SET note = $1, amount = amount + $2 WHERE customer_id = $3"),
        target("orders", &["customer_id"])
    );
    assert_eq!(
        pg("DELETE FROM audit WHERE at < $1"),
        target("audit", &["at"])
    );
    // Joins: only columns qualified with the first table's name or alias.
    assert_eq!(
        pg(
            "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1 AND o.status = $2 AND note = $3"
        ),
        target("orders", &["status"])
    );
    // Expressions, join conditions, inequalities and subqueries are no index columns.
    assert_eq!(
        pg(
            "SELECT * FROM users WHERE lower(email) = $1 AND id <> $2 AND a = b AND id IN (SELECT user_id FROM bans WHERE reason = $3)"
        ),
        target("users", &["id"])
    );
    assert_eq!(
        pg("SELECT extract(year FROM at) FROM ONLY events WHERE kind = 'x'"),
        target("events", &["kind"])
    );
    assert_eq!(pg("SELECT pg_sleep($1)"), None);
    assert_eq!(pg("SELECT * FROM (SELECT 1) s WHERE x = $1"), None);
    assert_eq!(pg("WITH x AS (SELECT 1) SELECT * FROM x"), None);
    assert_eq!(pg("INSERT INTO t VALUES ($1)"), None);
    assert_eq!(
        scan_target(
            "SELECT `id` , `amount` FROM `shop` . `orders` WHERE `customer_id` = ?",
            Dialect::MySql
        ),
        target("shop.orders", &["customer_id"])
    );
    assert_eq!(
        pg("SELECT * FROM \"Orders\" WHERE \"CustomerId\" = $1"),
        target("\"Orders\"", &["\"CustomerId\""])
    );
}

#[test]
fn no_panic_on_odd_input() {
    for sql in [
        "'", "$", "$$", "$a", "/*", "--", "E'", "U&", "0x", "1e", "1e+", "\"", "`", "\\", "é'", ":",
    ] {
        let _ = pg(sql);
        let _ = my(sql);
        for d in [Dialect::Postgres, Dialect::MySql] {
            let _ = statement_key(sql, d);
            let _ = match_text(sql, d);
            let _ = match_text(&format!("SELECT %({sql})s, {sql}..."), d);
            let _ = scan_target(sql, d);
            let _ = scan_target(&format!("SELECT * FROM t WHERE {sql}"), d);
            let _ = scan_target(&format!("UPDATE {sql}"), d);
        }
    }
    for sql in [
        "SELECT * FROM",
        "SELECT * FROM t WHERE",
        "SELECT * FROM t WHERE a =",
        "SELECT * FROM t WHERE t.",
        "SELECT * FROM t WHERE (a = 1))",
        "DELETE FROM",
        "UPDATE",
        "SELECT * FROM s. WHERE a = 1",
    ] {
        let _ = scan_target(sql, Dialect::Postgres);
    }
}

/// The SQL of one statement as each client library writes it, and as the servers record it.
const DJANGO_PG: &str = "SELECT \"orders\".\"id\", \"orders\".\"amount\" FROM \"orders\" WHERE \"orders\".\"customer_id\" = %s LIMIT 21";

#[test]
fn match_keys_are_one_for_every_spelling_of_a_statement() {
    let pg = |s: &str| match_key(s, Dialect::Postgres);
    let recorded = pg(
        "SELECT \"orders\".\"id\", \"orders\".\"amount\" FROM \"orders\" WHERE \"orders\".\"customer_id\" = $1 LIMIT $2",
    );
    for same in [
        DJANGO_PG,
        "SELECT \"orders\".\"id\", \"orders\".\"amount\" FROM \"orders\" WHERE \"orders\".\"customer_id\" = %(customer_id)s LIMIT %(limit)s",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = %(customer_id_1)s LIMIT %(param_1)s",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = :customer_id_1 LIMIT :param_1",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = ? LIMIT ?",
        "select ORDERS.ID,orders.amount\n  from \"Orders\"\twhere orders.customer_id = 42 limit 21;",
        "/* app:shop */ SELECT orders.id, orders.amount -- by customer\nFROM orders WHERE orders.customer_id = -42 LIMIT 21 ;",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = '42' LIMIT 21",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = %b LIMIT %t",
    ] {
        assert_eq!(pg(same), recorded, "{same}");
    }
    // MySQL's digest text, against what Django and mysqlclient send.
    let my = |s: &str| match_key(s, Dialect::MySql);
    let digest = my(
        "SELECT `orders` . `id` , `orders` . `amount` FROM `orders` WHERE `orders` . `customer_id` = ? LIMIT ?",
    );
    for same in [
        "SELECT `orders`.`id`, `orders`.`amount` FROM `orders` WHERE `orders`.`customer_id` = %s LIMIT 21",
        "SELECT ORDERS.ID, orders.amount FROM orders WHERE orders.customer_id = %(customer_id_1)s LIMIT 21",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = 'x' LIMIT 21",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = - ? LIMIT ?",
    ] {
        assert_eq!(my(same), digest, "{same}");
    }
    for different in [
        "SELECT orders.id FROM orders WHERE orders.customer_id = %s LIMIT 21",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id > %s LIMIT 21",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id IS NULL LIMIT 21",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.note = %s LIMIT 21",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = %s",
        "SELECT orders.id, orders.amount FROM orders WHERE orders.customer_id = orders.id LIMIT 21",
    ] {
        assert_ne!(pg(different), recorded, "{different}");
    }
}

#[test]
fn match_keys_fold_lists_of_values() {
    let pg = |s: &str| match_key(s, Dialect::Postgres);
    let my = |s: &str| match_key(s, Dialect::MySql);
    let listed = pg("SELECT id FROM orders WHERE id IN ($1, $2, $3)");
    for same in [
        "SELECT id FROM orders WHERE id IN (%s, %s)",
        "SELECT id FROM orders WHERE id IN (%s)",
        "SELECT id FROM orders WHERE id IN %s",
        "SELECT id FROM orders WHERE id IN (1, -2, 'x', NULL)",
        "SELECT id FROM orders WHERE id IN ($1 /*, ... */)",
    ] {
        assert_eq!(pg(same), listed, "{same}");
    }
    // psycopg 2 sends a Python list as an ARRAY.
    assert_eq!(
        pg("SELECT id FROM orders WHERE id = any(array[$1,$2,$3])"),
        pg("SELECT id FROM orders WHERE id = ANY(%s)")
    );
    assert_eq!(
        my("SELECT ID FROM `orders` WHERE ID IN (...)"),
        my("SELECT id FROM orders WHERE id IN (%s, %s, %s)")
    );
    assert_eq!(
        my("SELECT ID FROM `orders` WHERE ID IN (?)"),
        my("SELECT id FROM orders WHERE id IN (%s, %s, %s)")
    );
    let insert = my("INSERT INTO `orders` ( `customer_id` , `amount` ) VALUES (...)");
    for same in [
        "INSERT INTO orders (customer_id, amount) VALUES (%s, %s)",
        "INSERT INTO orders (customer_id, amount) VALUES (%s, %s), (%s, %s), (%s, %s)",
        "INSERT INTO `orders` ( `customer_id` , `amount` ) VALUES (...) /* , ... */",
    ] {
        assert_eq!(my(same), insert, "{same}");
    }
    // A list with anything but values in it is no list of values.
    assert_ne!(pg("SELECT id FROM orders WHERE id IN (SELECT 1)"), listed);
    assert_ne!(pg("SELECT id FROM orders WHERE id IN (%s, now())"), listed);
}

#[test]
fn match_keys_keep_operators_and_casts() {
    let pg = |s: &str| match_key(s, Dialect::Postgres);
    assert_eq!(pg("SELECT a %% 2 FROM t"), pg("SELECT a % 2 FROM t"));
    assert_ne!(pg("SELECT a % 2 FROM t"), pg("SELECT a %s FROM t"));
    assert_ne!(pg("SELECT a - 1 FROM t"), pg("SELECT a + 1 FROM t"));
    assert_eq!(pg("SELECT a - 1 FROM t"), pg("SELECT a - %s FROM t"));
    assert_eq!(
        pg("SELECT x::int FROM t WHERE y = %s"),
        pg("SELECT x :: int FROM t WHERE y = $1")
    );
    assert_ne!(pg("SELECT x::int FROM t"), pg("SELECT x::text FROM t"));
    assert_eq!(
        pg("SELECT flag FROM t WHERE flag = true"),
        pg("SELECT flag FROM t WHERE flag = $1")
    );
}

#[test]
fn cut_texts_match_on_what_they_kept() {
    let columns: Vec<String> = (0..40).map(|i| format!("\"orders\".\"c{i}\"")).collect();
    let full = format!(
        "SELECT {} FROM \"orders\" WHERE \"orders\".\"id\" IN (%s, %s, %s) LIMIT 21",
        columns.join(", ")
    );
    let recorded = MatchForm::new(
        &full
            .replace("(%s, %s, %s)", "($1, $2)")
            .replace("LIMIT 21", "LIMIT $3"),
        Dialect::Postgres,
    );
    let whole = MatchForm::new(&full, Dialect::Postgres);
    assert_eq!(whole.compare(&recorded), Matching::Whole);
    assert!(!whole.is_cut());
    // Sentry's cut, in a name, and in the list of ids.
    for at in [300, full.find("IN (").unwrap() + 8] {
        let cut = MatchForm::new(&format!("{}...", &full[..at]), Dialect::Postgres);
        assert!(cut.is_cut());
        assert_eq!(cut.compare(&recorded), Matching::Prefix, "cut at {at}");
        assert_eq!(recorded.compare(&cut), Matching::Prefix, "cut at {at}");
    }
    let other = MatchForm::new(&full.replace("\"c7\"", "\"c77\""), Dialect::Postgres);
    let cut = MatchForm::new(&format!("{}…", &full[..300]), Dialect::Postgres);
    assert_eq!(cut.compare(&other), Matching::No);
    // Too little kept to say.
    let short = MatchForm::new("SELECT \"orders\".\"c0\", ...", Dialect::Postgres);
    assert_eq!(short.compare(&recorded), Matching::No);
    // MySQL's digest text cut at performance_schema_max_digest_length.
    let digest = format!(
        "SELECT {} ...",
        (0..40)
            .map(|i| format!("`orders` . `c{i}`"))
            .collect::<Vec<_>>()
            .join(" , ")
    );
    let digest = MatchForm::new(&digest, Dialect::MySql);
    let sent = MatchForm::new(&full.replace('"', "`"), Dialect::MySql);
    assert_eq!(sent.compare(&digest), Matching::Prefix);
}

#[test]
fn match_text_shows_the_compared_form() {
    assert_eq!(
        match_text(DJANGO_PG, Dialect::Postgres),
        "select orders.id, orders.amount from orders where orders.customer_id = ? limit ?"
    );
    assert_eq!(
        match_text(
            "SELECT a FROM t WHERE b IN (%s, %s) AND c = 'alice@example.com'...",
            Dialect::Postgres
        ),
        "select a from t where b in (?) and c = ..."
    );
}
