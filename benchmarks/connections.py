"""Connections opened per calls to Google, per endpoint, over HTTPS.

The stand-in Google (``tests/stub_google.py``) serves HTTPS with a certificate
from a throwaway CA (``trustme``; ``REQUESTS_CA_BUNDLE`` points at it) and
counts the TCP connections it accepts. For each kind of call, a new thread (so
a new pooled session) makes ``calls`` of them through ``GoogleOAuthClient``
against a stand-in of its own, the way google_connect makes them: a
connection per call would be a TLS handshake with Google per call.

Run as ``python -m benchmarks.connections '{"calls": 1000}'``.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import harness

KINDS = ("token (refresh)", "token (code exchange, a 400 answer)", "userinfo", "revoke")


def call_for(kind: str) -> Callable[[Any, int], None]:
    from google_connect.exceptions import TokenExchangeFailed

    def refresh(client: Any, n: int) -> None:
        client.refresh(f"1//BENCH-{n}")

    def exchange(client: Any, n: int) -> None:
        # The stand-in takes refresh grants only: this is an error answer,
        # read like any other.
        try:
            client.exchange_code(code=f"4/{n}", redirect_uri="https://x/", code_verifier="v")
        except TokenExchangeFailed:
            return
        raise RuntimeError("the stand-in accepted an authorization code")

    def userinfo(client: Any, n: int) -> None:
        client.fetch_userinfo(f"ya29.BENCH-{n}")

    def revoke(client: Any, n: int) -> None:
        if client.revoke(f"ya29.BENCH-{n}") is not True:
            raise RuntimeError("revocation not confirmed")

    return dict(zip(KINDS, (refresh, exchange, userinfo, revoke), strict=True))[kind]


def count_connections(kind: str, calls: int, directory: Path) -> dict[str, Any]:
    import trustme
    from django.conf import settings
    from django.test.utils import override_settings

    from google_connect.google.oauth import GoogleOAuthClient
    from tests.stub_google import StubGoogle

    with StubGoogle(token_delay=0, tls=trustme.CA()) as stub:
        os.environ["REQUESTS_CA_BUNDLE"] = stub.ca_bundle(directory)
        urls = {"TOKEN_URL": stub.token_url, "REVOKE_URL": stub.revoke_url}
        urls["USERINFO_URL"] = stub.userinfo_url
        errors: list[BaseException] = []
        call = call_for(kind)

        def run() -> None:
            try:
                client = GoogleOAuthClient()
                for n in range(calls):
                    call(client, n)
            except BaseException as exc:  # noqa: BLE001 (re-raised below)
                errors.append(exc)

        with override_settings(GOOGLE_CONNECT={**settings.GOOGLE_CONNECT, **urls}):
            thread = threading.Thread(target=run)
            thread.start()
            thread.join()
        if errors:
            raise errors[0]
        served = sum(stub.counts.values())
        return {"calls": calls, "served": served, "connections": stub.connections}


def main(options: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        return {kind: count_connections(kind, options["calls"], Path(directory)) for kind in KINDS}


if __name__ == "__main__":
    harness.run(main)
