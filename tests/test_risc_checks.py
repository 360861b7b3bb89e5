"""System checks of the Cross-Account Protection settings."""

import pytest
from django.core.checks import run_checks

from google_connect.conf import get_settings

pytestmark = pytest.mark.django_db

VALID = {"CLIENT_ID": "id.apps.googleusercontent.com", "CLIENT_SECRET": "secret"}


def messages():
    return [(m.id, m.msg) for m in run_checks() if m.id.startswith("google_connect.")]


def test_defaults(settings):
    settings.GOOGLE_CONNECT = VALID
    config = get_settings()

    assert messages() == []
    assert config.RISC_CONFIG_URL == "https://accounts.google.com/.well-known/risc-configuration"
    assert config.RISC_API_URL == "https://risc.googleapis.com/v1beta"
    assert config.risc_audiences == ("id.apps.googleusercontent.com",)


def test_risc_audiences_setting(settings):
    settings.GOOGLE_CONNECT = {**VALID, "RISC_AUDIENCES": ["web", "android"]}

    assert messages() == []
    assert get_settings().risc_audiences == ("web", "android")


@pytest.mark.parametrize("value", [None, 3, "accounts.google.com/.well-known/risc-configuration"])
def test_risc_config_url_must_be_a_url(settings, value):
    settings.GOOGLE_CONNECT = {**VALID, "RISC_CONFIG_URL": value}

    assert messages() == [
        ("google_connect.E050", "GOOGLE_CONNECT['RISC_CONFIG_URL'] must be an http(s) URL.")
    ]


@pytest.mark.parametrize("value", ["client-id", [], ["ok", ""], [3]])
def test_risc_audiences_must_be_a_list_of_strings(settings, value):
    settings.GOOGLE_CONNECT = {**VALID, "RISC_AUDIENCES": value}

    assert messages() == [
        (
            "google_connect.E051",
            "GOOGLE_CONNECT['RISC_AUDIENCES'] must be None or a non-empty list of strings.",
        )
    ]


def test_risc_api_url_must_be_a_url(settings):
    settings.GOOGLE_CONNECT = {**VALID, "RISC_API_URL": ["https://risc.googleapis.com"]}

    assert messages() == [
        ("google_connect.E052", "GOOGLE_CONNECT['RISC_API_URL'] must be an http(s) URL.")
    ]
