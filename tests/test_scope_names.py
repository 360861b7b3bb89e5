"""Scopes in words for the error page, and short names for the admin's list."""

import pytest
from django.utils import translation

from google_connect.scopes.names import describe, short_name


@pytest.mark.parametrize(
    ("scope", "short"),
    [
        ("https://www.googleapis.com/auth/calendar.readonly", "calendar.readonly"),
        ("https://www.googleapis.com/auth/userinfo.email", "userinfo.email"),
        ("https://mail.google.com/", "mail.google.com"),
        ("openid", "openid"),
    ],
)
def test_short_names(scope, short):
    assert short_name(scope) == short


def test_short_and_url_forms_share_googles_description():
    assert describe("email") == describe("https://www.googleapis.com/auth/userinfo.email")
    assert describe("email") == "See your primary Google Account email address"


def test_an_unknown_scope_is_described_by_itself():
    assert describe("https://example.com/scope") == "https://example.com/scope"


def test_descriptions_are_translated():
    with translation.override("fr"):
        assert (
            describe("openid") == "Associer votre compte à vos informations personnelles sur Google"
        )
