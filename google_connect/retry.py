"""Retrying calls to Google that failed for a temporary reason."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from .exceptions import GoogleAPIError, GoogleUnavailable

logger = logging.getLogger("google_connect")

T = TypeVar("T")

MAX_RETRIES = 3
BASE_DELAY = 0.5  # seconds; attempts wait up to 0.5, 1 and 2 s
MAX_DELAY = 4.0
# A Retry-After longer than this is read as this: a broken header must not park work for days.
MAX_RETRY_AFTER = 3600.0

# Indirection so tests can record the waits instead of sleeping.
sleep = time.sleep


def backoff_delay(retry_number: int) -> float:
    """Full-jitter exponential backoff: a random wait up to BASE_DELAY * 2**n.

    The jitter spreads out many workers that failed at the same moment, so
    they don't hit Google again in lockstep.
    """
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**retry_number))  # noqa: S311


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent.

    RFC 9110 §10.2.3. An unreadable value counts as absent; a date in the
    past as 0; anything longer than MAX_RETRY_AFTER as MAX_RETRY_AFTER.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def with_retries(call: Callable[[], T], *, what: str) -> T:
    """Run ``call``; on a temporary failure retry it up to MAX_RETRIES times.

    Each attempt is one ``TIMEOUT``-bounded HTTP call. When every attempt
    failed temporarily, raises ``GoogleUnavailable``; any other error is
    raised at once. A retry never comes sooner than Google's Retry-After; when
    that is longer than MAX_DELAY, ``GoogleUnavailable`` (carrying it) is
    raised at once rather than waiting here, so a caller such as a Celery
    task can retry later without holding anything meanwhile.
    """
    for retry_number in range(MAX_RETRIES + 1):
        try:
            return call()
        except GoogleAPIError as exc:
            if not exc.temporary:
                raise
            waited_out = exc.retry_after is not None and exc.retry_after > MAX_DELAY
            if retry_number == MAX_RETRIES or waited_out:
                message = (
                    f"Google asked to wait {exc.retry_after:.0f} s before trying to {what} again"
                    if waited_out
                    else f"Google kept failing to {what} after {MAX_RETRIES} retries"
                )
                raise GoogleUnavailable(
                    f"{message}: {exc}",
                    status_code=exc.status_code,
                    error_code=exc.error_code,
                    temporary=True,
                    retry_after=exc.retry_after,
                ) from exc
            delay = max(backoff_delay(retry_number), exc.retry_after or 0.0)
            logger.warning(
                "Google %s failed temporarily (%s); retry %d of %d in %.2fs",
                what,
                exc,
                retry_number + 1,
                MAX_RETRIES,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")
