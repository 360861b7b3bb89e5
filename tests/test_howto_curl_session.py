"""The curl session of docs/howto/spa-and-mobile.md, run as written against a live server.

The documented lines run in bash against the example project in demo mode on
the live server, with ``SITE`` pointed at it. Only ``python manage.py
demo_server_auth_code ...`` is run in this process instead (through
``call_command``, with the arguments the page gives), since a ``manage.py``
in another process would use the demo's database rather than the tests'.
"""

import re
import shlex
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from pytest_django.live_server_helper import LiveServer

from example_project import demo
from google_connect.models import GoogleAccount
from tests.stand_in import stand_in_db_over_http
from tests.support import example_google_connect

pytestmark = [stand_in_db_over_http]

HOWTO = Path(__file__).resolve().parent.parent / "docs" / "howto" / "spa-and-mobile.md"
BEGIN, END = "% curl-session: begin", "% curl-session: end"
MINT = re.compile(r"\$\(python manage\.py (demo_server_auth_code [^)]*)\)")


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
    [command] = MINT.findall(script)
    out = StringIO()
    call_command(*shlex.split(command), stdout=out)
    script = MINT.sub(lambda _: shlex.quote(out.getvalue().strip()), script)
    script = script.replace("SITE=http://127.0.0.1:8000", f"SITE={demo_site}", 1)

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    output = done.stdout
    assert '"email": "ada.lovelace@example.com"' in output
    assert '"status": "active"' in output
    assert output.rstrip().endswith('"disconnected": true}')
    assert not GoogleAccount.objects.exists()
