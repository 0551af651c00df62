#!/usr/bin/env bash
# Prepare this machine for `make run` / `make test`: system packages (PostgreSQL, Redis) when
# missing, the virtualenv and the pinned Python requirements. Safe to run again: each step is
# skipped when already done. Usage: scripts/bootstrap.sh [requirements file]
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=${1:-requirements.txt}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing system packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the requirement files change.
stamp=.venv/.req-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$REQ" .txt)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing $REQ into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$REQ"
  touch "$stamp"
fi
