-- The recorded workload of the throwaway PostgreSQL (run by scripts/db.sh as the superuser
-- in database `shop`). \gexec runs every generated statement as its own top-level statement,
-- as an application would, so pg_stat_statements counts each call.
CREATE EXTENSION pg_stat_statements;
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, amount numeric NOT NULL, note text);
CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL);
INSERT INTO customers (email) SELECT 'user' || g || '@example.org' FROM generate_series(1, 20000) g;
INSERT INTO orders (customer_id, amount, note)
  SELECT 1 + (g % 20000), (g % 100)::numeric, md5(g::text) FROM generate_series(1, 300000) g;
INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 100) g;
ANALYZE;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app;
SELECT pg_stat_statements_reset();

-- Fast reads: 2000 primary-key lookups.
SELECT format('SELECT email FROM customers WHERE id = %s', g) FROM generate_series(1, 2000) g \gexec
-- Slow reads: a full scan with an aggregate, and a deliberate 0.4 s statement.
SELECT 'SELECT customer_id, count(*), sum(amount) FROM orders GROUP BY customer_id ORDER BY 3 DESC LIMIT 10' FROM generate_series(1, 3) \gexec
SELECT 'SELECT pg_sleep(0.4)' FROM generate_series(1, 3) \gexec
-- Writes.
SELECT format('INSERT INTO orders (customer_id, amount, note) VALUES (%s, 1.5, %L)', g, 'x') FROM generate_series(1, 300) g \gexec
SELECT format('UPDATE orders SET amount = amount + 1 WHERE id = %s', g) FROM generate_series(1, 200) g \gexec
-- Utility statements keep their literals in pg_stat_statements: customer data planted here
-- must not reach the tool's output either.
SET application_name TO 'alice@example.com';
COMMENT ON TABLE accounts IS 'card 4111 1111 1111 1111';
-- A statement with a leading comment, as query tagging libraries write it.
SELECT format('/* controller:orders,action:update */ UPDATE orders SET note = %L WHERE id = %s', 'y', g) FROM generate_series(1, 20) g \gexec
-- Django through psycopg 2, which puts the values into the text before sending it: 30
-- lookups in Django's quoted form, and `id__in` lists of 3, 5 and 1000 ids (the last one's
-- text is longer than 4 KiB). The query_text tests find them from the span's SQL in every
-- spelling.
SELECT format('SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" = %s LIMIT 21', g) FROM generate_series(1, 30) g \gexec
SELECT format('SELECT "customers"."id", "customers"."email" FROM "customers" WHERE "customers"."id" IN (%s)', (SELECT string_agg(g::text, ', ') FROM generate_series(1, n) g)) FROM unnest(ARRAY[3, 5, 1000]) n \gexec
