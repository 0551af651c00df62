#!/usr/bin/env bash
# `make test`: bootstrap, throwaway PostgreSQL + Redis on free loopback ports (so it runs beside
# `make run` and beside other test runs), then the whole suite with coverage. Extra arguments go
# to pytest, e.g. `make test ARGS="tests/unit -x"`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt

TMP=$(mktemp -d -t trading-test.XXXXXX)
read -r PGPORT REDISPORT < <(.venv/bin/python - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)
cleanup() { scripts/services.sh stop "$TMP"; rm -rf "$TMP"; }
trap cleanup EXIT
scripts/services.sh start "$TMP" "$PGPORT" "$REDISPORT"

export TRADING_STAGE=test
export DATABASE_URL="postgres://app@127.0.0.1:$PGPORT/trading"
export REDIS_URL="redis://127.0.0.1:$REDISPORT/0"
export TEST_SERVICES_DIR="$TMP" TEST_PG_PORT="$PGPORT" TEST_REDIS_PORT="$REDISPORT"
export PROMETHEUS_MULTIPROC_DIR="$TMP/prom"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
export PATH="$PWD/.venv/bin:$PATH"

# Anything extra the suite runs besides pytest (e.g. promtool rule tests) hooks in here.
for hook in scripts/test.d/*.sh; do [ -e "$hook" ] && bash "$hook"; done

rm -f .coverage .coverage.*
set +e
.venv/bin/python -m pytest --cov --cov-report=term ${ARGS:-} "$@"
rc=$?
set -e
exit $rc
