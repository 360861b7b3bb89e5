"""google_scopes_required, GoogleScopesRequiredMixin and ReconnectRequiredMiddleware."""

from urllib.parse import parse_qs, urlsplit

import pytest

from google_connect.models import GoogleAccount
from tests.factories import make_account

pytestmark = pytest.mark.django_db

BASE = "openid email profile"
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
DRIVE = "https://www.googleapis.com/auth/drive.file"
RECONNECT = GoogleAccount.Status.RECONNECT_REQUIRED


@pytest.fixture(autouse=True)
def gated_site(settings):
    settings.ROOT_URLCONF = "tests.scope_gate_urls"
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "SCOPE_SETS": {"calendar": [CALENDAR], "drive": [DRIVE]},
    }


def redirect_query(response):
    assert response.status_code == 302
    parts = urlsplit(response["Location"])
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


GATED = ["/calendar/", "/cbv/"]


@pytest.mark.parametrize("url", GATED)
def test_an_account_holding_the_set_lets_the_view_run(alice, user, url):
    make_account(user, scopes=f"{BASE} {CALENDAR}")
    newest = make_account(user, scopes=f"{BASE} {CALENDAR}")
    make_account(user, scopes=BASE)  # newer still, but without the set

    response = alice.get(url)

    assert response.status_code == 200
    assert response.content.decode() == f"account={newest.pk} missing="


@pytest.mark.parametrize("url", GATED)
def test_a_missing_set_sends_to_authorize_for_it_with_next(alice, user, url):
    account = make_account(user, scopes=BASE)

    path, query = redirect_query(alice.get(url + "?week=2"))

    assert path == "/google/accounts/authorize"
    assert query == {"scopes": "calendar", "account": str(account.pk), "next": url + "?week=2"}


def test_only_the_missing_sets_are_asked(alice, user):
    account = make_account(user, scopes=f"{BASE} {DRIVE}")

    assert redirect_query(alice.get("/both/"))[1]["scopes"] == "calendar"
    account.scopes = BASE
    account.save()
    assert redirect_query(alice.get("/both/"))[1]["scopes"] == "calendar,drive"


def test_without_any_account_every_set_is_asked(alice):
    path, query = redirect_query(alice.get("/both/"))

    assert (path, query) == (
        "/google/accounts/authorize",
        {"scopes": "calendar,drive", "next": "/both/"},
    )


@pytest.mark.parametrize("url", GATED)
def test_an_account_needing_a_reconnect_is_sent_to_reconnect(alice, user, url):
    account = make_account(user, scopes=f"{BASE} {CALENDAR}", status=RECONNECT)

    path, query = redirect_query(alice.get(url))

    assert (path, query) == (
        "/google/accounts/authorize",
        {"account": str(account.pk), "next": url},
    )


@pytest.mark.parametrize("url", GATED)
def test_anonymous_users_go_to_the_login_page(client, url):
    path, query = redirect_query(client.get(url))

    assert (path, query) == ("/login/", {"next": url})


def test_the_login_redirect_field_can_be_renamed(client):
    assert redirect_query(client.get("/both/")) == ("/login/", {"back": "/both/"})


@pytest.mark.parametrize("url", GATED)
def test_back_from_a_partial_grant_the_view_runs_without_an_account(alice, user, url):
    make_account(user, scopes=BASE)

    response = alice.get(url + "?google_connect=partial&missing=calendar")

    assert response.status_code == 200
    assert response.content.decode() == "account=None missing=calendar"


def test_a_partial_flag_does_not_hide_an_account_that_has_the_set(alice, user):
    account = make_account(user, scopes=f"{BASE} {CALENDAR}")

    response = alice.get("/calendar/?google_connect=partial&missing=calendar")

    assert response.content.decode() == f"account={account.pk} missing="


def test_next_drops_an_earlier_partial_flag(alice, user):
    make_account(user, scopes=BASE, status=RECONNECT)

    query = redirect_query(alice.get("/calendar/?week=2&google_connect=done&missing=x"))[1]

    assert query["next"] == "/calendar/?week=2"


# -- the middleware --------------------------------------------------------------------------


def test_without_the_middleware_reconnect_required_propagates(alice, user):
    from google_connect.exceptions import ReconnectRequired

    make_account(user, status=RECONNECT)

    with pytest.raises(ReconnectRequired):
        alice.get("/token/")


@pytest.fixture
def middleware(settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "google_connect.middleware.ReconnectRequiredMiddleware",
    ]


def test_the_middleware_sends_the_owner_to_reconnect(alice, user, middleware):
    account = make_account(user, status=RECONNECT)

    path, query = redirect_query(alice.get("/token/?page=3"))

    assert (path, query) == (
        "/google/accounts/authorize",
        {"account": str(account.pk), "next": "/token/?page=3"},
    )


def test_after_a_post_the_middleware_goes_back_to_the_referring_page(alice, user, middleware):
    account = make_account(user, status=RECONNECT)

    response = alice.post("/token/", HTTP_REFERER="http://testserver/settings/")

    assert redirect_query(response)[1] == {
        "account": str(account.pk),
        "next": "http://testserver/settings/",
    }


def test_the_middleware_leaves_other_errors_alone(alice, user, middleware):
    with pytest.raises(GoogleAccount.DoesNotExist):
        alice.get("/token/")


def test_the_middleware_never_sends_anyone_to_another_users_account(rf, user, other_user):
    from google_connect.exceptions import ReconnectRequired
    from google_connect.middleware import ReconnectRequiredMiddleware

    theirs = make_account(other_user, status=RECONNECT)
    request = rf.get("/page/")
    request.user = user
    middleware = ReconnectRequiredMiddleware(lambda request: None)

    assert middleware.process_exception(request, ReconnectRequired(account=theirs)) is None
    assert middleware.process_exception(request, ReconnectRequired()) is None


# -- found by mutation testing (issue 22) ----------------------------------------------


def test_the_mixin_requires_every_set_it_names(alice, user):
    account = make_account(user, scopes=f"{BASE} {CALENDAR}")

    path, query = redirect_query(alice.get("/cbv-both/"))

    assert (path, query) == (
        "/google/accounts/authorize",
        {"scopes": "drive", "account": str(account.pk), "next": "/cbv-both/"},
    )


def test_the_mixin_login_redirect_field_can_be_renamed(client):
    assert redirect_query(client.get("/cbv-both/")) == ("/login/", {"back": "/cbv-both/"})


def test_the_account_holding_the_sets_is_reconnected_rather_than_another_asked(alice, user):
    holder = make_account(user, scopes=f"{BASE} {CALENDAR}", status=RECONNECT)
    make_account(user, scopes=BASE)  # newer and active, but without the set

    path, query = redirect_query(alice.get("/calendar/"))

    assert (path, query) == (
        "/google/accounts/authorize",
        {"account": str(holder.pk), "next": "/calendar/"},
    )
