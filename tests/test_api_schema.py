"""The JSON API's OpenAPI document: valid OpenAPI 3.1, describing every endpoint,
and the API keeping to it under two bounded schemathesis runs (no 500, no
answer the document does not allow): one by a caller known by a header, one by
a signed-in browser (session cookie and CSRF token) with accounts to disconnect."""

from collections import Counter
from urllib.parse import parse_qs

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from google_connect.models import GoogleAccount
from google_connect.testing import make_account, token_body, userinfo_body
from google_connect.urls import urlpatterns
from tests.figures import report

API = "/google/api/v1"
OPENAPI = API + "/openapi.json"
# What the API promises: no 500, and every answer one the document allows.
# (Not schemathesis's checks that a request the document calls invalid is
# refused: the document names the session cookie, and the first run
# authenticates by a header instead, which the document cannot know about.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def no_server_error_but_googles(ctx, response, case):
    """``not_a_server_error``, except the documented 503 with ``Retry-After``: the
    answer when Google could not be told, which a signed-in disconnect does reach."""
    # Response headers: lowercase names, lists of values.
    if response.status_code == 503 and response.headers.get("retry-after"):
        return None
    return not_a_server_error(ctx, response, case)


SESSION_CHECKS = [no_server_error_but_googles, *CHECKS[1:]]

# Examples per operation: five operations, a few hundred examples in each run.
EXAMPLES = 60
SESSION_EXAMPLES = 40

# Every operation: schemathesis leaves out the one that serves the document
# (GET /openapi.json) unless a filter names it.
schema = schemathesis.openapi.from_wsgi(OPENAPI, get_wsgi_application()).include(path_regex=".*")
STATUSES: Counter[str] = Counter()
SESSION_STATUSES: Counter[str] = Counter()
# A CSRF secret (32 letters and digits): Django accepts it unmasked in the header.
CSRF_SECRET = "SchemathesisCsrfSecret0123456789"
DISCONNECT = "/accounts/{id}/disconnect"


def test_the_document_is_valid_openapi_3_1(client):
    document = client.get(OPENAPI).json()

    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": API}]


def test_the_document_describes_every_api_url(client):
    document = client.get(OPENAPI).json()
    api_names = sorted(
        pattern.name for pattern in urlpatterns if (pattern.name or "").startswith("api-")
    )
    paths = {
        reverse(f"google_connect:{name}", kwargs={"pk": 1} if name == "api-disconnect" else {})
        .removeprefix(API)
        .replace("/1/", "/{id}/")
        for name in api_names
    }

    assert api_names == [
        "api-accounts",
        "api-authorize",
        "api-code",
        "api-disconnect",
        "api-openapi",
    ]
    assert paths == set(document["paths"])


def test_the_runs_cover_every_operation_of_the_document(client):
    document = client.get(OPENAPI).json()
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }

    covered = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}

    assert covered == described
    assert ("GET", "/openapi.json") in covered


@pytest.fixture
def open_connections():
    """The test's database connection kept open across WSGI requests, as the test
    client keeps it: the handler would close it at the end of each."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_caller(settings, user, google, open_connections):
    """A caller known by a header (the test authenticator), with Google answering yes."""
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "API_AUTHENTICATION": ["tests.api_auth.token_user"],
        "SCOPE_SETS": {"calendar": ["https://www.googleapis.com/auth/calendar.readonly"]},
    }
    google.token(token_body())
    google.userinfo(userinfo_body())
    google.revoke()
    return {"Authorization": f"Token {user.username}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_document(case, api_caller):
    response = case.call_and_validate(headers={**(case.headers or {}), **api_caller}, checks=CHECKS)
    STATUSES[f"{case.method} {case.path} {response.status_code}"] += 1
    report("schemathesis examples", sum(STATUSES.values()))
    report("schemathesis outcomes", ", ".join(f"{k} {v}" for k, v in sorted(STATUSES.items())))


# -- a signed-in browser: the session cookie and the CSRF token -------------------------


class SignedIn:
    """A browser signed in as ``user``, with accounts whose disconnects end in each way."""

    def __init__(self, user, session_key: str, settings) -> None:
        self.user = user
        self.settings = settings
        self.cookies = {"sessionid": session_key, "csrftoken": CSRF_SECRET}
        self.headers = {"X-CSRFToken": CSRF_SECRET}

    def seed(self) -> list[int]:
        """Fresh accounts (an example may have disconnected one): Google revokes the
        first, is down for the second, and no key reads the third's tokens."""
        GoogleAccount.objects.filter(user=self.user).delete()
        revoked = make_account(self.user, refresh_token="1//REVOKES")
        down = make_account(self.user, refresh_token="1//GOOGLE-DOWN")
        # Encrypted with a key since removed: no configured key reads its tokens.
        keys = self.settings.FERNET_KEYS
        self.settings.FERNET_KEYS = ["a-key-since-removed"]
        try:
            lost = make_account(self.user)
        finally:
            self.settings.FERNET_KEYS = keys
        return [revoked.pk, down.pk, lost.pk]

    def disconnect_target(self, generated: object, accounts: list[int]) -> object:
        """One of the accounts, or the generated id as it is (most likely a 404):
        chosen by the generated id, so an example replays the same."""
        if not isinstance(generated, int) or isinstance(generated, bool):
            return generated
        choice = generated % (len(accounts) + 1)
        return accounts[choice] if choice < len(accounts) else generated


def revoke_answer(request):
    # The token names the account: one grant Google revokes, one it cannot reach.
    [token] = parse_qs(request.body)["token"]
    return (503, {}, "{}") if token == "1//GOOGLE-DOWN" else (200, {}, "{}")


@pytest.fixture
def signed_in(settings, user, google, open_connections, no_backoff):
    """The default API_AUTHENTICATION (the session), with Google answering yes,
    except to the revocation of one account."""
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "SCOPE_SETS": {"calendar": ["https://www.googleapis.com/auth/calendar.readonly"]},
    }
    google.token(token_body())
    google.userinfo(userinfo_body())
    google.mock.add_callback("POST", google.config.REVOKE_URL, callback=revoke_answer)
    browser = Client()
    browser.force_login(user)
    return SignedIn(user, browser.cookies[settings.SESSION_COOKIE_NAME].value, settings)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=SESSION_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_a_signed_in_browser_gets_answers_the_document_allows(case, signed_in):
    accounts = signed_in.seed()
    if case.operation.path == DISCONNECT:
        case.path_parameters["id"] = signed_in.disconnect_target(
            case.path_parameters["id"], accounts
        )

    response = case.call_and_validate(
        headers={**(case.headers or {}), **signed_in.headers},
        cookies=signed_in.cookies,
        checks=SESSION_CHECKS,
    )

    SESSION_STATUSES[f"{case.method} {case.path} {response.status_code}"] += 1
    report("schemathesis session examples", sum(SESSION_STATUSES.values()))
    report(
        "schemathesis session outcomes",
        ", ".join(f"{k} {v}" for k, v in sorted(SESSION_STATUSES.items())),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("which", "status"), [(0, 200), (1, 503), (2, 200)], ids=["revoked", "down", "unreadable"]
)
def test_each_way_a_signed_in_disconnect_ends_keeps_to_the_document(signed_in, which, status):
    accounts = signed_in.seed()
    case = schema[DISCONNECT]["POST"].Case(path_parameters={"id": accounts[which]})

    response = case.call_and_validate(
        headers=signed_in.headers, cookies=signed_in.cookies, checks=SESSION_CHECKS
    )

    assert response.status_code == status
    if which == 2:
        assert response.json()["revoked_at_google"] is False
