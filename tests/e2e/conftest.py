"""Browser tests: Playwright (pytest-playwright) drives Debian's Chromium against pytest-django's
live_server. The PyPI package cannot download a browser of its own here, so the launch points
at the system's `chromium` (scripts/test.d/chromium.sh installs it when missing)."""

from __future__ import annotations

import os
import shutil

import pytest

# Playwright's sync API keeps an event loop in the main thread for the whole session (its
# fixtures are session-scoped); Django refuses ORM calls from a thread with a running loop
# unless told it is safe. It is: that loop only drives the browser, nothing else runs on it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # no traffic but the test's own (no update pings)
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: scripts/test.d/chromium.sh installs it")
    return {
        **browser_type_launch_args,
        "executable_path": path,
        "args": CHROMIUM_ARGS,
        "timeout": 60_000,  # launching on a loaded 2-core machine
    }


@pytest.fixture
def page(page):
    """Generous waits: several test runs may share this machine's two cores."""
    page.set_default_timeout(20_000)
    return page
