"""Demo mode: the example project with no Google OAuth client at all.

When ``GOOGLE_CLIENT_ID`` is unset, ``settings.py`` installs the local stand-in
for Google (``example_project.fake_google``) and configures both sides of the
OAuth dance with the functions below. The end-to-end test calls them too, with
the live server's address. Nothing here imports Django, so ``settings.py`` can.
"""

from __future__ import annotations

from typing import Any

CLIENT_ID = "demo-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "demo-client-secret"
CLIENT_NAME = "google_connect example"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# Where example_project/urls.py mounts the stand-in and google_connect.
STAND_IN_PREFIX = "/fake-google"
CONNECT_PATH = "/google/accounts/connect"
# The features the example asks for in context (google_connect's SCOPE_SETS).
SCOPE_SETS = {"calendar": ["https://www.googleapis.com/auth/calendar.readonly"]}
GOOGLE_CALENDAR_API = "https://www.googleapis.com/calendar/v3"
RISC_RECEIVER_PATH = "/google/risc/events"


def google_connect_settings(base_url: str) -> dict[str, Any]:
    """``GOOGLE_CONNECT`` for a demo site served at ``base_url``.

    The connect view calls the token, userinfo and revoke endpoints from the
    server process, over HTTP, so every URL is absolute: the site has to know
    the address it is served on.
    """
    google = base_url.rstrip("/") + STAND_IN_PREFIX
    return {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "AUTHORIZE_URL": f"{google}/o/oauth2/v2/auth",
        "TOKEN_URL": f"{google}/token",
        "USERINFO_URL": f"{google}/oauth2/v3/userinfo",
        "REVOKE_URL": f"{google}/revoke",
        "SCOPE_SETS": SCOPE_SETS,
        # Cross-Account Protection: the stand-in's discovery document and keys.
        "RISC_CONFIG_URL": f"{google}/.well-known/risc-configuration",
    }


def calendar_api_url(token_url: str) -> str:
    """The Calendar API's base URL: the stand-in serves it beside its token endpoint."""
    if STAND_IN_PREFIX + "/" in token_url:
        return token_url.rsplit("/", 1)[0] + "/calendar/v3"
    return GOOGLE_CALENDAR_API


def fake_google_settings(base_url: str) -> dict[str, Any]:
    """``FAKE_GOOGLE``: the one OAuth client the stand-in knows, as registered at Google."""
    return {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "CLIENT_NAME": CLIENT_NAME,
        "REDIRECT_URIS": [base_url.rstrip("/") + CONNECT_PATH],
        # Cross-Account Protection: who signs the security events, and where
        # "Remove access" pushes them (the site's receiver).
        "RISC_ISSUER": base_url.rstrip("/") + STAND_IN_PREFIX + "/",
        "RISC_RECEIVER_URL": base_url.rstrip("/") + RISC_RECEIVER_PATH,
    }
