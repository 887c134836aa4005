//! What the statement figures call for: which statements read whole tables, which ones are
//! worth an EXPLAIN, and when a read replica (symptom C) or a write-path fix (D) is backed by
//! evidence rather than by the read/write split alone.
//!
//! Everything here advises; nothing runs. The tool never sends a caller's statement (or an
//! EXPLAIN of it) to a database: the advice is the statement for a person to run where they
//! control the effects.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Engine, Hint, StatementRow};
use crate::diagnosis::NextStep;
use crate::diagnosis::fmt_num;
use crate::diagnosis::sql::{self, ScanTarget};
use crate::diagnosis::symptoms::thresholds;

/// PostgreSQL: shared blocks (hit + read) per row returned at or above which a statement
/// reads far more of a table than it returns…
pub const SCAN_BLOCKS_PER_ROW: f64 = 100.0;
/// …when each call also reads at least this many blocks (8 MiB): a small table read whole
/// is no finding.
pub const SCAN_BLOCKS_PER_CALL: f64 = 1_000.0;
/// MySQL/MariaDB: rows examined per row sent or affected at or above which a statement that
/// used no (good) index reads far more than it returns…
pub const SCAN_ROWS_EXAMINED_PER_ROW: f64 = 100.0;
/// …when each call also examines at least this many rows.
pub const SCAN_ROWS_EXAMINED_PER_CALL: f64 = 1_000.0;
/// A statement whose mean is this many times the median mean of the listed statements…
pub const SLOW_VS_MEDIAN: f64 = 10.0;
/// …and at least this many ms is slow against the service's own normal.
pub const SLOW_FLOOR_MS: f64 = 5.0;
/// A statement at or above this mean is slow whatever the others do.
pub const SLOW_ALWAYS_MS: f64 = 100.0;
/// A statement taking at least this share of database time is what the report leads with.
pub const DOMINANT_PERCENT: f64 = 50.0;

/// A statement that reads (nearly) a whole table on every call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct FullScan {
    /// Shared blocks (hit + read) per row returned (PostgreSQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks_per_row: Option<f64>,
    /// Shared blocks (hit + read) per call (PostgreSQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks_per_call: Option<f64>,
    /// Rows examined per row sent or affected (MySQL/MariaDB, with no index used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_examined_per_row: Option<f64>,
    /// Rows examined per call (MySQL/MariaDB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_examined_per_call: Option<f64>,
    /// The table its text scans, when the text shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Columns its WHERE clause filters that table on: the index candidate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_columns: Vec<String>,
}

impl FullScan {
    /// What one call reads, in words: "reads 11,020 blocks per call (2,204 per row
    /// returned)", or the rows examined on MySQL/MariaDB.
    pub fn reads(&self) -> String {
        match (self.blocks_per_call, self.rows_examined_per_call) {
            (Some(b), _) => format!(
                "reads {} blocks per call ({} per row returned)",
                fmt_count(b),
                fmt_count(self.blocks_per_row.unwrap_or(0.0))
            ),
            (None, Some(e)) => format!(
                "examines {} rows per call ({} per row returned) with no index",
                fmt_count(e),
                fmt_count(self.rows_examined_per_row.unwrap_or(0.0))
            ),
            _ => "reads far more than it returns".to_owned(),
        }
    }
}

/// Whether `r` reads far more than it returns, on every call (thresholds above), with the
/// table and filter its text shows.
pub fn full_scan(r: &StatementRow, engine: Engine) -> Option<FullScan> {
    if r.calls <= 0.0 {
        return None;
    }
    let per_row = |n: f64| n / r.rows.max(1.0);
    let per_call = |n: f64| n / r.calls;
    let mut scan = match engine {
        Engine::Postgresql => {
            let blocks = r.shared_blks_hit? + r.shared_blks_read?;
            if per_row(blocks) < SCAN_BLOCKS_PER_ROW || per_call(blocks) < SCAN_BLOCKS_PER_CALL {
                return None;
            }
            FullScan {
                blocks_per_row: Some(round0(per_row(blocks))),
                blocks_per_call: Some(round0(per_call(blocks))),
                rows_examined_per_row: None,
                rows_examined_per_call: None,
                table: None,
                filter_columns: Vec::new(),
            }
        }
        Engine::Mysql | Engine::Mariadb => {
            let examined = r.rows_examined?;
            if r.no_index_used? <= 0.0
                || per_row(examined) < SCAN_ROWS_EXAMINED_PER_ROW
                || per_call(examined) < SCAN_ROWS_EXAMINED_PER_CALL
            {
                return None;
            }
            FullScan {
                blocks_per_row: None,
                blocks_per_call: None,
                rows_examined_per_row: Some(round0(per_row(examined))),
                rows_examined_per_call: Some(round0(per_call(examined))),
                table: None,
                filter_columns: Vec::new(),
            }
        }
    };
    if let Some(ScanTarget {
        table,
        filter_columns,
    }) = sql::scan_target(&r.query, engine.dialect())
    {
        scan.table = Some(table);
        scan.filter_columns = filter_columns;
    }
    Some(scan)
}

fn round0(v: f64) -> f64 {
    v.round()
}

/// Why a statement is worth an EXPLAIN, if it is.
///
/// The rule (slow is relative: a service whose statements take 0.2 ms is in trouble at
/// 20 ms, one whose normal is 50 ms is not): EXPLAIN and index advice go only to a statement
/// that
/// - is flagged as a full scan ([`full_scan`]), or
/// - has a mean ≥ [`SLOW_VS_MEDIAN`] (10) × the median mean of the listed statements and
///   ≥ [`SLOW_FLOOR_MS`] (5 ms), or
/// - has a mean ≥ [`SLOW_ALWAYS_MS`] (100 ms).
///
/// A 0.15 ms statement never gets it, however high it ranks.
pub fn explain_reason(mean_ms: f64, scan: Option<&FullScan>, median_ms: f64) -> Option<String> {
    if let Some(scan) = scan {
        let read = scan.reads();
        let of = scan
            .table
            .as_deref()
            .map_or(String::new(), |t| format!(" of {t}"));
        return Some(format!("it {read}: a full scan{of}"));
    }
    if mean_ms >= SLOW_ALWAYS_MS {
        return Some(format!(
            "each call takes {} ms (≥ {} ms)",
            fmt_num(mean_ms),
            fmt_num(SLOW_ALWAYS_MS)
        ));
    }
    if mean_ms >= SLOW_FLOOR_MS && median_ms > 0.0 && mean_ms >= SLOW_VS_MEDIAN * median_ms {
        return Some(format!(
            "each call takes {} ms, {}× the median listed statement ({} ms)",
            fmt_num(mean_ms),
            fmt_num((mean_ms / median_ms).floor()),
            fmt_num(median_ms)
        ));
    }
    None
}

/// The median of `values` (0 when there are none).
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The steps for one statement worth an EXPLAIN: the EXPLAIN itself, to be run by a person
/// where the effects are theirs to control, then — for a full scan whose text shows the
/// filtered column — the index that would serve it, and why.
pub fn explain_steps(
    engine: Engine,
    query: &str,
    why_slow: &str,
    share: f64,
    scan: Option<&FullScan>,
) -> Vec<NextStep> {
    let explain = match engine {
        Engine::Postgresql => "EXPLAIN (ANALYZE, BUFFERS)",
        Engine::Mysql => "EXPLAIN ANALYZE",
        Engine::Mariadb => "ANALYZE FORMAT=JSON",
    };
    // What needs a real value: PostgreSQL's `$n` parameters, and every `?` — a MySQL
    // digest's placeholder, or a literal this report hid.
    let found = sql::placeholders(query, engine.dialect());
    let mut wanted: Vec<String> = found.iter().filter(|p| *p != "?").cloned().collect();
    if found.iter().any(|p| p == "?") {
        wanted.push(match engine {
            Engine::Postgresql => "each ? (a literal hidden here)".to_owned(),
            Engine::Mysql | Engine::Mariadb => "each ?".to_owned(),
        });
    }
    let values = match wanted.as_slice() {
        [] => String::new(),
        [one] if one.starts_with('$') => format!(", with a real value for {one}"),
        [one] => format!(", with real values for {one}"),
        [rest @ .., last] => format!(", with real values for {} and {last}", rest.join(", ")),
    };
    let mut steps = vec![NextStep::new(
        format!(
            "Run `{explain} {query}` yourself{values}, on a replica or inside a transaction you roll back (BEGIN; … ROLLBACK;): it executes the statement. This tool never runs it."
        ),
        format!(
            "It takes {}% of database time and {why_slow}; the plan shows where the time goes (a full scan, a missing index, a sort spilling to disk). Fixing this comes before adding workers or replicas.",
            fmt_num(share)
        ),
    )];
    let Some(scan) = scan else {
        return steps;
    };
    let (Some(table), false) = (scan.table.as_deref(), scan.filter_columns.is_empty()) else {
        return steps;
    };
    let columns = scan.filter_columns.join(", ");
    let (plan_says, ddl, how) = match engine {
        Engine::Postgresql => (
            format!("a Seq Scan on {table} with a Filter on {columns}"),
            format!("CREATE INDEX CONCURRENTLY ON {table} ({columns});"),
            "CONCURRENTLY builds it without blocking writes (slower, and not inside a transaction block).",
        ),
        Engine::Mysql | Engine::Mariadb => (
            format!("a full table scan of {table} (type ALL) for the condition on {columns}"),
            format!("ALTER TABLE {table} ADD INDEX ({columns}), ALGORITHM=INPLACE, LOCK=NONE;"),
            "InnoDB builds it online (ALGORITHM=INPLACE, LOCK=NONE) while reads and writes go on.",
        ),
    };
    let cost = format!("it {}", scan.reads());
    steps.push(NextStep::new(
        format!("If the plan shows {plan_says}, add an index on {table}({columns}): {ddl}"),
        format!(
            "The WHERE clause filters {table} on {columns}, and {cost}; with an index the server reads a few blocks per matching row instead of the whole table. {how}"
        ),
    ));
    steps
}

/// Where the database runs, as far as its host name tells: an RDS endpoint names the
/// instance (or cluster, or proxy) and the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsEndpoint {
    /// The DB instance identifier, when the endpoint is an instance's (not a cluster's or a
    /// proxy's).
    pub instance: Option<String>,
    pub region: Option<String>,
}

/// `prod.abc123.eu-west-1.rds.amazonaws.com` → instance `prod` in `eu-west-1`; Aurora
/// cluster endpoints (`x.cluster-…`, `x.cluster-ro-…`) and RDS Proxy endpoints
/// (`x.proxy-…`) are RDS without an instance identifier.
pub fn rds_endpoint(host: &str) -> Option<RdsEndpoint> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let rest = host
        .strip_suffix(".rds.amazonaws.com")
        .or_else(|| host.strip_suffix(".rds.amazonaws.com.cn"))?;
    let labels: Vec<&str> = rest.split('.').collect();
    let region = (labels.len() >= 3).then(|| labels[labels.len() - 1].to_owned());
    let instance = match labels.as_slice() {
        [id, kind, ..] if !kind.starts_with("cluster-") && !kind.starts_with("proxy-") => {
            Some((*id).to_owned())
        }
        _ => None,
    };
    Some(RdsEndpoint { instance, region })
}

/// What the read/write split says about replicas, given what is known of the primary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkloadAdvice {
    /// A pointer into the symptom matrix, only with the evidence the matrix asks for.
    pub hint: Option<Hint>,
    /// Why a replica (or a write-path verdict) is not supported yet.
    pub caveat: Option<String>,
    /// The primary's CPU would settle it.
    pub needs_db_cpu: bool,
}

/// Symptom C needs the primary saturated (DB CPU ≥ the matrix's "high") *and* reads
/// dominating; D needs writes dominating with DB CPU high or lock contention. A read share
/// alone never suggests a replica: a primary with headroom gains nothing from one, and the
/// slow statements would stay slow on it.
pub fn workload_advice(
    read_percent: f64,
    write_percent: f64,
    db_cpu_percent: Option<f64>,
    lock_contention: bool,
) -> WorkloadAdvice {
    let high = thresholds::DB_CPU_HIGH_PERCENT;
    let cpu_high = db_cpu_percent.map(|c| c >= high);
    let r = fmt_num(read_percent);
    let w = fmt_num(write_percent);
    let cpu = db_cpu_percent.map(fmt_num).unwrap_or_default();
    if read_percent <= thresholds::WRITE_HEAVY_READ_PERCENT && write_percent > read_percent {
        return match (cpu_high, lock_contention) {
            (Some(true), _) => WorkloadAdvice {
                hint: Some(Hint {
                    symptom: "D".into(),
                    reason: format!(
                        "Writes take {w}% of statement time (reads {r}%) and the primary's CPU is {cpu}%: write-heavy; replicas won't help, optimise the write path (or a bigger instance)."
                    ),
                }),
                ..Default::default()
            },
            (_, true) => WorkloadAdvice {
                hint: Some(Hint {
                    symptom: "D".into(),
                    reason: format!(
                        "Writes take {w}% of statement time (reads {r}%) and sessions wait on locks: write-heavy with contention; replicas won't help, optimise the write path."
                    ),
                }),
                ..Default::default()
            },
            (Some(false), false) => WorkloadAdvice {
                caveat: Some(format!(
                    "Writes take {w}% of statement time, but the primary's CPU is {cpu}% (below {}%) and no session waits on a lock: not a write bottleneck (symptom D); fix the slowest statements.",
                    fmt_num(high)
                )),
                ..Default::default()
            },
            (None, false) => WorkloadAdvice {
                caveat: Some(format!(
                    "Writes take {w}% of statement time; whether that is a write bottleneck (symptom D) needs the primary's CPU (≥ {}%) or lock waits, and neither is known.",
                    fmt_num(high)
                )),
                needs_db_cpu: true,
                ..Default::default()
            },
        };
    }
    if read_percent < thresholds::READ_HEAVY_PERCENT {
        return WorkloadAdvice::default();
    }
    match cpu_high {
        Some(true) => WorkloadAdvice {
            hint: Some(Hint {
                symptom: "C".into(),
                reason: format!(
                    "Reads take {r}% of statement time and the primary's CPU is {cpu}%: read-heavy on a saturated primary; fix the top reads first, then a read replica can take what remains."
                ),
            }),
            ..Default::default()
        },
        Some(false) => WorkloadAdvice {
            caveat: Some(format!(
                "Reads take {r}% of statement time, but the primary's CPU is {cpu}% (below {}%): it is not saturated, so a read replica would not help; fix the slow statements.",
                fmt_num(high)
            )),
            ..Default::default()
        },
        None => WorkloadAdvice {
            caveat: Some(format!(
                "Reads take {r}% of statement time, but nothing shows the primary saturated: a read replica would not help until it is (CPU ≥ {}%) and the slow statements are fixed.",
                fmt_num(high)
            )),
            needs_db_cpu: true,
            ..Default::default()
        },
    }
}

/// The step that gets the primary's CPU: from CloudWatch for an RDS endpoint, from the host
/// otherwise.
pub fn db_cpu_step(rds: Option<&RdsEndpoint>, why: &str) -> NextStep {
    match rds {
        Some(rds) => {
            let id = match &rds.instance {
                Some(id) => format!(" (db_instance_identifier `{id}`)"),
                None => " (the writer instance's db_instance_identifier)".to_owned(),
            };
            NextStep::new(
                format!(
                    "Read the primary's CPUUtilization with check_rds_iops{id}, then call slow_queries again with db_cpu_percent"
                ),
                why,
            )
            .with_tool("check_rds_iops")
        }
        None => NextStep::new(
            "Read the database host's CPU (top or vmstat on the host, or node exporter's node_cpu_seconds_total) and call slow_queries again with db_cpu_percent",
            why,
        )
        .with_tool("slow_queries"),
    }
}

/// A whole number with thousands separators: 11000 → 11,000.
pub fn fmt_count(v: f64) -> String {
    if !v.is_finite() || v.abs() >= 1e15 {
        return fmt_num(v);
    }
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg_row(query: &str, calls: f64, rows: f64, hit: f64, read: f64) -> StatementRow {
        StatementRow {
            id: "1".into(),
            query: query.into(),
            calls,
            total_ms: calls * 250.0,
            rows,
            shared_blks_hit: Some(hit),
            shared_blks_read: Some(read),
            ..Default::default()
        }
    }

    #[test]
    fn the_incident_statement_is_a_full_scan_of_orders() {
        // 11 M shared blocks hit for 5 k rows over 1,000 calls.
        let r = pg_row(
            "SELECT id, amount FROM orders WHERE customer_id = $1",
            1000.0,
            5000.0,
            11_000_000.0,
            20_000.0,
        );
        let scan = full_scan(&r, Engine::Postgresql).expect("flagged");
        assert_eq!(scan.blocks_per_row, Some(2204.0));
        assert_eq!(scan.blocks_per_call, Some(11_020.0));
        assert_eq!(scan.table.as_deref(), Some("orders"));
        assert_eq!(scan.filter_columns, ["customer_id"]);
    }

    #[test]
    fn index_lookups_and_small_tables_are_not_full_scans() {
        // A primary-key lookup: ~4 blocks per row.
        let lookup = pg_row(
            "SELECT email FROM customers WHERE id = $1",
            2000.0,
            2000.0,
            8000.0,
            0.0,
        );
        assert_eq!(full_scan(&lookup, Engine::Postgresql), None);
        // A 50-block table read whole for one row: many blocks per row, few per call.
        let small = pg_row(
            "SELECT * FROM settings WHERE k = $1",
            100.0,
            100.0,
            5000.0,
            0.0,
        );
        assert_eq!(full_scan(&small, Engine::Postgresql), None);
        // No block counts (not asked for, or an old view): no verdict.
        let unknown = StatementRow {
            shared_blks_hit: None,
            ..lookup.clone()
        };
        assert_eq!(full_scan(&unknown, Engine::Postgresql), None);
        // An aggregate over the whole table is a full scan, with no filter to index.
        let agg = pg_row(
            "SELECT customer_id, count(*) FROM orders GROUP BY customer_id ORDER BY 2 DESC LIMIT 10",
            3.0,
            30.0,
            9000.0,
            0.0,
        );
        let scan = full_scan(&agg, Engine::Postgresql).expect("flagged");
        assert_eq!(scan.table.as_deref(), Some("orders"));
        assert!(scan.filter_columns.is_empty());
        // A statement whose text shows no table is flagged without one.
        let func = pg_row("SELECT report($1)", 10.0, 10.0, 50_000.0, 0.0);
        assert_eq!(full_scan(&func, Engine::Postgresql).unwrap().table, None);
    }

    #[test]
    fn mysql_needs_rows_examined_and_no_index_used() {
        let digest = |examined: f64, no_index: f64| StatementRow {
            id: "d".into(),
            query: "SELECT `id` , `amount` FROM `orders` WHERE `customer_id` = ?".into(),
            calls: 20.0,
            total_ms: 600.0,
            rows: 200.0,
            rows_examined: Some(examined),
            no_index_used: Some(no_index),
            ..Default::default()
        };
        let scan = full_scan(&digest(4_000_000.0, 20.0), Engine::Mariadb).expect("flagged");
        assert_eq!(scan.rows_examined_per_row, Some(20_000.0));
        assert_eq!(scan.rows_examined_per_call, Some(200_000.0));
        assert_eq!(scan.table.as_deref(), Some("orders"));
        assert_eq!(scan.filter_columns, ["customer_id"]);
        assert_eq!(scan.blocks_per_row, None);
        // Every row examined came through an index: a range read, not a scan.
        assert_eq!(full_scan(&digest(4_000_000.0, 0.0), Engine::Mariadb), None);
        // Few rows examined per row returned.
        assert_eq!(full_scan(&digest(2_000.0, 20.0), Engine::Mysql), None);
    }

    #[test]
    fn explain_only_for_statements_slow_against_their_normal() {
        let scan = FullScan {
            blocks_per_row: Some(2204.0),
            blocks_per_call: Some(11_020.0),
            rows_examined_per_row: None,
            rows_examined_per_call: None,
            table: Some("orders".into()),
            filter_columns: vec!["customer_id".into()],
        };
        // A 0.15 ms statement never gets it, even when it is the slowest listed.
        assert_eq!(explain_reason(0.15, None, 0.01), None);
        // 10× the median but under 5 ms: no.
        assert_eq!(explain_reason(4.0, None, 0.2), None);
        // 10× the median and ≥ 5 ms: yes.
        let why = explain_reason(6.0, None, 0.5).unwrap();
        assert!(why.contains("12× the median"), "{why}");
        // ≥ 5 ms but only 5× the median: no.
        assert_eq!(explain_reason(50.0, None, 10.0), None);
        // ≥ 100 ms: always.
        assert!(
            explain_reason(150.0, None, 140.0)
                .unwrap()
                .contains("≥ 100 ms")
        );
        // A full scan: always, however fast.
        let why = explain_reason(0.9, Some(&scan), 0.9).unwrap();
        assert!(
            why.contains("11,020 blocks per call") && why.contains("of orders"),
            "{why}"
        );
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), 2.5);
        assert_eq!(median(std::iter::empty()), 0.0);
    }

    #[test]
    fn explain_steps_name_the_statement_then_the_index() {
        let scan = FullScan {
            blocks_per_row: Some(2204.0),
            blocks_per_call: Some(11_020.0),
            rows_examined_per_row: None,
            rows_examined_per_call: None,
            table: Some("orders".into()),
            filter_columns: vec!["customer_id".into()],
        };
        let q = "SELECT id, amount FROM orders WHERE customer_id = $1";
        let steps = explain_steps(Engine::Postgresql, q, "it reads…", 99.9, Some(&scan));
        assert_eq!(steps.len(), 2);
        assert!(
            steps[0]
                .action
                .starts_with(&format!("Run `EXPLAIN (ANALYZE, BUFFERS) {q}`")),
            "{}",
            steps[0].action
        );
        assert!(steps[0].action.contains("replica") && steps[0].action.contains("never runs"));
        assert!(
            steps[1]
                .action
                .contains("add an index on orders(customer_id)")
        );
        assert!(
            steps[1]
                .action
                .contains("CREATE INDEX CONCURRENTLY ON orders (customer_id);")
        );
        assert!(steps[1].why.contains("filters orders on customer_id"));
        let my = explain_steps(Engine::Mariadb, "SELECT ?", "x", 1.0, None);
        assert_eq!(my.len(), 1);
        assert!(my[0].action.starts_with(
            "Run `ANALYZE FORMAT=JSON SELECT ?` yourself, with real values for each ?, on a replica"
        ));
        let my8 = explain_steps(Engine::Mysql, "SELECT ?", "x", 1.0, None);
        assert!(my8[0].action.starts_with("Run `EXPLAIN ANALYZE SELECT ?`"));
        assert!(
            steps[0]
                .action
                .contains("` yourself, with a real value for $1, on a replica"),
            "{}",
            steps[0].action
        );
        let many = explain_steps(
            Engine::Postgresql,
            "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $1",
            "x",
            1.0,
            None,
        );
        assert!(
            many[0].action.contains("with real values for $1 and $2,"),
            "{}",
            many[0].action
        );
        // In PostgreSQL's text a `?` is a literal the report hid, not a parameter.
        let hidden = explain_steps(
            Engine::Postgresql,
            "SELECT a FROM t ORDER BY ? LIMIT $1",
            "x",
            1.0,
            None,
        );
        assert!(
            hidden[0]
                .action
                .contains("with real values for $1 and each ? (a literal hidden here),"),
            "{}",
            hidden[0].action
        );
        // No filter column: the EXPLAIN alone.
        let no_filter = FullScan {
            filter_columns: vec![],
            ..scan
        };
        assert_eq!(
            explain_steps(Engine::Postgresql, q, "x", 1.0, Some(&no_filter)).len(),
            1
        );
    }

    #[test]
    fn replicas_need_a_saturated_primary() {
        // Read-heavy, CPU unknown: no hint, a caveat, and the CPU is what would settle it.
        let a = workload_advice(99.9, 0.1, None, false);
        assert_eq!(a.hint, None);
        assert!(a.needs_db_cpu);
        assert!(a.caveat.unwrap().contains("would not help until"));
        // Read-heavy, CPU low: no hint, no question left.
        let a = workload_advice(99.9, 0.1, Some(35.0), false);
        assert_eq!(a.hint, None);
        assert!(!a.needs_db_cpu);
        assert!(a.caveat.unwrap().contains("not saturated"));
        // Read-heavy on a saturated primary: C.
        let a = workload_advice(99.9, 0.1, Some(thresholds::DB_CPU_HIGH_PERCENT), false);
        assert_eq!(a.hint.unwrap().symptom, "C");
        // Write-heavy: D only with CPU high or lock waits.
        let a = workload_advice(20.0, 80.0, None, false);
        assert_eq!(a.hint, None);
        assert!(a.needs_db_cpu);
        assert_eq!(
            workload_advice(20.0, 80.0, Some(90.0), false)
                .hint
                .unwrap()
                .symptom,
            "D"
        );
        assert_eq!(
            workload_advice(20.0, 80.0, None, true)
                .hint
                .unwrap()
                .symptom,
            "D"
        );
        assert_eq!(workload_advice(20.0, 80.0, Some(20.0), false).hint, None);
        // Mixed: nothing to say.
        assert_eq!(
            workload_advice(60.0, 40.0, Some(95.0), false),
            WorkloadAdvice::default()
        );
    }

    #[test]
    fn rds_endpoints_name_the_instance() {
        assert_eq!(
            rds_endpoint("prod.abc123xyz.eu-west-1.rds.amazonaws.com"),
            Some(RdsEndpoint {
                instance: Some("prod".into()),
                region: Some("eu-west-1".into())
            })
        );
        let cluster = rds_endpoint("shop.cluster-ro-abc.us-east-1.rds.amazonaws.com").unwrap();
        assert_eq!(cluster.instance, None);
        assert_eq!(cluster.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            rds_endpoint("p.proxy-abc.us-east-1.rds.amazonaws.com")
                .unwrap()
                .instance,
            None
        );
        assert_eq!(rds_endpoint("db.internal"), None);
        assert_eq!(rds_endpoint("127.0.0.1"), None);
        assert_eq!(rds_endpoint("rds.amazonaws.com.evil.example"), None);
        let step = db_cpu_step(
            rds_endpoint("prod.a.eu-west-1.rds.amazonaws.com").as_ref(),
            "w",
        );
        assert_eq!(step.tool.as_deref(), Some("check_rds_iops"));
        assert!(step.action.contains("`prod`"));
        let step = db_cpu_step(None, "w");
        assert!(step.action.contains("db_cpu_percent") && step.action.contains("top"));
    }

    #[test]
    fn counts_have_separators() {
        assert_eq!(fmt_count(11_020.0), "11,020");
        assert_eq!(fmt_count(999.4), "999");
        assert_eq!(fmt_count(1_000_000.0), "1,000,000");
        assert_eq!(fmt_count(-1234.0), "-1,234");
    }
}
