"""The authorization response's ``iss`` (RFC 9207; issue 11, item 5)."""

import pytest
from django.core.checks import Error, run_checks

from google_connect.models import GoogleAccount
from tests.support import finish_flow, start_flow

pytestmark = pytest.mark.django_db

GOOGLE = "https://accounts.google.com"


def callback(alice, google, **extra):
    google.token()
    google.userinfo()
    params = start_flow(alice)
    return alice.get(
        "/google/accounts/connect",
        {"state": params["state"], "code": "4/CODE", **extra},
    )


def test_googles_iss_is_accepted(alice, google):
    response = callback(alice, google, iss=GOOGLE)

    assert response.status_code == 200
    assert GoogleAccount.objects.count() == 1


def test_a_missing_iss_is_accepted(alice, google):
    assert callback(alice, google).status_code == 200


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example",
        "https://accounts.google.com/",
        "https://ACCOUNTS.google.com",
        "",
        [GOOGLE, GOOGLE],
        [GOOGLE, "https://evil.example"],
    ],
)
def test_another_or_repeated_iss_is_refused_before_any_call_to_google(alice, google, iss):
    response = callback(alice, google, iss=iss)

    assert response.status_code == 400
    assert response.context["reason"] == "invalid_issuer"
    assert len(google.mock.calls) == 0
    assert not GoogleAccount.objects.exists()


def test_an_error_answer_with_another_iss_is_invalid_issuer(alice, google):
    params = start_flow(alice)

    response = finish_flow(
        alice, params["state"], error="access_denied", iss="https://evil.example"
    )

    assert response.context["reason"] == "invalid_issuer"


def test_the_issuer_is_a_setting(alice, google, settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "ISSUER": "https://idp.example"}

    assert callback(alice, google, iss="https://idp.example").status_code == 200


@pytest.mark.parametrize("value", [None, 42, "http://accounts.google.com", "accounts.google.com"])
def test_check_refuses_an_issuer_that_is_not_an_https_url(settings, value):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "ISSUER": value}

    errors = [e for e in run_checks() if e.id == "google_connect.E011"]

    assert errors == [
        Error(
            "GOOGLE_CONNECT['ISSUER'] must be an https URL string.",
            hint="Leave it unset for Google (https://accounts.google.com).",
            id="google_connect.E011",
        )
    ]


@pytest.fixture
def issuer_required(settings):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "REQUIRE_ISSUER": True}


def test_a_missing_iss_is_refused_before_any_call_to_google_when_required(
    alice, google, issuer_required
):
    response = callback(alice, google)

    assert response.status_code == 400
    assert response.context["reason"] == "invalid_issuer"
    assert len(google.mock.calls) == 0
    assert not GoogleAccount.objects.exists()


def test_an_error_answer_without_iss_is_invalid_issuer_when_required(
    alice, google, issuer_required
):
    params = start_flow(alice)

    response = alice.get(
        "/google/accounts/connect", {"state": params["state"], "error": "access_denied"}
    )

    assert response.status_code == 400
    assert response.context["reason"] == "invalid_issuer"


def test_googles_iss_is_accepted_when_required(alice, google, issuer_required):
    assert callback(alice, google, iss=GOOGLE).status_code == 200
    assert GoogleAccount.objects.count() == 1


@pytest.mark.parametrize("value", [None, 1, "yes"])
def test_check_refuses_a_require_issuer_that_is_not_a_bool(settings, value):
    settings.GOOGLE_CONNECT = {**settings.GOOGLE_CONNECT, "REQUIRE_ISSUER": value}

    errors = [e for e in run_checks() if e.id == "google_connect.E014"]

    assert errors == [
        Error(
            "GOOGLE_CONNECT['REQUIRE_ISSUER'] must be True or False.",
            hint="True refuses a redirect callback without iss (RFC 9207); the default, "
            "False, accepts one.",
            id="google_connect.E014",
        )
    ]
