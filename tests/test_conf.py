from django.test import override_settings

from google_connect.conf import DEFAULTS, get_settings


def test_defaults_are_filled_in(settings):
    settings.GOOGLE_CONNECT = {"CLIENT_ID": "id", "CLIENT_SECRET": "s"}

    config = get_settings()
    assert config.SCOPES == tuple(DEFAULTS["SCOPES"])
    assert config.required_scopes == config.SCOPES
    assert config.TIMEOUT == 10
    assert config.STATE_MAX_AGE == 600
    assert config.HELP_URL == "https://myaccount.google.com/permissions"
    assert config.TOKEN_URL == "https://oauth2.googleapis.com/token"


def test_override_settings_is_seen_and_undone():
    before = get_settings().TIMEOUT
    with override_settings(GOOGLE_CONNECT={"TIMEOUT": 2.5}):
        assert get_settings().TIMEOUT == 2.5
    assert get_settings().TIMEOUT == before


def test_required_scopes_narrow_the_requested_ones(settings):
    settings.GOOGLE_CONNECT = {"SCOPES": ["openid", "email", "x"], "REQUIRED_SCOPES": ["openid"]}

    assert get_settings().required_scopes == ("openid",)


def test_repr_hides_the_client_secret(settings):
    settings.GOOGLE_CONNECT = {"CLIENT_ID": "id", "CLIENT_SECRET": "TOP-SECRET"}

    assert "TOP-SECRET" not in repr(get_settings())
