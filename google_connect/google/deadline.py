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
after its deadline. That holds for the connect too when a name resolves to
several addresses: urllib3 tries each in turn with the full timeout, so the
connection classes here run that loop themselves, giving each address only
what is left. Outside ``call_deadline`` the sockets behave as usual.
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

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


def create_connection(
    address: tuple[str, int],
    timeout: Any,
    source_address: tuple[str, int] | None = None,
    socket_options: Any = None,
) -> socket.socket:
    """urllib3's ``create_connection``, each address given only the time left.

    urllib3 gives every address the name resolves to the full timeout, so a
    name with three black-holed addresses holds the call for three timeouts.
    Here each attempt gets what the deadline leaves, and once none is left the
    loop stops with ``TimeoutError``. The rest is urllib3's: the IPv4/IPv6
    choice, the socket options (``TCP_NODELAY``), the source address, and the
    last address's error when none could be reached.
    """
    host, port = address
    if host.startswith("["):
        host = host.strip("[]")
    try:
        host.encode("idna")
    except UnicodeError:
        raise LocationParseError(f"'{host}', label empty or too long") from None
    if timeout is not None and not isinstance(timeout, int | float):
        # urllib3's "no timeout given" sentinel (its own in 2.x, socket's in
        # 1.26): the socket default, as urllib3 leaves it.
        timeout = socket.getdefaulttimeout()
    error: OSError | None = None
    for family, kind, proto, _name, socket_address in socket.getaddrinfo(
        host, port, allowed_gai_family(), socket.SOCK_STREAM
    ):
        # Raises TimeoutError once the deadline has passed: no address is
        # tried without time to connect.
        left = time_left(timeout)
        sock = None
        try:
            sock = socket.socket(family, kind, proto)
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(left)
            if source_address:
                sock.bind(source_address)
            sock.connect(socket_address)
            # The TLS handshake that follows gets only the time the connect left.
            sock.settimeout(time_left(timeout))
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    if error is not None:
        try:
            raise error
        finally:
            error = None  # breaks the frame -> traceback -> frame cycle, as urllib3 does
    raise OSError("getaddrinfo returns an empty list")


def _lookup_failed(conn: Any, exc: socket.gaierror) -> NewConnectionError:
    # urllib3 2 names a failed lookup (a NewConnectionError); 1.26, which
    # requests still accepts, reports it as any failed connection.
    named = getattr(urllib3.exceptions, "NameResolutionError", None)
    if named is None:
        return NewConnectionError(conn, f"Failed to establish a new connection: {exc}")
    failed: NewConnectionError = named(conn.host, conn, exc)
    return failed


class _Deadlined:
    sock: Any
    timeout: Any
    host: str
    port: int
    _dns_host: str
    source_address: tuple[str, int] | None
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        # urllib3's HTTPConnection._new_conn, with the connect loop above:
        # the same errors, so requests reports them as it always does.
        try:
            sock = create_connection(
                (self._dns_host, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as exc:
            raise _lookup_failed(self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                self,
                f"Connection to {self.host} timed out. (connect timeout={self.timeout})",
            ) from exc
        except OSError as exc:
            raise NewConnectionError(
                self,  # type: ignore[arg-type]
                f"Failed to establish a new connection: {exc}",
            ) from exc
        sys.audit("http.client.connect", self, self.host, self.port)
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
