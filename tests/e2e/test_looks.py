"""google_connect's own pages in Chromium as a plain site and a dark screen show them.

The tour (test_tour.py) sees the pages in the example site's layout, light.
Here they are seen in the built-in layout (``BASE_TEMPLATE`` None, a site
that gives none) and with ``prefers-color-scheme: dark``: the accounts page,
its confirm step, the connected page and an error page, each at 375 px and
1280 px without sideways scrolling (``Browser.assert_fits``), with the app's
stylesheet applied and every text readable against what is behind it.
"""

import re

import pytest
from selenium.webdriver.common.by import By

from tests.stand_in import EMAIL_SCOPE, stand_in_db_over_http

pytestmark = [pytest.mark.e2e, stand_in_db_over_http]

USERNAME, PASSWORD = "plain", "plain-password"
ACCOUNTS = "/google/accounts/"
# Where google_connect's pages put their content, whatever the layout.
CONTENT = (
    ".google-connect-accounts, .google-connect-connected, .google-connect-error, "
    ".google-connect-messages"
)
# WCAG 2's AA level for body text.
READABLE = 4.5


@pytest.fixture
def visitor(django_user_model):
    return django_user_model.objects.create_user(USERNAME, "plain@example.com", PASSWORD)


@pytest.fixture
def plain_site(example_site, demo_site):
    """The demo, with google_connect's pages in their built-in layout."""
    example_site.GOOGLE_CONNECT = {**example_site.GOOGLE_CONNECT, "BASE_TEMPLATE": None}


@pytest.fixture
def dark(browser):
    media = {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", media)
    yield
    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_the_pages_in_the_built_in_layout(browser, visitor, plain_site):
    walk_the_pages(browser, layout="built-in", scheme="light")


def test_the_pages_in_the_built_in_layout_in_dark_mode(browser, visitor, plain_site, dark):
    walk_the_pages(browser, layout="built-in", scheme="dark")


def test_the_pages_in_the_sites_layout_in_dark_mode(browser, visitor, dark):
    walk_the_pages(browser, layout="site", scheme="dark")


def walk_the_pages(browser, *, layout, scheme):
    browser.open(f"/login/?next={ACCOUNTS}")
    browser.fill("username", USERNAME)
    browser.fill("password", PASSWORD)
    browser.press("Log in")
    assert browser.path == ACCOUNTS
    assert "No Google account is connected." in browser.text
    assert_looks_right(browser, layout, scheme)

    # The error page with the most on it: the missing permission, the
    # spec's sentence and the guide's link.
    browser.press("Connect a Google account")
    browser.untick(EMAIL_SCOPE)
    browser.press("Allow")
    assert browser.status == 400
    assert "Follow this guide" in browser.text
    assert_looks_right(browser, layout, scheme)

    browser.open(ACCOUNTS)
    browser.press("Connect a Google account")
    browser.press("Allow")
    assert browser.path == ACCOUNTS
    assert "Active" in browser.text
    assert_looks_right(browser, layout, scheme)

    browser.press("Disconnect")
    assert "Disconnect ada.lovelace@example.com?" in browser.text
    assert_looks_right(browser, layout, scheme)

    # Without a next, the flow ends on the connected page.
    browser.open("/google/accounts/authorize")
    browser.press("Allow")
    assert "Your Google account ada.lovelace@example.com is connected." in browser.text
    assert_looks_right(browser, layout, scheme)


def assert_looks_right(browser, layout, scheme):
    """The page in ``layout``, styled by the app, in ``scheme``, every text readable."""
    driver = browser.driver
    body = driver.find_element(By.TAG_NAME, "body")
    built_in = "google-connect-layout" in (body.get_attribute("class") or "").split()
    assert built_in is (layout == "built-in"), browser.path
    # The app's stylesheet applied: its buttons are pills, not the browser's.
    button = driver.find_element(By.CSS_SELECTOR, ".google-connect-button")
    assert button.value_of_css_property("border-radius") == "999px", browser.path
    page = colour(body.value_of_css_property("background-color"))
    assert (luminance(page) < 0.05) is (scheme == "dark"), (browser.path, page)
    for where, text, foreground, behind in texts_and_backgrounds(driver):
        ratio = contrast(foreground, behind)
        assert ratio >= READABLE, f"{browser.path}: {where} {text!r} has contrast {ratio:.2f}"


def texts_and_backgrounds(driver):
    """Every visible text in google_connect's content: its colour, and the
    backgrounds behind it from the root down, blended into one."""
    rows = driver.execute_script(
        """
        const rows = [];
        for (const element of document.querySelectorAll(arguments[0])) {
          for (const el of [element, ...element.querySelectorAll("*")]) {
            const own = [...el.childNodes]
              .filter((node) => node.nodeType === Node.TEXT_NODE)
              .map((node) => node.data.trim())
              .join(" ")
              .trim();
            if (!own || !el.getClientRects().length) continue;
            const backgrounds = [];
            for (let up = el; up; up = up.parentElement) {
              backgrounds.unshift(getComputedStyle(up).backgroundColor);
            }
            const name = el.tagName.toLowerCase() + (el.className ? "." + el.className : "");
            rows.push([name, own.slice(0, 40), getComputedStyle(el).color, backgrounds]);
          }
        }
        return rows;
        """,
        CONTENT,
    )
    for where, text, foreground, backgrounds in rows:
        behind = (1.0, 1.0, 1.0)  # the canvas, under a root with no background
        for background in backgrounds:
            behind = over(colour(background), behind)
        yield where, text, over(colour(foreground), behind), behind


NUMBER = r"([\d.]+%?)"


def colour(css):
    """(r, g, b, alpha), each 0-1, from a computed CSS colour."""
    rgb = re.fullmatch(rf"rgba?\({NUMBER}, {NUMBER}, {NUMBER}(?:, {NUMBER})?\)", css)
    if rgb:
        r, g, b, a = rgb.groups()
        return (float(r) / 255, float(g) / 255, float(b) / 255, float(a or 1))
    # color-mix() in sRGB computes to color(srgb r g b / a).
    srgb = re.fullmatch(rf"color\(srgb {NUMBER} {NUMBER} {NUMBER}(?: / {NUMBER})?\)", css)
    if srgb:
        r, g, b, a = srgb.groups()
        return (float(r), float(g), float(b), float(a or 1))
    raise AssertionError(f"a colour this test cannot read: {css}")


def over(top, bottom):
    """``top`` (with alpha) painted over the opaque ``bottom``."""
    r, g, b, a = top
    return tuple(a * c + (1 - a) * under for c, under in zip((r, g, b), bottom, strict=True))


def luminance(rgb):
    def linear(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one, other):
    lighter, darker = sorted((luminance(one), luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
