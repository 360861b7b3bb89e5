"""One deadline for a whole call to Google, against a real slow server (issue 22, item 5).

The server answers one byte every 0.2 s: each read gets a byte well within
TIMEOUT, so only a deadline for the whole call ends it.
"""

import socket
import threading
import time

import pytest

from google_connect.conf import get_settings
from google_connect.exceptions import RefreshFailed
from google_connect.google.oauth import GoogleOAuthClient
from google_connect.google.risc_keys import RiscKeys, RiscKeysUnavailable
from google_connect.google.transport import GoogleSession

TIMEOUT = 1
# TIMEOUT, the 0.5 s the deadline may overrun, and a margin for a loaded machine.
BOUND = 1.6
DRIP_SECONDS = 0.2
HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"


class DrippingServer:
    """Accepts connections on 127.0.0.1 and answers each, after reading its
    request, one byte at a time: the headers at once or dripped too."""

    def __init__(self, drip_headers: bool) -> None:
        self.drip_headers = drip_headers
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            # 8 s of body: a per-read timeout lets all of it through.
            body = b'{"access_token": "' + b"a" * 20 + b'"}'
            data = HEADERS + body if self.drip_headers else body
            if not self.drip_headers:
                conn.sendall(HEADERS)
            for byte in data:
                if self.stopped.wait(DRIP_SECONDS):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # The client gave up: the point of the test.

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.listener.close()


@pytest.fixture(params=["slow headers", "slow body"])
def slow_google(request, settings):
    server = DrippingServer(drip_headers=request.param == "slow headers")
    settings.GOOGLE_CONNECT = {
        **settings.GOOGLE_CONNECT,
        "TIMEOUT": TIMEOUT,
        "TOKEN_URL": server.url + "/token",
        "RISC_CONFIG_URL": server.url + "/.well-known/risc-configuration",
    }
    yield server
    server.stop()


def test_a_refresh_from_a_dripping_server_ends_within_timeout_with_a_temporary_error(
    slow_google,
):
    session = GoogleSession()
    client = GoogleOAuthClient(session=session)
    started = time.monotonic()

    with pytest.raises(RefreshFailed) as caught, session:
        client.refresh("1//refresh-token")

    assert time.monotonic() - started < BOUND
    assert caught.value.temporary is True


def test_the_risc_keys_from_a_dripping_server_end_within_timeout(slow_google):
    started = time.monotonic()

    with pytest.raises(RiscKeysUnavailable) as caught:
        RiscKeys().discovery(get_settings())

    assert time.monotonic() - started < BOUND
    assert caught.value.temporary is True
