"""The drop-in "Connected Google accounts" page."""

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from google_connect.models import GoogleAccount
from google_connect.store.reasons import ReconnectReason
from google_connect.web.accounts import initials_of
from tests.factories import make_account

pytestmark = pytest.mark.django_db

PAGE = "/google/accounts/"
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"


@pytest.fixture(autouse=True)
def scope_sets(settings):
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "SCOPE_SETS": {"calendar": {"scopes": [CALENDAR], "label": "Your calendar"}},
    }


def section(html, account):
    """The page's markup for one account."""
    match = re.search(
        rf'<section class="google-connect-account"[^>]*data-account="{account.pk}">(.*?)</section>',
        html,
        re.S,
    )
    assert match, f"account {account.pk} not on the page"
    return match.group(1)


def test_login_is_required(client):
    response = client.get(PAGE)

    assert (response.status_code, response["Location"]) == (302, "/login/?next=/google/accounts/")


def test_each_account_shows_avatar_email_status_and_features(alice, user):
    with_picture = make_account(
        user, email="ada@example.com", name="Ada Lovelace", picture="https://example.com/a.png"
    )
    broken = make_account(
        user,
        email="grace@example.com",
        name="Grace Hopper",
        scopes=f"openid {CALENDAR}",
        status=GoogleAccount.Status.RECONNECT_REQUIRED,
        reconnect_reason=ReconnectReason.REVOKED,
    )

    html = alice.get(PAGE).content.decode()

    first = section(html, with_picture)
    assert '<img class="google-connect-avatar" src="https://example.com/a.png" alt=""' in first
    # The heading offers its line break after the "@" (see test_the_email_heading_...).
    assert "<h2 id=" in first and "ada@<wbr>example.com</h2>" in first
    assert ">Active</dd>" in first
    assert 'data-feature="calendar" data-granted="false"' in first
    assert '<input type="hidden" name="scopes" value="calendar">' in first
    assert f'<input type="hidden" name="account" value="{with_picture.pk}">' in first
    assert ">Grant</button>" in first
    assert ">Reconnect</button>" not in first

    second = section(html, broken)
    assert 'aria-hidden="true">GH</span>' in second
    assert ">Reconnect required: Access was removed</dd>" in second
    assert 'data-feature="calendar" data-granted="true"' in second
    assert ">Grant</button>" not in second
    assert ">Reconnect</button>" in second
    assert ">Disconnect</button>" in second
    assert "Connect another Google account" in html
    # Newest first (by section: the headings' addresses carry a <wbr>).
    assert html.index(f'data-account="{broken.pk}"') < html.index(
        f'data-account="{with_picture.pk}"'
    )


def test_no_token_is_ever_on_the_page(alice, user):
    account = make_account(user)

    html = alice.get(PAGE).content.decode()

    assert account.access_token not in html and account.refresh_token not in html


def test_access_until_is_shown_for_a_time_limited_grant(alice, user):
    account = make_account(user, refresh_token_expires_at=datetime(2027, 1, 2, 3, 4, tzinfo=UTC))

    html = section(alice.get(PAGE).content.decode(), account)

    assert "<dt>Access until</dt>" in html
    assert '<time datetime="2027-01-02T03:04:00+00:00">' in html


def test_without_access_until_the_line_is_left_out(alice, user):
    account = make_account(user)

    html = section(alice.get(PAGE).content.decode(), account)

    assert "Access until" not in html


def test_no_account_offers_to_connect_one(alice):
    html = alice.get(PAGE).content.decode()

    # Issue 29: "yet" read wrongly right after the last disconnect.
    assert "No Google account is connected." in html
    assert "Connect a Google account" in html


def test_initials():
    assert initials_of("Ada Lovelace") == "AL"
    assert initials_of("ada.lovelace@example.com") == "A"
    assert initials_of("Jean Paul Sartre") == "JP"


def test_another_users_account_is_never_listed(alice, user, other_user):
    theirs = make_account(other_user, email="bob.google@example.com")
    make_account(user)

    html = alice.get(PAGE).content.decode()

    assert "bob.google@example.com" not in html
    assert f'value="{theirs.pk}"' not in html


def test_another_users_account_cannot_be_confirmed_disconnected_or_reconnected(
    alice, other_user, google
):
    theirs = make_account(other_user)

    assert alice.get(PAGE, {"disconnect": theirs.pk}).status_code == 404
    assert alice.post(f"/google/accounts/{theirs.pk}/disconnect").status_code == 404
    assert alice.get("/google/accounts/authorize", {"account": theirs.pk}).status_code == 404
    assert (
        alice.get(
            "/google/accounts/authorize", {"account": theirs.pk, "scopes": "calendar"}
        ).status_code
        == 404
    )
    assert GoogleAccount.objects.filter(pk=theirs.pk).exists()
    assert len(google.mock.calls) == 0


def test_disconnect_asks_for_confirmation_then_posts(alice, user, google):
    account = make_account(user, email="ada@example.com")
    google.revoke()

    confirm = alice.get(PAGE, {"disconnect": account.pk}).content.decode()

    # A line break offered after the "@", as in the account's own heading.
    assert "Disconnect ada@<wbr>example.com?" in confirm
    assert f'<form method="post" action="/google/accounts/{account.pk}/disconnect">' in confirm
    assert 'name="csrfmiddlewaretoken"' in confirm
    assert '<input type="hidden" name="next" value="/google/accounts/">' in confirm
    assert GoogleAccount.objects.exists()  # the GET changed nothing

    response = alice.post(f"/google/accounts/{account.pk}/disconnect", {"next": PAGE}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert (
        "You disconnected ada@example.com; no Google account is connected now."
        in response.content.decode()
    )
    assert not GoogleAccount.objects.exists()


def test_the_confirm_step_of_an_unknown_account_is_a_404(alice, user):
    make_account(user)

    assert alice.get(PAGE, {"disconnect": "nope"}).status_code == 404


@pytest.mark.parametrize("count", [3, 30])
def test_queries_stay_flat_as_accounts_grow(alice, user, count, django_assert_max_num_queries):
    for n in range(count):
        make_account(user, status="active" if n % 2 else "reconnect_required")
    alice.get(PAGE)  # warm the session

    with CaptureQueriesContext(connection) as queries:
        response = alice.get(PAGE)

    assert response.status_code == 200
    account_queries = [q for q in queries if "google_connect_googleaccount" in q["sql"]]
    assert len(account_queries) == 1
    assert "access_token" not in account_queries[0]["sql"]
    # session + user + the accounts
    assert len(queries) == 3


def test_the_page_is_translated_into_french(alice, user, settings):
    settings.LANGUAGE_CODE = "fr"
    make_account(user, status=GoogleAccount.Status.RECONNECT_REQUIRED, reconnect_reason="revoked")

    html = alice.get(PAGE).content.decode()

    assert "Comptes Google connectés" in html
    assert "Reconnecter" in html
    assert "Déconnecter" in html
    assert "Connecter un autre compte Google" in html


def test_actions_are_labelled_buttons_in_forms_and_headings_are_ordered(alice, user):
    make_account(user, status=GoogleAccount.Status.RECONNECT_REQUIRED, reconnect_reason="revoked")
    make_account(user, picture="")

    html = alice.get(PAGE).content.decode()

    headings = re.findall(r"<h(\d)", html)
    assert headings[0] == "1" and set(headings[1:]) <= {"2", "3"}
    buttons = re.findall(r"<button[^>]*>([^<]*)</button>", html)
    assert all(label.strip() for label in buttons)
    # Every action is a button in a form, never a bare link.
    assert html.count("<button") == html.count("<form")
    for described in re.findall(r'aria-describedby="([^"]+)"', html):
        for target in described.split():
            assert f'id="{target}"' in html


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_the_page_is_not_cached(alice, user):
    make_account(user)

    response = alice.get(PAGE)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_the_confirm_step_takes_the_whole_id_not_a_part_of_it(alice, user):
    first, second = make_account(user), make_account(user)
    neither = f"{first.pk}{second.pk}"
    assert not GoogleAccount.objects.filter(pk=int(neither)).exists()

    assert alice.get(PAGE, {"disconnect": neither}).status_code == 404


def test_an_ended_time_limited_grant_is_shown_ended_without_a_failed_refresh(alice, user):
    ended = datetime(2020, 1, 2, 3, 4, tzinfo=UTC)
    account = make_account(user, refresh_token_expires_at=ended)

    html = section(alice.get(PAGE).content.decode(), account)

    assert 'data-status="reconnect_required"' in html
    assert ">Reconnect required: Time-limited access ended</dd>" in html
    assert "<dt>Access ended</dt>" in html
    assert ">Reconnect</button>" in html


def test_dates_are_shown_in_the_one_format_of_every_page(alice, user):
    account = make_account(user, refresh_token_expires_at=datetime(2027, 1, 2, 3, 4, tzinfo=UTC))

    html = section(alice.get(PAGE).content.decode(), account)

    # The day in words (google_connect/includes/date.html), as on the example's home page.
    assert '<time datetime="2027-01-02T03:04:00+00:00">2 January 2027</time>' in html


def test_the_confirm_step_shows_one_disconnect_button(alice, user):
    account = make_account(user, email="ada@example.com")
    other = make_account(user, email="grace@example.com")

    html = alice.get(PAGE, {"disconnect": account.pk}).content.decode()

    assert html.count(">Yes, disconnect</button>") == 1
    assert ">Disconnect</button>" not in section(html, account)
    assert ">Disconnect</button>" in section(html, other)


def test_every_page_links_the_apps_stylesheet(alice, user):
    html = alice.get(PAGE).content.decode()

    assert '<link rel="stylesheet" href="/static/google_connect/google_connect.css">' in html


def test_the_email_heading_offers_its_line_break_after_the_at_and_escapes_the_rest(alice, user):
    # A phone breaks the heading there ("ada.lovelace@" / "example.com"),
    # not wherever the line runs out; tests/e2e/test_tour.py checks the layout.
    odd = make_account(user, email="o'brien&co@example.com")
    bare = make_account(user, sub="<sub-1>", email="")

    html = alice.get(PAGE).content.decode()
    confirm = alice.get(PAGE, {"disconnect": odd.pk}).content.decode()

    assert "o&#x27;brien&amp;co@<wbr>example.com</h2>" in section(html, odd)
    assert "&lt;sub-1&gt;</h2>" in section(html, bare)
    assert "Disconnect o&#x27;brien&amp;co@<wbr>example.com?</h2>" in confirm
