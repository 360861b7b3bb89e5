"""Google's RISC discovery document and the keys that sign its security events.

Both are fetched through the session every call to Google goes through
(``transport.shared_session()``), so timeouts, proxies, the CA bundle and the
tests' ``responses`` mock apply. Each is kept as long as the answer's
``Cache-Control: max-age`` says, and at least five minutes. A token signed
with a key id the cached key set lacks (Google rotated its keys) fetches the
key set again, at most once a minute: a stream of forged key ids cannot turn
the receiver into a load on Google.

When a fetch fails and a copy is cached, the copy is used and the fetch is
tried again a minute later. Only with nothing cached is the failure the
caller's (``RiscKeysUnavailable``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from google_connect.conf import GoogleConnectSettings
from google_connect.exceptions import GoogleAPIError
from google_connect.google.deadline import call_deadline
from google_connect.google.http import decode_json, read_capped, send
from google_connect.google.transport import shared_session

logger = logging.getLogger("google_connect")

MIN_CACHE_SECONDS = 5 * 60
MAX_CACHE_SECONDS = 24 * 3600
# The shortest time between two fetches of a key set (unknown key id, failed fetch).
REFETCH_INTERVAL = 60
_MAX_AGE_RE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)


class RiscKeysUnavailable(GoogleAPIError):
    """Google's RISC discovery document or key set could not be fetched or read."""

    reason = "risc_keys_unavailable"


@dataclass(frozen=True)
class Discovery:
    issuer: str
    jwks_uri: str


@dataclass
class _Entry:
    value: Any
    expires_at: float
    fetched_at: float


def cache_seconds(cache_control: str | None) -> int:
    """How long to keep an answer: its max-age, within five minutes and a day."""
    match = _MAX_AGE_RE.search(cache_control or "")
    max_age = int(match.group(1)) if match else 0
    return min(max(max_age, MIN_CACHE_SECONDS), MAX_CACHE_SECONDS)


class RiscKeys:
    """The discovery documents and key sets seen, by URL; safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def discovery(self, config: GoogleConnectSettings) -> Discovery:
        discovery: Discovery = self._get(config, config.RISC_CONFIG_URL, _parse_discovery)
        return discovery

    def key(self, config: GoogleConnectSettings, kid: str) -> Any | None:
        """The public key with this id (refetching the key set if due), or None."""
        uri = self.discovery(config).jwks_uri
        keys: dict[str, Any] = self._get(config, uri, _parse_jwks)
        if kid in keys:
            return keys[kid]
        keys = self._get(config, uri, _parse_jwks, refetch_after=REFETCH_INTERVAL)
        return keys.get(kid)

    def _get(
        self,
        config: GoogleConnectSettings,
        url: str,
        parse: Callable[[Any], Any],
        *,
        refetch_after: float | None = None,
    ) -> Any:
        # One fetch at a time: threads that find the entry stale wait for it
        # rather than all asking Google.
        with self._lock:
            now = self.clock()
            entry = self._entries.get(url)
            due = entry is None or now >= entry.expires_at
            if entry is not None and refetch_after is not None:
                due = due or now - entry.fetched_at >= refetch_after
            if not due:
                return entry.value  # type: ignore[union-attr]  # due is False only with an entry
            try:
                value, seconds = _fetch(config, url, parse)
            except RiscKeysUnavailable:
                if entry is None:
                    raise
                # Keep what we have; try again in a minute.
                entry.fetched_at = now
                entry.expires_at = max(entry.expires_at, now + REFETCH_INTERVAL)
                return entry.value
            self._entries[url] = _Entry(value, now + seconds, now)
            return value


def fetch_json(
    method: str, url: str, error_class: type[GoogleAPIError], *, timeout: float, **kwargs: Any
) -> tuple[requests.Response, Any]:
    """One call through the shared session, within ``timeout`` in all: the
    answer, and its body as JSON (None when it is not JSON). Raises
    ``error_class`` when Google cannot be reached in time, answers with a
    redirect (never followed, its body never read) or its answer is too large
    to read."""
    # ``timeout`` bounds the whole call: the key cache's lock is held throughout.
    with call_deadline(timeout):
        response = send(shared_session(), method, url, error_class, timeout=timeout, **kwargs)
        with response:
            raw = read_capped(response, error_class, url)
    return response, decode_json(raw)


def _fetch(config: GoogleConnectSettings, url: str, parse: Callable[[Any], Any]) -> tuple[Any, int]:
    what = RiscKeysUnavailable.reason
    response, body = fetch_json("GET", url, RiscKeysUnavailable, timeout=config.TIMEOUT)
    if not response.ok:
        logger.warning("Google %s: HTTP %s from %s", what, response.status_code, url)
        raise RiscKeysUnavailable(
            f"Google answered HTTP {response.status_code}.", status_code=response.status_code
        )
    value = parse(body)
    if value is None:
        logger.warning("Google %s: unusable answer from %s", what, url)
        raise RiscKeysUnavailable("Google's answer is unusable.", status_code=response.status_code)
    return value, cache_seconds(response.headers.get("Cache-Control"))


def _parse_discovery(body: Any) -> Discovery | None:
    if not isinstance(body, dict):
        return None
    issuer, jwks_uri = body.get("issuer"), body.get("jwks_uri")
    if not isinstance(issuer, str) or not issuer or not isinstance(jwks_uri, str):
        return None
    if not jwks_uri.startswith(("https://", "http://")):
        return None
    return Discovery(issuer=issuer, jwks_uri=jwks_uri)


def _parse_jwks(body: Any) -> dict[str, Any] | None:
    """RSA signing keys by key id; keys of other types or uses are left out."""
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
        return None
    keys: dict[str, Any] = {}
    for jwk in body["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or jwk.get("alg", "RS256") != "RS256":
            continue
        try:
            keys[kid] = jwt.PyJWK(jwk, algorithm="RS256").key
        except (jwt.PyJWTError, ValueError, TypeError):
            logger.warning("Google %s: key %r is unusable", RiscKeysUnavailable.reason, kid)
    return keys


# The process's cache: Google's keys are the same for every request.
KEYS = RiscKeys()
