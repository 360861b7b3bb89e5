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
# The most calls BULK_CONCURRENCY may put in flight from one task (as --concurrency).
MAX_BULK_CONCURRENCY = 1024

DEFAULTS: dict[str, Any] = {
    "CLIENT_ID": "",
    "CLIENT_SECRET": "",
    # Several OAuth clients (see google/clients.py): name -> {"CLIENT_ID",
    # "CLIENT_SECRET", "TYPE", "REDIRECT_URI", "SCOPES", "REPLACES"}; the
    # top-level CLIENT_ID/CLIENT_SECRET are the client named "default".
    "CLIENTS": {},
    # A dotted path to callable(request) -> the name of the web client a new
    # flow uses; unset, every flow uses "default".
    "CLIENT_FOR_REQUEST": None,
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
    "SCOPE_SETS": {},
    # check_google_accounts: warn this many days before a time-limited grant
    # ends, and refresh grants unused for this many days (Google ends them
    # after six months unused).
    "EXPIRY_WARNING_DAYS": 7,
    "KEEP_ALIVE_DAYS": 150,
    # Cross-Account Protection (see google/risc_keys.py and docs/howto/cross-account-protection.md).
    "RISC_CONFIG_URL": "https://accounts.google.com/.well-known/risc-configuration",
    "RISC_AUDIENCES": None,
    "RISC_API_URL": "https://risc.googleapis.com/v1beta",
    # The authorization server's issuer identifier (RFC 9207): the callback's
    # ``iss``, when present, must equal it.
    "ISSUER": "https://accounts.google.com",
    # True: a redirect callback without ``iss`` is refused like a wrong one.
    "REQUIRE_ISSUER": False,
    "BASE_TEMPLATE": None,
    "USE_ID_TOKEN": False,
    # The health endpoint (web/health.py): the bearer token a monitor sends
    # (None: staff only), and the figures above which it answers 503.
    "HEALTH_TOKEN": None,
    "HEALTH_THRESHOLDS": {},
    # An OpenTelemetry gauge of accounts by status (every process runs its query).
    "ACCOUNTS_GAUGE": False,
    # An OpenTelemetry gauge of time-limited grants ending within 1, 7 and 30
    # days (every process runs its query, through the grant-end indexes).
    "GRANTS_ENDING_GAUGE": False,
    # The TASKS alias google_connect.background_tasks enqueues to; None: the
    # site's default backend.
    "TASK_BACKEND": None,
    # Calls to Google in flight at once within one chunk of a bulk task
    # (refresh, keep-alive, revoke), on the async engine (store/bulk.py) when
    # aiohttp is installed; None: the chunk's thread pool, as without aiohttp.
    "BULK_CONCURRENCY": 64,
    # The JSON API's authentication (web/api/authentication.py): dotted paths
    # to callable(request) -> user | None, tried in order.
    "API_AUTHENTICATION": ["google_connect.web.api.authentication.session_user"],
}

# HEALTH_THRESHOLDS keys: the most of each the endpoint tolerates (None: no limit).
HEALTH_THRESHOLD_DEFAULTS: dict[str, int | None] = {
    "reconnect_required": None,
    "undecryptable": 0,
    "pending_overdue": None,
    # Seconds since the last successful call to the token endpoint, and since
    # the RISC stream's last event.
    "token_endpoint_age": None,
    "risc_event_age": None,
}


@dataclass(frozen=True)
class GoogleConnectSettings:
    CLIENT_ID: str
    CLIENT_SECRET: str
    CLIENTS: dict[str, Any]
    CLIENT_FOR_REQUEST: str | None
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
    # Name -> list of scopes, or {"scopes": [...], "label": ...}; see scopes/sets.py.
    SCOPE_SETS: dict[str, Any]
    EXPIRY_WARNING_DAYS: int
    KEEP_ALIVE_DAYS: int
    RISC_CONFIG_URL: str
    RISC_AUDIENCES: tuple[str, ...] | None
    RISC_API_URL: str
    ISSUER: str
    REQUIRE_ISSUER: bool
    BASE_TEMPLATE: str | None
    USE_ID_TOKEN: bool
    HEALTH_TOKEN: str | None
    HEALTH_THRESHOLDS: dict[str, int | None]
    ACCOUNTS_GAUGE: bool
    GRANTS_ENDING_GAUGE: bool
    TASK_BACKEND: str | None
    BULK_CONCURRENCY: int | None
    API_AUTHENTICATION: tuple[str, ...]

    @property
    def required_scopes(self) -> tuple[str, ...]:
        """The scopes a connection cannot do without (all of SCOPES unless narrowed)."""
        return self.SCOPES if self.REQUIRED_SCOPES is None else self.REQUIRED_SCOPES

    @property
    def risc_audiences(self) -> tuple[str, ...]:
        """The ``aud`` values a security event token may carry: every configured
        client's id (web, iOS and Android) unless ``RISC_AUDIENCES`` is set."""
        if self.RISC_AUDIENCES is not None:
            return self.RISC_AUDIENCES
        ids = [self.CLIENT_ID] + [
            entry.get("CLIENT_ID") for entry in self.CLIENTS.values() if isinstance(entry, dict)
        ]
        return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i))

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
    audiences = merged["RISC_AUDIENCES"]
    return GoogleConnectSettings(
        CLIENT_ID=merged["CLIENT_ID"] or "",
        CLIENT_SECRET=merged["CLIENT_SECRET"] or "",
        CLIENTS=dict(merged["CLIENTS"]) if isinstance(merged["CLIENTS"], dict) else {},
        CLIENT_FOR_REQUEST=merged["CLIENT_FOR_REQUEST"] or None,
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
        SCOPE_SETS=dict(merged["SCOPE_SETS"]) if isinstance(merged["SCOPE_SETS"], dict) else {},
        EXPIRY_WARNING_DAYS=merged["EXPIRY_WARNING_DAYS"],
        KEEP_ALIVE_DAYS=merged["KEEP_ALIVE_DAYS"],
        RISC_CONFIG_URL=merged["RISC_CONFIG_URL"],
        RISC_AUDIENCES=None if audiences is None else tuple(audiences),
        RISC_API_URL=merged["RISC_API_URL"],
        ISSUER=merged["ISSUER"],
        REQUIRE_ISSUER=merged["REQUIRE_ISSUER"] is True,
        BASE_TEMPLATE=merged["BASE_TEMPLATE"] or None,
        USE_ID_TOKEN=merged["USE_ID_TOKEN"] is True,
        HEALTH_TOKEN=merged["HEALTH_TOKEN"] or None,
        HEALTH_THRESHOLDS={
            **HEALTH_THRESHOLD_DEFAULTS,
            **(
                merged["HEALTH_THRESHOLDS"] if isinstance(merged["HEALTH_THRESHOLDS"], dict) else {}
            ),
        },
        ACCOUNTS_GAUGE=merged["ACCOUNTS_GAUGE"] is True,
        GRANTS_ENDING_GAUGE=merged["GRANTS_ENDING_GAUGE"] is True,
        TASK_BACKEND=merged["TASK_BACKEND"] or None,
        BULK_CONCURRENCY=_bulk_concurrency(merged["BULK_CONCURRENCY"]),
        API_AUTHENTICATION=_strings(merged["API_AUTHENTICATION"]),
    )


def _bulk_concurrency(value: Any) -> int | None:
    # A malformed value is a check error (E140); until fixed, the thread pool.
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 1 <= value <= MAX_BULK_CONCURRENCY
    ):
        return value
    return None


def _strings(value: Any) -> tuple[str, ...]:
    # A malformed value is a check error (E100); until fixed, nothing matches.
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return ()


@receiver(setting_changed)
def _clear_cached_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        get_settings.cache_clear()
