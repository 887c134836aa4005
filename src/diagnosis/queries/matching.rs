//! `query_text`: which of the server's statements a query text copied from a trace (a
//! Sentry span) names. Every statement the statistics hold is compared — not only the top
//! of the ranking — by its [`MatchForm`] (see [`crate::diagnosis::sql::MatchForm`]: the
//! same statement whatever the driver's placeholders, inlined values, quoting or IN-list
//! length); the statements listed are then the ones that match, ranked as usual. The report
//! says how many matched ([`QueryMatch`]), and when none did, what to check.

use super::input::Request;
use super::merge::Merged;
use super::report::QueryMatch;
use super::snapshot::{Engine, RowMatch, StatementRow};
use super::text::{MAX_QUERY_CHARS, bound_text};
use crate::diagnosis::sql::{Dialect, MatchForm, Matching, match_text};
use crate::diagnosis::{NextStep, fmt_num, round};

/// The statement a `query_text` names, as compared.
pub(super) struct Wanted<'a> {
    text: &'a str,
    form: MatchForm,
    key: u64,
    dialect: Dialect,
}

/// How a statement compares with the wanted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    Whole,
    /// Alike as far as a cut text goes.
    Prefix,
    No,
    /// Its text is not at hand, or cannot be compared with a cut one.
    NotCompared,
}

/// What [`Wanted::keep`] counted over the statements that ran.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tally {
    matched: u64,
    query_ids: u64,
    prefix: u64,
    total_ms: f64,
    not_compared: u64,
}

impl<'a> Wanted<'a> {
    /// The statement `req.query_text` names, if one was given.
    pub(super) fn new(req: &'a Request, dialect: Dialect) -> Option<Self> {
        let text = req.query_text.as_deref()?;
        let form = MatchForm::new(text, dialect);
        Some(Self {
            text,
            key: form.key(),
            form,
            dialect,
        })
    }

    /// How `row` compares with the wanted statement.
    pub(super) fn find(&self, row: &StatementRow) -> Found {
        match row.match_key {
            // Only the key of a whole text is known: a cut text cannot be compared with it.
            RowMatch::Key(_) if self.form.is_cut() => Found::NotCompared,
            RowMatch::Key(k) if k == self.key => Found::Whole,
            RowMatch::Key(_) => Found::No,
            RowMatch::Unknown => Found::NotCompared,
            RowMatch::FromText | RowMatch::FromTextMaybeCut if row.query.is_empty() => {
                Found::NotCompared
            }
            RowMatch::FromText => self.compare(&row.query),
            RowMatch::FromTextMaybeCut => match self.compare(&row.query) {
                // Cut where the text ends: its last token may be a part of one.
                Found::No => self.compare(&format!("{}...", row.query)),
                found => found,
            },
        }
    }

    fn compare(&self, text: &str) -> Found {
        match self.form.compare(&MatchForm::new(text, self.dialect)) {
            Matching::Whole => Found::Whole,
            Matching::Prefix => Found::Prefix,
            Matching::No => Found::No,
        }
    }

    /// Keeps the statements of `items` that match, and counts them (those that ran).
    pub(super) fn keep<'r, T>(
        &self,
        items: &mut Vec<T>,
        merged: impl Fn(&T) -> Merged<'r>,
    ) -> Tally {
        let mut tally = Tally::default();
        items.retain(|item| {
            let m = merged(item);
            let found = self.find(m.row);
            let ran = m.row.calls > 0.0;
            let keep = matches!(found, Found::Whole | Found::Prefix);
            if ran && keep {
                tally.matched += 1;
                tally.query_ids += u64::from(m.query_ids);
                tally.prefix += u64::from(found == Found::Prefix);
                tally.total_ms += m.row.total_ms.max(0.0);
            }
            if ran && found == Found::NotCompared {
                tally.not_compared += 1;
            }
            keep
        });
        tally
    }

    /// The report's account of the match, against `db_time` ms of statement time.
    pub(super) fn report(&self, tally: &Tally, db_time: f64) -> QueryMatch {
        QueryMatch {
            matched: tally.matched,
            query_ids: tally.query_ids,
            matched_on_prefix: tally.prefix,
            percent_of_db_time: if db_time > 0.0 {
                round(tally.total_ms / db_time * 100.0, 2)
            } else {
                0.0
            },
            not_compared: tally.not_compared,
            compared_as: bound_text(&match_text(self.text, self.dialect), MAX_QUERY_CHARS).0,
        }
    }

    /// What limits the comparison: a cut text, statements not compared, matches on a prefix.
    pub(super) fn caveats(&self, engine: Engine, q: &QueryMatch, warnings: &mut Vec<String>) {
        let cut = self.form.is_cut();
        if cut && engine == Engine::Postgresql {
            warnings.push("query_text ends with `...`: it was cut (older Sentry SDKs cut span descriptions at 1,024 characters), and pg_stat_statements' statements compare only whole; paste the span's whole SQL.".to_owned());
        } else if q.not_compared > 0 {
            warnings.push(format!(
                "{} statement(s) could not be compared with query_text: their text left the statistics before it could be read, or is longer than 4 KiB with more than lists of values in the rest.",
                q.not_compared
            ));
        }
        if q.matched_on_prefix > 0 {
            let why = if cut {
                "query_text was cut (it ends with `...`)"
            } else {
                "the server cut the statement's text (performance_schema_max_digest_length)"
            };
            warnings.push(format!(
                "{} of the matching statement(s) match only as far as the text goes, because {why}: check that the listed text is the span's statement.",
                q.matched_on_prefix
            ));
        }
    }

    /// What to check when no statement matches.
    pub(super) fn no_match_steps(&self, engine: Engine, req: &Request) -> Vec<NextStep> {
        let mut steps = Vec::new();
        let cut = self.form.is_cut();
        let paste = NextStep::new(
            "Compare query_text with the span's whole SQL and call slow_queries again with it: a text that ends with `...` or stops mid-statement was cut (older Sentry SDKs cut span descriptions at 1,024 characters)",
            "Only the whole statement is sure to match.",
        )
        .with_tool("slow_queries");
        if cut {
            steps.push(paste.clone());
        }
        steps.push(evicted_step(engine));
        steps.push(
            NextStep::new(
                format!(
                    "Check the target: the span's db.name (and server.address) say which database the statement ran on; call slow_queries with the target configured for it{}",
                    if engine == Engine::Postgresql {
                        ""
                    } else {
                        " (the digests are read for the target's schema, `database`)"
                    }
                ),
                "The statistics are read for this target's database only.",
            )
            .with_tool("slow_queries"),
        );
        if !cut {
            steps.push(paste);
        }
        if let Some(s) = req.sample_seconds {
            steps.push(
                NextStep::new(
                    "Call slow_queries again without sample_seconds",
                    format!(
                        "The statement may not have run during the {} s sample; the cumulative statistics hold every statement since the last reset.",
                        fmt_num(s)
                    ),
                )
                .with_tool("slow_queries"),
            );
        }
        steps
    }
}

/// The statistics a statement is looked for in, for a sentence.
pub(super) fn statistics_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgresql => "pg_stat_statements",
        Engine::Mysql | Engine::Mariadb => "the statement digests (performance_schema)",
    }
}

/// Whether the statistics dropped the statement to make room for others.
fn evicted_step(engine: Engine) -> NextStep {
    match engine {
        Engine::Postgresql => NextStep::new(
            "Check whether pg_stat_statements evicted the statement: compare SELECT count(*) FROM pg_stat_statements with SHOW pg_stat_statements.max, and look at dealloc in pg_stat_statements_info (PostgreSQL 14+); raise pg_stat_statements.max (it needs a restart) if it keeps evicting",
            "pg_stat_statements keeps at most pg_stat_statements.max statements and evicts the least-run ones when full, so a rarely run slow statement goes first; a reset (pg_stat_statements_reset) empties it too.",
        ),
        Engine::Mysql | Engine::Mariadb => NextStep::new(
            "Check whether the digest table is full: SELECT COUNT_STAR FROM performance_schema.events_statements_summary_by_digest WHERE DIGEST IS NULL counts the statements that found no free row (performance_schema_digests_size); TRUNCATE the table, or raise the size (it needs a restart)",
            "Once the digest table is full, new statements are counted in one row without text, so a statement first seen after that cannot be found.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::snapshot::{Snapshot, StatementStats, Statements, test_row};
    use super::super::text::Presentation;
    use super::super::{SlowQueriesInput, analyze, top_ids, validate};
    use super::*;
    use crate::diagnosis::sql::{Dialect, match_key};

    const DJANGO: &str = "SELECT \"orders\".\"id\", \"orders\".\"amount\" FROM \"orders\" WHERE \"orders\".\"customer_id\" = %s LIMIT 21";
    const RECORDED: &str = "SELECT \"orders\".\"id\", \"orders\".\"amount\" FROM \"orders\" WHERE \"orders\".\"customer_id\" = $1 LIMIT $2";
    const REDACT: Presentation = Presentation {
        redact_literals: true,
    };

    fn req(v: serde_json::Value) -> Request {
        let input: SlowQueriesInput = crate::input::parse_value(v).unwrap();
        validate(&input).unwrap()
    }

    fn snapshot(engine: Engine, rows: Vec<StatementRow>) -> Snapshot {
        Snapshot {
            engine,
            server_version: "15.4".into(),
            statements: Statements::Available(StatementStats {
                source: "postgres:pg_stat_statements".into(),
                rows,
                ..Default::default()
            }),
            sessions: Ok(vec![]),
            notes: vec![],
            fixes: vec![],
            rds: None,
        }
    }

    /// A PostgreSQL row as the adapter passes it: the match key, and text only if listed.
    fn keyed(id: &str, text: &str, calls: f64, total_ms: f64) -> StatementRow {
        StatementRow {
            match_key: RowMatch::Key(match_key(text, Dialect::Postgres)),
            ..test_row(id, "", calls, total_ms)
        }
    }

    #[test]
    fn query_text_is_checked() {
        for (text, says) in [
            (String::new(), "holds no SQL"),
            ("  \n ".to_owned(), "holds no SQL"),
            (
                "/* only a comment */ -- and another".to_owned(),
                "holds no SQL",
            ),
            ("...".to_owned(), "holds no SQL"),
            (
                format!("SELECT '{}'", "x".repeat(100_000)),
                "at most 100000",
            ),
        ] {
            let input: SlowQueriesInput =
                crate::input::parse_value(json!({ "query_text": text })).unwrap();
            let err = validate(&input).unwrap_err();
            assert_eq!(err.field, "query_text");
            assert!(err.message.contains(says), "{}", err.message);
        }
        assert_eq!(
            req(json!({ "query_text": DJANGO })).query_text.as_deref(),
            Some(DJANGO)
        );
    }

    #[test]
    fn only_the_statements_the_text_names_are_listed() {
        let mut rows = vec![
            keyed("1", RECORDED, 1000.0, 500.0),
            keyed("2", "SELECT pg_sleep($1)", 3.0, 1200.0),
            keyed("3", RECORDED, 10.0, 4.0),
            StatementRow {
                match_key: RowMatch::Unknown,
                ..test_row("4", "", 5.0, 5.0)
            },
        ];
        // The listed statement's text is at hand, as the adapter gives it.
        rows[0].query = RECORDED.into();
        let r = analyze(
            "t",
            &req(json!({ "query_text": DJANGO })),
            &snapshot(Engine::Postgresql, rows),
            REDACT,
        );
        let q = r.query_match.as_ref().expect("query_match");
        assert_eq!((q.matched, q.query_ids, q.not_compared), (2, 2, 1));
        assert_eq!(q.matched_on_prefix, 0);
        assert_eq!(q.percent_of_db_time, round(504.0 / 1709.0 * 100.0, 2));
        assert_eq!(
            q.compared_as,
            "select orders.id, orders.amount from orders where orders.customer_id = ? limit ?"
        );
        let ids: Vec<u64> = r.statements.iter().map(|s| s.calls).collect();
        assert_eq!(ids, [1000, 10], "ranked by mean as usual");
        assert_eq!(r.statements_considered, 4, "every statement counts");
        assert!(
            r.conclusion
                .verdict
                .contains("matches the given query text (the slowest statement per call of 2 matching statements)"),
            "{}",
            r.conclusion.verdict
        );
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.starts_with("1 statement(s) could not be compared")),
            "{:?}",
            r.conclusion.warnings
        );
        // The adapter reads text for these alone.
        let listed = top_ids(
            snapshot_rows(&[
                keyed("1", RECORDED, 1.0, 1.0),
                keyed("2", "SELECT 1", 1.0, 9.0),
            ]),
            &req(json!({ "query_text": DJANGO })),
            None,
            Dialect::Postgres,
        );
        assert_eq!(listed, [vec!["1".to_owned()]]);
    }

    fn snapshot_rows(rows: &[StatementRow]) -> impl Iterator<Item = &StatementRow> {
        rows.iter()
    }

    #[test]
    fn the_matching_statement_is_judged_against_the_database_normal() {
        let mut rows: Vec<StatementRow> = (0..9)
            .map(|i| {
                keyed(
                    &i.to_string(),
                    &format!("SELECT {i} FROM t{i}"),
                    100.0,
                    10.0,
                )
            })
            .collect();
        let mut slow = keyed("s", RECORDED, 100.0, 5000.0);
        slow.query = RECORDED.into();
        rows.push(slow);
        let r = analyze(
            "t",
            &req(json!({ "query_text": DJANGO })),
            &snapshot(Engine::Postgresql, rows),
            REDACT,
        );
        assert_eq!(r.statements.len(), 1);
        assert!(
            r.conclusion.next_steps[0].action.contains("EXPLAIN"),
            "50 ms against a 0.1 ms normal: {:?}",
            r.conclusion.next_steps
        );
    }

    #[test]
    fn no_match_says_so_and_what_to_check() {
        let rows = vec![keyed("1", "SELECT 1", 10.0, 1.0)];
        let sampled = req(json!({ "query_text": DJANGO, "sample_seconds": 5 }));
        let r = analyze(
            "t",
            &sampled,
            &snapshot(Engine::Postgresql, rows.clone()),
            REDACT,
        );
        assert!(r.statements.is_empty());
        assert_eq!(r.query_match.as_ref().map(|q| q.matched), Some(0));
        assert!(
            r.conclusion.verdict.starts_with(
                "No statement in pg_stat_statements in the last 5 s matches the given query text"
            ),
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
        assert!(steps[3].contains("without sample_seconds"), "{steps:?}");

        let mut my = snapshot(Engine::Mariadb, vec![test_row("d", "SELECT ?", 1.0, 1.0)]);
        my.server_version = "10.11.6-MariaDB".into();
        let r = analyze("t", &req(json!({ "query_text": DJANGO })), &my, REDACT);
        assert!(
            r.conclusion
                .verdict
                .starts_with("No statement in the statement digests (performance_schema) matches"),
            "{}",
            r.conclusion.verdict
        );
        assert!(r.conclusion.next_steps[0].action.contains("DIGEST IS NULL"));
    }

    #[test]
    fn cut_texts_match_where_the_text_is_at_hand() {
        let columns: Vec<String> = (0..60).map(|i| format!("`orders`.`c{i}`")).collect();
        let sent = format!(
            "SELECT {} FROM `orders` WHERE `orders`.`id` = %s",
            columns.join(", ")
        );
        let digest = format!(
            "SELECT {} ...",
            (0..40)
                .map(|i| format!("`orders` . `c{i}`"))
                .collect::<Vec<_>>()
                .join(" , ")
        );
        let rows = vec![
            test_row("d1", &digest, 4.0, 40.0),
            test_row("d2", "SELECT ?", 4.0, 4.0),
        ];
        let r = analyze(
            "t",
            &req(json!({ "query_text": sent })),
            &snapshot(Engine::Mariadb, rows),
            REDACT,
        );
        let q = r.query_match.as_ref().unwrap();
        assert_eq!((q.matched, q.matched_on_prefix), (1, 1));
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("performance_schema_max_digest_length")),
            "{:?}",
            r.conclusion.warnings
        );
        // MariaDB cuts the digest text with no mark, in the middle of `a . b`: the adapter
        // says it may be cut. A text as long that is whole still matches whole.
        let unmarked = digest.replace(" ...", " , `orders` .");
        let whole = format!(
            "SELECT {} FROM `orders` WHERE `orders` . `id` = ?",
            (0..60)
                .map(|i| format!("`orders` . `c{i}`"))
                .collect::<Vec<_>>()
                .join(" , ")
        );
        let maybe_cut = |id: &str, text: &str| StatementRow {
            match_key: RowMatch::FromTextMaybeCut,
            ..test_row(id, text, 1.0, 1.0)
        };
        let wanted = req(json!({ "query_text": sent }));
        let wanted = Wanted::new(&wanted, Dialect::MySql).unwrap();
        assert_eq!(wanted.find(&maybe_cut("d3", &unmarked)), Found::Prefix);
        assert_eq!(wanted.find(&maybe_cut("d4", &whole)), Found::Whole);
        assert_eq!(wanted.find(&test_row("d5", &unmarked, 1.0, 1.0)), Found::No);
        // PostgreSQL's statements are known by the key of their whole text: a cut text
        // cannot match them, and the report says to paste the whole SQL.
        let cut = format!("{}...", &DJANGO[..60]);
        let r = analyze(
            "t",
            &req(json!({ "query_text": cut })),
            &snapshot(Engine::Postgresql, vec![keyed("1", RECORDED, 1.0, 1.0)]),
            REDACT,
        );
        let q = r.query_match.as_ref().unwrap();
        assert_eq!((q.matched, q.not_compared), (0, 1));
        assert!(r.conclusion.warnings[0].starts_with("query_text ends with `...`"));
        assert!(r.conclusion.next_steps[0].action.contains("whole SQL"));
    }
}
