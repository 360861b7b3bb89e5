"""Google's token and revocation endpoints from an event loop, over aiohttp.

Needs the ``async`` extra (``pip install 'google-connect[async]'``). The
rules are the sync path's own functions (``http.json_answer``,
``http.redirect_refused``, ``retry.wait_before_retry``...): only sending and
reading differ. What holds here as there:

- one deadline, ``TIMEOUT``, for the whole call from connect to the last
  byte (``asyncio.timeout``; aiohttp's own ``total`` timeout as well);
- no redirect is followed and its body is not read;
- an answer is read up to ``http.MAX_RESPONSE_BYTES`` and refused beyond;
- no cookie is kept, the environment's proxies and CA bundle apply.

One ``aiohttp.ClientSession`` per event loop keeps connections between calls.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import weakref
from typing import Any

try:
    import aiohttp
except ImportError as exc:  # pragma: no cover - exercised by a test that hides aiohttp
    raise ImportError(
        "google_connect's async API needs aiohttp, which the 'async' extra installs: "
        "pip install 'google-connect[async]'"
    ) from exc

from django.views.decorators.debug import sensitive_variables

from google_connect import __version__
from google_connect.conf import GoogleConnectSettings, get_settings
from google_connect.exceptions import GoogleAPIError, RefreshFailed, RevokeFailed
from google_connect.google import clients, telemetry
from google_connect.google.answers import TokenResponse, parse_token_response
from google_connect.google.clients import OAuthClient
from google_connect.google.http import (
    MAX_RESPONSE_BYTES,
    is_redirect,
    json_answer,
    read_failed,
    redirect_refused,
    too_large,
    unreachable,
)
from google_connect.google.oauth import GoogleOAuthClient, already_invalid

# What aiohttp raises when a call cannot be made or its answer read.
CALL_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def ssl_context() -> ssl.SSLContext:
    """The CA bundle requests would use: ``REQUESTS_CA_BUNDLE``, else the system's."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
    return ssl.create_default_context(cafile=bundle)


def new_session(**options: Any) -> aiohttp.ClientSession:
    """A session as ``transport.GoogleSession``: no cookies, no redirects, env proxies."""
    connector = aiohttp.TCPConnector(
        # The caller bounds the calls in flight (a semaphore, --concurrency):
        # a pool limit here would queue them a second time, silently.
        limit=0,
        ssl=ssl_context(),
        enable_cleanup_closed=True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": f"google-connect/{__version__}"},
        trust_env=True,
        **options,
    )


def shared_session() -> aiohttp.ClientSession:
    """The running loop's session: connections are reused across calls and accounts."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = new_session()
        _sessions[loop] = session
    return session


async def close_shared_session() -> None:
    """Close the running loop's session (before the loop ends, to leave no socket open)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


@sensitive_variables()
async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    error_class: type[GoogleAPIError],
    *,
    timeout: float,
    status_only: bool = False,
    **kwargs: Any,
) -> dict[str, Any] | None:
    """One call to Google: its JSON object (None with ``status_only`` on success).

    One client span (and ``http.client.request.duration``) per call, as on the
    sync path; it lasts the whole call, to the last byte, as the deadline does.
    """
    try:
        with telemetry.client_span(method, url) as span:
            async with asyncio.timeout(timeout):
                return await _call(
                    session, method, url, error_class, timeout, status_only, kwargs, span
                )
    except TimeoutError as exc:
        # The deadline passed, while connecting or while reading.
        raise unreachable(url, exc, error_class) from None


@sensitive_variables()
async def _call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    error_class: type[GoogleAPIError],
    timeout: float,
    status_only: bool,
    kwargs: dict[str, Any],
    span: telemetry.ClientSpan,
) -> dict[str, Any] | None:
    try:
        response = await session.request(
            method,
            url,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
            **kwargs,
        )
    except CALL_ERRORS as exc:
        # aiohttp's class, as requests' on the sync path, not the one raised here.
        span.set_error(type(exc).__name__)
        raise unreachable(url, exc, error_class) from None
    async with response:
        status = response.status
        span.set_status_code(status)
        if is_redirect(status):
            # Released unread: a redirect's body is never read.
            response.close()
            raise redirect_refused(url, status, error_class)
        ok = 200 <= status < 400
        try:
            raw = await read_up_to(response, MAX_RESPONSE_BYTES + 1)
        except CALL_ERRORS as exc:
            if ok and not status_only:
                raise read_failed(url, exc, error_class) from None
            raw = b""  # see oauth._call: a status-only success, or an error by its status
        if ok and status_only:
            return None
        if len(raw) > MAX_RESPONSE_BYTES:
            if ok:
                raise too_large(url, status, error_class)
            raw = b""
        return json_answer(status, response.headers, raw, error_class, url)


async def read_up_to(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most ``limit`` bytes of the (decompressed) body."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class AsyncGoogleOAuthClient:
    """``GoogleOAuthClient``'s refresh and revocation, awaited."""

    def __init__(
        self,
        config: GoogleConnectSettings | None = None,
        session: aiohttp.ClientSession | None = None,
        *,
        client: OAuthClient | None = None,
    ) -> None:
        self.config = config or get_settings()
        self.session = session
        self.client = client or clients.default(self.config)
        # The forms are the sync client's: one definition of what is sent.
        self._forms = GoogleOAuthClient(self.config, session=_NO_SESSION, client=self.client)

    @sensitive_variables()
    async def refresh(self, refresh_token: str) -> TokenResponse:
        """Trade a refresh token for a new access token (RFC 6749 §6)."""
        body = await call(
            self.session or shared_session(),
            "POST",
            self.config.TOKEN_URL,
            RefreshFailed,
            timeout=self.config.TIMEOUT,
            data=self._forms.refresh_form(refresh_token),
        )
        assert body is not None
        return parse_token_response(body, RefreshFailed)

    @sensitive_variables()
    async def revoke(self, token: str) -> bool:
        """As ``GoogleOAuthClient.revoke``: True if revoked now, False if already invalid."""
        try:
            await call(
                self.session or shared_session(),
                "POST",
                self.config.REVOKE_URL,
                RevokeFailed,
                timeout=self.config.TIMEOUT,
                status_only=True,
                data={"token": token},
            )
        except RevokeFailed as exc:
            if already_invalid(exc):
                return False
            raise
        return True


class _NoSession:
    """Stands for a requests session the form builder never uses."""


_NO_SESSION: Any = _NoSession()
