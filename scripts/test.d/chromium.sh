#!/usr/bin/env bash
# The browser tests (tests/e2e) drive Debian's Chromium through Playwright: the PyPI package
# cannot download a browser of its own here. Install it when missing (as root or with sudo).
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "test.d: installing chromium for the browser tests"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
