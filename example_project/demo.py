"""Demo mode: the example project with no Google OAuth client at all.

With ``DEMO_MODE=1`` (``make demo`` sets it), ``settings.py`` installs the
local stand-in for Google (``example_project.fake_google``) and configures
both sides of the OAuth dance with the functions below. The end-to-end test
calls them too, with the live server's address. Nothing here imports Django,
so ``settings.py`` can.

The demo keeps its own files in ``.demo/`` at the repository root, apart
from the site's: the stand-in's database, and the address the demo server
was last started on, so that management commands run by hand reach the
stand-in wherever it runs. ``python -m example_project.demo prepare ADDRPORT``
(run by ``make demo`` and ``make run``) checks that the address is free and
records it.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any

CLIENT_ID = "demo-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "demo-client-secret"
CLIENT_NAME = "google_connect example"
# A second web client, in a Cloud project of its own, used when the demo is
# opened on the other loopback name (localhost for 127.0.0.1 and back): the
# tour can show one Google account with two grants.
SECOND_CLIENT = "second"
SECOND_CLIENT_ID = "demo-second-client-id.apps.googleusercontent.com"
SECOND_CLIENT_SECRET = "demo-second-client-secret"
SECOND_CLIENT_NAME = "google_connect example, second project"
LOOPBACK_TWINS = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# The stand-in plays Google: it names itself as Google does in every redirect
# back (RFC 9207's ``iss``), and the demo site requires it.
ISSUER = "https://accounts.google.com"
# Where example_project/urls.py mounts the stand-in and google_connect.
STAND_IN_PREFIX = "/fake-google"
CONNECT_PATH = "/google/accounts/connect"
# The features the example asks for in context (google_connect's SCOPE_SETS).
SCOPE_SETS = {"calendar": ["https://www.googleapis.com/auth/calendar.readonly"]}
GOOGLE_CALENDAR_API = "https://www.googleapis.com/calendar/v3"
RISC_RECEIVER_PATH = "/google/risc/events"
# The stand-in's own page listing the demo grants: the error page's guide.
PERMISSIONS_PATH = STAND_IN_PREFIX + "/permissions"
REPO = Path(__file__).resolve().parent.parent
# The demo's own files, never the user's .env.
STATE_DIR = REPO / ".demo"
BASE_URL_FILE = STATE_DIR / "base-url"
STAND_IN_DATABASE_FILE = STATE_DIR / "fake_google.sqlite3"
# Writes begin IMMEDIATE and wait up to 20 s for the lock: a DEFERRED
# transaction that must turn into a write while another connection writes
# fails at once with "database is locked" (google_connect.W090).
SQLITE_OPTIONS = {"transaction_mode": "IMMEDIATE", "timeout": 20}


def google_connect_settings(base_url: str) -> dict[str, Any]:
    """``GOOGLE_CONNECT`` for a demo site served at ``base_url``.

    The connect view calls the token, userinfo and revoke endpoints from the
    server process, over HTTP, so every URL is absolute: the site has to know
    the address it is served on.
    """
    base_url = base_url.rstrip("/")
    google = base_url + STAND_IN_PREFIX
    twin = twin_base_url(base_url)
    several = (
        {
            "CLIENTS": {
                SECOND_CLIENT: {
                    "CLIENT_ID": SECOND_CLIENT_ID,
                    "CLIENT_SECRET": SECOND_CLIENT_SECRET,
                    "REDIRECT_URI": twin + CONNECT_PATH,
                }
            },
            "CLIENT_FOR_REQUEST": "example_project.tenancy.google_client",
        }
        if twin
        else {}
    )
    return {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        **several,
        "AUTHORIZE_URL": f"{google}/o/oauth2/v2/auth",
        "TOKEN_URL": f"{google}/token",
        "USERINFO_URL": f"{google}/oauth2/v3/userinfo",
        "REVOKE_URL": f"{google}/revoke",
        "ISSUER": ISSUER,
        "REQUIRE_ISSUER": True,
        "SCOPE_SETS": SCOPE_SETS,
        # Cross-Account Protection: the stand-in's discovery document and keys.
        "RISC_CONFIG_URL": f"{google}/.well-known/risc-configuration",
        # The error page's "Follow this guide" works offline: the stand-in's
        # permissions page lists the demo grants and removes them.
        "HELP_URL": base_url + PERMISSIONS_PATH,
    }


def twin_base_url(base_url: str) -> str:
    """``base_url`` on the other loopback name (localhost for 127.0.0.1 and back), or ""."""
    scheme, _, rest = base_url.rstrip("/").partition("://")
    host, colon, port = rest.partition(":")
    twin = LOOPBACK_TWINS.get(host)
    return f"{scheme}://{twin}{colon}{port}" if twin else ""


def calendar_api_url(token_url: str) -> str:
    """The Calendar API's base URL: the stand-in serves it beside its token endpoint."""
    if STAND_IN_PREFIX + "/" in token_url:
        return token_url.rsplit("/", 1)[0] + "/calendar/v3"
    return GOOGLE_CALENDAR_API


def fake_google_settings(base_url: str) -> dict[str, Any]:
    """``FAKE_GOOGLE``: the OAuth clients the stand-in knows, as registered at Google."""
    twin = twin_base_url(base_url)
    return {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "CLIENT_NAME": CLIENT_NAME,
        "REDIRECT_URIS": [base_url.rstrip("/") + CONNECT_PATH],
        "ISSUER": ISSUER,
        "OTHER_CLIENTS": [
            {
                "CLIENT_ID": SECOND_CLIENT_ID,
                "CLIENT_SECRET": SECOND_CLIENT_SECRET,
                "CLIENT_NAME": SECOND_CLIENT_NAME,
                "REDIRECT_URIS": [twin + CONNECT_PATH],
            }
        ]
        if twin
        else [],
        # Cross-Account Protection: who signs the security events, and where
        # "Remove access" pushes them (the site's receiver).
        "RISC_ISSUER": base_url.rstrip("/") + STAND_IN_PREFIX + "/",
        "RISC_RECEIVER_URL": base_url.rstrip("/") + RISC_RECEIVER_PATH,
        # The demo's clock: "End now" ends a time-limited grant at the
        # stand-in and moves the end date the site stored to now, as the
        # days passing would (Google itself tells no site).
        "ON_END_NOW": "example_project.demo_clock.grant_ended",
    }


def stand_in_database(name: Path | str = STAND_IN_DATABASE_FILE) -> dict[str, Any]:
    """The ``fake_google`` database: a SQLite file of the stand-in's own.

    The stand-in plays a separate service, so it never shares the site's
    database or waits for the site's locks (see fake_google/routers.py).
    """
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": dict(SQLITE_OPTIONS)}


def base_url(environ_value: str = "") -> str:
    """Where the demo runs: ``DEMO_BASE_URL``, else the address recorded, else the default."""
    if environ_value:
        return environ_value.rstrip("/")
    try:
        recorded = BASE_URL_FILE.read_text().strip()
    except OSError:
        recorded = ""
    return recorded.rstrip("/") or DEFAULT_BASE_URL


def record_base_url(url: str) -> None:
    STATE_DIR.mkdir(exist_ok=True)
    BASE_URL_FILE.write_text(url.rstrip("/") + "\n")


def address_taken(host: str, port: int) -> bool:
    """True when something already listens on ``host:port`` (a demo started earlier)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def prepare(addrport: str) -> int:
    """Before ``make demo`` migrates anything: refuse a taken address, record a free one."""
    host, _, port = addrport.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        print(f"ADDRPORT must look like 127.0.0.1:8000, not {addrport!r}.", file=sys.stderr)
        return 2
    if address_taken(host, int(port)):
        print(
            f"{addrport} is taken: is a demo already running? Stop it, or serve on another "
            f"port: make demo ADDRPORT={host}:{int(port) + 1}",
            file=sys.stderr,
        )
        return 1
    url = f"http://{addrport}"
    record_base_url(url)
    print(f"Demo address {url} recorded in {BASE_URL_FILE}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_project.demo")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help=prepare.__doc__).add_argument("addrport")
    args = parser.parse_args(argv)
    return prepare(args.addrport)


if __name__ == "__main__":
    sys.exit(main())
