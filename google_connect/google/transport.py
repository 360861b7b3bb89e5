"""The HTTP session every call to Google's OAuth endpoints goes through."""

from __future__ import annotations

import threading
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests

from google_connect import __version__
from google_connect.google.deadline import DeadlineAdapter


class RefuseAllCookies(DefaultCookiePolicy):
    """Google's OAuth endpoints need no cookies, and the session is shared by
    every call a thread makes, for every user: nothing is kept from one call
    to the next."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


class GoogleSession(requests.Session):
    """A ``requests.Session`` that keeps no cookies, follows no redirect and
    reads its environment once per origin.

    Requests are prepared and sent by requests itself. Two things differ:

    - A redirect is never followed, and its body is never read: requests would
      send a 307's form (client secret, code, refresh token) on to wherever
      it points, and to find where, it reads the whole body of the answer
      (even with ``allow_redirects=False``), however large.
    - For every request, requests looks at the proxy variables
      (``HTTPS_PROXY``, ``NO_PROXY``...), the CA bundle variables and
      ``~/.netrc`` again. A running process's environment does not change
      under it, so this session asks once per scheme and host and reuses the
      answer: proxies and a custom CA bundle still apply. ``~/.netrc`` is not
      consulted: Google's OAuth endpoints authenticate the client in the
      request body.

    Its connections respect ``deadline.call_deadline()``: one bound for a
    whole call, however slowly the server answers.
    """

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = f"google-connect/{__version__}"
        self.trust_env = False  # no per-request look-ups; see merge_environment_settings
        self.cookies.set_policy(RefuseAllCookies())
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.mount("https://", DeadlineAdapter())
        self.mount("http://", DeadlineAdapter())

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        # requests' resolve_redirects() follows (or, with allow_redirects=False,
        # prepares) a redirect only where this names a target; with none it
        # neither follows it nor reads its body. The caller sees the 3xx.
        return None

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies:
            # Per-call proxies: as requests does it, uncached.
            return self._from_environment(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        settings = self._environment.get(key)
        if settings is None:
            settings = self._from_environment(url, {}, stream, verify, cert)
            self._environment[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}

    def _from_environment(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        self.trust_env = True
        try:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        finally:
            self.trust_env = False


_local = threading.local()


def shared_session() -> requests.Session:
    """One pooled session per thread: connections are reused, state is not shared."""
    session = getattr(_local, "session", None)
    if session is None:
        session = GoogleSession()
        _local.session = session
    return session
