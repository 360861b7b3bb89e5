"""``--concurrency``: the bulk commands on the async engine (store/bulk.py)."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from google_connect.store import jobs

DEFAULT, MAX = 64, 1024


def add_concurrency_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="?",
        const=DEFAULT,
        default=None,
        metavar="N",
        help=f"Run on the async engine with N calls to Google in flight from this process "
        f"(default {DEFAULT} when given without N, at most {MAX}); needs the 'async' extra. "
        "Without it, --workers threads do the calls.",
    )


def check_concurrency(concurrency: int | None) -> None:
    """``CommandError`` for a ``--concurrency`` out of range, or without the
    async engine installed: said before any job starts. The jobs themselves
    choose the engine from it (``jobs.async_engine``)."""
    if concurrency is None:
        return
    if not 1 <= concurrency <= MAX:
        raise CommandError(f"--concurrency must be between 1 and {MAX}.")
    try:
        jobs.bulk_engine()
    except ImportError as exc:
        raise CommandError(
            "--concurrency needs aiohttp, which the 'async' extra installs: "
            "pip install 'google-connect[async]'"
        ) from exc
