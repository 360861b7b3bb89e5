"""One call to Google over HTTP: sent without following redirects, its answer
read up to a cap, its failure named after the host that was called.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from django.views.decorators.debug import sensitive_variables

from google_connect.exceptions import GoogleAPIError
from google_connect.google import telemetry
from google_connect.google.answers import code_of
from google_connect.google.retry import parse_retry_after

logger = logging.getLogger("google_connect")

# Google's token and userinfo answers are a few kilobytes; anything far larger
# is not Google and is refused before it is parsed or stored.
MAX_RESPONSE_BYTES = 64 * 1024
READ_CHUNK_BYTES = 16 * 1024
# requests' translations of urllib3's read errors, and what may slip past them.
READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
# Statuses whose Retry-After header is honoured (RFC 9110 §10.2.3).
RETRY_AFTER_STATUS_CODES = frozenset({429, 503})


def is_temporary(status_code: int) -> bool:
    """429 (throttled) and every 5xx: the same call may succeed later."""
    return status_code == 429 or 500 <= status_code < 600


def error_answer(
    response: requests.Response,
    body: Any,
    error_class: type[GoogleAPIError],
    host: str | None = None,
) -> GoogleAPIError:
    """The error for an HTTP error answer: its status, Google's codes, never its body."""
    return error_for_status(response.status_code, response.headers, body, error_class, host)


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    error_class: type[GoogleAPIError],
    host: str | None = None,
) -> GoogleAPIError:
    """``error_answer`` for any HTTP client: the status, its headers, the decoded body."""
    retry_after = None
    if status in RETRY_AFTER_STATUS_CODES:
        retry_after = parse_retry_after(headers.get("Retry-After"))
    error = error_class(
        status_code=status,
        error_code=code_of(body),
        error_subtype=code_of(body, "error_subtype"),
        temporary=is_temporary(status),
        retry_after=retry_after,
        host=host,
    )
    expected = (status, error.error_code) in error_class.expected_answers
    logger.log(
        logging.INFO if expected else logging.WARNING,
        "Google %s: %s",
        error_class.reason,
        error.summary,
    )
    return error


# -- the rules of a call, for every HTTP client (requests here, aiohttp in aio.py) --


def unreachable(url: str, exc: BaseException, error_class: type[GoogleAPIError]) -> GoogleAPIError:
    """The error for a call that never got an answer: temporary, named by type only."""
    logger.warning("Google %s: request failed (%s)", error_class.reason, type(exc).__name__)
    return error_class(
        f"{google_at(url)} could not be reached ({type(exc).__name__}).", temporary=True
    )


def is_redirect(status: int) -> bool:
    return 300 <= status < 400


def redirect_refused(url: str, status: int, error_class: type[GoogleAPIError]) -> GoogleAPIError:
    """The error for a 3xx, which is never followed (see ``send``)."""
    logger.warning("Google %s: HTTP %s, a redirect (not followed)", error_class.reason, status)
    return error_class(
        f"{google_at(url)} answered HTTP {status}, a redirect (not followed).",
        status_code=status,
    )


def read_failed(url: str, exc: BaseException, error_class: type[GoogleAPIError]) -> GoogleAPIError:
    logger.warning(
        "Google %s: reading the answer failed (%s)", error_class.reason, type(exc).__name__
    )
    return error_class(
        f"Reading the answer of {google_at(url)} failed ({type(exc).__name__}).", temporary=True
    )


def too_large(url: str, status: int, error_class: type[GoogleAPIError]) -> GoogleAPIError:
    logger.warning("Google %s: answer larger than %d bytes", error_class.reason, MAX_RESPONSE_BYTES)
    return error_class(f"The answer of {google_at(url)} is too large.", status_code=status)


@sensitive_variables()
def json_answer(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    error_class: type[GoogleAPIError],
    url: str,
) -> dict[str, Any]:
    """What a complete answer means: its JSON object, or the error it stands for."""
    body = decode_json(raw)
    if not 200 <= status < 300:
        raise error_for_status(status, headers, body, error_class, host_of(url))
    if not isinstance(body, dict):
        logger.warning("Google %s: the answer is not a JSON object", error_class.reason)
        raise error_class(f"The answer of {google_at(url)} is not a JSON object.", status_code=200)
    return body


@sensitive_variables()
def send(
    session: requests.Session,
    method: str,
    url: str,
    error_class: type[GoogleAPIError],
    *,
    timeout: float,
    **kwargs: Any,
) -> requests.Response:
    """One call to Google, streamed: its answer, unread.

    Raises ``error_class`` when Google cannot be reached or answers with a
    redirect. A redirect is never followed (requests would send a 307's form,
    client secret, code or refresh token, on to wherever it points) and its
    body is never read (see GoogleSession.get_redirect_target).
    """
    try:
        with telemetry.client_span(method, url) as span:
            response = session.request(
                method, url, timeout=timeout, stream=True, allow_redirects=False, **kwargs
            )
            span.set_status_code(response.status_code)
    except requests.RequestException as exc:
        raise unreachable(url, exc, error_class) from None
    if response.is_redirect or is_redirect(response.status_code):
        response.close()
        raise redirect_refused(url, response.status_code, error_class)
    return response


def google_at(url: str) -> str:
    # Named in every error: which "Google" failed is the first question (a
    # stand-in, a proxy, a wrong *_URL setting). Never a secret.
    return f"Google ({host_of(url)})"


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def read_capped(response: requests.Response, error_class: type[GoogleAPIError], url: str) -> bytes:
    """The answer's body, at most ``MAX_RESPONSE_BYTES``; an error names ``url``'s host."""
    try:
        body = read_up_to(response, MAX_RESPONSE_BYTES + 1)
    except READ_ERRORS as exc:
        raise read_failed(url, exc, error_class) from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise too_large(url, response.status_code, error_class)
    return body


def read_quietly(response: requests.Response) -> None:
    with contextlib.suppress(*READ_ERRORS):
        read_up_to(response, MAX_RESPONSE_BYTES + 1)


def read_up_to(response: requests.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the (decompressed) body; a body read to its
    end hands its connection back to the pool."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=READ_CHUNK_BYTES):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    # RecursionError: a small answer can nest deeper than the parser goes.
    except (ValueError, RecursionError):
        return None
