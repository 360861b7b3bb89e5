"""Several OAuth clients: each grant is connected, refreshed and revoked with its own."""

import hashlib
import json
import logging
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.utils import timezone

from google_connect.google import clients
from google_connect.models import ConnectLock, GoogleAccount, GoogleSecurityEvent
from google_connect.risc.actions import ACCOUNT_DISABLED, TOKEN_REVOKED, TOKENS_REVOKED
from google_connect.token_digests import PREFIX
from tests.risc_support import claims, iss_sub, sign
from tests.support import finish_flow, token_body, userinfo_body

pytestmark = pytest.mark.django_db

TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_ID = "test-client-id.apps.googleusercontent.com"
B_ID = "brand-b-id.apps.googleusercontent.com"
IOS_ID = "ios-id.apps.googleusercontent.com"
CHOOSER = "tests.test_several_clients.choose_by_host"


def choose_by_host(request):
    return {"b.example": "brand-b", "ios.example": "ios"}.get(request.get_host(), "default")


@pytest.fixture
def several(settings):
    settings.ALLOWED_HOSTS = ["testserver", "b.example", "ios.example", "x.example"]
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "CLIENTS": {
            "brand-b": {
                "CLIENT_ID": B_ID,
                "CLIENT_SECRET": "B-SECRET",
                "REDIRECT_URI": "https://b.example/google/accounts/connect",
            },
            "ios": {"CLIENT_ID": IOS_ID, "TYPE": "ios"},
        },
        "CLIENT_FOR_REQUEST": CHOOSER,
    }
    return settings


def connect_through(client, google, host="testserver", *, sub="sub-1"):
    google.token(token_body(refresh_token=f"1//REFRESH-{host}"))
    google.userinfo(userinfo_body(sub=sub))
    params = start_flow_at(client, host)
    return params, finish_flow(client, params["state"], HTTP_HOST=host)


def start_flow_at(client, host):
    response = client.get("/google/accounts/authorize", HTTP_HOST=host)
    assert response.status_code == 302, response
    query = parse_qs(response["Location"].partition("?")[2])
    return {key: values[0] for key, values in query.items()}


def token_form(google, index=-1):
    return google.token_requests()[index]


# -- settings -----------------------------------------------------------------


def test_top_level_client_is_the_default_one(settings):
    default = clients.default()

    assert (default.name, default.client_id, default.is_web) == ("default", DEFAULT_ID, True)
    assert list(clients.configured()) == ["default"]


def test_risc_audiences_are_every_configured_client_id(several):
    from google_connect.conf import get_settings

    assert get_settings().risc_audiences == (DEFAULT_ID, B_ID, IOS_ID)


def check_ids(settings, **config):
    settings.GOOGLE_CONNECT = config
    return [error.id for error in run_checks() if error.id.startswith("google_connect.E")]


def test_clients_default_replaces_the_top_level_pair(settings):
    ids = check_ids(settings, CLIENTS={"default": {"CLIENT_ID": "a", "CLIENT_SECRET": "s"}})

    assert ids == []


def test_both_forms_of_the_default_client_are_an_error(settings):
    ids = check_ids(
        settings,
        CLIENT_ID="a",
        CLIENT_SECRET="s",
        CLIENTS={"default": {"CLIENT_ID": "b", "CLIENT_SECRET": "t"}},
    )

    assert ids == ["google_connect.E081"]


def test_duplicate_client_ids_are_an_error(settings):
    ids = check_ids(
        settings, CLIENT_ID="a", CLIENT_SECRET="s", CLIENTS={"b": {"CLIENT_ID": "a", "TYPE": "ios"}}
    )

    assert ids == ["google_connect.E083"]


def test_a_web_client_without_a_secret_is_an_error(settings):
    ids = check_ids(settings, CLIENT_ID="a", CLIENT_SECRET="s", CLIENTS={"b": {"CLIENT_ID": "b"}})

    assert ids == ["google_connect.E084"]


def test_an_unknown_client_type_is_an_error(settings):
    ids = check_ids(
        settings, CLIENT_ID="a", CLIENT_SECRET="s", CLIENTS={"b": {"CLIENT_ID": "b", "TYPE": "tv"}}
    )

    assert ids == ["google_connect.E085"]


def test_named_clients_without_default_need_client_for_request(settings):
    named = {"b": {"CLIENT_ID": "b", "CLIENT_SECRET": "t"}}

    assert check_ids(settings, CLIENTS=named) == ["google_connect.E082"]
    assert check_ids(settings, CLIENTS=named, CLIENT_FOR_REQUEST=CHOOSER) == []


def test_client_for_request_must_be_importable(settings):
    ids = check_ids(settings, CLIENT_ID="a", CLIENT_SECRET="s", CLIENT_FOR_REQUEST="no.such.path")

    assert ids == ["google_connect.E086"]


def test_replaces_must_name_another_client(settings):
    ids = check_ids(
        settings,
        CLIENT_ID="a",
        CLIENT_SECRET="s",
        CLIENTS={"b": {"CLIENT_ID": "b", "CLIENT_SECRET": "t", "REPLACES": "gone"}},
    )

    assert ids == ["google_connect.E087"]


# -- the flow -------------------------------------------------------------------


def test_a_flow_through_each_web_client_uses_its_credentials_and_stores_its_id(
    several, alice, google
):
    _, first = connect_through(alice, google, "testserver")
    b_params, second = connect_through(alice, google, "b.example")

    assert (first.status_code, second.status_code) == (200, 200)
    assert b_params["client_id"] == B_ID
    assert b_params["redirect_uri"] == "https://b.example/google/accounts/connect"
    forms = google.token_requests()
    assert [(f["client_id"], f["client_secret"]) for f in forms] == [
        ([DEFAULT_ID], ["TEST-CLIENT-SECRET-do-not-leak"]),
        ([B_ID], ["B-SECRET"]),
    ]
    assert forms[1]["redirect_uri"] == ["https://b.example/google/accounts/connect"]
    rows = GoogleAccount.objects.order_by("pk").values_list("client_id", "sub", "user__username")
    assert list(rows) == [(DEFAULT_ID, "sub-1", "alice"), (B_ID, "sub-1", "alice")]


DRIVE = "https://www.googleapis.com/auth/drive.file"
B_SCOPES = ["openid", "https://www.googleapis.com/auth/userinfo.email", DRIVE]


@pytest.fixture
def b_scopes(several):
    config = several.GOOGLE_CONNECT
    brand_b = {**config["CLIENTS"]["brand-b"], "SCOPES": B_SCOPES}
    several.GOOGLE_CONNECT = {**config, "CLIENTS": {**config["CLIENTS"], "brand-b": brand_b}}
    return several


def test_a_flow_through_a_client_with_its_own_scopes_asks_for_and_stores_them(
    b_scopes, alice, google
):
    site = " ".join(clients.default().scopes)
    google.token(token_body(scope=" ".join(B_SCOPES)))
    google.userinfo(userinfo_body(sub="sub-1"))
    b_params = start_flow_at(alice, "b.example")
    default_params = start_flow_at(alice, "testserver")

    response = finish_flow(alice, b_params["state"])

    assert response.status_code == 200
    assert (b_params["scope"], default_params["scope"]) == (" ".join(B_SCOPES), site)
    assert GoogleAccount.objects.get().granted_scopes == B_SCOPES


def test_a_client_with_its_own_scopes_requires_them(b_scopes, alice, google):
    # Google granted the site-wide SCOPES, not brand-b's drive.file.
    google.token(token_body(scope=" ".join(clients.default().scopes)))
    google.userinfo(userinfo_body(sub="sub-1"))
    google.revoke()

    response = finish_flow(alice, start_flow_at(alice, "b.example")["state"])

    assert response.status_code == 400
    assert 'data-reason="scope_not_granted"' in response.content.decode()
    assert not GoogleAccount.objects.exists()


def test_the_callback_uses_the_client_that_started_the_flow(several, alice, google):
    google.token()
    google.userinfo()
    params = start_flow_at(alice, "b.example")

    # Back on the other host, whose client CLIENT_FOR_REQUEST would pick now.
    finish_flow(alice, params["state"])

    assert token_form(google)["client_id"] == [B_ID]
    assert GoogleAccount.objects.get().client_id == B_ID


def test_the_same_sub_through_a_second_client_by_another_user_is_refused(
    several, alice, client, other_user, google
):
    connect_through(alice, google, "testserver")
    client.force_login(other_user)

    _, response = connect_through(client, google, "b.example")

    assert response.status_code == 400
    assert 'data-reason="account_linked_to_another_user"' in response.content.decode()
    assert GoogleAccount.objects.get().client_id == DEFAULT_ID


def test_a_google_account_whose_last_row_is_deleted_may_be_connected_by_another_user(
    several, alice, client, other_user, google
):
    # The lock's row outlives the accounts; it must not keep their owner.
    connect_through(alice, google, "testserver")
    GoogleAccount.objects.get().delete()
    client.force_login(other_user)

    _, response = connect_through(client, google, "b.example")

    assert response.status_code == 200
    rows = GoogleAccount.objects.values_list("client_id", "user__username")
    assert list(rows) == [(B_ID, "bob")]


def test_the_connect_lock_keeps_a_digest_of_the_sub_only(several, alice, google):
    connect_through(alice, google, "testserver", sub="sub-kept-out")

    [key] = ConnectLock.objects.values_list("key", flat=True)
    assert key == hashlib.sha256(b"sub-kept-out").hexdigest()


def test_a_refused_connect_leaves_no_lock_behind(several, alice, client, other_user, google):
    connect_through(alice, google, "testserver")
    ConnectLock.objects.all().delete()
    client.force_login(other_user)

    _, response = connect_through(client, google, "b.example")

    assert response.status_code == 400
    assert not ConnectLock.objects.exists()


def test_an_unknown_client_name_is_the_error_page(several, alice, google, caplog):
    caplog.set_level(logging.WARNING, logger="google_connect")

    response = alice.get("/google/accounts/authorize", HTTP_HOST="ios.example")

    assert response.status_code == 400
    assert 'data-reason="unknown_client"' in response.content.decode()
    assert "'ios' is no configured web client" in caplog.text
    assert len(google.mock.calls) == 0


def choose_by_tenant(request):
    return {"b.example": "brand-b"}[request.get_host()]


@pytest.fixture
def raising_chooser(several):
    several.GOOGLE_CONNECT = {
        **several.GOOGLE_CONNECT,
        "CLIENT_FOR_REQUEST": "tests.test_several_clients.choose_by_tenant",
    }
    return several


def test_a_client_for_request_that_raises_is_the_error_page(raising_chooser, alice, google, caplog):
    caplog.set_level(logging.ERROR, logger="google_connect")

    response = alice.get("/google/accounts/authorize", HTTP_HOST="x.example")

    assert response.status_code == 400
    assert 'data-reason="unknown_client"' in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "google_connect"]
    assert record.levelname == "ERROR"
    assert record.getMessage().startswith(
        "google_connect: CLIENT_FOR_REQUEST tests.test_several_clients.choose_by_tenant "
        "raised KeyError at "
    )
    assert "in choose_by_tenant(); the connection is refused as unknown_client" in (
        record.getMessage()
    )
    # The exception's message (here the host) stays out of the log.
    assert "x.example" not in caplog.text
    assert len(google.mock.calls) == 0


def test_a_client_for_request_that_raises_is_a_json_error_in_the_api(
    raising_chooser, alice, google, caplog
):
    authorize = alice.post(
        "/google/api/v1/authorize", "{}", content_type="application/json", HTTP_HOST="x.example"
    )
    code = alice.post(
        "/google/api/v1/code",
        json.dumps({"code": "4/CODE-NOT-LOGGED", "flow": "popup"}),
        content_type="application/json",
        HTTP_HOST="x.example",
        HTTP_X_REQUESTED_WITH="XmlHttpRequest",
    )

    for response in (authorize, code):
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"] == "unknown_client"
    assert len(google.mock.calls) == 0
    assert "CODE-NOT-LOGGED" not in caplog.text


def test_a_flow_whose_client_was_removed_is_refused_without_calling_google(several, alice, google):
    params = start_flow_at(alice, "b.example")
    several.GOOGLE_CONNECT = {**several.GOOGLE_CONNECT, "CLIENTS": {}}

    response = finish_flow(alice, params["state"])

    assert 'data-reason="unknown_client"' in response.content.decode()
    assert len(google.mock.calls) == 0


def test_the_id_token_audience_is_the_flows_client(several, alice, google):
    import base64
    import json
    import time

    def id_token(aud):
        payload = {
            "iss": "https://accounts.google.com",
            "aud": aud,
            "sub": "sub-1",
            "email": "alice@example.com",
            "exp": time.time() + 600,
            "iat": time.time(),
        }
        encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
        return f"e30.{encoded}.sig"

    several.GOOGLE_CONNECT = {**several.GOOGLE_CONNECT, "USE_ID_TOKEN": True}
    google.token(token_body(id_token=id_token(DEFAULT_ID)))
    refused = finish_flow(alice, start_flow_at(alice, "b.example")["state"])
    google.token(token_body(id_token=id_token(B_ID)))
    accepted = finish_flow(alice, start_flow_at(alice, "b.example")["state"])

    assert 'data-reason="invalid_id_token"' in refused.content.decode()
    assert accepted.status_code == 200
    assert GoogleAccount.objects.get().client_id == B_ID


def test_a_replacing_client_revokes_and_deletes_the_replaced_row(several, alice, google):
    connect_through(alice, google, "testserver")
    several.GOOGLE_CONNECT["CLIENTS"]["brand-b"]["REPLACES"] = "default"
    revoke = google.revoke()

    connect_through(alice, google, "b.example")

    assert revoke.call_count == 1
    assert parse_qs(revoke.calls[0].request.body)["token"] == ["1//REFRESH-testserver"]
    assert list(GoogleAccount.objects.values_list("client_id", flat=True)) == [B_ID]


# -- the grant's lifecycle ----------------------------------------------------------


def account_of(client_id, user, **fields):
    return GoogleAccount.objects.create(
        user=user,
        sub=fields.pop("sub", "sub-1"),
        client_id=client_id,
        access_token="ya29.OLD",
        refresh_token=f"1//R-{client_id}",
        **{"expires_at": timezone.now() - timedelta(minutes=1), **fields},
    )


def test_each_account_refreshes_with_its_own_client(several, user, google):
    ours = account_of(DEFAULT_ID, user)
    theirs = account_of(B_ID, user)
    google.token(token_body())
    google.token(token_body())

    ours.get_access_token()
    theirs.get_access_token()

    forms = google.token_requests()
    assert [(f["client_id"], f["client_secret"], f["refresh_token"]) for f in forms] == [
        ([DEFAULT_ID], ["TEST-CLIENT-SECRET-do-not-leak"], [f"1//R-{DEFAULT_ID}"]),
        ([B_ID], ["B-SECRET"], [f"1//R-{B_ID}"]),
    ]


def test_an_account_stored_without_a_client_id_is_the_default_clients(several, user, google):
    account = account_of("", user)
    google.token(token_body())

    account.get_access_token()

    assert token_form(google)["client_id"] == [DEFAULT_ID]


def test_credentials_carry_the_accounts_client_id(several, user, google):
    pytest.importorskip("google.oauth2.credentials")
    account = account_of(B_ID, user, expires_at=timezone.now() + timedelta(hours=1))

    assert account.credentials().client_id == B_ID


def test_credentials_refresh_with_the_accounts_client(several, user, google):
    pytest.importorskip("google.oauth2.credentials")
    account = account_of(B_ID, user)
    google.token(token_body())

    account.credentials()

    assert token_form(google)["client_id"] == [B_ID]


def test_a_removed_client_gives_client_removed_without_calling_google(several, user, google):
    account = account_of("removed-id", user)

    from google_connect.exceptions import ReconnectRequired

    with pytest.raises(ReconnectRequired):
        account.get_access_token()

    account.refresh_from_db()
    assert (account.status, account.reconnect_reason) == ("reconnect_required", "client_removed")
    assert len(google.mock.calls) == 0


def test_revoking_an_account_of_a_removed_client_still_tells_google(several, user, google):
    account = account_of("removed-id", user)
    revoke = google.revoke()

    account.disconnect()

    assert revoke.call_count == 1
    assert parse_qs(revoke.calls[0].request.body) == {"token": ["1//R-removed-id"]}
    assert not GoogleAccount.objects.exists()


def test_check_google_accounts_counts_by_client(several, user):
    account_of(DEFAULT_ID, user)
    account_of("", user, sub="sub-2")
    account_of(B_ID, user)
    account_of("removed-id", user, sub="sub-3")
    out = StringIO()

    call_command("check_google_accounts", "--json", stdout=out, stderr=StringIO())

    import json

    assert json.loads(out.getvalue())["by_client"] == {
        B_ID: {"name": "brand-b", "accounts": 1},
        "removed-id": {"name": "", "accounts": 1},
        DEFAULT_ID: {"name": "default", "accounts": 2},
    }


# -- Cross-Account Protection -----------------------------------------------------


def test_a_token_event_for_an_ios_client_is_accepted_and_ends_no_web_grant(
    several, client, risc, user
):
    web = account_of(DEFAULT_ID, user)

    response = risc.post(client, sign(claims(TOKENS_REVOKED, aud=IOS_ID)))

    assert response.status_code == 202
    web.refresh_from_db()
    assert web.status == "active"
    assert GoogleSecurityEvent.objects.get().audience == IOS_ID


def test_a_token_event_for_client_b_marks_only_bs_account(several, client, risc, user):
    ours = account_of(DEFAULT_ID, user)
    theirs = account_of(B_ID, user)

    risc.post(client, sign(claims(TOKENS_REVOKED, {"subject": iss_sub("sub-1")}, aud=B_ID)))

    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, ours.refresh_token) == ("active", f"1//R-{DEFAULT_ID}")
    assert (theirs.status, theirs.refresh_token) == ("reconnect_required", "")


def test_a_token_revoked_event_finds_the_token_of_its_client_only(several, client, risc, user):
    theirs = account_of(B_ID, user)
    subject = {
        "subject_type": "oauth_token",
        "token_type": "refresh_token",
        "token_identifier_alg": PREFIX,
        "token": theirs.refresh_token[:16],
    }

    risc.post(client, sign(claims(TOKEN_REVOKED, {"subject": subject}, aud=DEFAULT_ID)))

    theirs.refresh_from_db()
    assert theirs.status == "active"


def test_an_account_event_acts_on_every_clients_accounts(several, client, risc, user):
    ours = account_of(DEFAULT_ID, user)
    theirs = account_of(B_ID, user)
    event = {"subject": iss_sub("sub-1"), "reason": "hijacking"}

    risc.post(client, sign(claims(ACCOUNT_DISABLED, event, aud=IOS_ID)))

    rows = GoogleAccount.objects.order_by("pk").values_list("pk", "reconnect_reason")
    assert list(rows) == [(ours.pk, "account_disabled"), (theirs.pk, "account_disabled")]


def test_an_event_for_an_unknown_client_is_refused(several, client, risc):
    response = risc.post(client, sign(claims(aud="unknown.apps.googleusercontent.com")))

    assert response.status_code == 400
    assert response.json()["err"] == "invalid_audience"


# -- the admin ----------------------------------------------------------------------


def test_the_admin_shows_filters_and_searches_by_client(several, admin_client, user):
    account_of(B_ID, user, email="b@example.com")
    account_of("removed-id", user, email="gone@example.com", sub="sub-2")
    url = "/admin/google_connect/googleaccount/"

    listing = admin_client.get(url).content.decode()
    filtered = admin_client.get(url, {"client": "brand-b"}).content.decode()
    removed = admin_client.get(url, {"client": "-"}).content.decode()
    searched = admin_client.get(url, {"q": B_ID}).content.decode()

    assert "brand-b" in listing and "removed-id" in listing
    assert "b@example.com" in filtered and "gone@example.com" not in filtered
    assert "gone@example.com" in removed and "b@example.com" not in removed
    assert "b@example.com" in searched and "gone@example.com" not in searched


def test_a_refused_first_connect_through_client_b_is_named_by_bs_id_token(several, alice, google):
    # The id_token of a flow through brand-b has brand-b as its audience: it
    # names the Google account of the refused grant without a userinfo call.
    import base64
    import json
    import time

    payload = {
        "iss": "https://accounts.google.com",
        "aud": B_ID,
        "sub": "sub-1",
        "exp": time.time() + 600,
        "iat": time.time(),
    }
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    google.token(token_body(scope="openid", id_token=f"e30.{encoded}.sig"))
    google.revoke()

    response = finish_flow(alice, start_flow_at(alice, "b.example")["state"])

    assert 'data-reason="scope_not_granted"' in response.content.decode()
    assert [call.request.url for call in google.mock.calls] == [
        google.config.TOKEN_URL,
        google.config.REVOKE_URL,
    ]


def refused_through_b(alice, google):
    google.token(token_body(scope="openid", refresh_token="1//REFUSED-B"))
    google.userinfo(userinfo_body(sub="sub-1"))
    revoke = google.revoke()
    response = finish_flow(alice, start_flow_at(alice, "b.example")["state"])
    assert 'data-reason="scope_not_granted"' in response.content.decode()
    return revoke


def test_a_refused_first_connect_through_b_revokes_bs_grant_beside_a_default_account(
    several, alice, google
):
    # The default client's row is another grant: brand-b's must not stay live.
    connect_through(alice, google, "testserver")

    revoke = refused_through_b(alice, google)

    assert revoke.call_count == 1
    assert parse_qs(revoke.calls[0].request.body) == {"token": ["1//REFUSED-B"]}
    assert list(GoogleAccount.objects.values_list("client_id", flat=True)) == [DEFAULT_ID]


def test_a_refused_reconnect_through_b_leaves_bs_working_grant_alone(several, alice, google):
    connect_through(alice, google, "b.example")

    revoke = refused_through_b(alice, google)

    assert revoke.call_count == 0
    assert GoogleAccount.objects.get().refresh_token == "1//REFRESH-b.example"
