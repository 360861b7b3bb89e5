"""A stand-in for Google's token and revoke endpoints on 127.0.0.1, over real HTTP.

For tests and benchmarks that need real concurrency (threads, processes) or
real latency, which ``responses`` cannot give. It answers ``refresh_token``
grants with a new, unique access token after ``token_delay`` seconds and
revocations after ``revoke_delay`` seconds, and counts every call.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class StubGoogle:
    def __init__(self, *, token_delay: float = 0.2, revoke_delay: float = 0.0) -> None:
        self.token_delay = token_delay
        self.revoke_delay = revoke_delay
        self.counts = {"token": 0, "revoke": 0}
        self.revoked: set[str] = set()
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

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
            serial = next(self._serial)
        if endpoint == "revoke":
            time.sleep(self.revoke_delay)
            with self._lock:
                self.revoked.add(form.get("token", ""))
            return 200, {}
        time.sleep(self.token_delay)
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
            if endpoint not in stub.counts:
                status, body = 404, {"error": "not_found"}
            else:
                status, body = stub.answer(endpoint, form)
            self.send_json(status, body)

    return Handler
