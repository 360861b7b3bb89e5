"""The demo tour in a real browser: the README's walk-through, step by step.

Each step is a function that acts and asserts; the test lists them in the
order a visitor takes them, so a new step is one function and one line.
"""

from pathlib import Path

import pytest

from example_project import demo
from google_connect.models import GoogleAccount
from tests.stand_in import EMAIL_SCOPE, stand_in_db_over_http

pytestmark = [pytest.mark.e2e, stand_in_db_over_http]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-home.png"
BANNER = "Demo mode: Google is simulated locally"
SPEC_TEXT = "Something went wrong; to fix this please disconnect Google completely then retry."
HELP_URL = "https://myaccount.google.com/permissions"
USERNAME, PASSWORD = "admin", "admin-password"


@pytest.fixture
def visitor(django_user_model):
    # A superuser, so the same visitor can look at the admin.
    return django_user_model.objects.create_superuser(USERNAME, "admin@example.com", PASSWORD)


def test_demo_tour(browser, visitor):
    log_in(browser)
    connect_google_allowing_everything(browser)
    see_the_account_in_the_admin(browser)
    disconnect(browser)
    cancel_at_consent(browser)
    untick_a_required_scope(browser)


def log_in(browser):
    browser.open("/")
    assert BANNER in browser.text
    browser.press("Log in")
    browser.fill("username", USERNAME)
    browser.fill("password", PASSWORD)
    browser.press("Log in")

    assert browser.path == "/"
    assert "No Google account connected yet." in browser.text


def connect_google_allowing_everything(browser):
    browser.press("Connect Google")
    assert browser.path.startswith("/fake-google/o/oauth2/v2/auth?")
    assert f"{demo.CLIENT_NAME} wants access to your Google Account" in browser.text

    browser.press("Allow")

    assert (browser.path, browser.status) == ("/", 200)
    assert "Ada Lovelace <ada.lovelace@example.com>" in browser.text
    assert "Active · 3 scopes" in browser.text
    assert_no_secret_in(browser.html)
    browser.screenshot(SCREENSHOT)


def see_the_account_in_the_admin(browser):
    browser.open("/admin/google_connect/googleaccount/")

    assert browser.status == 200
    assert "ada.lovelace@example.com" in browser.text
    assert BANNER in browser.text
    assert_no_secret_in(browser.html)
    browser.open("/")


def disconnect(browser):
    browser.press("Disconnect")

    assert (browser.path, browser.status) == ("/", 200)
    assert "ada.lovelace@example.com is disconnected." in browser.text
    assert "No Google account connected yet." in browser.text
    assert not GoogleAccount.objects.exists()


def cancel_at_consent(browser):
    browser.press("Connect Google")

    browser.press("Cancel")

    assert_error_page(browser, "access_denied")
    browser.open("/")


def untick_a_required_scope(browser):
    browser.press("Connect Google")
    browser.untick(EMAIL_SCOPE)

    browser.press("Allow")

    assert_error_page(browser, "scope_not_granted")
    browser.open("/")


def assert_error_page(browser, reason):
    assert browser.path.startswith("/google/accounts/connect?")
    assert browser.status == 400
    assert SPEC_TEXT in browser.text
    assert browser.link_to(HELP_URL) == HELP_URL
    assert f'data-reason="{reason}"' in browser.html
    assert not GoogleAccount.objects.exists()


def assert_no_secret_in(html):
    account = GoogleAccount.objects.get()
    for secret in (account.access_token, account.refresh_token, demo.CLIENT_SECRET):
        assert secret not in html
