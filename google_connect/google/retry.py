"""Retrying calls to Google that failed for a temporary reason."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from google_connect.exceptions import GoogleAPIError, GoogleUnavailable
from google_connect.google import telemetry

logger = logging.getLogger("google_connect")

T = TypeVar("T")

MAX_RETRIES = 3
BASE_DELAY = 0.5  # seconds; attempts wait up to 0.5, 1 and 2 s
MAX_DELAY = 4.0

# Indirection so tests can record the waits instead of sleeping.
sleep = time.sleep
asleep = asyncio.sleep


def backoff_delay(retry_number: int) -> float:
    """Full-jitter exponential backoff: a random wait up to BASE_DELAY * 2**n.

    The jitter spreads out many workers that failed at the same moment, so
    they don't hit Google again in lockstep.
    """
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**retry_number))  # noqa: S311


DELTA_SECONDS = re.compile(r"[0-9]{1,10}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 §10.2.3), or None.

    Either a number of seconds or an HTTP date; a date in the past is 0.
    Anything else is ignored, as if the header were absent.
    """
    if not value:
        return None
    value = value.strip()
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if DELTA_SECONDS.fullmatch(value):
        return float(min(int(value), 24 * 3600))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def with_retries(call: Callable[[], T], *, what: str) -> T:
    """Run ``call``; on a temporary failure retry it up to MAX_RETRIES times.

    Each attempt is one HTTP call that ``TIMEOUT`` bounds as a whole (see
    ``deadline``), so one operation lasts at most (MAX_RETRIES + 1) × TIMEOUT
    plus the waits between attempts: each at most ``MAX_DELAY``, whether a
    backoff or Google's ``Retry-After``. When every attempt
    failed temporarily, raises ``GoogleUnavailable``; any other error is
    raised at once. When Google says how long to wait (``Retry-After`` on a
    429 or 503), the retry waits that long; when that is longer than
    ``MAX_DELAY``, ``GoogleUnavailable`` is raised at once with its
    ``retry_after``: the caller may hold a row lock, and must not hold it
    while waiting.
    """
    for retry_number in range(MAX_RETRIES + 1):
        try:
            with telemetry.retry_attempt(retry_number):
                return call()
        except GoogleAPIError as exc:
            sleep(wait_before_retry(exc, retry_number, what))
    raise AssertionError("unreachable")


async def awith_retries(call: Callable[[], Awaitable[T]], *, what: str) -> T:
    """``with_retries`` for a coroutine: the same decisions, waiting without a thread."""
    for retry_number in range(MAX_RETRIES + 1):
        try:
            with telemetry.retry_attempt(retry_number):
                return await call()
        except GoogleAPIError as exc:
            await asleep(wait_before_retry(exc, retry_number, what))
    raise AssertionError("unreachable")


def wait_before_retry(exc: GoogleAPIError, retry_number: int, what: str) -> float:
    """How long to wait before retrying after ``exc``; raises when not to retry.

    The one decision both ``with_retries`` and ``awith_retries`` take: ``exc``
    itself when it is not temporary, ``GoogleUnavailable`` after the last
    retry or when Google asks for a wait longer than ``MAX_DELAY``.
    """
    if not exc.temporary:
        raise exc
    waits_too_long = exc.retry_after is not None and exc.retry_after > MAX_DELAY
    if retry_number == MAX_RETRIES or waits_too_long:
        raise _unavailable(exc, what, retry_number) from exc
    delay = backoff_delay(retry_number) if exc.retry_after is None else exc.retry_after
    logger.warning(
        "Google %s failed temporarily (%s); retry %d of %d in %.2fs",
        what,
        exc.summary,
        retry_number + 1,
        MAX_RETRIES,
        delay,
    )
    return delay


def _unavailable(exc: GoogleAPIError, what: str, retries: int) -> GoogleUnavailable:
    if exc.retry_after is not None and exc.retry_after > MAX_DELAY:
        message = f"Google asked to wait {exc.retry_after:g}s before trying to {what} again"
    else:
        message = f"Google kept failing to {what} after {retries} retries"
    return GoogleUnavailable(
        f"{message} ({exc.summary}).",
        status_code=exc.status_code,
        error_code=exc.error_code,
        error_subtype=exc.error_subtype,
        endpoint=exc.endpoint,
        retry_after=exc.retry_after,
        temporary=True,
    )
