-- A missing-index incident, in database `scan` (run by scripts/db.sh as the superuser; nothing
-- else touches it while the tests run): `orders` has no index on customer_id, enough rows
-- that every `WHERE customer_id = $1` is a real sequential scan (500,000 rows, ~5,000
-- blocks, 10 rows per customer), next to fast primary-key lookups that are the service's
-- normal.
--
-- The slow statement itself is run by tests/slow_queries_pg.rs
-- (`one_statement_bound_as_int2_and_int4_is_one_full_scan`) the way psycopg 3 runs it: over the
-- extended protocol with the parameter's type in the Parse message, int2 for a small Python
-- int and int4 for a larger one, which gives pg_stat_statements two queryids for one text.
-- SQL cannot reproduce that here: psql 15 has no \bind, and `PREPARE s(int2) AS …` puts
-- the PREPARE itself into the recorded text.
CREATE EXTENSION pg_stat_statements;
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, amount numeric NOT NULL, note text);
INSERT INTO customers SELECT g, 'user' || g || '@example.org' FROM generate_series(1, 50000) g;
INSERT INTO orders (customer_id, amount, note)
  SELECT 1 + (g % 50000), (g % 100)::numeric, md5(g::text) FROM generate_series(1, 500000) g;
ANALYZE;
-- This database's statistics only: the other workloads ran before.
SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0);
-- The normal: 300 primary-key lookups, well under a millisecond each.
SELECT format('SELECT email FROM customers WHERE id = %s', g) FROM generate_series(1, 300) g \gexec
