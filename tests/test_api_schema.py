"""The JSON API's OpenAPI document: valid OpenAPI 3.1, describing every endpoint,
and the API keeping to it under a bounded schemathesis run (no 500, no answer
the document does not allow)."""

from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
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

from google_connect.testing import token_body, userinfo_body
from google_connect.urls import urlpatterns
from tests.figures import report

API = "/google/api/v1"
OPENAPI = API + "/openapi.json"
# What the API promises: no 500, and every answer one the document allows.
# (Not schemathesis's checks that a request the document calls invalid is
# refused: the document names the session cookie, and this run authenticates
# by a header instead, which the document cannot know about.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Examples per operation: five operations, a few hundred examples in all.
EXAMPLES = 60

schema = schemathesis.openapi.from_wsgi(OPENAPI, get_wsgi_application())
STATUSES: Counter[str] = Counter()


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
