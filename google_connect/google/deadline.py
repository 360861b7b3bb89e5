"""One deadline for a whole call to Google, from connect to the last byte.

requests' ``timeout`` bounds each socket operation: a server that sends one
byte just before each timeout holds the call, and whatever lock its caller
holds (an account's row lock during a refresh, the process-wide key cache),
as long as it likes. Inside ``call_deadline(seconds)``, every blocking
operation on the sockets of ``GoogleSession`` (TCP connect, TLS handshake,
sending, reading the status line, headers and body) is given only the time
left, and once none is left it fails with ``TimeoutError``, which requests
and urllib3 turn into their usual timeout errors. A name lookup is not a
socket operation and cannot be cut short; its time counts against the
deadline all the same.

The bound is per socket operation, so a call ends at most a few milliseconds
after its deadline. Outside ``call_deadline`` the sockets behave as usual.
"""

from __future__ import annotations

import contextlib
import io
import socket
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_expires_at: ContextVar[float | None] = ContextVar("google_connect_deadline", default=None)


@contextlib.contextmanager
def call_deadline(seconds: float) -> Iterator[None]:
    """Bound every socket operation of Google's session inside to ``seconds`` in all."""
    token = _expires_at.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _expires_at.reset(token)


def time_left(timeout: float | None) -> float | None:
    """``timeout``, shortened to what the current deadline leaves.

    Raises ``TimeoutError`` when the deadline has passed.
    """
    expires_at = _expires_at.get()
    if expires_at is None:
        return timeout
    left = expires_at - time.monotonic()
    if left <= 0:
        raise TimeoutError("The deadline of the call to Google has passed.")
    return left if timeout is None else min(timeout, left)


class DeadlineSocket:
    """A connected socket whose blocking operations respect the current deadline.

    http.client and urllib3 send with ``sendall`` and read through
    ``makefile("rb")``, whose buffered reads call ``recv_into`` as often as a
    slow server makes them: each call is given only the time left.
    Everything else is the socket's own.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._timeout

    def _bound(self) -> None:
        self._sock.settimeout(time_left(self._timeout))

    def recv(self, *args: Any) -> bytes:
        self._bound()
        return self._sock.recv(*args)

    def recv_into(self, *args: Any) -> int:
        self._bound()
        return self._sock.recv_into(*args)

    def send(self, *args: Any) -> int:
        self._bound()
        return self._sock.send(*args)

    def sendall(self, *args: Any) -> None:
        self._bound()
        self._sock.sendall(*args)

    def makefile(self, mode: str = "r", buffering: int | None = None, **kwargs: Any) -> Any:
        if mode != "rb":
            return self._sock.makefile(mode, buffering, **kwargs)  # type: ignore[call-overload]
        # socket.makefile("rb"), reading through this object's recv_into.
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        self._sock._io_refs += 1  # type: ignore[attr-defined]  # closed with the last file
        if buffering is None or buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        return io.BufferedReader(raw, buffering)


class _Deadlined:
    sock: Any
    timeout: Any

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        # The TLS handshake that follows gets only the time the connect left.
        try:
            sock.settimeout(time_left(sock.gettimeout()))
        except TimeoutError:
            sock.close()
            raise
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        # A TLS-in-TLS proxy tunnel is not a socket: it keeps the per-read timeout.
        if isinstance(self.sock, socket.socket):
            self.sock = DeadlineSocket(self.sock)


class DeadlineHTTPConnection(_Deadlined, HTTPConnection):
    pass


class DeadlineHTTPSConnection(_Deadlined, HTTPSConnection):
    pass


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


POOL_CLASSES = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections that respect ``call_deadline``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        # A SOCKS proxy has connection classes of its own.
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = POOL_CLASSES
        return manager
