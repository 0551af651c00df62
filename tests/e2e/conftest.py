"""Browser tests: Playwright (pytest-playwright) drives Debian's Chromium against pytest-django's
live_server. The PyPI package cannot download a browser of its own here, so the launch points
at the system's `chromium` (scripts/test.d/chromium.sh installs it when missing).

While Playwright's sync API runs, its event loop is this thread's running loop, and Django
refuses ORM calls from a thread with a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set (it
is safe here: that loop only drives the browser). pytest-playwright keeps Playwright for the
whole session, which would force the variable on every later test and on every process they
spawn (`check --deploy` refuses it). So Playwright lives per test module here, and the variable
only while it does.
"""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # no traffic but the test's own (no update pings)
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


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


@pytest.fixture(scope="module")
def playwright():
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture(scope="module")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def browser(browser_type, browser_type_launch_args):
    browser = browser_type.launch(**browser_type_launch_args)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def browser_context_args():
    """The plugin's session-scoped version reads device presets from Playwright (unused here)."""
    return {"viewport": {"width": 1400, "height": 1000}}


@pytest.fixture
def page(page):
    """Generous waits: several test runs may share this machine's two cores."""
    page.set_default_timeout(20_000)
    return page
