from importlib.util import find_spec

import pytest
from django.core.checks import run_checks

from google_connect.conf import get_settings

pytestmark = pytest.mark.django_db

VALID = {"CLIENT_ID": "id.apps.googleusercontent.com", "CLIENT_SECRET": "secret"}
# tests/settings.py defines TASKS only with Django's Tasks framework installed,
# and its "database" backend only with django-tasks-db.
TASKS_FRAMEWORK = find_spec("django.tasks") or find_spec("django_tasks")
needs_tasks = pytest.mark.skipif(
    TASKS_FRAMEWORK is None, reason="needs Django 6.0+ or the django-tasks backport"
)
needs_database_backend = pytest.mark.skipif(
    TASKS_FRAMEWORK is None or find_spec("django_tasks_db") is None,
    reason="needs Django's Tasks framework and django-tasks-db (the 'database' backend)",
)


def messages():
    return [(m.id, m.msg) for m in run_checks() if m.id.startswith("google_connect.")]


def test_valid_settings_pass(settings):
    settings.GOOGLE_CONNECT = VALID

    assert messages() == []


def test_missing_client_id_and_secret(settings):
    settings.GOOGLE_CONNECT = {}

    assert messages() == [
        ("google_connect.E001", "GOOGLE_CONNECT['CLIENT_ID'] is not set."),
        ("google_connect.E002", "GOOGLE_CONNECT['CLIENT_SECRET'] is not set."),
    ]


def test_unset_setting_reports_the_missing_credentials(settings):
    del settings.GOOGLE_CONNECT

    assert [id_ for id_, _ in messages()] == ["google_connect.E001", "google_connect.E002"]


def test_setting_that_is_not_a_dict(settings):
    settings.GOOGLE_CONNECT = ["CLIENT_ID"]

    assert messages() == [("google_connect.E004", "GOOGLE_CONNECT must be a dict, not list.")]


def test_unknown_key_is_named(settings):
    settings.GOOGLE_CONNECT = {**VALID, "CLIENT_SECRETS": "typo", "SCOPE": []}

    assert messages() == [
        ("google_connect.E003", "GOOGLE_CONNECT has an unknown key 'CLIENT_SECRETS'."),
        ("google_connect.E003", "GOOGLE_CONNECT has an unknown key 'SCOPE'."),
    ]
    [check] = [m for m in run_checks() if m.id == "google_connect.E003"][:1]
    assert "CLIENT_SECRET" in check.hint


@pytest.mark.parametrize("scopes", ["openid email", [], ["openid", 3]])
def test_scopes_must_be_a_list_of_strings(settings, scopes):
    settings.GOOGLE_CONNECT = {**VALID, "SCOPES": scopes}

    assert messages() == [
        (
            "google_connect.E005",
            "GOOGLE_CONNECT['SCOPES'] must be a non-empty list of scope strings.",
        )
    ]


def test_required_scopes_must_be_requested(settings):
    settings.GOOGLE_CONNECT = {
        **VALID,
        "SCOPES": ["openid", "email"],
        "REQUIRED_SCOPES": ["https://www.googleapis.com/auth/userinfo.email", "calendar"],
    }

    assert messages() == [
        (
            "google_connect.E006",
            "GOOGLE_CONNECT['REQUIRED_SCOPES'] lists scopes that SCOPES does not request: "
            "calendar.",
        )
    ]


def test_required_scopes_must_be_requested_by_each_web_clients_own_scopes(settings):
    settings.GOOGLE_CONNECT = {
        **VALID,
        "SCOPES": ["openid", "email", "calendar"],
        "REQUIRED_SCOPES": ["email", "calendar"],
        "CLIENTS": {
            "brand-b": {"CLIENT_ID": "b", "CLIENT_SECRET": "t", "SCOPES": ["openid", "email"]},
            # Its own scopes with all of the required ones, and none of its own.
            "brand-c": {"CLIENT_ID": "c", "CLIENT_SECRET": "t", "SCOPES": ["email", "calendar"]},
            "brand-d": {"CLIENT_ID": "d", "CLIENT_SECRET": "t"},
            # An app's client starts no flow: its scopes ask for nothing.
            "ios": {"CLIENT_ID": "i", "TYPE": "ios", "SCOPES": ["openid"]},
        },
    }

    assert messages() == [
        (
            "google_connect.E006",
            "GOOGLE_CONNECT['REQUIRED_SCOPES'] lists scopes that "
            "GOOGLE_CONNECT['CLIENTS']['brand-b']['SCOPES'] does not request: calendar.",
        )
    ]


@pytest.mark.parametrize(("key", "code"), [("TIMEOUT", "E007"), ("STATE_MAX_AGE", "E008")])
@pytest.mark.parametrize("value", [0, -1, "10", True])
def test_durations_must_be_positive_numbers(settings, key, code, value):
    settings.GOOGLE_CONNECT = {**VALID, key: value}

    assert messages() == [
        (f"google_connect.{code}", f"GOOGLE_CONNECT['{key}'] must be a positive number of seconds.")
    ]


@pytest.mark.parametrize(
    ("key", "code"), [("EXPIRY_WARNING_DAYS", "E040"), ("KEEP_ALIVE_DAYS", "E041")]
)
@pytest.mark.parametrize("value", [0, -1, "7", 1.5, True, None])
def test_day_counts_must_be_positive_whole_numbers(settings, key, code, value):
    settings.GOOGLE_CONNECT = {**VALID, key: value}

    assert messages() == [
        (
            f"google_connect.{code}",
            f"GOOGLE_CONNECT['{key}'] must be a positive whole number of days.",
        )
    ]


def test_keep_alive_at_googles_idle_expiry_warns(settings):
    settings.GOOGLE_CONNECT = {**VALID, "KEEP_ALIVE_DAYS": 180}

    assert messages() == [
        (
            "google_connect.W040",
            "GOOGLE_CONNECT['KEEP_ALIVE_DAYS'] is 180: Google ends refresh tokens unused for six "
            "months, so check_google_accounts --keep-alive would come too late.",
        )
    ]


def test_day_counts_have_defaults(settings):
    settings.GOOGLE_CONNECT = {**VALID, "KEEP_ALIVE_DAYS": 90}
    from google_connect.conf import get_settings

    assert (get_settings().EXPIRY_WARNING_DAYS, get_settings().KEEP_ALIVE_DAYS) == (7, 90)


@pytest.mark.parametrize(
    ("uri", "debug", "ok"),
    [
        ("https://example.com/google/accounts/connect", False, True),
        ("http://localhost:8000/google/accounts/connect", False, True),
        ("http://127.0.0.1:8000/google/accounts/connect", False, True),
        ("http://example.com/google/accounts/connect", True, True),
        ("http://example.com/google/accounts/connect", False, False),
    ],
)
def test_redirect_uri_must_be_https_outside_debug(settings, uri, debug, ok):
    settings.DEBUG = debug
    settings.GOOGLE_CONNECT = {**VALID, "REDIRECT_URI": uri}

    expected = (
        []
        if ok
        else [
            ("google_connect.E010", "GOOGLE_CONNECT['REDIRECT_URI'] must use https outside DEBUG.")
        ]
    )
    assert messages() == expected


def test_fernet_keys_fallback_to_secret_key_warns(settings):
    settings.GOOGLE_CONNECT = VALID
    del settings.FERNET_KEYS

    [(check_id, msg)] = messages()
    assert check_id == "google_connect.W001"
    assert msg.startswith("FERNET_KEYS is not set")


@pytest.mark.parametrize("keys", ["one-key", [], [""], [b"bytes"], {"key": "value"}])
def test_fernet_keys_must_be_a_non_empty_list_of_strings(settings, keys):
    settings.GOOGLE_CONNECT = VALID
    settings.FERNET_KEYS = keys

    assert messages() == [
        ("google_connect.E009", "FERNET_KEYS must be a non-empty list of strings.")
    ]


GOOD_FERNET_KEY = "jSAzYV6BXbRFkV4UnH4zWz6FYrmaZ8Qv2Ff6y0lKvwA="


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-fernet-key",
        "jSAzYV6BXbRFkV4UnH4zWz6FYrmaZ8Qv2Ff6y0lKvw",  # its padding cut off
        "c2hvcnQ=",  # valid base64, but 5 bytes
        "jSAzYV6BXbRFkV4UnH4zWz6FYrmaZ8Qv2Ff6y0lKvwA=jSAz",
    ],
)
def test_a_malformed_fernet_key_without_hkdf_is_an_error_naming_its_position(settings, bad):
    settings.GOOGLE_CONNECT = VALID
    settings.FERNET_USE_HKDF = False
    settings.FERNET_KEYS = [GOOD_FERNET_KEY, bad]

    assert messages() == [
        (
            "google_connect.E060",
            "FERNET_KEYS[1] is not a valid Fernet key: without FERNET_USE_HKDF, each key "
            "must be 32 url-safe base64-encoded bytes.",
        )
    ]


def test_the_malformed_fernet_key_check_never_shows_the_key(settings):
    settings.GOOGLE_CONNECT = VALID
    settings.FERNET_USE_HKDF = False
    settings.FERNET_KEYS = ["SECRET-looking-key-one", "SECRET-looking-key-two"]

    found = [m for m in run_checks() if m.id == "google_connect.E060"]

    assert [m.msg.split(" is not")[0] for m in found] == ["FERNET_KEYS[0]", "FERNET_KEYS[1]"]
    assert all("SECRET" not in m.msg + m.hint for m in found)


def test_valid_fernet_keys_without_hkdf_pass(settings):
    settings.GOOGLE_CONNECT = VALID
    settings.FERNET_USE_HKDF = False
    settings.FERNET_KEYS = [GOOD_FERNET_KEY, "5LZ1YaI_KiwWX9EjqiaE9p9ozlmwhAUktORWhJM6o6A="]

    assert messages() == []


def test_any_string_is_a_fernet_key_with_hkdf(settings):
    settings.GOOGLE_CONNECT = VALID
    settings.FERNET_USE_HKDF = True
    settings.FERNET_KEYS = ["not-a-fernet-key"]

    assert messages() == []


def test_every_check_has_a_hint(settings):
    settings.GOOGLE_CONNECT = {"BOGUS": 1, "TIMEOUT": 0}
    settings.FERNET_KEYS = "x"

    found = [m for m in run_checks() if m.id.startswith("google_connect.")]
    assert len(found) == 5
    assert all(m.hint for m in found)


@pytest.mark.parametrize("value", ["", 3, ["base.html"]])
def test_base_template_must_be_a_template_name(settings, value):
    settings.GOOGLE_CONNECT = {**VALID, "BASE_TEMPLATE": value}

    assert messages() == [
        ("google_connect.E020", "GOOGLE_CONNECT['BASE_TEMPLATE'] must be None or a template name.")
    ]


def test_base_template_must_exist(settings):
    settings.GOOGLE_CONNECT = {**VALID, "BASE_TEMPLATE": "no/such/base.html"}

    assert messages() == [
        (
            "google_connect.E021",
            "GOOGLE_CONNECT['BASE_TEMPLATE'] names 'no/such/base.html', which no template "
            "loader finds.",
        )
    ]


def test_an_existing_base_template_passes(settings):
    settings.GOOGLE_CONNECT = {**VALID, "BASE_TEMPLATE": "google_connect/layout.html"}

    assert messages() == []


def test_a_base_template_with_a_syntax_error_does_not_break_the_checks(settings, tmp_path):
    (tmp_path / "broken.html").write_text("{% block content %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    settings.GOOGLE_CONNECT = {**VALID, "BASE_TEMPLATE": "broken.html"}

    assert messages() == []


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_use_id_token_must_be_a_boolean(settings, value):
    settings.GOOGLE_CONNECT = {**VALID, "USE_ID_TOKEN": value}

    assert messages() == [
        ("google_connect.E030", "GOOGLE_CONNECT['USE_ID_TOKEN'] must be True or False.")
    ]


def test_use_id_token_is_off_by_default(settings):
    settings.GOOGLE_CONNECT = VALID

    assert messages() == []
    assert get_settings().USE_ID_TOKEN is False


@pytest.mark.parametrize(
    "key", ["AUTHORIZE_URL", "TOKEN_URL", "USERINFO_URL", "REVOKE_URL", "HELP_URL"]
)
@pytest.mark.parametrize("value", ["oauth2.googleapis.com/token", "ftp://example.com/x", 3, None])
def test_google_endpoints_and_the_guide_must_be_absolute_urls(settings, key, value):
    settings.GOOGLE_CONNECT = {**VALID, key: value}

    assert messages() == [
        ("google_connect.E012", f"GOOGLE_CONNECT[{key!r}] must be an absolute http(s) URL.")
    ]


@pytest.mark.parametrize("value", ["", 3, ["/"]])
def test_success_url_must_be_none_or_a_url(settings, value):
    settings.GOOGLE_CONNECT = {**VALID, "SUCCESS_URL": value}

    assert messages() == [
        ("google_connect.E013", "GOOGLE_CONNECT['SUCCESS_URL'] must be None, a URL or a URL name.")
    ]


def test_local_stand_in_urls_pass(settings):
    settings.GOOGLE_CONNECT = {**VALID, "TOKEN_URL": "http://127.0.0.1:8000/fake-google/token"}

    assert messages() == []


@pytest.mark.parametrize("value", ["", 5])
def test_task_backend_must_be_none_or_an_alias(settings, value):
    settings.GOOGLE_CONNECT = {**VALID, "TASK_BACKEND": value}

    assert messages() == [
        (
            "google_connect.E120",
            "GOOGLE_CONNECT['TASK_BACKEND'] must be None or the name of a TASKS backend.",
        )
    ]


@needs_tasks
def test_task_backend_must_be_a_tasks_alias(settings):
    settings.TASKS = {"default": settings.TASKS["default"]}
    settings.GOOGLE_CONNECT = {**VALID, "TASK_BACKEND": "database"}

    assert messages() == [
        (
            "google_connect.E122",
            "GOOGLE_CONNECT['TASK_BACKEND'] is 'database', which TASKS does not define.",
        )
    ]


def test_task_backend_needs_the_tasks_framework(settings, monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    settings.GOOGLE_CONNECT = {**VALID, "TASK_BACKEND": "database"}

    assert messages() == [
        (
            "google_connect.E121",
            "GOOGLE_CONNECT['TASK_BACKEND'] is set, but Django's Tasks framework is not installed.",
        )
    ]


@needs_database_backend
def test_a_task_backend_of_tasks_passes(settings):
    settings.GOOGLE_CONNECT = {**VALID, "TASK_BACKEND": "database"}

    assert messages() == []


@pytest.mark.parametrize("value", [0, 1025, -1, 8.0, "64", True])
def test_bulk_concurrency_must_be_none_or_1_to_1024(settings, value):
    settings.GOOGLE_CONNECT = {**VALID, "BULK_CONCURRENCY": value}

    assert messages() == [
        (
            "google_connect.E140",
            "GOOGLE_CONNECT['BULK_CONCURRENCY'] must be None or a whole number from 1 to "
            f"1024, not {value!r}.",
        )
    ]


@pytest.mark.parametrize("value", [None, 1, 64, 1024])
def test_a_bulk_concurrency_of_none_or_1_to_1024_passes(settings, value):
    settings.GOOGLE_CONNECT = {**VALID, "BULK_CONCURRENCY": value}

    assert messages() == []
