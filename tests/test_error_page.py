"""The connect error page: what happened and what to do, per reason, in the site's layout."""

from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation
from django.utils.html import escape

from google_connect import exceptions
from google_connect.web.error_page import error_context
from google_connect.web.error_texts import DISCONNECT_REASONS, ERROR_TEXTS, texts_for
from google_connect.web.pages import render_page
from tests.support import connect, finish_flow, start_flow, token_body

pytestmark = pytest.mark.django_db

SPEC_TEXT = "Something went wrong; to fix this please disconnect Google completely then retry."
# Issue 29: the guide is a link with words, no longer a raw URL after "Follow this guide".
GUIDE = (
    '<a class="google-connect-guide" href="https://myaccount.google.com/permissions" '
    'target="_blank" rel="noopener noreferrer">Follow this guide</a>'
)
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
# Every reason the callback can fail with, and one for a reason added later.
CALLBACK_ERRORS = [
    exceptions.InvalidState(),
    exceptions.InvalidIssuer(),
    exceptions.InvalidCallback(),
    exceptions.AccessDenied("access_denied"),
    exceptions.TokenExchangeFailed("x"),
    exceptions.UserInfoFailed("x"),
    exceptions.ScopeNotGranted([CALENDAR]),
    exceptions.MissingRefreshToken(),
    exceptions.AccountLinkedToAnotherUser(),
    exceptions.GoogleUnavailable("x"),
    exceptions.UnknownScopeSet("drive"),
    exceptions.InvalidIdToken("aud"),
]


def page(error, next_url=None):
    request = RequestFactory().get("/google/accounts/connect")
    response = render_page(
        request, "google_connect/error.html", error_context(error, next_url=next_url), status=400
    )
    return response.content.decode()


# Where disconnecting at Google and retrying is the fix: only these pages keep
# the spec's sentence and its guide (issue 29's table).
DISCONNECT_ERRORS = [
    exceptions.MissingRefreshToken(),
    exceptions.ScopeNotGranted([CALENDAR]),
    exceptions.TokenExchangeFailed("x", error_code="invalid_grant"),
]
OTHER_ERRORS = [error for error in CALLBACK_ERRORS if error.reason not in DISCONNECT_REASONS] + [
    exceptions.GoogleConnectError()
]


@pytest.mark.parametrize("error", CALLBACK_ERRORS, ids=lambda error: error.reason)
def test_every_callback_reason_has_its_own_heading_and_text(error):
    heading, text = ERROR_TEXTS[error.reason]

    content = page(error)

    assert f"<h1>{escape(heading)}</h1>" in content
    assert str(escape(text)) in content


@pytest.mark.parametrize("error", DISCONNECT_ERRORS, ids=lambda error: error.reason)
def test_the_spec_text_and_guide_follow_the_heading_where_disconnecting_is_the_fix(error):
    heading, _ = texts_for(error)

    content = page(error)

    assert content.index(f"<h1>{escape(heading)}</h1>") < content.index(SPEC_TEXT)
    assert content.count(SPEC_TEXT) == 1
    assert content.index(SPEC_TEXT) < content.index(GUIDE)


@pytest.mark.parametrize("error", OTHER_ERRORS, ids=lambda error: error.reason)
def test_no_spec_text_or_guide_where_disconnecting_is_not_the_fix(error):
    content = page(error)

    assert SPEC_TEXT not in content
    assert "myaccount.google.com" not in content
    assert 'href="/google/accounts/authorize">Try again</a>' in content


def test_a_refused_code_is_not_a_failed_exchange_to_wait_out():
    content = page(exceptions.TokenExchangeFailed("x", error_code="invalid_grant"))

    assert "Google refused to finish connecting, so nothing was stored." in content
    assert "Try again in a few minutes." not in content


def test_another_users_account_is_not_to_be_removed_at_google():
    content = page(exceptions.AccountLinkedToAnotherUser())

    assert "Sign in as that user to use it" in content
    assert "ask this site&#x27;s support" in content
    assert "removing it would break that user&#x27;s connection" in content


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (exceptions.InvalidState(), "Start again from this site."),
        (exceptions.InvalidCallback(), "Try again from this site&#x27;s page."),
        (exceptions.InvalidIssuer(), "Try again from this site&#x27;s page"),
        (exceptions.TokenExchangeFailed("x", status_code=500), "Try again in a few minutes."),
        (exceptions.UserInfoFailed("x"), "Try again in a few minutes."),
        (exceptions.GoogleUnavailable("x"), "Try again in a few minutes."),
    ],
    ids=lambda value: getattr(value, "reason", ""),
)
def test_the_next_step_fits_the_reason(error, advice):
    assert advice in page(error)


def test_headings_differ_from_reason_to_reason():
    headings = [str(heading) for heading, _ in ERROR_TEXTS.values()]

    assert len(set(headings)) == len(headings)


def test_invalid_issuer_has_wording_ready():
    heading, text = ERROR_TEXTS["invalid_issuer"]

    assert str(heading) == "The answer did not come from Google"
    assert "nothing was stored" in str(text)


def test_cancel_says_nothing_was_stored(alice):
    params = start_flow(alice)

    response = alice.get("/google/accounts/connect", {"state": params["state"], "error": "x"})

    content = response.content.decode()
    assert response.status_code == 400
    assert "<h1>You cancelled the connection</h1>" in content
    assert "Nothing was stored. Connect again whenever you like." in content
    # Issue 29: after Cancel there is nothing to disconnect; the spec's advice would mislead.
    assert SPEC_TEXT not in content and GUIDE not in content


def test_missing_permissions_are_named_in_googles_words(alice, google, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "SCOPES": ["openid", CALENDAR, "x.y"]}
    google.token(token_body(scope="openid"))

    response = connect(alice, google)

    content = response.content.decode()
    assert "<h1>Some permissions were not granted</h1>" in content
    assert f'<li title="{CALENDAR}">See and download any calendar you can access' in content
    # A scope the table does not know is shown as itself.
    assert '<li title="x.y">x.y</li>' in content


def test_the_spec_text_is_the_main_message_without_a_refresh_token():
    content = page(exceptions.MissingRefreshToken())

    assert "<h1>Google did not grant lasting access</h1>\n  \n" in content
    assert content.count(SPEC_TEXT) == 1


def test_try_again_keeps_the_original_next(alice):
    params = start_flow(alice, next_url="/settings/?tab=google")

    response = finish_flow(alice, params["state"], error="access_denied")

    assert 'href="/google/accounts/authorize?next=%2Fsettings%2F%3Ftab%3Dgoogle"' in (
        response.content.decode()
    )


def test_try_again_without_a_known_flow_starts_plainly(alice):
    response = finish_flow(alice, "unknown-state")

    assert 'href="/google/accounts/authorize">' in response.content.decode()


def test_the_page_is_in_french_for_french_users():
    with translation.override("fr"):
        content = page(exceptions.AccessDenied("access_denied"))
        # Issue 29: the guide is now only on the pages where disconnecting is the fix.
        guided = page(exceptions.MissingRefreshToken())

    assert "<h1>Vous avez annulé la connexion</h1>" in content
    assert "Suivez ce guide" in guided


def test_without_base_template_the_pages_use_the_built_in_layout(alice):
    response = finish_flow(alice, "unknown-state")

    content = response.content.decode()
    assert content.startswith("<!DOCTYPE html>")
    assert "<title>This link has expired</title>" in content
    # The callback's URL carried a code: its pages send no referrer.
    assert '<meta name="referrer" content="no-referrer">' in content


def test_base_template_puts_every_page_in_the_sites_layout(settings, tmp_path):
    (tmp_path / "site.html").write_text(
        "<title>{% block title %}{% endblock %} | Site</title>"
        "<nav>site navigation</nav><main>{% block content %}{% endblock %}</main>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "BASE_TEMPLATE": "site.html"}

    content = page(exceptions.InvalidState())

    assert content.startswith("<title>This link has expired | Site</title><nav>site navigation")
    assert '<main>\n<div class="google-connect-error"' in content
    assert "<!DOCTYPE html>" not in content


def test_a_template_rendered_without_the_helper_falls_back_to_the_layout():
    content = render_to_string(
        "google_connect/connected.html", {"account": {"email": "a@b.c", "sub": "1"}}
    )

    assert content.startswith("<!DOCTYPE html>")
    assert "Your Google account a@b.c is connected." in content


def test_the_connected_page_links_onward_without_a_next(alice, google):
    response = connect(alice, google)

    content = response.content.decode()
    assert '<a class="google-connect-button" href="/google/accounts/">' in content
    assert 'href="/">Continue to the site</a>' in content


def test_the_stylesheet_is_a_static_file_of_the_package():
    from django.contrib.staticfiles import finders

    path = finders.find("google_connect/google_connect.css")

    assert path is not None
    css = Path(path).read_text()
    assert "prefers-color-scheme: dark" in css
    assert "@import" not in css and "url(" not in css  # no fonts or files from elsewhere
