#!/usr/bin/env bash
# `make bench`: bootstrap, throwaway PostgreSQL + Redis on free ports (like `make test`), then
# every bench/*.py in turn (helpers named _*.py excepted), or only the one named by $1
# (`scripts/bench.sh emulator` runs bench/emulator.py; a directory bench/NAME/ runs bench/NAME/run.py).
# Extra arguments go to the benchmark. Each prints a table and writes JSON under bench/results/;
# each makes its own database from the migrated template and starts (and stops) its own
# gunicorn / Celery / emulator processes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt

TMP=$(mktemp -d -t trading-bench.XXXXXX)
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
psql -h 127.0.0.1 -p "$PGPORT" -U app -d postgres -qc "create database trading" >/dev/null

export TRADING_STAGE=test
export DATABASE_URL="postgres://app@127.0.0.1:$PGPORT/trading"
export REDIS_URL="redis://127.0.0.1:$REDISPORT/0"
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONPATH="$PWD"
mkdir -p bench/results

if [ $# -gt 0 ]; then
  if [ -f "bench/$1.py" ]; then targets=("bench/$1.py")
  elif [ -f "bench/$1/run.py" ]; then targets=("bench/$1/run.py")
  else echo "bench: no bench/$1.py or bench/$1/run.py" >&2; exit 2; fi
  shift
else
  targets=()
  for f in bench/*.py; do case $(basename "$f") in _*) ;; *) targets+=("$f") ;; esac; done
fi
echo "bench: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(.venv/bin/python --version), load:$(uptime | sed 's/.*load average://')"
rc=0
for target in "${targets[@]}"; do
  echo "== $target"
  .venv/bin/python "$target" "$@" || rc=$?
done
exit $rc
