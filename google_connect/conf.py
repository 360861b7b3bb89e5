"""The ``GOOGLE_CONNECT`` setting, merged over defaults and read lazily.

Nothing here reads Django settings at import time: the merged view is built on
first use and dropped whenever ``GOOGLE_CONNECT`` changes, so
``override_settings`` and pytest-django's ``settings`` fixture just work.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "GOOGLE_CONNECT"

DEFAULTS: dict[str, Any] = {
    "CLIENT_ID": "",
    "CLIENT_SECRET": "",
    "SCOPES": [
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    ],
    "REQUIRED_SCOPES": None,
    "REDIRECT_URI": None,
    "HELP_URL": "https://myaccount.google.com/permissions",
    "AUTHORIZE_URL": "https://accounts.google.com/o/oauth2/v2/auth",
    "TOKEN_URL": "https://oauth2.googleapis.com/token",
    "USERINFO_URL": "https://www.googleapis.com/oauth2/v3/userinfo",
    "REVOKE_URL": "https://oauth2.googleapis.com/revoke",
    "TIMEOUT": 10,
    "STATE_MAX_AGE": 600,
    "SUCCESS_URL": None,
    "USE_ID_TOKEN": False,
}


@dataclass(frozen=True)
class GoogleConnectSettings:
    CLIENT_ID: str
    CLIENT_SECRET: str
    SCOPES: tuple[str, ...]
    REQUIRED_SCOPES: tuple[str, ...] | None
    REDIRECT_URI: str | None
    HELP_URL: str
    AUTHORIZE_URL: str
    TOKEN_URL: str
    USERINFO_URL: str
    REVOKE_URL: str
    TIMEOUT: float
    STATE_MAX_AGE: int
    SUCCESS_URL: str | None
    USE_ID_TOKEN: bool

    @property
    def required_scopes(self) -> tuple[str, ...]:
        """The scopes a connection cannot do without (all of SCOPES unless narrowed)."""
        return self.SCOPES if self.REQUIRED_SCOPES is None else self.REQUIRED_SCOPES

    def __repr__(self) -> str:
        # The dataclass repr would print the client secret.
        return f"<GoogleConnectSettings CLIENT_ID={self.CLIENT_ID!r}>"


def user_settings() -> dict[str, Any]:
    """The raw ``GOOGLE_CONNECT`` dict as the site wrote it (``{}`` when unset)."""
    value = getattr(django_settings, SETTING_NAME, None)
    return value if isinstance(value, dict) else {}


@functools.cache
def get_settings() -> GoogleConnectSettings:
    merged = {**DEFAULTS, **{k: v for k, v in user_settings().items() if k in DEFAULTS}}
    required = merged["REQUIRED_SCOPES"]
    return GoogleConnectSettings(
        CLIENT_ID=merged["CLIENT_ID"] or "",
        CLIENT_SECRET=merged["CLIENT_SECRET"] or "",
        SCOPES=tuple(merged["SCOPES"]),
        REQUIRED_SCOPES=None if required is None else tuple(required),
        REDIRECT_URI=merged["REDIRECT_URI"] or None,
        HELP_URL=merged["HELP_URL"],
        AUTHORIZE_URL=merged["AUTHORIZE_URL"],
        TOKEN_URL=merged["TOKEN_URL"],
        USERINFO_URL=merged["USERINFO_URL"],
        REVOKE_URL=merged["REVOKE_URL"],
        TIMEOUT=merged["TIMEOUT"],
        STATE_MAX_AGE=merged["STATE_MAX_AGE"],
        SUCCESS_URL=merged["SUCCESS_URL"] or None,
        USE_ID_TOKEN=merged["USE_ID_TOKEN"] is True,
    )


@receiver(setting_changed)
def _clear_cached_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        get_settings.cache_clear()
