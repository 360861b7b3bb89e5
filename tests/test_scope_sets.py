"""Scope sets: asking for them, partial grants, the union stored, and the signal."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.core.checks import run_checks
from django.utils import timezone

from google_connect.models import GoogleAccount
from google_connect.signals import google_account_scopes_changed
from google_connect.web.flow import SESSION_KEY
from tests.factories import make_account
from tests.support import finish_flow, recording, token_body

pytestmark = pytest.mark.django_db

BASE = (
    "openid https://www.googleapis.com/auth/userinfo.email "
    "https://www.googleapis.com/auth/userinfo.profile"
)
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
DRIVE = "https://www.googleapis.com/auth/drive.file"
SCOPE_SETS = {
    "calendar": [CALENDAR],
    "drive": {"scopes": [DRIVE], "label": "Your Drive files"},
}


@pytest.fixture(autouse=True)
def scope_sets(settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "SCOPE_SETS": SCOPE_SETS}


def authorize(client, **query):
    response = client.get("/google/accounts/authorize", query)
    assert response.status_code == 302, response
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def flow_with(client, google, granted, *, next_url=None, sets="calendar", **token):
    google.token(token_body(scope=granted, **token))
    google.userinfo()
    query = {"scopes": sets} if sets else {}
    if next_url:
        query["next"] = next_url
    return finish_flow(client, authorize(client, **query)["state"])


# -- authorize -------------------------------------------------------------------------


def test_scope_sets_add_their_scopes_to_the_base_ones(alice):
    params = authorize(alice, scopes="calendar,drive")

    assert params["scope"] == f"{BASE} {CALENDAR} {DRIVE}"
    assert params["include_granted_scopes"] == "true"
    assert alice.session[SESSION_KEY][0]["scope_sets"] == ["calendar", "drive"]


def test_without_scope_sets_only_the_base_scopes_and_no_login_hint(alice, user):
    make_account(user, email="ada@example.com")

    params = authorize(alice)

    assert params["scope"] == BASE
    assert "login_hint" not in params


def test_scope_sets_hint_the_users_most_recent_account(alice, user):
    make_account(user, email="older@example.com")
    make_account(user, email="newer@example.com")

    assert authorize(alice, scopes="calendar")["login_hint"] == "newer@example.com"


def test_a_first_connect_with_scope_sets_sends_no_login_hint(alice):
    assert "login_hint" not in authorize(alice, scopes="calendar")


def test_account_picks_the_hint_and_keeps_the_sets_it_holds(alice, user):
    chosen = make_account(user, email="chosen@example.com", scopes=f"{BASE} {DRIVE}")
    make_account(user, email="newer@example.com")

    params = authorize(alice, account=chosen.pk, scopes="calendar")

    assert params["login_hint"] == "chosen@example.com"
    assert params["scope"] == f"{BASE} {CALENDAR} {DRIVE}"


@pytest.mark.parametrize("pk", ["other", "x1", "999999", "9" * 30, "١", ""])
def test_account_must_be_the_users_own(alice, other_user, pk):
    theirs = make_account(other_user)
    account = str(theirs.pk) if pk == "other" else pk

    response = alice.get("/google/accounts/authorize", {"account": account})

    assert response.status_code == 404
    assert SESSION_KEY not in alice.session


def test_unknown_scope_set_is_a_400_before_google_is_called(alice, google):
    response = alice.get("/google/accounts/authorize", {"scopes": "calendar,photos"})

    assert response.status_code == 400
    assert 'data-reason="unknown_scope_set"' in response.content.decode()
    assert len(google.mock.calls) == 0
    assert SESSION_KEY not in alice.session


# -- the callback -------------------------------------------------------------------------


def test_a_full_grant_goes_to_next(alice, google):
    response = flow_with(alice, google, f"{BASE} {CALENDAR}", next_url="/events/")

    assert response.status_code == 302
    assert response["Location"] == "/events/"
    assert GoogleAccount.objects.get().has_scope_set("calendar")


def test_an_unticked_set_is_stored_partial_and_reported(alice, google):
    response = flow_with(alice, google, BASE, next_url="/events/?week=2", sets="calendar,drive")

    assert response.status_code == 302
    assert response["Location"] == "/events/?week=2&google_connect=partial&missing=calendar,drive"
    account = GoogleAccount.objects.get()
    assert account.scopes == BASE
    assert account.missing_scope_sets("calendar", "drive") == ["calendar", "drive"]
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "warning"
    assert str(message) == (
        "Google did not grant access for: Calendar, Your Drive files. "
        "The features that need it stay off until you grant it."
    )


def test_a_partial_grant_without_next_goes_to_the_accounts_page(alice, google):
    response = flow_with(alice, google, BASE)

    assert response["Location"] == "/google/accounts/?google_connect=partial&missing=calendar"


def test_missing_base_scope_is_still_refused(alice, google):
    response = flow_with(alice, google, f"openid {CALENDAR}")

    assert response.status_code == 400
    assert 'data-reason="scope_not_granted"' in response.content.decode()
    assert not GoogleAccount.objects.exists()


def test_the_union_google_returns_is_stored(alice, user, google):
    make_account(user, sub="109876543210987654321", scopes=f"{BASE} {DRIVE}")

    response = flow_with(alice, google, f"{BASE} {DRIVE} {CALENDAR}", next_url="/events/")

    assert response["Location"] == "/events/"
    account = GoogleAccount.objects.get()
    assert account.granted_scopes == [*BASE.split(), DRIVE, CALENDAR]
    assert account.missing_scope_sets("calendar", "drive") == []


def test_has_scope_set_and_missing_scope_sets(user):
    account = make_account(user, scopes="openid email " + CALENDAR)

    assert account.has_scope_set("calendar")
    assert not account.has_scope_set("drive")
    assert account.missing_scope_sets("drive", "calendar") == ["drive"]


def test_an_unknown_set_name_raises(user):
    from google_connect.exceptions import UnknownScopeSet

    with pytest.raises(UnknownScopeSet, match="photos"):
        make_account(user).has_scope_set("photos")


# -- the signal ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_first_connect_signals_every_granted_scope(alice, google):
    with recording(google_account_scopes_changed) as sent:
        flow_with(alice, google, f"{BASE} {CALENDAR}")

    [kwargs] = sent
    assert kwargs["account"] == GoogleAccount.objects.get()
    assert kwargs["added"] == [*BASE.split(), CALENDAR]
    assert kwargs["removed"] == []


@pytest.mark.django_db(transaction=True)
def test_incremental_grant_signals_what_was_added_and_removed(alice, user, google):
    make_account(user, sub="109876543210987654321", scopes=f"{BASE} {DRIVE}")

    with recording(google_account_scopes_changed) as sent:
        flow_with(alice, google, f"{BASE} {CALENDAR}")

    [kwargs] = sent
    assert (kwargs["added"], kwargs["removed"]) == ([CALENDAR], [DRIVE])


@pytest.mark.django_db(transaction=True)
def test_reconnect_with_the_same_scopes_sends_nothing(alice, user, google):
    # The short and the URL form of the email scope are the same scope.
    make_account(
        user,
        sub="109876543210987654321",
        scopes=BASE.replace("https://www.googleapis.com/auth/userinfo.email", "email"),
    )

    with recording(google_account_scopes_changed) as sent:
        flow_with(alice, google, BASE, sets="")

    assert sent == []


@pytest.mark.django_db(transaction=True)
def test_refresh_with_another_scope_signals_after_commit(google, user):
    account = make_account(user, scopes=f"{BASE} {CALENDAR}", expires_at=timezone.now())
    google.token(token_body(access_token="ya29.NEW", refresh_token=None, scope=BASE))

    with recording(google_account_scopes_changed) as sent:
        account.get_access_token()

    [kwargs] = sent
    assert kwargs["account"].pk == account.pk
    assert (kwargs["added"], kwargs["removed"]) == ([], [CALENDAR])


@pytest.mark.django_db(transaction=True)
def test_refresh_with_the_same_or_no_scope_sends_nothing(google, user):
    account = make_account(user, scopes=BASE, expires_at=timezone.now() - timedelta(1))
    google.token(token_body(access_token="ya29.NEW1", refresh_token=None, scope=BASE))
    google.token(token_body(access_token="ya29.NEW2", refresh_token=None, scope=None))

    with recording(google_account_scopes_changed) as sent:
        account.refresh_access_token()
        account.refresh_access_token()

    assert sent == []


# -- the system check ------------------------------------------------------------------------


def check_messages():
    return [(m.id, m.msg) for m in run_checks() if m.id.startswith("google_connect.E07")]


def test_valid_scope_sets_pass():
    assert check_messages() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            ["calendar"],
            [
                (
                    "google_connect.E070",
                    "GOOGLE_CONNECT['SCOPE_SETS'] must be a dict of scope set names to scope "
                    "lists.",
                )
            ],
        ),
        (
            {"Calendar Sync": [CALENDAR]},
            [
                (
                    "google_connect.E071",
                    "GOOGLE_CONNECT['SCOPE_SETS'] has a name that is not slug-like: "
                    "'Calendar Sync'.",
                )
            ],
        ),
        (
            {"calendar": []},
            [
                (
                    "google_connect.E072",
                    "GOOGLE_CONNECT['SCOPE_SETS']['calendar'] must be a non-empty list of scope "
                    'strings, or a dict {"scopes": [...], "label": "..."}.',
                )
            ],
        ),
        (
            {"calendar": {"scopes": [CALENDAR], "label": 3}},
            [
                (
                    "google_connect.E072",
                    "GOOGLE_CONNECT['SCOPE_SETS']['calendar'] must be a non-empty list of scope "
                    'strings, or a dict {"scopes": [...], "label": "..."}.',
                )
            ],
        ),
        (
            {"calendar": ["calendar.readonly", "https://x.example/a b"]},
            [
                (
                    "google_connect.E073",
                    "GOOGLE_CONNECT['SCOPE_SETS']['calendar'] holds strings that are not Google "
                    "scopes: 'calendar.readonly', 'https://x.example/a b'.",
                )
            ],
        ),
    ],
)
def test_malformed_scope_sets_are_reported(settings, value, expected):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "SCOPE_SETS": value}

    assert check_messages() == expected
