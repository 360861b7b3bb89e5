"""The views under a real ASGI server: uvicorn serving example_project/asgi.py
in a subprocess, on the test run's own database (a SQLite file, or
PostgreSQL with DATABASE_URL), with Google's endpoints at a stand-in on
127.0.0.1 that answers token calls after 300 ms.

google_connect's views are sync; under ASGI Django runs each request's sync
code in a thread of its own (asgiref's ThreadSensitiveContext). These tests
check what that promises over real HTTP: connect callbacks waiting on Google
overlap, and a cheap request answers while they wait.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import Client

from google_connect.models import GoogleAccount
from tests.figures import report
from tests.processes import REPO_ROOT, database_url
from tests.stub_google import StubGoogle

pytestmark = pytest.mark.django_db(transaction=True)

DELAY = 0.3
SLOW_REQUESTS = 4
HEALTH_TOKEN = "asgi-test-health-token"
# Generous, for a loaded 2-core CI machine: they bound a wait, never a figure.
SERVER_START_TIMEOUT = 30.0
WAIT = 30.0
# The callbacks reach Google together within this; one after another (a
# blocked event loop) only one would, the others waiting for its answer.
TOGETHER_WITHIN = 15.0
# Token calls held at the stand-in answer by then even if the test never
# lets them; the server's TIMEOUT (tests/asgi_server_settings.py) is longer,
# so a held call never times out into a retry that would count twice.
GATE_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    if connection.vendor == "sqlite":
        name = connection.settings_dict["NAME"]
        # A file, migrated by pytest-django before the run: the server's
        # threads and this process see the same rows.
        assert name != ":memory:" and Path(name).is_file()
        return f"sqlite:///{name}"
    return database_url()


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _start_uvicorn(stub: StubGoogle, log: Path) -> Server:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.asgi_server_settings",
        "DATABASE_URL": _database_url(),
        "STAND_IN_GOOGLE_URL": stub.url,
        "HEALTH_TOKEN": HEALTH_TOKEN,
        "PYTHONPATH": str(REPO_ROOT),
    }
    port = _free_port()
    command = [
        sys.executable,
        *(f"-W{option}" for option in sys.warnoptions),
        "-m",
        "uvicorn",
        "example_project.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(process, port, log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited ({process.returncode}):\n{server.output()}")
        try:
            requests.get(f"{server.url}/google/api/v1/openapi.json", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    _stop(process)
    raise RuntimeError(f"uvicorn did not answer in {SERVER_START_TIMEOUT} s:\n{server.output()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def gate():
    """Set by a test to let the token calls held at the stand-in answer."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def stand_in(gate):
    with StubGoogle(
        token_delay=DELAY, code_grants=True, gate=gate, gate_timeout=GATE_TIMEOUT
    ) as stub:
        yield stub


@pytest.fixture
def server(stand_in, tmp_path, transactional_db):
    started = _start_uvicorn(stand_in, tmp_path / "uvicorn.log")
    try:
        yield started
    finally:
        # Before pytest-django flushes the database the server is connected to.
        _stop(started.process)


def logged_in(django_user_model, name: str) -> requests.Session:
    """A requests session with the session cookie of a new user logged in."""
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw")
    client = Client()
    client.force_login(user)
    session = requests.Session()
    cookie = settings.SESSION_COOKIE_NAME
    session.cookies.set(cookie, client.cookies[cookie].value, domain="127.0.0.1")
    return session


def authorize(server: Server, session: requests.Session) -> str:
    """Start a flow; return the callback URL Google would send the browser to."""
    response = session.get(
        f"{server.url}/google/accounts/authorize", allow_redirects=False, timeout=WAIT
    )
    assert response.status_code == 302, server.output()
    consent = urlsplit(response.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(consent.query).items()}
    assert params["redirect_uri"] == f"{server.url}/google/accounts/connect"
    code = f"code-{params['state'][:8]}"
    return f"{params['redirect_uri']}?code={code}&state={params['state']}"


def health(server: Server) -> requests.Response:
    return requests.get(
        f"{server.url}/google/health",
        headers={"Authorization": f"Bearer {HEALTH_TOKEN}"},
        timeout=WAIT,
    )


def test_the_connect_flow_stores_an_account_over_uvicorn(server, stand_in, gate, django_user_model):
    gate.set()  # the stand-in answers after DELAY
    session = logged_in(django_user_model, "alice")
    callback = authorize(server, session)

    response = session.get(callback, allow_redirects=False, timeout=WAIT)

    assert response.status_code == 200, server.output()
    assert "no-store" in response.headers["Cache-Control"]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    account = GoogleAccount.objects.get()
    assert (account.user.username, account.sub, account.email) == (
        "alice",
        f"stub-code-{code}",
        f"{code}@example.com",
    )
    assert account.refresh_token == f"1//STUB-REFRESH-{code}"
    assert account.access_token == f"ya29.STUB-CODE-{code}"
    # Stored encrypted: the columns hold neither token.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {GoogleAccount._meta.db_table} WHERE id = %s",  # noqa: S608
            [account.pk],
        )
        row = " ".join(str(value) for value in cursor.fetchone())
    assert "STUB-REFRESH" not in row and "STUB-CODE" not in row
    assert stand_in.counts == {"token": 1, "revoke": 0, "userinfo": 1}


def test_a_cheap_request_answers_while_callbacks_wait_on_google(
    server, stand_in, gate, django_user_model
):
    assert health(server).status_code == 200, server.output()  # warm
    started = time.perf_counter()
    assert health(server).status_code == 200
    idle = time.perf_counter() - started
    sessions = [logged_in(django_user_model, f"user{i}") for i in range(SLOW_REQUESTS)]
    callbacks = [authorize(server, session) for session in sessions]
    finished_slow: list[int] = []

    def callback(index: int) -> int:
        response = sessions[index].get(callbacks[index], allow_redirects=False, timeout=WAIT)
        finished_slow.append(index)
        return response.status_code

    with ThreadPoolExecutor(SLOW_REQUESTS) as pool:
        slow = [pool.submit(callback, i) for i in range(SLOW_REQUESTS)]
        try:
            deadline = time.monotonic() + TOGETHER_WITHIN
            while stand_in.token_calls_in_flight < SLOW_REQUESTS and time.monotonic() < deadline:
                time.sleep(0.01)
            # Every callback is at Google at once: the server took them
            # together, none waited for another's answer.
            assert stand_in.token_calls_in_flight == SLOW_REQUESTS, server.output()

            started = time.perf_counter()
            cheap = health(server)
            latency = time.perf_counter() - started
            in_flight_after = stand_in.token_calls_in_flight
            finished_before_cheap = list(finished_slow)
        finally:
            gate.set()
        statuses = [future.result() for future in slow]

    assert cheap.status_code == 200
    # The cheap request came back while all the Google calls still waited
    # (they wait for the gate): it did not queue behind them.
    assert (in_flight_after, finished_before_cheap) == (SLOW_REQUESTS, [])
    assert statuses == [200] * SLOW_REQUESTS, server.output()
    assert GoogleAccount.objects.count() == SLOW_REQUESTS
    assert stand_in.most_token_calls_in_flight == SLOW_REQUESTS
    report(
        f"uvicorn: health request ({connection.vendor})",
        f"{latency * 1000:.0f} ms with {SLOW_REQUESTS} callbacks waiting on Google "
        f"(held {DELAY * 1000:.0f} ms or more), {idle * 1000:.0f} ms idle",
    )
