#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server for the store tests, which run
# against SQLite and PostgreSQL alike: SCEPGATE_TEST_POSTGRES when it is set;
# else, as root on Debian, it installs and starts the local cluster.
# Otherwise it says exactly what to do, and fails.
set -euo pipefail

if [ -n "${SCEPGATE_TEST_POSTGRES:-}" ]; then
	echo "$SCEPGATE_TEST_POSTGRES"
	exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "The store tests also run against PostgreSQL. Start a server and set" >&2
	echo "  SCEPGATE_TEST_POSTGRES=postgres://USER:PASSWORD@127.0.0.1:5432/postgres?sslmode=disable" >&2
	echo "(a user that may create databases), or run make test as root on Debian, which installs and starts one." >&2
	exit 1
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
	echo "Installing PostgreSQL for the store tests..." >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$ver main"; then
	pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true # already running is fine
for _ in $(seq 1 30); do
	if su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1; then
		break
	fi
	sleep 1
done
if ! su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'scepgate-test'\"" >/dev/null; then
	echo "PostgreSQL $ver did not start; see /var/log/postgresql/postgresql-$ver-main.log" >&2
	exit 1
fi
port=$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $3}')
echo "postgres://postgres:scepgate-test@127.0.0.1:${port}/postgres?sslmode=disable"
