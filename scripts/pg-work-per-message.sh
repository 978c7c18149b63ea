#!/bin/sh
# pg-work-per-message.sh: what PostgreSQL writes per batch of 1,000 creates,
# claims and outcomes, counted in the WAL (postgres/workcount_test.go), so
# the figures do not depend on the load of the machine or on the other
# databases of the server. It makes a scratch database with pg_walinspect (a
# contrib module that needs no preload and no server setting), runs the
# count in a schema of it, and drops it.
set -eu
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${DB:-ims_workcount}
psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
trap 'psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB"' EXIT
psql -q "$PGURL/$DB" -c "CREATE EXTENSION pg_walinspect SCHEMA public"
IMS_WORKCOUNT=1 IMS_TEST_DATABASE_URL="$PGURL/$DB" go test -count=1 -v -run '^TestWorkPerMessage$' ./postgres/ |
	grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS' -e '^ok '
