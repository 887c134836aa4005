-- A workload in database `stable` (run by scripts/db.sh as the superuser) that nothing
-- else touches while the tests run: reports of two calls must be equal there. It mixes the
-- kinds the read/write split distinguishes: reads, writes, a data-modifying WITH, COPY,
-- DDL, a statement behind a leading comment.
CREATE EXTENSION pg_stat_statements;
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0);
INSERT INTO items SELECT g, 'item ' || g, g % 7 FROM generate_series(1, 5000) g;
CREATE TABLE audit (id bigserial PRIMARY KEY, item int NOT NULL, at timestamptz DEFAULT now());
ANALYZE;
SELECT format('SELECT name FROM items WHERE id = %s', g) FROM generate_series(1, 200) g \gexec
SELECT 'SELECT qty, count(*) FROM items GROUP BY qty ORDER BY 2 DESC' FROM generate_series(1, 5) \gexec
SELECT 'SELECT pg_sleep(0.05)' FROM generate_series(1, 2) \gexec
SELECT format('UPDATE items SET qty = qty + 1 WHERE id = %s', g) FROM generate_series(1, 100) g \gexec
SELECT format('WITH moved AS (UPDATE items SET qty = 0 WHERE id = %s RETURNING id) INSERT INTO audit (item) SELECT id FROM moved', g) FROM generate_series(1, 20) g \gexec
SELECT format('/* app:stock */ DELETE FROM audit WHERE id = %s', g) FROM generate_series(1, 10) g \gexec
COPY (SELECT id FROM items WHERE id < 10) TO STDOUT;
CREATE INDEX items_qty ON items (qty);
