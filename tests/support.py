"""Test helpers: signal recording, flow drivers, and google_connect.testing's fakes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

from django.dispatch import Signal

# The helpers google_connect ships for sites' tests are the suite's own.
from google_connect.testing import (  # noqa: F401 (re-exported for the tests)
    ACCESS_TOKEN,
    AUTH_CODE,
    EMAIL,
    REFRESH_TOKEN,
    SUB,
    FakeGoogle,
    finish_flow,
    start_flow,
    token_body,
    userinfo_body,
)


class TerminalOnStderr:
    """A terminal that is the process's stderr, where tqdm draws its bar."""

    def write(self, text):
        sys.stderr.write(text)

    def flush(self):
        sys.stderr.flush()

    def isatty(self):
        return True


@contextmanager
def recording(*signals: Signal, sender: Any = None) -> Iterator[list[dict[str, Any]]]:
    """Every send of ``signals`` (from ``sender`` alone, when given) while inside.

    Yields one list, in the order sent, of each send's kwargs; Django puts the
    ``signal`` and the ``sender`` among them.
    """
    sent: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        sent.append(kwargs)

    for signal in signals:
        signal.connect(receiver, sender=sender, weak=False)
    try:
        yield sent
    finally:
        for signal in signals:
            signal.disconnect(receiver, sender=sender)


def connect(client, google: FakeGoogle, *, token=None, userinfo=None, next_url=None):
    """A whole successful-looking flow against a fake Google; returns the callback response."""
    return google.connect(client, token=token, userinfo=userinfo, next_url=next_url)


def example_google_connect(config: dict[str, Any]) -> dict[str, Any]:
    """``GOOGLE_CONNECT`` as example_project/settings.py completes it: the site's layout."""
    return {**config, "BASE_TEMPLATE": "base.html"}


class TokenEndpoint:
    """Google's token endpoint: a new token per call, or the answers queued per refresh token."""

    def __init__(self, google):
        self.calls: list[str] = []
        self.answers: dict[str, list[tuple[int, dict, str]]] = {}
        self.always: dict[str, tuple[int, dict, str]] = {}
        google.mock.add_callback("POST", google.config.TOKEN_URL, callback=self)

    def __call__(self, request):
        refresh_token = parse_qs(request.body)["refresh_token"][0]
        self.calls.append(refresh_token)
        if self.answers.get(refresh_token):
            return self.answers[refresh_token].pop(0)
        if refresh_token in self.always:
            return self.always[refresh_token]
        body = token_body(access_token=f"ya29.NEW-{len(self.calls)}", refresh_token=None)
        return 200, {}, json.dumps(body)

    def unavailable(self, refresh_token, times, headers=None):
        self.answers[refresh_token] = [(503, headers or {}, "{}")] * times

    def calls_for(self, account):
        return self.calls.count(account.refresh_token)
