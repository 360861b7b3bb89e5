"""The HTTP session every call to Google's OAuth endpoints goes through."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests

from . import __version__


class GoogleSession(requests.Session):
    """A ``requests.Session`` that reads its environment once per origin.

    For every request, requests looks at the proxy variables (``HTTPS_PROXY``,
    ``NO_PROXY``...), the CA bundle variables and ``~/.netrc`` again. A running
    process's environment does not change under it, so this session asks once
    per scheme and host and reuses the answer: proxies and a custom CA bundle
    still apply, at a fraction of the cost. ``~/.netrc`` is not consulted:
    Google's OAuth endpoints authenticate the client in the request body.
    """

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = f"google-connect/{__version__}"
        self.trust_env = False  # no per-request look-ups; see merge_environment_settings
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}

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
