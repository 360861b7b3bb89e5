"""The admin pages an operator uses, in Chromium at 1280 and 375 px.

Apart from the demo tour (test_tour.py): the operator's pages, not the visitor's.
"""

import re
from datetime import timedelta
from itertools import pairwise

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
WIDTH, PHONE = 1280, 375
# A removed client's id, as Google writes them: nothing in it to break at
# after the hyphen, so printed whole it set the width of the list.
REMOVED_CLIENT = "1234567890-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser(USERNAME, "ops@example.com", PASSWORD)


@pytest.fixture
def fleet(operator, django_user_model, monkeypatch):
    monkeypatch.setattr(health, "_snapshots", {})
    now = timezone.now()
    for n in range(12):
        make_account(
            operator,
            sub=f"fleet-{n}",
            email=f"a-rather-long-address-number-{n}@subdomain.example.com",
            client_id=REMOVED_CLIENT,
            refresh_token_expires_at=now + timedelta(days=3 * n) if n % 2 else None,
            status="reconnect_required" if n % 5 == 0 else "active",
            reconnect_reason="revoked" if n % 5 == 0 else "",
            last_refreshed_at=now - timedelta(days=n),
        )
    # The longest values a row may hold: an address with no hyphen to break
    # at, and a site whose usernames are email addresses.
    long_name = django_user_model.objects.create_user(
        "a-username-that-is-an-address@subdomain.example.com"
    )
    make_account(
        long_name,
        sub="104758293847561029384",
        email="averyveryverylongmailboxnamewithoutanybreaksatall@subdomain.example.com",
        client_id=REMOVED_CLIENT,
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


def results_width(browser):
    """The list's table and the box it scrolls in: the admin's ``.results``
    scrolls by itself, so the page fitting says nothing about the list."""
    return browser.driver.execute_script(
        "const box = document.querySelector('#changelist .results');"
        "return [box.scrollWidth, box.clientWidth];"
    )


def emails_hidden(browser):
    """The emails (each row's link) not wholly in view in the list's box, unscrolled."""
    return browser.driver.execute_script(
        "const box = document.querySelector('#changelist .results').getBoundingClientRect();"
        "return [...document.querySelectorAll('#result_list .field-email')]"
        "  .filter(cell => cell.getBoundingClientRect().right > box.right + 0.5)"
        "  .map(cell => cell.textContent);"
    )


def log_in(browser):
    browser.open(f"/admin/login/?next={CHANGELIST}")
    browser.fill("username", USERNAME)
    browser.fill("password", PASSWORD)
    browser.driver.find_element("css selector", 'input[type="submit"]').click()
    # The login's redirect, waited for: opening the list while the login
    # was still in flight raced with it, and the admin's index won.
    WebDriverWait(browser.driver, 30).until(lambda driver: browser.path == CHANGELIST)


def luminance(css_colour):
    """WCAG 2's relative luminance of an ``rgb(r, g, b)`` computed colour."""
    channels = [int(part) / 255 for part in re.findall(r"\d+", css_colour)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one, other):
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# For each chart: the background it is drawn on (its nearest ancestor with
# one), the computed colours of its lines and of its filled marks (bars,
# legend keys), its box and its tick labels' boxes.
CHARTS = """
const background = element => {
  for (let e = element; e; e = e.parentElement) {
    const colour = getComputedStyle(e).backgroundColor;
    if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') return colour;
  }
  return 'rgb(255, 255, 255)';
};
const across = element => (box => [box.left, box.right])(element.getBoundingClientRect());
return [...document.querySelectorAll('svg.gc-chart')].map(svg => ({
  title: svg.getAttribute('aria-label'),
  background: background(svg),
  marks: [
    ...[...svg.querySelectorAll('polyline')].map(e => getComputedStyle(e).stroke),
    ...[...svg.querySelectorAll('rect')].map(e => getComputedStyle(e).fill),
  ],
  box: across(svg),
  labels: [...svg.querySelectorAll('text.gc-label')].map(t => [t.textContent, ...across(t)]),
}));
"""


def test_the_admin_pages_fit_1280_and_375_px(browser, fleet):
    browser.driver.set_window_size(WIDTH, 900)
    try:
        log_in(browser)

        assert "a-rather-long-address-number-0@subdomain.example.com" in browser.text
        assert not scrolls_sideways(browser)
        scroll, box = results_width(browser)
        assert scroll <= box, f"the list is {scroll} px wide in its {box} px box"
        # A phone: the page itself fits (open() checks it), and the list
        # scrolls in its own box, as Django's admin lists do on a phone, but
        # only past each row's email: which account it is shows unscrolled.
        browser.driver.set_window_size(PHONE, 900)
        assert not scrolls_sideways(browser)
        assert emails_hidden(browser) == []
        browser.driver.set_window_size(WIDTH, 900)

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


# The admin's theme toggle sets data-theme on <html>; "auto" follows the
# operating system, emulated here.
THEMES = (("light", "light"), ("dark", "light"), ("auto", "dark"))


@pytest.mark.parametrize(("theme", "system"), THEMES)
def test_the_overview_charts_are_readable_in_each_theme(browser, fleet, theme, system):
    browser.driver.set_window_size(WIDTH, 900)
    try:
        log_in(browser)
        browser.open(CHANGELIST + "overview/")
        browser.driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": system}]},
        )
        # Set on the page, not through the toggle: the toggle would store
        # the choice for the tests after this one.
        browser.driver.execute_script(
            "document.documentElement.dataset.theme = arguments[0];", theme
        )

        charts = browser.driver.execute_script(CHARTS)

        assert len(charts) == 2
        for chart in charts:
            low = [
                (mark, round(contrast(mark, chart["background"]), 2))
                for mark in chart["marks"]
                if contrast(mark, chart["background"]) < 3
            ]
            assert low == [], f"{chart['title']} on {chart['background']}"
            left, right = chart["box"]
            labels = sorted(chart["labels"], key=lambda label: label[1])
            assert [text for text, start, end in labels if start < left or end > right] == []
            overlapping = [
                (one[0], other[0]) for one, other in pairwise(labels) if other[1] < one[2]
            ]
            assert overlapping == [], chart["title"]
    finally:
        browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        browser.driver.set_window_size(1000, 480)
