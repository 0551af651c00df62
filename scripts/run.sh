#!/usr/bin/env bash
# `make run`: bootstrap, local PostgreSQL + Redis (data kept in .run/), migrate, load
# instruments, create the admin user and a demo API key, then start every process of the
# Procfile with honcho. Ctrl-C stops all of them, PostgreSQL and Redis included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt

RUN=.run
PGPORT=${RUN_PG_PORT:-55432}
REDISPORT=${RUN_REDIS_PORT:-56379}
PORT=${PORT:-8000}
mkdir -p "$RUN"
cleanup() { echo "run: stopping PostgreSQL and Redis"; scripts/services.sh stop "$RUN"; }
trap cleanup EXIT
scripts/services.sh start "$RUN" "$PGPORT" "$REDISPORT"

# Secrets for this machine only, made once and kept in .run/ (git-ignored).
secret() { [ -s "$RUN/$1" ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' >"$RUN/$1"; cat "$RUN/$1"; }
cat >"$RUN/env" <<ENV
export TRADING_STAGE=local
export PORT=$PORT
export DATABASE_URL=postgres://app@127.0.0.1:$PGPORT/trading
export REDIS_URL=redis://127.0.0.1:$REDISPORT/0
export DJANGO_SECRET_KEY=$(secret django-secret-key)
export BINANCE_API_KEY=demo-binance-$(secret binance-key-suffix | cut -c1-12)
export BINANCE_API_SECRET=$(secret binance-secret)
export BITMEX_API_KEY=demo-bitmex-$(secret bitmex-key-suffix | cut -c1-12)
export BITMEX_API_SECRET=$(secret bitmex-secret)
export PROMETHEUS_MULTIPROC_DIR=$PWD/$RUN/prometheus
ENV
# shellcheck disable=SC1091
. "$RUN/env"
# management commands (migrate, setup_demo) write their metrics files here too
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
# the start scripts exec gunicorn / celery / python from the virtualenv
export PATH="$PWD/.venv/bin:$PATH"
psql -h 127.0.0.1 -p "$PGPORT" -U app -d postgres -tAc "select 1 from pg_database where datname='trading'" | grep -q 1 \
  || createdb -h 127.0.0.1 -p "$PGPORT" -U app trading

.venv/bin/python manage.py migrate --noinput -v 0
# No instrument sync here: the emulator is not up before honcho starts it, and each worker
# loads its venues' instruments when it starts (orders/tasks.py, retried until they answer).
.venv/bin/python manage.py setup_demo --state-dir "$RUN" --skip-instruments

echo "run: starting web (http://127.0.0.1:$PORT), worker, beat, emulator; Ctrl-C stops everything"
set +e
.venv/bin/honcho -f Procfile -e "$RUN/env" start
