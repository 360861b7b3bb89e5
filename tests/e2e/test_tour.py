"""The demo tour in a real browser: docs/tutorial/demo.md, step by step.

Each step is a function that acts and asserts; the test lists them in the
order a visitor takes them, so a new step is one function and one line.
The site and the stand-in for Google each have their own file-backed SQLite
database, as under ``make demo`` (tests/settings.py).
"""

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from example_project import demo
from google_connect.exceptions import ReconnectRequired
from google_connect.models import GoogleAccount
from tests.e2e.browser import WIDTHS
from tests.stand_in import EMAIL_SCOPE, stand_in_db_over_http

pytestmark = [pytest.mark.e2e, stand_in_db_over_http]

# The demo tour's screenshots (docs/ with --update-screenshots), each also at 375 px.
SCREENSHOT = "screenshot-home.png"
ERROR_SCREENSHOT = "screenshot-error.png"
ACCOUNTS_SCREENSHOT = "screenshot-accounts.png"
CONSENT_SCREENSHOT = "screenshot-consent.png"
CONFIRM_SCREENSHOT = "screenshot-confirm-disconnect.png"
DISCONNECTED_SCREENSHOT = "screenshot-disconnected.png"
END_NOW_SCREENSHOT = "screenshot-end-now.png"
ENDED_SCREENSHOT = "screenshot-ended.png"
CONNECTED_SCREENSHOT = "screenshot-connected.png"
TWO_CLIENTS_SCREENSHOT = "screenshot-two-clients.png"
BANNER = "Demo mode: Google is simulated locally"
SPEC_TEXT = "Something went wrong; to fix this please disconnect Google completely then retry."
HELP_URL = "https://myaccount.google.com/permissions"
CALENDAR_SCOPE = demo.SCOPE_SETS["calendar"][0]
USERNAME, PASSWORD = "admin", "admin-password"
ADA = "ada.lovelace@example.com"
CHANGELIST = "/admin/google_connect/googleaccount/"


@pytest.fixture
def visitor(django_user_model):
    # A superuser, so the same visitor can look at the admin.
    return django_user_model.objects.create_superuser(USERNAME, "admin@example.com", PASSWORD)


def test_demo_tour(browser, visitor):
    log_in(browser)
    connect_google_allowing_everything(browser)
    see_the_account_in_the_admin(browser)
    refresh_the_token_in_the_admin(browser)
    disconnect(browser)
    connect_google_allowing_everything(browser)
    revoke_and_remove_in_the_admin(browser)
    cancel_at_consent(browser)
    untick_a_required_scope(browser)
    see_the_refused_grant_revoked_on_the_guides_page(browser)
    connect_again(browser)
    open_your_next_events(browser)
    untick_calendar_and_see_the_graceful_page(browser)
    grant_calendar_and_see_the_events(browser)
    go_back_and_allow_again(browser)
    disconnect_from_the_accounts_page(browser)
    grant_access_for_7_days_until_it_ends(browser)
    remove_access_in_the_google_account(browser)
    connect_the_same_account_through_the_second_client(browser)


def log_in(browser, *, connected=False):
    browser.open("/")
    assert BANNER in browser.text
    browser.press("Log in")
    browser.fill("username", USERNAME)
    browser.fill("password", PASSWORD)
    browser.press("Log in")

    assert browser.path == "/"
    assert ("No Google account is connected." not in browser.text) is connected


def connect_google_allowing_everything(browser):
    browser.press("Connect Google")
    assert browser.path.startswith("/fake-google/o/oauth2/v2/auth?")
    assert f"{demo.CLIENT_NAME} wants access to your Google Account" in browser.text
    browser.screenshot(CONSENT_SCREENSHOT)

    browser.press("Allow")

    assert (browser.path, browser.status) == ("/", 200)
    assert f"Ada Lovelace <{ADA}>" in browser.text
    assert "Active · 3 scopes" in browser.text
    assert_no_secret_in(browser.html)
    browser.screenshot(SCREENSHOT)


def see_the_account_in_the_admin(browser):
    browser.open(CHANGELIST)

    assert browser.status == 200
    assert ADA in browser.text
    assert BANNER in browser.text
    # Scopes are detail: the change page shows them, the list fits 1280 px.
    assert EMAIL_SCOPE not in browser.text
    assert_no_secret_in(browser.html)


def refresh_the_token_in_the_admin(browser):
    old_token = GoogleAccount.objects.get().access_token
    run_admin_action(browser, "refresh_access_token")

    assert f"Access token refreshed for {ADA}." in browser.text
    assert GoogleAccount.objects.get().access_token != old_token
    browser.open("/")


def disconnect(browser):
    browser.press("Disconnect")

    assert (browser.path, browser.status) == ("/", 200)
    assert f"You disconnected {ADA}; no Google account is connected now." in browser.text
    assert "No Google account is connected." in browser.text
    assert not GoogleAccount.objects.exists()
    assert_no_grant_at_the_stand_in(browser)


def revoke_and_remove_in_the_admin(browser):
    run_admin_action(browser, "revoke_and_remove")

    assert f"Revoked and removed {ADA}." in browser.text
    assert not GoogleAccount.objects.exists()
    browser.open("/")


def cancel_at_consent(browser):
    browser.press("Connect Google")

    browser.press("Cancel")

    # Nothing to disconnect after a Cancel: no spec sentence, no guide.
    assert_error_page(browser, "access_denied", disconnect_advice=False)
    assert "You cancelled the connection" in browser.text
    assert "Nothing was stored. Connect again whenever you like." in browser.text
    # "Try again" starts over with the flow's own next.
    assert browser.href_of("Try again") == "/google/accounts/authorize?next=%2F"
    browser.screenshot(ERROR_SCREENSHOT)
    browser.open("/")


def untick_a_required_scope(browser):
    browser.press("Connect Google")
    browser.untick(EMAIL_SCOPE)

    browser.press("Allow")

    assert_error_page(browser, "scope_not_granted", disconnect_advice=True)
    assert "Some permissions were not granted" in browser.text
    assert "See your primary Google Account email address" in browser.text


def see_the_refused_grant_revoked_on_the_guides_page(browser):
    # The error page's guide (it opens in a new tab): in demo mode, the
    # stand-in's permissions page. The refused first connect's grant was
    # revoked, so nothing is left to remove there (the tour's last step
    # removes one).
    browser.open(demo.PERMISSIONS_PATH)

    assert "No app has access to a demo Google account." in browser.text
    assert "Ada Lovelace <ada.lovelace@example.com>" not in browser.text
    browser.open("/")


def connect_again(browser):
    browser.press("Connect Google")
    browser.press("Allow")

    assert browser.path == "/"
    assert "Active · 3 scopes" in browser.text


def open_your_next_events(browser):
    browser.press("Your next events")

    # Consent for Calendar only, for the account already connected.
    assert browser.path.startswith("/fake-google/o/oauth2/v2/auth?")
    assert "login_hint=ada.lovelace%40example.com" in browser.path
    boxes = browser.driver.find_elements(By.CSS_SELECTOR, 'input[name="scopes"]')
    assert [box.get_attribute("value") for box in boxes] == [CALENDAR_SCOPE]


def untick_calendar_and_see_the_graceful_page(browser):
    browser.untick(CALENDAR_SCOPE)

    browser.press("Allow")

    assert browser.path == "/events/?google_connect=partial&missing=calendar"
    assert browser.status == 200
    assert "Calendar access was not granted" in browser.text
    assert "Google did not grant access for: Calendar." in browser.text
    assert not GoogleAccount.objects.get().has_scope_set("calendar")


def grant_calendar_and_see_the_events(browser):
    browser.press("Grant Calendar access")
    browser.press("Allow")

    assert (browser.path, browser.status) == ("/events/", 200)
    assert "Analytical Engine review" in browser.text
    assert "Tea with Charles Babbage" in browser.text
    assert_no_secret_in(browser.html)


def go_back_and_allow_again(browser):
    # Back to the consent page already answered, and Allow once more: the
    # stand-in takes it as a consent, and the site says the link was used.
    browser.back()
    assert browser.path.startswith("/fake-google/o/oauth2/v2/auth?")

    browser.press("Allow")

    assert "Select a valid choice" not in browser.text
    assert browser.path.startswith("/google/accounts/connect?")
    assert browser.status == 400
    assert "This link has expired" in browser.text
    assert GoogleAccount.objects.get().has_scope_set("calendar")


def disconnect_from_the_accounts_page(browser):
    browser.open("/")
    browser.press("Manage your Google accounts")
    assert browser.path == "/google/accounts/"
    assert "Calendar: granted" in browser.text
    assert_address_breaks_only_after_the_at(browser, ".google-connect-account h2")
    browser.screenshot(ACCOUNTS_SCREENSHOT)

    browser.press("Disconnect")
    assert "Disconnect ada.lovelace@example.com?" in browser.text
    assert_address_breaks_only_after_the_at(browser, ".google-connect-confirm h2")
    browser.screenshot(CONFIRM_SCREENSHOT)
    # One Disconnect button: the confirm step's "Yes, disconnect".
    assert browser.driver.find_elements(By.XPATH, '//button[normalize-space(.)="Disconnect"]') == []
    assert GoogleAccount.objects.exists()
    browser.press("Yes, disconnect")

    assert (browser.path, browser.status) == ("/google/accounts/", 200)
    assert (
        "You disconnected ada.lovelace@example.com; no Google account is connected now."
        in browser.text
    )
    assert "No Google account is connected." in browser.text
    browser.screenshot(DISCONNECTED_SCREENSHOT)
    assert not GoogleAccount.objects.exists()
    assert_no_grant_at_the_stand_in(browser)


def grant_access_for_7_days_until_it_ends(browser):
    browser.open("/")
    browser.press("Connect Google")
    browser.choose("access", "7")

    browser.press("Allow")

    account = GoogleAccount.objects.get()
    assert f"access until {account.grant_expires_at:%-d %B %Y}" in browser.text

    # A week passes: "End now" ends the grant at the stand-in and, as the
    # days passing would, makes the end date the site stored a past one.
    browser.open(demo.PERMISSIONS_PATH)
    assert "access until" in browser.text
    browser.screenshot(END_NOW_SCREENSHOT)
    browser.press("End now")
    assert "Access ended, as if its time had run out." in browser.text
    assert ADA not in browser.text
    # Nothing has refreshed or failed: the pages read the ended grant from its date.
    browser.open("/")
    ended = GoogleAccount.objects.get()
    assert ended.status == GoogleAccount.Status.ACTIVE
    assert ended.grant_expires_at <= timezone.now()
    assert f"access ended {ended.grant_expires_at:%-d %B %Y}" in browser.text
    assert "Time-limited access ended" in browser.text
    reconnect = f"/google/accounts/authorize?account={account.pk}&next=/"
    assert browser.link_to(reconnect) == "Reconnect"
    browser.screenshot(ENDED_SCREENSHOT)
    browser.press("Manage your Google accounts")
    assert "Reconnect required: Time-limited access ended" in browser.text
    # The stand-in agrees: the next refresh is refused.
    with pytest.raises(ReconnectRequired):
        GoogleAccount.objects.get().refresh_access_token()


def remove_access_in_the_google_account(browser):
    # Cross-Account Protection: the stand-in tells the site at once, through
    # a signed security event, without any API call failing first.
    from google_connect.google.risc_keys import KEYS

    KEYS.clear()  # a fresh database means a fresh stand-in key
    # Without a next, the connected page is where the flow ends: it links on.
    browser.open("/google/accounts/authorize")
    browser.press("Allow")
    assert "Your Google account ada.lovelace@example.com is connected." in browser.text
    browser.screenshot(CONNECTED_SCREENSHOT)
    browser.press("See your Google accounts")
    assert browser.path == "/google/accounts/"
    browser.open("/fake-google/permissions")
    assert "ada.lovelace@example.com" in browser.text

    browser.press("Remove access")

    assert "Access removed" in browser.text
    browser.open("/")
    assert "Reconnect required: access was removed in your Google account" in browser.text
    assert GoogleAccount.objects.get().reconnect_reason == "revoked"


def assert_address_breaks_only_after_the_at(browser, css):
    """At every width the heading ``css`` shows Ada's address whole on a line,
    or broken after its "@" ("ada.lovelace@" / "example.com"), never mid-word."""
    for width in WIDTHS:
        lines = "\n".join(browser.lines_of(css, width))
        assert ADA in lines or ADA.replace("@", "@\n") in lines, (width, lines)


def connect_the_same_account_through_the_second_client(browser):
    # Reconnected at 127.0.0.1 (the default client), then connected again at
    # localhost: the example site picks the client by host, and the stand-in
    # registers the second in a Cloud project of its own.
    browser.press("Reconnect")
    browser.press("Allow")
    assert "Active · 3 scopes" in browser.text
    twin = browser.at(demo.twin_base_url(browser.base_url))
    log_in(twin, connected=True)  # cookies are per host: a new session there
    twin.press("Connect Google")
    assert f"{demo.SECOND_CLIENT_NAME} wants access to your Google Account" in twin.text

    twin.press("Allow")

    assert (twin.path, twin.status) == ("/", 200)
    # One user, one Google account, two grants: a row per client.
    rows = GoogleAccount.objects.order_by("pk")
    assert [(a.user.username, a.email, a.client_id) for a in rows] == [
        (USERNAME, ADA, demo.CLIENT_ID),
        (USERNAME, ADA, demo.SECOND_CLIENT_ID),
    ]
    assert twin.text.count(f"Ada Lovelace <{ADA}>") == 2
    assert "OAuth client: default" in twin.text and "OAuth client: second" in twin.text
    twin.screenshot(TWO_CLIENTS_SCREENSHOT)
    twin.open(CHANGELIST)
    cells = twin.driver.find_elements(By.CSS_SELECTOR, "td.field-client")
    assert sorted(cell.text for cell in cells) == ["default", demo.SECOND_CLIENT]
    twin.open(demo.PERMISSIONS_PATH)
    assert twin.text.count(ADA) == 2
    assert demo.CLIENT_NAME in twin.text and demo.SECOND_CLIENT_NAME in twin.text
    # Each grant stands alone: disconnecting the newer leaves the other live.
    twin.open("/")
    twin.press("Disconnect")
    assert [a.client_id for a in GoogleAccount.objects.all()] == [demo.CLIENT_ID]
    assert "Active · 3 scopes" in twin.text
    twin.open(demo.PERMISSIONS_PATH)
    assert twin.text.count(ADA) == 1
    assert demo.SECOND_CLIENT_NAME not in twin.text


def run_admin_action(browser, action):
    browser.open(CHANGELIST)
    browser.tick("_selected_action")
    browser.select("action", action)
    browser.press("Go")


def assert_error_page(browser, reason, *, disconnect_advice):
    """The error page of ``reason``, with the spec's sentence and its guide only
    where disconnecting at Google is the fix."""
    assert browser.path.startswith("/google/accounts/connect?")
    assert browser.status == 400
    assert (SPEC_TEXT in browser.text) is disconnect_advice
    help_url = browser.base_url + demo.PERMISSIONS_PATH
    if disconnect_advice:
        assert browser.link_to(help_url) == "Follow this guide"
    else:
        assert help_url not in browser.html
    assert f'data-reason="{reason}"' in browser.html
    assert not GoogleAccount.objects.exists()


def assert_no_grant_at_the_stand_in(browser):
    """Google's permissions page (the stand-in's) lists no grant for Ada any more."""
    browser.open(demo.PERMISSIONS_PATH)
    assert ADA not in browser.text
    browser.open("/")


def assert_no_secret_in(html):
    account = GoogleAccount.objects.get()
    for secret in (account.access_token, account.refresh_token, demo.CLIENT_SECRET):
        assert secret not in html
