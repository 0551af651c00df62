#!/usr/bin/env bash
# make test hook: the Prometheus configuration, rule files and alert unit tests
# (monitoring/prometheus/) checked with promtool. Installs Debian's `prometheus` package (it
# ships promtool, and the integration tests start a throwaway server from it) when missing.
# Any failing check fails the test run.
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "promtool: installing the prometheus package"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # We only want the binaries: never leave a system-wide Prometheus running behind the tests.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

P=monitoring/prometheus
promtool check config "$P/prometheus.yml" >/dev/null
promtool check rules "$P"/rules/*.yml >/dev/null
promtool test rules "$P"/tests/*.yml
echo "promtool: config, rules and alert tests ok"
