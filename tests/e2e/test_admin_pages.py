"""The admin pages an operator uses, in Chromium at 1280 px: no sideways scroll.

Apart from the demo tour (test_tour.py): the operator's pages, not the visitor's.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.support.ui import WebDriverWait

from google_connect.models import DailyCount
from google_connect.store import health
from tests.factories import make_account
from tests.stand_in import stand_in_db_over_http

pytestmark = [pytest.mark.e2e, stand_in_db_over_http]

SCREENSHOT = "screenshot-admin-overview.png"
USERNAME, PASSWORD = "operator", "operator-password"
CHANGELIST = "/admin/google_connect/googleaccount/"
WIDTH = 1280


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser(USERNAME, "ops@example.com", PASSWORD)


@pytest.fixture
def fleet(operator, monkeypatch):
    monkeypatch.setattr(health, "_snapshots", {})
    now = timezone.now()
    for n in range(12):
        make_account(
            operator,
            sub=f"fleet-{n}",
            email=f"a-rather-long-address-number-{n}@subdomain.example.com",
            client_id="1234567890-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com",
            refresh_token_expires_at=now + timedelta(days=3 * n) if n % 2 else None,
            status="reconnect_required" if n % 5 == 0 else "active",
            reconnect_reason="revoked" if n % 5 == 0 else "",
            last_refreshed_at=now - timedelta(days=n),
        )
    today = timezone.localdate()
    for day in range(30):
        for kind, count in (
            ("connects", day % 4),
            ("refreshes", 20 + day),
            ("refresh_failures", day % 3),
        ):
            DailyCount.objects.create(day=today - timedelta(days=day), kind=kind, count=count)


def scrolls_sideways(browser):
    return browser.driver.execute_script(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth;"
    )


def test_the_admin_pages_fit_1280_px(browser, fleet):
    browser.driver.set_window_size(WIDTH, 900)
    try:
        browser.open(f"/admin/login/?next={CHANGELIST}")
        browser.fill("username", USERNAME)
        browser.fill("password", PASSWORD)
        browser.driver.find_element("css selector", 'input[type="submit"]').click()
        # The login's redirect, waited for: opening the list while the login
        # was still in flight raced with it, and the admin's index won.
        WebDriverWait(browser.driver, 30).until(lambda driver: browser.path == CHANGELIST)

        assert "a-rather-long-address-number-0@subdomain.example.com" in browser.text
        assert not scrolls_sideways(browser)

        browser.open(CHANGELIST + "overview/")
        assert "Time-limited grants ending in the next 8 weeks" in browser.text
        assert browser.driver.find_elements("css selector", "svg.gc-chart")
        assert not scrolls_sideways(browser)
        # Tall enough for both charts in the docs' picture (a headless
        # window is no taller than its screen, so the viewport is set).
        metrics = {"width": WIDTH, "height": 1400, "deviceScaleFactor": 1, "mobile": False}
        browser.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        browser.screenshot_dir.mkdir(parents=True, exist_ok=True)
        assert browser.driver.save_screenshot(str(browser.screenshot_dir / SCREENSHOT))
        browser.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    finally:
        browser.driver.set_window_size(1000, 480)
