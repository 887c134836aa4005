//! The least a client can do per call to know every statement in `pg_stat_statements`:
//! the bound that `bench/slow_queries.py` measures `slow_queries` against, in the same run.
//!
//! Keeps one read-only connection and answers each line on stdin with one read, decoded,
//! and one line on stdout (`<rows> <sum of total ms>`). No MCP, no ranking, no text, no
//! live sessions; a prepared statement, results in binary.
//!
//! ```text
//! cargo run --release --example pg_bare_read -- postgresql://postgres@127.0.0.1:5432/db exact
//! ```
//!
//! - `exact`: `queryid, calls, total_exec_time` of every statement of this database (the
//!   counters that an exact ranking, the shares of DB time and the read/write split are
//!   computed from; PostgreSQL 13+ column names);
//! - `floor`: `count(*) FROM pg_stat_statements(false)`, which only makes PostgreSQL build
//!   the entries and sends nothing back.

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use futures_util::TryStreamExt;

const EXACT: &str = "SELECT queryid, calls, total_exec_time FROM pg_stat_statements(false) \
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel";
const FLOOR: &str = "SELECT count(*)::float8 FROM pg_stat_statements(false)";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(mode)) = (args.next(), args.next()) else {
        bail!("usage: pg_bare_read <postgresql://…> exact|floor");
    };
    let exact = match mode.as_str() {
        "exact" => true,
        "floor" => false,
        other => bail!("unknown mode {other:?}: exact or floor"),
    };
    let mut config: tokio_postgres::Config = url.parse().context("not a PostgreSQL URL")?;
    config.options("-c default_transaction_read_only=on");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .context("cannot connect")?;
        tokio::spawn(connection);
        let statement = client.prepare(if exact { EXACT } else { FLOOR }).await?;
        let mut out = std::io::stdout().lock();
        for line in std::io::stdin().lock().lines() {
            line?;
            let rows = client
                .query_raw(&statement, std::iter::empty::<i64>())
                .await?;
            let mut rows = std::pin::pin!(rows);
            let (mut n, mut total) = (0u64, 0.0f64);
            while let Some(row) = rows.try_next().await? {
                n += 1;
                if exact {
                    let _id: Option<i64> = row.try_get(0)?;
                    let _calls: i64 = row.try_get(1)?;
                    total += row.try_get::<_, f64>(2)?;
                } else {
                    total += row.try_get::<_, f64>(0)?;
                }
            }
            writeln!(out, "{n} {total}")?;
            out.flush()?;
        }
        Ok(())
    })
}
