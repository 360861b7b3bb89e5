"""The HTTP session every call to Google's OAuth endpoints goes through."""

from __future__ import annotations

import threading
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.cookies import RequestsCookieJar
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity

from . import __version__

# Prepared URLs are kept per URL string; the OAuth endpoints are a handful.
MAX_CACHED_URLS = 64
# The arguments of a call _prepare_plain() can prepare; any other goes
# through requests' own preparation.
PLAIN_ARGUMENTS = frozenset({"data", "headers", "timeout", "stream", "allow_redirects"})


class RefuseAllCookies(DefaultCookiePolicy):
    """Google's OAuth endpoints need no cookies, and the session is shared by
    every call a thread makes, for every user: nothing is kept from one call
    to the next."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


class GoogleSession(requests.Session):
    """A ``requests.Session`` that does per call only what changes per call.

    For every request, requests looks at the proxy variables (``HTTPS_PROXY``,
    ``NO_PROXY``...), the CA bundle variables and ``~/.netrc`` again, parses
    and re-encodes the URL, and merges cookie jars. A running process's
    environment does not change under it, so this session asks once per
    scheme and host and reuses the answer: proxies and a custom CA bundle
    still apply, at a fraction of the cost. ``~/.netrc`` is not consulted:
    Google's OAuth endpoints authenticate the client in the request body.

    The calls google_connect makes (a form or nothing as the body, a few
    headers) are prepared directly; anything else goes through requests'
    own preparation unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = f"google-connect/{__version__}"
        self.trust_env = False  # no per-request look-ups; see merge_environment_settings
        self.cookies.set_policy(RefuseAllCookies())
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._prepared_urls: dict[str, str] = {}

    def request(  # type: ignore[override]  # any of requests' arguments, passed on
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        data, headers = kwargs.get("data"), kwargs.get("headers")
        if args or not kwargs.keys() <= PLAIN_ARGUMENTS or not self._plain(data, headers):
            return super().request(method, url, *args, **kwargs)
        prepared = self._prepare_plain(method, url, data, headers)
        settings = self.merge_environment_settings(
            prepared.url, {}, kwargs.get("stream"), None, None
        )
        return self.send(
            prepared,
            timeout=kwargs.get("timeout"),
            allow_redirects=kwargs.get("allow_redirects", True),
            **settings,
        )

    def _plain(self, data: Any, headers: Any) -> bool:
        """Whether the call is one ``_prepare_plain`` prepares as requests would."""
        return (
            _str_dict_or_none(data)
            and _str_dict_or_none(headers)
            and not self.params
            and self.auth is None
            and not any(self.hooks.values())
            and not self.cookies
        )

    def _prepare_plain(
        self, method: str, url: str, data: dict[str, str] | None, headers: dict[str, str] | None
    ) -> requests.PreparedRequest:
        prepared = requests.PreparedRequest()
        prepared.method = method.upper()
        prepared.url = self._prepared_url(url)
        # A session header set to None is one removed, as requests has it
        # (the type stubs do not admit None there).
        session_headers: dict[str, Any] = dict(self.headers)
        merged: CaseInsensitiveDict[Any] = CaseInsensitiveDict(
            (name, value) for name, value in session_headers.items() if value is not None
        )
        for name, value in (headers or {}).items():
            check_header_validity((name, value))
            merged[name] = value
        if data:
            # What requests sends for a dict: application/x-www-form-urlencoded.
            body = urlencode(data)
            prepared.body = body
            merged.setdefault("Content-Type", "application/x-www-form-urlencoded")
            merged["Content-Length"] = str(len(body))  # urlencode's output is ASCII
        elif prepared.method not in ("GET", "HEAD"):
            merged.setdefault("Content-Length", "0")
        prepared.headers = merged
        prepared.hooks = default_hooks()
        # requests reads it when an answer is a redirect; no cookie is ever
        # kept, so it is empty.
        prepared._cookies = RequestsCookieJar()  # type: ignore[attr-defined]  # untyped private
        return prepared

    def _prepared_url(self, url: str) -> str:
        prepared = self._prepared_urls.get(url)
        if prepared is None:
            probe = requests.PreparedRequest()
            probe.prepare_url(url, None)
            prepared = str(probe.url)
            if len(self._prepared_urls) < MAX_CACHED_URLS:
                self._prepared_urls[url] = prepared
        return prepared

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


def _str_dict_or_none(value: Any) -> bool:
    return value is None or (
        type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items())
    )


_local = threading.local()


def shared_session() -> requests.Session:
    """One pooled session per thread: connections are reused, state is not shared."""
    session = getattr(_local, "session", None)
    if session is None:
        session = GoogleSession()
        _local.session = session
    return session
