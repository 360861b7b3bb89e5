"""System checks for the ``GOOGLE_CONNECT`` setting and the encryption keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from . import scopes
from .conf import DEFAULTS, SETTING_NAME

ID = "google_connect.{}"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    raw = getattr(settings, SETTING_NAME, None)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, not {type(raw).__name__}.",
                hint=f'Set {SETTING_NAME} = {{"CLIENT_ID": "...", "CLIENT_SECRET": "..."}}.',
                id=ID.format("E004"),
            )
        ]
    errors: list[Error | Warning] = []
    if not raw.get("CLIENT_ID"):
        errors.append(
            Error(
                f"{SETTING_NAME}['CLIENT_ID'] is not set.",
                hint="Create an OAuth client of type 'Web application' in the Google Cloud "
                "console and put its client id here.",
                id=ID.format("E001"),
            )
        )
    if not raw.get("CLIENT_SECRET"):
        errors.append(
            Error(
                f"{SETTING_NAME}['CLIENT_SECRET'] is not set.",
                hint="Put the OAuth client's secret here, read from the environment, "
                "never committed.",
                id=ID.format("E002"),
            )
        )
    for key in sorted(set(raw) - set(DEFAULTS)):
        errors.append(
            Error(
                f"{SETTING_NAME} has an unknown key {key!r}.",
                hint="Known keys: " + ", ".join(DEFAULTS) + ".",
                id=ID.format("E003"),
            )
        )
    errors.extend(_check_scopes(raw))
    errors.extend(_check_numbers(raw))
    errors.extend(_check_redirect_uri(raw))
    if not isinstance(raw.get("USE_ID_TOKEN", False), bool):
        errors.append(
            Error(
                f"{SETTING_NAME}['USE_ID_TOKEN'] must be True or False.",
                hint="True reads the identity from the token answer's id_token instead of "
                "calling userinfo; the default, False, calls userinfo.",
                id=ID.format("E030"),
            )
        )
    return errors


def _is_list_of_strings(value: Any, *, allow_empty: bool = False) -> bool:
    return (
        isinstance(value, list | tuple)
        and (allow_empty or len(value) > 0)
        and all(isinstance(item, str) and item for item in value)
    )


def _check_scopes(raw: dict[str, Any]) -> Iterable[Error]:
    requested = raw.get("SCOPES", DEFAULTS["SCOPES"])
    if not _is_list_of_strings(requested):
        yield Error(
            f"{SETTING_NAME}['SCOPES'] must be a non-empty list of scope strings.",
            hint='For example ["openid", "email", "https://www.googleapis.com/auth/calendar"].',
            id=ID.format("E005"),
        )
        return
    required = raw.get("REQUIRED_SCOPES")
    if required is None:
        return
    if not _is_list_of_strings(required, allow_empty=True):
        yield Error(
            f"{SETTING_NAME}['REQUIRED_SCOPES'] must be None or a list of scope strings.",
            hint="Leave it unset to require every scope in SCOPES.",
            id=ID.format("E006"),
        )
        return
    not_requested = scopes.missing(required, requested)
    if not_requested:
        yield Error(
            f"{SETTING_NAME}['REQUIRED_SCOPES'] lists scopes that SCOPES does not request: "
            + ", ".join(not_requested)
            + ".",
            hint="A scope that is never asked for can never be granted; add it to SCOPES.",
            id=ID.format("E006"),
        )


def _check_numbers(raw: dict[str, Any]) -> Iterable[Error]:
    for key, code in (("TIMEOUT", "E007"), ("STATE_MAX_AGE", "E008")):
        value = raw.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            yield Error(
                f"{SETTING_NAME}[{key!r}] must be a positive number of seconds.",
                hint=f"The default is {DEFAULTS[key]}.",
                id=ID.format(code),
            )


def _check_redirect_uri(raw: dict[str, Any]) -> Iterable[Error]:
    uri = raw.get("REDIRECT_URI")
    if not uri:
        return
    parts = urlsplit(str(uri))
    if parts.scheme == "https" or settings.DEBUG:
        return
    if parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        return
    yield Error(
        f"{SETTING_NAME}['REDIRECT_URI'] must use https outside DEBUG.",
        hint="Google accepts plain http redirect URIs only for localhost.",
        id=ID.format("E010"),
    )


@register()
def check_fernet_keys(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    keys = getattr(settings, "FERNET_KEYS", None)
    if keys is None:
        return [
            Warning(
                "FERNET_KEYS is not set, so tokens are encrypted with a key derived from "
                "SECRET_KEY.",
                hint="Rotating SECRET_KEY would then make every stored token unreadable. Set "
                "FERNET_KEYS to a list holding one long random string, kept apart from "
                "SECRET_KEY.",
                id=ID.format("W001"),
            )
        ]
    if not _is_list_of_strings(keys):
        return [
            Error(
                "FERNET_KEYS must be a non-empty list of strings.",
                hint="The first key encrypts; every key in the list decrypts. "
                'For example FERNET_KEYS = [env("FERNET_KEY")].',
                id=ID.format("E009"),
            )
        ]
    return []
