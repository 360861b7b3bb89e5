"""The curl session of docs/howto/spa-and-mobile.md, run as written against a live server.

The documented lines run in bash, from the repository root, against the
example project in demo mode on the live server, with ``SITE`` pointed at it.
The line that mints the code runs as written too (its ``DEMO_MODE=1 DEBUG=1``
prefix, ``manage.py`` and arguments), with two differences a reader's shell
does not have: the test's interpreter stands in for ``.venv/bin/python`` (tox
and CI have no ``.venv``), and ``DJANGO_SETTINGS_MODULE`` names
``tests.curl_session_settings``, the example project's settings with the
stand-in's database moved to the one the live server uses.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from pytest_django.live_server_helper import LiveServer

from example_project import demo
from google_connect.models import GoogleAccount
from tests.stand_in import stand_in_db_over_http
from tests.support import example_google_connect

pytestmark = [stand_in_db_over_http]

REPO = Path(__file__).resolve().parent.parent
HOWTO = REPO / "docs" / "howto" / "spa-and-mobile.md"
BEGIN, END = "% curl-session: begin", "% curl-session: end"
# As a reader pastes it at the repository root after `make demo`: the
# command exists only in demo mode, which needs DEBUG (example_project/settings.py).
MINT = re.compile(
    r"\$\(DEMO_MODE=1 DEBUG=1 (\.venv/bin/python) manage\.py demo_server_auth_code [^)]*\)"
)


def documented_session() -> str:
    page = HOWTO.read_text()
    block = page[page.index(BEGIN) + len(BEGIN) : page.index(END)]
    return block.strip().removeprefix("```bash").removesuffix("```").strip()


@pytest.fixture
def own_live_server(django_db_setup, transactional_db):
    """A live server of this test's own, started once the test databases exist.

    The session's ``live_server`` may have been started before them, sharing
    one SQLite connection between its threads: the disconnect below is served
    by one thread while it calls the stand-in's revoke, served by another.
    """
    server = LiveServer("localhost")
    assert not server.thread.connections_override
    yield server
    server.stop()


@pytest.fixture
def demo_site(example_site, own_live_server):
    url = own_live_server.url
    example_site.GOOGLE_CONNECT = example_google_connect(demo.google_connect_settings(url))
    example_site.FAKE_GOOGLE = demo.fake_google_settings(url)
    return url


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_documented_curl_session_connects_lists_and_disconnects(demo_site, django_user_model):
    django_user_model.objects.create_user("demo", "demo@example.com", "demo")
    script = documented_session()
    [mint] = MINT.finditer(script)
    interpreter = mint.span(1)
    script = script[: interpreter[0]] + shlex.quote(sys.executable) + script[interpreter[1] :]
    script = script.replace("SITE=http://127.0.0.1:8000", f"SITE={demo_site}", 1)
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.curl_session_settings",
        "CURL_SESSION_STAND_IN_DATABASE": connections["fake_google"].settings_dict["NAME"],
    }
    # Neither the site's database nor a demo's: the command writes only the stand-in's.
    environment.pop("DATABASE_URL", None)
    for name in ("DEMO_MODE", "DEBUG"):
        # Only the documented line may set them.
        environment.pop(name, None)

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=environment,
    )

    assert done.returncode == 0, done.stderr
    output = done.stdout
    assert '"email": "ada.lovelace@example.com"' in output
    assert '"status": "active"' in output
    assert output.rstrip().endswith('"disconnected": true, "revoked_at_google": true}')
    assert not GoogleAccount.objects.exists()
