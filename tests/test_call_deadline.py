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


# -- a name with several addresses ----------------------------------------------

GOOGLE_HOST = "oauth2.google.test"


class Connects:
    """``socket.socket.connect``, recorded: the timeout each address was given
    and whether the socket had TCP_NODELAY on. An address in ``black_holes``
    never answers, as a dropped SYN does: the connect waits out the socket's
    timeout, then fails with ``TimeoutError``."""

    def __init__(self, black_holes: set[tuple[str, int]]) -> None:
        self.black_holes = black_holes
        self.attempts: list[tuple[tuple[str, int], float | None, bool]] = []
        self.real_connect = socket.socket.connect

    def __call__(self, sock: socket.socket, address: tuple[str, int]) -> None:
        nodelay = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        self.attempts.append((address, sock.gettimeout(), nodelay))
        if address in self.black_holes:
            time.sleep(sock.gettimeout() or 0)
            raise TimeoutError("timed out")
        self.real_connect(sock, address)


def resolving_to(addresses: list[tuple[str, int]]):
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != GOOGLE_HOST:
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)
            for address in addresses
        ]

    return getaddrinfo


@pytest.fixture
def google_at_several_addresses(settings, monkeypatch):
    """Points TOKEN_URL at a name whose addresses each test chooses."""

    def resolve(addresses: list[tuple[str, int]], black_holes: set[tuple[str, int]]) -> Connects:
        settings.GOOGLE_CONNECT = {
            **settings.GOOGLE_CONNECT,
            "TIMEOUT": TIMEOUT,
            "TOKEN_URL": f"http://{GOOGLE_HOST}:{addresses[0][1]}/token",
        }
        connects = Connects(black_holes)
        monkeypatch.setattr(socket, "getaddrinfo", resolving_to(addresses))
        # A function, not the instance: only functions bind as methods.
        monkeypatch.setattr(socket.socket, "connect", lambda sock, address: connects(sock, address))
        return connects

    return resolve


def test_a_name_with_several_black_holed_addresses_ends_within_timeout(
    google_at_several_addresses,
):
    black_holes = {("192.0.2.1", 80), ("192.0.2.2", 80), ("192.0.2.3", 80)}
    connects = google_at_several_addresses(sorted(black_holes), black_holes)
    session = GoogleSession()
    client = GoogleOAuthClient(session=session)
    started = time.monotonic()

    with pytest.raises(RefreshFailed) as caught, session:
        client.refresh("1//refresh-token")

    # urllib3 alone gives each address the whole TIMEOUT: 3 s here.
    assert time.monotonic() - started < BOUND
    assert sum(timeout for _, timeout, _ in connects.attempts) <= TIMEOUT
    assert caught.value.temporary is True
    assert "ConnectTimeout" in str(caught.value)


class AnsweringServer:
    """Answers one token request on 127.0.0.1 at once."""

    ANSWER = b'{"access_token": "ya29.fresh", "expires_in": 3599, "token_type": "Bearer"}'

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()
        self.thread = threading.Thread(target=self.answer, daemon=True)
        self.thread.start()

    def answer(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(self.ANSWER)
                + self.ANSWER
            )

    def stop(self) -> None:
        self.thread.join(timeout=5)
        self.listener.close()


def test_an_address_that_refuses_is_passed_over_for_the_next_with_the_usual_socket_options(
    google_at_several_addresses,
):
    # The connect loop is google_connect's, not urllib3's: what urllib3 did
    # still happens (the next address after a refusal, TCP_NODELAY).
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: refused at once
    refusing = closed.getsockname()
    server = AnsweringServer()
    try:
        connects = google_at_several_addresses([refusing, server.address], set())
        session = GoogleSession()
        with session:
            answer = GoogleOAuthClient(session=session).refresh("1//refresh-token")
    finally:
        closed.close()
        server.stop()

    assert answer.access_token == "ya29.fresh"
    assert [address for address, _, _ in connects.attempts] == [refusing, server.address]
    assert all(nodelay for _, _, nodelay in connects.attempts)
