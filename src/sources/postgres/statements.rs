//! `pg_stat_statements`: finding the extension, the columns its view has in this server's
//! version ([`PgssColumns`]), and the two SELECTs that read it, built from constant column
//! names only — the counters of every statement without their text, and the text (or just
//! its kind) of the few statements that need it.

use tokio_postgres::types::{ToSql, Type};

use super::{BEGIN, COMMIT, Reader};
use crate::diagnosis::NextStep;
use crate::sources::DbError;
use crate::sources::db::{MONITOR_MARKER, marked};

/// The leading keyword of a statement, after whitespace, parentheses and comments, as a
/// PostgreSQL regular expression whose first group is the keyword.
const LEADING_KEYWORD: &str = r"^(?:[\s(]|/\*[^*]*\*+(?:[^/*][^*]*\*+)*/|--[^\n]*\n)*([A-Za-z]+)";

/// A parenthesised list of parameters (`IN ($1, $2, …)`, a `VALUES` row), as a PostgreSQL
/// regular expression: folded to `($1)` in a long text.
const PARAM_LIST: &str = r"\(\s*\$[0-9]+(\s*,\s*\$[0-9]+)*\s*\)";
/// An array of parameters (`ARRAY[$1, $2, …]`): folded to `[$1]`.
const PARAM_ARRAY: &str = r"\[\s*\$[0-9]+(\s*,\s*\$[0-9]+)*\s*\]";
/// Rows of folded lists (`($1), ($1), …`): folded to one.
const LIST_ROWS: &str = r"\(\$1\)(\s*,\s*\(\$1\))+";

pub(super) const EXTENSION: &str = marked!(
    "SELECT",
    "e.extversion::text, n.nspname::text \
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
    WHERE e.extname = 'pg_stat_statements'"
);

pub(super) const PRELOAD: &str = marked!(
    "SELECT",
    "setting FROM pg_settings \
    WHERE name = 'shared_preload_libraries'"
);

pub(super) const COLUMNS: &str = marked!(
    "SELECT",
    "column_name::text FROM information_schema.columns \
    WHERE table_schema = $1 AND table_name = 'pg_stat_statements' ORDER BY ordinal_position"
);

pub(super) const SEARCH_PATH: &str = marked!(
    "SELECT",
    "set_config('search_path', format('pg_catalog, %I', $1::text), false)"
);

pub(super) const STATS_INFO: &str = marked!(
    "SELECT",
    "stats_reset::text, \
    extract(epoch FROM now() - stats_reset)::float8 FROM pg_stat_statements_info"
);

/// How this server's `pg_stat_statements` names the figures we read.
///
/// | extension | PostgreSQL | time columns | IO time columns |
/// |---|---|---|---|
/// | 1.4–1.7 | 9.6–12 | `total_time` | `blk_read_time`, `blk_write_time` |
/// | 1.8 | 13 | `total_exec_time`, `total_plan_time` | same |
/// | 1.9–1.10 | 14–16 | same, plus `toplevel` | same, plus `temp_blk_*_time` (1.10) |
/// | 1.11+ | 17+ | same | `shared_blk_*_time`, `local_blk_*_time`, `temp_blk_*_time` |
///
/// The extension's version can lag the server's (an old `CREATE EXTENSION` never updated),
/// so this is decided from the columns the view has, not from `server_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgssColumns {
    pub total: &'static str,
    pub plan: Option<&'static str>,
    pub io: Vec<&'static str>,
    pub toplevel: bool,
    pub has_blocks: bool,
}

/// The view has none of the time columns we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "pg_stat_statements has neither total_exec_time nor total_time (columns: {0}); this extension version is not supported"
)]
pub struct UnknownPgssLayout(pub String);

impl PgssColumns {
    /// Picks the columns from the view's actual column list.
    pub fn discover<S: AsRef<str>>(columns: &[S]) -> Result<Self, UnknownPgssLayout> {
        let has = |name: &str| columns.iter().any(|c| c.as_ref() == name);
        let pick = |name: &'static str| has(name).then_some(name);
        let total = pick("total_exec_time")
            .or_else(|| pick("total_time"))
            .ok_or_else(|| {
                UnknownPgssLayout(
                    columns
                        .iter()
                        .map(|c| c.as_ref())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })?;
        const IO: [&str; 8] = [
            "shared_blk_read_time",
            "shared_blk_write_time",
            "local_blk_read_time",
            "local_blk_write_time",
            "blk_read_time",
            "blk_write_time",
            "temp_blk_read_time",
            "temp_blk_write_time",
        ];
        let io = IO.into_iter().filter(|c| has(c)).collect();
        Ok(Self {
            total,
            plan: pick("total_plan_time"),
            io,
            toplevel: has("toplevel"),
            has_blocks: has("shared_blks_hit") && has("shared_blks_read"),
        })
    }

    /// The details of a statement beyond calls and time, as float8 in a fixed order: rows,
    /// io, plan, hit, read (NULL where the view lacks the column).
    fn detail_columns_sql(&self) -> String {
        let io = if self.io.is_empty() {
            "NULL::float8".to_owned()
        } else {
            format!("({})::float8", self.io.join(" + "))
        };
        let plan = self
            .plan
            .map_or("NULL::float8".to_owned(), |p| format!("{p}::float8"));
        let (hit, read) = if self.has_blocks {
            ("shared_blks_hit::float8", "shared_blks_read::float8")
        } else {
            ("NULL::float8", "NULL::float8")
        };
        format!("rows::float8, {io}, {plan}, {hit}, {read}")
    }

    /// This database's statements; top-level ones only where the view says which.
    fn where_sql(&self) -> String {
        format!(
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()){}",
            if self.toplevel { " AND toplevel" } else { "" }
        )
    }

    /// The counters of every statement of this database, without text:
    /// `pg_stat_statements(false)` does not read the query-text file. Columns: queryid (NULL
    /// for rows hidden from this role), calls and total time — all that the ranking by mean,
    /// total or calls, the totals and the read/write split need — and the details (an array:
    /// rows, io, plan, hit, read; see `detail_columns_sql`) only for the statements in `$1`
    /// (an int8[]: those expected in the list), or for all when `$2` is true. Every value
    /// sent costs server time with thousands of statements, so the details of statements
    /// that will not be listed are not sent. (`IN (SELECT unnest(..))` rather than `= ANY`:
    /// a hashed lookup per statement, also in a generic plan.)
    pub fn counters_sql(&self) -> String {
        format!(
            "SELECT /* {MONITOR_MARKER} */ queryid, calls::float8, {total}::float8, \
             CASE WHEN $2::bool OR queryid IN (SELECT unnest($1::int8[])) \
                THEN ARRAY[{details}] END \
             FROM pg_stat_statements(false) {filter}",
            total = self.total,
            details = self.detail_columns_sql(),
            filter = self.where_sql()
        )
    }

    /// What the counters lack, for the statements `$1` (an int8[] of queryids): per
    /// statement its queryid, how it starts (lower case: the first 8 characters, or the
    /// keyword after a leading comment), whether it modifies data (a WITH with
    /// INSERT/UPDATE/DELETE/MERGE, a COPY FROM), whether it is one of this tool's own
    /// statements, its text (the first 4 KiB) and, for a longer text, a hash of the rest and
    /// the text with its lists of parameters folded (`IN ($1, …, $900)` → `IN ($1)`; at most
    /// 4097 characters). The kind is classified from the first two by
    /// [`sql::classify_lead`]; the text gives the statement's key as a person reads it
    /// ([`sql::statement_key`]), so that the queryids of one text are counted as one
    /// statement, and its match key ([`sql::match_key`], from the folded text when the text
    /// is longer than 4 KiB and the folded one is not), so that a `query_text` can be looked
    /// for among all statements. It is read once per statement (kinds and keys are
    /// remembered), and kept only for the statements that are listed.
    ///
    /// Every name in it is one of the constants above, so the set of statements this can
    /// produce is fixed; nothing from a caller reaches it except through `$1`.
    pub fn texts_sql(&self) -> String {
        format!(
            "SELECT /* {MONITOR_MARKER} */ queryid, keyword, CASE \
                WHEN keyword LIKE 'with%' THEN q ~* '\\m(insert|update|delete|merge)\\M' \
                WHEN keyword LIKE 'copy%' THEN q ~* '\\mfrom\\M' \
                ELSE false END, \
                q LIKE '%{MONITOR_MARKER}%', \
                left(q, 4096), \
                CASE WHEN length(q) > 4096 THEN hashtext(substr(q, 4097)) END, \
                CASE WHEN length(q) > 4096 THEN left(regexp_replace(regexp_replace(\
                    regexp_replace(q, '{PARAM_LIST}', '($1)', 'g'), \
                    '{PARAM_ARRAY}', '[$1]', 'g'), '{LIST_ROWS}', '($1)', 'g'), 4097) END \
             FROM (SELECT queryid, coalesce(query, '') AS q, CASE \
                    WHEN h LIKE '/*%' OR h LIKE '--%' \
                    THEN coalesce(lower(substring(query FROM '{LEADING_KEYWORD}')), '') \
                    ELSE lower(left(h, 8)) END AS keyword \
                FROM pg_stat_statements(true), \
                LATERAL (SELECT ltrim(left(coalesce(query, ''), 64), E' \\t\\r\\n(') AS h) x \
                {filter} AND queryid IN (SELECT unnest($1::int8[])) OFFSET 0) a",
            filter = self.where_sql(),
        )
    }
}

/// Why the statement statistics cannot be read.
pub(super) enum Unavailable {
    NotInstalled { preloaded: Option<bool> },
    Layout(String),
}

/// What is wrong, in the database's terms.
pub(super) fn why_text(why: &Unavailable, database: &str) -> String {
    match why {
        Unavailable::NotInstalled { preloaded } => format!(
            "pg_stat_statements is not installed in database {database}{}",
            match preloaded {
                Some(false) => " and not in shared_preload_libraries",
                _ => "",
            }
        ),
        Unavailable::Layout(m) => m.clone(),
    }
}

/// The step that loads the extension at server start.
pub(super) fn preload_fix() -> NextStep {
    NextStep::new(
        "Add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; on RDS, the DB parameter group) and restart the server, then run CREATE EXTENSION IF NOT EXISTS pg_stat_statements; in this database",
        "The extension records per-statement time; it needs to be loaded at server start.",
    )
}

/// Finds the extension, its schema and the columns its view has, in a read-only
/// transaction, and puts the schema on the session's search path.
pub(super) async fn discover(
    r: &Reader<'_>,
    fixes: &mut Vec<NextStep>,
) -> Result<Result<(PgssColumns, String), Unavailable>, DbError> {
    let client = r.client;
    let q = |e: tokio_postgres::Error, what: &str| r.failed(what, e);
    let (begin, ext, preload) = tokio::join!(
        client.batch_execute(BEGIN),
        client.query_typed_opt(EXTENSION, &[]),
        client.query_typed_opt(PRELOAD, &[]),
    );
    let result = async {
        begin.map_err(|e| q(e, "BEGIN READ ONLY"))?;
        let ext = ext.map_err(|e| q(e, "looking for pg_stat_statements"))?;
        let Some(ext) = ext else {
            let preloaded = preload
                .map_err(|e| q(e, "reading shared_preload_libraries"))?
                .and_then(|r| r.try_get::<_, String>(0).ok())
                .map(|s| s.contains("pg_stat_statements"));
            if preloaded == Some(false) {
                fixes.push(preload_fix());
            } else {
                fixes.push(NextStep::new(
                    "As a superuser (rds_superuser on RDS), run in this database: CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
                    "The library is loaded (or could not be checked) but the extension's view is not installed in this database.",
                ));
            }
            return Ok(Err(Unavailable::NotInstalled { preloaded }));
        };
        let version: String = ext.try_get(0).unwrap_or_default();
        let schema: String = ext.try_get(1).unwrap_or_default();
        let params: [(&(dyn ToSql + Sync), Type); 1] = [(&schema, Type::TEXT)];
        let (names, path) = tokio::join!(
            client.query_typed(COLUMNS, &params),
            client.query_typed(SEARCH_PATH, &params),
        );
        let names: Vec<String> = names
            .map_err(|e| q(e, "reading the columns of pg_stat_statements"))?
            .iter()
            .filter_map(|r| r.try_get(0).ok())
            .collect();
        path.map_err(|e| q(e, "setting search_path"))?;
        Ok(match PgssColumns::discover(&names) {
            Ok(columns) => Ok((columns, version)),
            Err(e) => Err(Unavailable::Layout(format!("{e} (extension {version})"))),
        })
    }
    .await;
    // The search path is a session setting (set_config(..., false)): it outlives the COMMIT.
    client
        .batch_execute(COMMIT)
        .await
        .map_err(|e| q(e, "COMMIT"))?;
    result
}

/// Whether the extension's `major.minor` version is at least the one given.
pub(super) fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Column lists as the view has them in each extension version (recorded from
    // PostgreSQL 12, 13, 15 and 17 installations).
    const PGSS_1_7: &[&str] = &[
        "userid",
        "dbid",
        "queryid",
        "query",
        "calls",
        "total_time",
        "min_time",
        "max_time",
        "mean_time",
        "stddev_time",
        "rows",
        "shared_blks_hit",
        "shared_blks_read",
        "shared_blks_dirtied",
        "shared_blks_written",
        "local_blks_hit",
        "local_blks_read",
        "local_blks_dirtied",
        "local_blks_written",
        "temp_blks_read",
        "temp_blks_written",
        "blk_read_time",
        "blk_write_time",
    ];
    /// 1.8 (PostgreSQL 13): 1.7's columns with planning time added and execution time
    /// renamed (`total_time` → `total_exec_time`, ...), and the WAL columns added.
    fn pgss_1_8() -> Vec<&'static str> {
        let mut columns = Vec::new();
        for &c in PGSS_1_7 {
            match c {
                "total_time" => columns.push("total_exec_time"),
                "min_time" => columns.push("min_exec_time"),
                "max_time" => columns.push("max_exec_time"),
                "mean_time" => columns.push("mean_exec_time"),
                "stddev_time" => columns.push("stddev_exec_time"),
                _ => columns.push(c),
            }
            if c == "query" {
                columns.extend([
                    "plans",
                    "total_plan_time",
                    "min_plan_time",
                    "max_plan_time",
                    "mean_plan_time",
                    "stddev_plan_time",
                ]);
            }
        }
        columns.extend(["wal_records", "wal_fpi", "wal_bytes"]);
        columns
    }
    /// 1.10 (PostgreSQL 15): 1.8's columns with `toplevel`, the temporary blocks' IO times
    /// and the JIT columns added.
    fn pgss_1_10() -> Vec<&'static str> {
        let mut columns = Vec::new();
        for c in pgss_1_8() {
            columns.push(c);
            match c {
                "dbid" => columns.push("toplevel"),
                "blk_write_time" => columns.extend(["temp_blk_read_time", "temp_blk_write_time"]),
                _ => {}
            }
        }
        columns.extend([
            "jit_functions",
            "jit_generation_time",
            "jit_inlining_count",
            "jit_inlining_time",
            "jit_optimization_count",
            "jit_optimization_time",
            "jit_emission_count",
            "jit_emission_time",
        ]);
        columns
    }
    /// 1.11 (PostgreSQL 17): 1.10's columns with the block IO times split into shared and
    /// local ones, and the JIT deform and statistics-age columns added.
    fn pgss_1_11() -> Vec<&'static str> {
        let mut columns = Vec::new();
        for c in pgss_1_10() {
            match c {
                "blk_read_time" => columns.extend([
                    "shared_blk_read_time",
                    "shared_blk_write_time",
                    "local_blk_read_time",
                    "local_blk_write_time",
                ]),
                "blk_write_time" => {}
                _ => columns.push(c),
            }
        }
        columns.extend([
            "jit_deform_count",
            "jit_deform_time",
            "stats_since",
            "minmax_stats_since",
        ]);
        columns
    }

    #[test]
    fn pgss_1_7_uses_total_time_and_blk_times() {
        let c = PgssColumns::discover(PGSS_1_7).unwrap();
        assert_eq!(c.total, "total_time");
        assert_eq!(c.plan, None);
        assert_eq!(c.io, ["blk_read_time", "blk_write_time"]);
        assert!(!c.toplevel);
        let sql = c.counters_sql();
        assert!(sql.contains("total_time::float8") && !sql.contains("exec_time"));
        assert!(sql.contains("pg_stat_statements(false)"), "{sql}");
        assert!(sql.contains("NULL::float8") && !sql.contains("toplevel"));
        assert!(!c.texts_sql().contains("toplevel"));
    }

    #[test]
    fn pgss_1_8_has_exec_and_plan_time() {
        let c = PgssColumns::discover(&pgss_1_8()).unwrap();
        assert_eq!(c.total, "total_exec_time");
        assert_eq!(c.plan, Some("total_plan_time"));
        assert_eq!(c.io, ["blk_read_time", "blk_write_time"]);
        assert!(!c.toplevel);
    }

    #[test]
    fn pgss_1_10_adds_toplevel_and_temp_io() {
        let c = PgssColumns::discover(&pgss_1_10()).unwrap();
        assert_eq!(c.total, "total_exec_time");
        assert_eq!(
            c.io,
            [
                "blk_read_time",
                "blk_write_time",
                "temp_blk_read_time",
                "temp_blk_write_time"
            ]
        );
        assert!(c.toplevel);
        assert!(c.counters_sql().contains("AND toplevel"));
        assert!(c.texts_sql().contains("AND toplevel"));
    }

    #[test]
    fn pgss_1_11_renames_block_io_time() {
        let c = PgssColumns::discover(&pgss_1_11()).unwrap();
        assert_eq!(
            c.io,
            [
                "shared_blk_read_time",
                "shared_blk_write_time",
                "local_blk_read_time",
                "local_blk_write_time",
                "temp_blk_read_time",
                "temp_blk_write_time"
            ]
        );
        let sql = c.counters_sql();
        assert!(!sql.contains(" blk_read_time"), "{sql}");
        assert!(
            sql.contains("(shared_blk_read_time + shared_blk_write_time"),
            "{sql}"
        );
        // Only the text read looks at the text: to spot this tool's own statements.
        let texts = c.texts_sql();
        assert!(texts.contains("pg_stat_statements(true)"), "{texts}");
        assert!(texts.contains(&format!("LIKE '%{MONITOR_MARKER}%'")));
        // Every asked statement's text comes back (for its key), with a hash of any part
        // past 4 KiB; nothing but `$1` reaches it.
        assert!(
            texts.contains("$1::int8[]") && !texts.contains("$2"),
            "{texts}"
        );
        assert!(texts.contains("left(q, 4096), CASE WHEN length(q) > 4096 THEN hashtext("));
    }

    #[test]
    fn unknown_layout_is_an_error_naming_the_columns() {
        let err = PgssColumns::discover(&["userid", "query"]).unwrap_err();
        assert!(err.to_string().contains("userid, query"));
    }

    #[test]
    fn extension_versions_compare_numerically() {
        assert!(version_at_least("1.10", 1, 9));
        assert!(!version_at_least("1.8", 1, 9));
        assert!(version_at_least("2.0", 1, 9));
    }
}
