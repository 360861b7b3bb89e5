"""A stand-in for Google's token and revoke endpoints on 127.0.0.1, over real HTTP.

For tests and benchmarks that need real concurrency (threads, processes) or
real latency, which ``responses`` cannot give. It answers ``refresh_token``
grants with a new, unique access token after ``token_delay`` seconds,
revocations after ``revoke_delay`` seconds and userinfo requests at once, and
counts every call and every connection it accepts. ``forms`` keeps every
token and revoke call's form, in the order received, for tests that check
what was sent (which client's credentials, say).

Given ``code_grants=True``, it also exchanges authorization codes (after
``token_delay`` too): a refresh token and an access token per code, and a
userinfo ``sub`` per code, so each connect is a Google account of its own.
Given ``gate`` (a ``threading.Event``), token calls wait for it besides
``token_delay`` (up to ``gate_timeout`` seconds): a test holds them at
Google while it looks at what else the server does meanwhile.

Given ``tls`` (a ``trustme.CA``), it serves HTTPS with a certificate for
127.0.0.1 from that throwaway CA; point ``REQUESTS_CA_BUNDLE`` at the CA's
certificate (``ca_bundle(tmp_path)``) for requests to trust it.
"""

from __future__ import annotations

import collections
import itertools
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

# What a code grant grants: google_connect's default SCOPES.
CODE_GRANT_SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)


class StubGoogle:
    def __init__(
        self,
        *,
        token_delay: float = 0.2,
        revoke_delay: float = 0.0,
        tls: Any = None,
        code_grants: bool = False,
        gate: threading.Event | None = None,
        gate_timeout: float = 10.0,
    ) -> None:
        self.token_delay = token_delay
        self.code_grants = code_grants
        self.gate = gate
        self.gate_timeout = gate_timeout
        self.revoke_delay = revoke_delay
        self.counts = {"token": 0, "revoke": 0, "userinfo": 0}
        self.forms: list[tuple[str, dict[str, str]]] = []
        # Token calls per refresh token: which accounts were refreshed twice.
        self.refresh_calls: collections.Counter[str] = collections.Counter()
        self.revoked: set[str] = set()
        # Token calls waiting at once, now and at most: proof of overlap that
        # does not depend on how fast a loaded machine runs.
        self.token_calls_in_flight = 0
        self.most_token_calls_in_flight = 0
        self.revoke_calls_in_flight = 0
        self.most_revoke_calls_in_flight = 0
        # Refresh or revoked token -> how many more calls for it answer 503.
        self.unavailable: dict[str, int] = {}
        self.tls = tls
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        context = None
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.issue_cert("127.0.0.1").configure_cert(context)
        self._server = _Server(("127.0.0.1", 0), _handler_for(self), context)
        # A short poll: shutdown() waits for the loop's next look (0.5 s by default).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def userinfo_url(self) -> str:
        return self.url + "/userinfo"

    @property
    def connections(self) -> int:
        """The TCP connections accepted so far."""
        return self._server.accepted

    def ca_bundle(self, directory: Path) -> str:
        """Write the throwaway CA's certificate into ``directory``; return its path."""
        path = directory / "stand-in-ca.pem"
        self.tls.cert_pem.write_to_path(str(path))
        return str(path)

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def revoke_url(self) -> str:
        return self.url + "/revoke"

    def __enter__(self) -> StubGoogle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, endpoint: str) -> int:
        with self._lock:
            return self.counts[endpoint]

    def answer(self, endpoint: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        with self._lock:
            self.counts[endpoint] += 1
            self.forms.append((endpoint, dict(form)))
            serial = next(self._serial)
            if endpoint == "token":
                self.refresh_calls[form.get("refresh_token", "")] += 1
            key = form.get("refresh_token" if endpoint == "token" else "token", "")
            if self.unavailable.get(key):
                self.unavailable[key] -= 1
                return 503, {"error": "backend_error"}
        if endpoint == "revoke":
            with self._lock:
                self.revoke_calls_in_flight += 1
                self.most_revoke_calls_in_flight = max(
                    self.most_revoke_calls_in_flight, self.revoke_calls_in_flight
                )
            try:
                time.sleep(self.revoke_delay)
            finally:
                with self._lock:
                    self.revoke_calls_in_flight -= 1
            with self._lock:
                self.revoked.add(form.get("token", ""))
            return 200, {}
        with self._lock:
            self.token_calls_in_flight += 1
            self.most_token_calls_in_flight = max(
                self.most_token_calls_in_flight, self.token_calls_in_flight
            )
        try:
            time.sleep(self.token_delay)
            if self.gate is not None:
                self.gate.wait(self.gate_timeout)
        finally:
            with self._lock:
                self.token_calls_in_flight -= 1
        if self.code_grants and form.get("grant_type") == "authorization_code":
            code = form.get("code", "")
            return 200, {
                "access_token": f"ya29.STUB-CODE-{code}",
                "refresh_token": f"1//STUB-REFRESH-{code}",
                "expires_in": 3599,
                "scope": " ".join(CODE_GRANT_SCOPES),
                "token_type": "Bearer",
            }
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("refresh_token") in self.revoked:
            return 400, {"error": "invalid_grant", "error_description": "Token has been revoked."}
        return 200, {
            "access_token": f"ya29.STUB-{serial}",
            "expires_in": 3599,
            "scope": "openid https://www.googleapis.com/auth/userinfo.email",
            "token_type": "Bearer",
        }


class JSONHandler(BaseHTTPRequestHandler):
    """A quiet handler that answers JSON; stand-ins subclass it."""

    def send_json(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: tests and benchmarks print their own figures


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the connects of many async
    # callers at once; a dropped SYN is retried only after a second.
    request_queue_size = 256

    def __init__(self, address: Any, handler: Any, context: ssl.SSLContext | None) -> None:
        self.context = context
        self.accepted = 0
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        self.accepted += 1  # only the serving thread accepts
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True)
        return sock, address


def _handler_for(stub: StubGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(JSONHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends allow
        # Headers and body go out in two writes; with Nagle on, the second
        # waits for a delayed ACK (about 40 ms).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            endpoint = self.path.strip("/")
            if endpoint not in ("token", "revoke"):
                status, body = 404, {"error": "not_found"}
            else:
                status, body = stub.answer(endpoint, form)
            self.send_json(status, body)

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            if self.path.strip("/") != "userinfo":
                self.send_json(404, {"error": "not_found"})
                return
            with stub._lock:
                stub.counts["userinfo"] += 1
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if stub.code_grants and token.startswith("ya29.STUB-CODE-"):
                code = token.removeprefix("ya29.STUB-CODE-")
                body = {"sub": f"stub-code-{code}", "email": f"{code}@example.com"}
                self.send_json(200, {**body, "email_verified": True})
                return
            self.send_json(
                200, {"sub": f"stub-{abs(hash(token)) % 10**12}", "email_verified": True}
            )

    return Handler
