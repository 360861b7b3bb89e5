"""Headless Chromium and the example project in demo mode on pytest-django's live server.

The suite's settings are ``tests.settings``; the ``example_site`` fixture
lays the example project's URLs and templates over them, and ``demo_site``
adds demo mode with the live server's address, which is known only once it
has started. Settings are read per request (google_connect's cache is cleared
on every change), so the server thread sees them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from example_project import demo
from tests.e2e.browser import Browser
from tests.support import example_google_connect

# Debian's packages by default; a browser download step cannot work offline.
CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("E2E_CHROMEDRIVER", "/usr/bin/chromedriver"))
# Where the demo tour's screenshots live (docs/tutorial/demo.md shows them).
DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1000,480",
)


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def chromium(tmp_path_factory, django_db_setup, live_server):
    # The test databases first, then the server. A server started while a
    # database is SQLite's :memory: (the settings' name, before the test
    # databases replace it with files) hands the tests' own connection to
    # every request thread, and two requests at once (a page and its favicon)
    # share it: "Cannot operate on a closed database", or a segmentation fault.
    shared = sorted(live_server.thread.connections_override)
    if shared:
        pytest.fail(f"the live server shares the tests' connections to {shared}", pytrace=False)
    # Asking for live_server makes the browser quit before the server stops.
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        reason = " and ".join(missing) + " not found: apt-get install chromium chromium-driver"
        if running_in_ci():
            # A skipped browser test would let CI pass without testing the product.
            pytest.fail(f"{reason} (CI must run the end-to-end test)", pytrace=False)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # With the driver's path given, Selenium does not look for (or download) one.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def demo_site(example_site, live_server):
    example_site.GOOGLE_CONNECT = example_google_connect(
        demo.google_connect_settings(live_server.url)
    )
    example_site.FAKE_GOOGLE = demo.fake_google_settings(live_server.url)
    return live_server.url


@pytest.fixture
def browser(chromium, demo_site, request, tmp_path):
    chromium.delete_all_cookies()
    # The tour's screenshots change only when asked for: a test run must
    # leave the checkout as it found it.
    update = request.config.getoption("--update-screenshots")
    return Browser(chromium, demo_site, screenshot_dir=DOCS if update else tmp_path)
