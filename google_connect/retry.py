"""Retrying calls to Google that failed for a temporary reason."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from .exceptions import GoogleAPIError, GoogleUnavailable

logger = logging.getLogger("google_connect")

T = TypeVar("T")

MAX_RETRIES = 3
BASE_DELAY = 0.5  # seconds; attempts wait up to 0.5, 1 and 2 s
MAX_DELAY = 4.0

# Indirection so tests can record the waits instead of sleeping.
sleep = time.sleep


def backoff_delay(retry_number: int) -> float:
    """Full-jitter exponential backoff: a random wait up to BASE_DELAY * 2**n.

    The jitter spreads out many workers that failed at the same moment, so
    they don't hit Google again in lockstep.
    """
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**retry_number))  # noqa: S311


def with_retries(call: Callable[[], T], *, what: str) -> T:
    """Run ``call``; on a temporary failure retry it up to MAX_RETRIES times.

    Each attempt is one ``TIMEOUT``-bounded HTTP call. When every attempt
    failed temporarily, raises ``GoogleUnavailable``; any other error is
    raised at once.
    """
    for retry_number in range(MAX_RETRIES + 1):
        try:
            return call()
        except GoogleAPIError as exc:
            if not exc.temporary:
                raise
            if retry_number == MAX_RETRIES:
                raise GoogleUnavailable(
                    f"Google kept failing to {what} after {MAX_RETRIES} retries: {exc}",
                    status_code=exc.status_code,
                    error_code=exc.error_code,
                    temporary=True,
                ) from exc
            delay = backoff_delay(retry_number)
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
