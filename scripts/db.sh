#!/usr/bin/env bash
# Throwaway PostgreSQL and MariaDB for the slow_queries integration tests.
#
#   bash scripts/db.sh                 # start both, run the workload, run the tests, stop
#   bash scripts/db.sh -- CMD ARGS...  # same, but run CMD instead of the tests (bench/)
#
# Starts PostgreSQL (initdb in a temp dir, its own port and socket directory,
# shared_preload_libraries=pg_stat_statements, track_io_timing=on, ssl=on) and MariaDB
# (mariadb-install-db in a temp dir, its own port and socket, performance_schema=ON, TLS on),
# both on 127.0.0.1 only; never the servers that may run on the default ports. Installs the
# Debian packages when they are missing. For the TLS tests it makes a throwaway CA and a
# server certificate for `localhost` (and a second, unrelated CA) with openssl; the role
# `tlsonly` may log in to PostgreSQL only over TLS (a hostssl-only pg_hba.conf line), and
# the MariaDB user `tlsmon` is created REQUIRE SSL. Then runs a real workload — fast and slow SELECTs, writes,
# a transaction holding a row lock with a statement blocked behind it, a long pg_sleep/SLEEP
# carrying a planted customer e-mail and card number — and the Rust tests
# tests/slow_queries_pg.rs, tests/slow_queries_mysql.rs and tests/db_tls.rs against them (the
# workload's SQL is in tests/db/). Everything is stopped and removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

log() { printf 'db: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
source "$repo/scripts/lib.sh"

# --------------------------------------------------------------------------- packages
need_pkgs=()
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
[[ -n "$pg_bin" && -x "$pg_bin/initdb" ]] || need_pkgs+=(postgresql postgresql-contrib)
command -v mariadb-install-db >/dev/null && command -v mariadbd >/dev/null || need_pkgs+=(mariadb-server)
command -v mariadb >/dev/null || need_pkgs+=(mariadb-client)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v openssl >/dev/null || need_pkgs+=(openssl)
if ((${#need_pkgs[@]})); then
  [[ "$(id -u)" == 0 ]] || die "need the Debian packages ${need_pkgs[*]} (as root: apt-get install -y ${need_pkgs[*]})"
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
[[ -f "$("$pg_bin/pg_config" --pkglibdir 2>/dev/null || echo /nonexistent)/pg_stat_statements.so" ]] \
  || ls /usr/lib/postgresql/*/lib/pg_stat_statements.so >/dev/null 2>&1 \
  || die "pg_stat_statements is missing (apt-get install -y postgresql-contrib)"

# PostgreSQL and MariaDB refuse to run as root: use their service accounts when we are root.
as_pg=()
as_my_user="$(id -un)"
if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  id mysql >/dev/null 2>&1 || useradd --system --no-create-home mysql
  as_pg=(runuser -u postgres --)
  as_my_user=mysql
fi

# --------------------------------------------------------------------------- cleanup
work="$(mktemp -d /tmp/pwt-db.XXXXXX)"
chmod 755 "$work"
bg_pids=()
pg_started=0
my_pid=""
cleanup() {
  local rc=$?
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if ((pg_started)); then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  fi
  if [[ -n "$my_pid" ]]; then
    kill "$my_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$my_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$my_pid" 2>/dev/null || true
  fi
  for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if ((rc != 0)); then
    [[ -f "$work/pgsock/pg.log" ]] && { log "PostgreSQL log (tail):"; tail -20 "$work/pgsock/pg.log" >&2; }
    [[ -f "$work/myrun/my.err" ]] && { log "MariaDB log (tail):"; tail -20 "$work/myrun/my.err" >&2; }
  fi
  rm -rf "$work"
  log "throwaway servers stopped and removed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Passwords planted for the leak checks: the tests grep every output for them.
export PWT_TEST_MONITOR_PASSWORD="Pl4nted-Monitor-pw-7f3a"
export PWT_TEST_NOSTATS_PASSWORD="Pl4nted-Nostats-pw-91c2"
export PWT_TEST_WRONG_PASSWORD="Pl4nted-Wrong-pw-55e0"
export PWT_TEST_ADMIN_PASSWORD="Pl4nted-Admin-pw-3b8d"
export PWT_TEST_TLS_PASSWORD="Pl4nted-Tls-pw-c41e"

# --------------------------------------------------------------------------- certificates
# A throwaway CA, a server certificate it signs for the name `localhost` only (so that
# verify-full to 127.0.0.1 fails on the name while verify-ca passes), and an unrelated CA.
tls="$work/tls"
mkdir -p "$tls"
ossl() { openssl "$@" >/dev/null 2>&1 || die "openssl $1"; }
for ca in ca wrong-ca; do
  ossl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout "$tls/$ca.key" -out "$tls/$ca.pem" \
    -subj "/CN=pwt throwaway $ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
done
ossl req -newkey rsa:2048 -nodes -sha256 -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=localhost"
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost" > "$tls/server.ext"
ossl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
  -sha256 -extfile "$tls/server.ext" -out "$tls/server.pem"
cp "$tls/server.key" "$tls/pg-server.key"
cp "$tls/server.key" "$tls/my-server.key"
chmod 600 "$tls/pg-server.key" "$tls/my-server.key"
chmod 644 "$tls"/*.pem
chmod 755 "$tls"
if [[ "$(id -u)" == 0 ]]; then chown postgres "$tls/pg-server.key"; chown mysql "$tls/my-server.key"; fi

# --------------------------------------------------------------------------- PostgreSQL
pg_port="$(free_port)"
mkdir -p "$work/pg" "$work/pgsock"
printf '%s\n' "$PWT_TEST_ADMIN_PASSWORD" > "$work/pgpw"
if ((${#as_pg[@]})); then chown postgres "$work/pg" "$work/pgsock" "$work/pgpw"; fi
log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -U postgres --pwfile="$work/pgpw" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >"$work/initdb.log" 2>&1 \
  || { cat "$work/initdb.log" >&2; die "initdb"; }
# Role `tlsonly` only over TLS: no plain `host` line names it.
cat > "$work/pg/pg_hba.conf" <<HBA
local   all  all                                   trust
hostssl all  tlsonly                  127.0.0.1/32 scram-sha-256
host    all  postgres,app,monitor,nostats 127.0.0.1/32 scram-sha-256
HBA
pg_started=1
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pgsock/pg.log" -w -t 60 -o "\
 -c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work/pgsock \
 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=10000 \
 -c pg_stat_statements.track_planning=on -c track_io_timing=on -c fsync=off \
 -c ssl=on -c ssl_cert_file=$tls/server.pem -c ssl_key_file=$tls/pg-server.key \
 -c synchronous_commit=off -c max_connections=100" start >/dev/null \
  || die "pg_ctl start"

psql_admin() { "${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$work/pgsock" -p "$pg_port" -U postgres "$@"; }
psql_admin -d postgres <<SQL
CREATE DATABASE shop;
CREATE DATABASE plain;
CREATE ROLE app LOGIN PASSWORD 'app';
CREATE ROLE monitor LOGIN PASSWORD '$PWT_TEST_MONITOR_PASSWORD';
GRANT pg_read_all_stats TO monitor;
CREATE ROLE nostats LOGIN PASSWORD '$PWT_TEST_NOSTATS_PASSWORD';
CREATE ROLE tlsonly LOGIN PASSWORD '$PWT_TEST_TLS_PASSWORD';
GRANT pg_read_all_stats TO tlsonly;
CREATE DATABASE stable;
CREATE DATABASE scan;
GRANT CONNECT ON DATABASE shop, plain, stable, scan TO app, monitor, nostats, tlsonly;
SQL
psql_admin -d shop -f tests/db/workload-pg.sql >/dev/null
# A database whose statistics only this tool's own (left out) statements touch while the
# tests run: two calls must give the same report there.
psql_admin -d stable -f tests/db/workload-pg-stable.sql >/dev/null
# The missing-index incident: a table with no index on the filtered column (its statement is run by the test).
psql_admin -d scan -f tests/db/workload-pg-scan.sql >/dev/null

# Live workload: a lock holder, a statement blocked behind it, a long sleep with customer data.
app_pg=(env PGPASSWORD=app psql -X -q -h 127.0.0.1 -p "$pg_port" -U app -d shop)
"${app_pg[@]}" -c "BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1; SELECT pg_sleep(600); COMMIT;" >/dev/null 2>&1 &
bg_pids+=($!)
sleep 0.5
"${app_pg[@]}" -c "UPDATE accounts SET balance = balance - 1 WHERE id = 1;" >/dev/null 2>&1 &
bg_pids+=($!)
"${app_pg[@]}" -c "SELECT pg_sleep(600), 'alice@example.com' AS email, '4111 1111 1111 1111' AS card;" >/dev/null 2>&1 &
bg_pids+=($!)

# --------------------------------------------------------------------------- MariaDB
my_port="$(free_port)"
mkdir -p "$work/my" "$work/myrun"
if [[ "$(id -u)" == 0 ]]; then chown mysql "$work/my" "$work/myrun"; fi
log "MariaDB $(mariadbd --version | awk '{print $3}') on 127.0.0.1:$my_port"
mariadb-install-db --no-defaults --datadir="$work/my" --user="$as_my_user" \
  --auth-root-authentication-method=normal --skip-test-db >"$work/my-install.log" 2>&1 \
  || { cat "$work/my-install.log" >&2; die "mariadb-install-db"; }
mariadbd --no-defaults --datadir="$work/my" --user="$as_my_user" --port="$my_port" \
  --bind-address=127.0.0.1 --socket="$work/myrun/my.sock" --pid-file="$work/myrun/my.pid" \
  --log-error="$work/myrun/my.err" --performance-schema=ON --innodb-lock-wait-timeout=600 \
  --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/server.pem" --ssl-key="$tls/my-server.key" \
  --skip-log-bin --skip-name-resolve --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 &
my_pid=$!
for _ in $(seq 150); do
  mariadb-admin --no-defaults --socket="$work/myrun/my.sock" -uroot ping >/dev/null 2>&1 && break
  kill -0 "$my_pid" 2>/dev/null || die "mariadbd exited"
  sleep 0.2
done
mariadb-admin --no-defaults --socket="$work/myrun/my.sock" -uroot ping >/dev/null 2>&1 || die "mariadbd did not come up"

my_root() { mariadb --no-defaults --socket="$work/myrun/my.sock" -uroot "$@"; }
my_root <<SQL
CREATE DATABASE shop;
CREATE DATABASE empty;
CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app';
GRANT ALL ON shop.* TO 'app'@'127.0.0.1';
CREATE USER 'monitor'@'127.0.0.1' IDENTIFIED BY '$PWT_TEST_MONITOR_PASSWORD';
GRANT PROCESS ON *.* TO 'monitor'@'127.0.0.1';
GRANT SELECT ON performance_schema.* TO 'monitor'@'127.0.0.1';
GRANT SELECT ON shop.* TO 'monitor'@'127.0.0.1';
CREATE USER 'tlsmon'@'127.0.0.1' IDENTIFIED BY '$PWT_TEST_TLS_PASSWORD' REQUIRE SSL;
GRANT PROCESS ON *.* TO 'tlsmon'@'127.0.0.1';
GRANT SELECT ON performance_schema.* TO 'tlsmon'@'127.0.0.1';
GRANT SELECT ON shop.* TO 'tlsmon'@'127.0.0.1';
SQL
[[ "$(my_root -N -e "SHOW VARIABLES LIKE 'have_ssl'" | awk '{print $2}')" == YES ]] \
  || die "MariaDB did not enable TLS (have_ssl is not YES); see the log"

app_my=(mariadb --no-defaults -h 127.0.0.1 -P "$my_port" -uapp -papp shop)
"${app_my[@]}" < tests/db/workload-mysql.sql >/dev/null
# Digests from here on: the recorded workload, not the setup above.
my_root -e "TRUNCATE performance_schema.events_statements_summary_by_digest"
{
  for i in $(seq 1 1000); do echo "SELECT email FROM customers WHERE id = $i;"; done
  for i in $(seq 1 3); do echo "SELECT customer_id, COUNT(*), SUM(amount) FROM orders GROUP BY customer_id ORDER BY 3 DESC LIMIT 10;"; done
  for i in $(seq 1 3); do echo "SELECT SLEEP(0.4);"; done
  for i in $(seq 1 200); do echo "INSERT INTO orders (customer_id, amount, note) VALUES ($i, 1.5, 'x');"; done
  for i in $(seq 1 100); do echo "UPDATE orders SET amount = amount + 1 WHERE id = $i;"; done
  # No index on customer_id: a full scan of 200,000 rows for 10.
  for i in $(seq 1 5); do echo "SELECT id, amount FROM orders WHERE customer_id = $((i * 7));"; done
  for i in $(seq 1 3); do echo "SELECT note FROM shop.orders WHERE customer_id = $((i * 13));"; done
  # Django through mysqlclient, which puts the values into the text: 30 lookups in Django's
  # quoted form, `id__in` lists of 3 and 5 ids, and a statement longer than the digest keeps
  # (performance_schema_max_digest_length). The query_text tests find them from the span's SQL.
  for i in $(seq 1 30); do echo "SELECT \`customers\`.\`id\`, \`customers\`.\`email\` FROM \`customers\` WHERE \`customers\`.\`id\` = $i LIMIT 21;"; done
  for n in 3 5; do echo "SELECT \`customers\`.\`id\`, \`customers\`.\`email\` FROM \`customers\` WHERE \`customers\`.\`id\` IN ($(seq -s ', ' 1 "$n"));"; done
  echo "SELECT $(for i in $(seq 1 80); do printf '`customers`.`email` AS `e%d`, ' "$i"; done)\`customers\`.\`id\` FROM \`customers\` WHERE \`customers\`.\`id\` = 7;"
} | "${app_my[@]}" >/dev/null
# The same statement with no default schema (an application that qualifies its tables):
# recorded under SCHEMA_NAME NULL, counted when a target names no schema.
for i in $(seq 1 4); do echo "SELECT note FROM shop.orders WHERE customer_id = $((i * 11));"; done \
  | mariadb --no-defaults -h 127.0.0.1 -P "$my_port" -uapp -papp >/dev/null
"${app_my[@]}" -e "BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1; SELECT SLEEP(600); COMMIT;" >/dev/null 2>&1 &
bg_pids+=($!)
sleep 0.5
"${app_my[@]}" -e "UPDATE accounts SET balance = balance - 1 WHERE id = 1;" >/dev/null 2>&1 &
bg_pids+=($!)
"${app_my[@]}" -e "SELECT SLEEP(600), 'alice@example.com' AS email, '4111 1111 1111 1111' AS card;" >/dev/null 2>&1 &
bg_pids+=($!)

# --------------------------------------------------------------------------- config
cat > "$work/pwt.toml" <<TOML
[settings]
timeout_seconds = 5
default_target = "shop"

[targets.shop]
url = "postgresql://monitor@127.0.0.1:$pg_port/shop"
password_env = "PWT_TEST_PG_MONITOR_PW"

[targets.nostats]
url = "postgresql://nostats@127.0.0.1:$pg_port/shop"
password_env = "PWT_TEST_PG_NOSTATS_PW"

[targets.plain]
url = "postgresql://monitor@127.0.0.1:$pg_port/plain"
password_env = "PWT_TEST_PG_MONITOR_PW"

[targets.wrongpw]
url = "postgresql://monitor@127.0.0.1:$pg_port/shop"
password_env = "PWT_TEST_PG_WRONG_PW"

[targets.myshop]
url = "mariadb://monitor@127.0.0.1:$my_port/shop"
password_env = "PWT_TEST_PG_MONITOR_PW"

[targets.myall]
url = "mariadb://monitor@127.0.0.1:$my_port"
password_env = "PWT_TEST_PG_MONITOR_PW"

[targets.myempty]
url = "mariadb://monitor@127.0.0.1:$my_port/empty"
password_env = "PWT_TEST_PG_MONITOR_PW"

[targets.mywrongpw]
url = "mysql://monitor@127.0.0.1:$my_port/shop"
password_env = "PWT_TEST_PG_WRONG_PW"

[targets.stable]
url = "postgresql://monitor@127.0.0.1:$pg_port/stable"
password_env = "PWT_TEST_PG_MONITOR_PW"

[targets.scan]
url = "postgresql://monitor@127.0.0.1:$pg_port/scan"
password_env = "PWT_TEST_PG_MONITOR_PW"
TOML
export PWT_TEST_CONFIG="$work/pwt.toml"
export PWT_TEST_PG_MONITOR_PW="$PWT_TEST_MONITOR_PASSWORD"
export PWT_TEST_PG_NOSTATS_PW="$PWT_TEST_NOSTATS_PASSWORD"
export PWT_TEST_PG_WRONG_PW="$PWT_TEST_WRONG_PASSWORD"
export PWT_TEST_PG_ADMIN_URL="postgresql://postgres:$PWT_TEST_ADMIN_PASSWORD@127.0.0.1:$pg_port/shop"
export PWT_TEST_MY_APP_URL="mysql://app:app@127.0.0.1:$my_port/shop"
export PWT_TEST_WORK="$work"
export PWT_TEST_CA="$tls/ca.pem"
export PWT_TEST_WRONG_CA="$tls/wrong-ca.pem"
export PWT_TEST_PG_PORT="$pg_port"
export PWT_TEST_MY_PORT="$my_port"
# The suites fail, rather than skip, if one of these is missing.
export PWT_REQUIRE_SERVERS=1

# Let the live statements pass the 1 s running threshold.
sleep 1.5

if [[ "${1:-}" == "--" ]]; then
  shift
  "$@"
else
  log "running the slow_queries integration tests"
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast --test slow_queries_pg --test slow_queries_mysql --test db_tls
  else
    cargo test --locked --no-fail-fast --test slow_queries_pg --test slow_queries_mysql --test db_tls
  fi
fi
