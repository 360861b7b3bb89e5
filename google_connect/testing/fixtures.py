"""pytest fixtures for sites that use google_connect.

Load them from a ``conftest.py``: ``pytest_plugins = ["google_connect.testing.fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from google_connect.store import jobs
from google_connect.testing import FakeGoogle


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    """Google's OAuth endpoints faked; no request leaves the process while it is active.

    ``responses`` fakes what goes through requests, so meanwhile the bulk
    jobs run on the thread pool, the tasks' chunks as with
    ``BULK_CONCURRENCY`` None and the commands as without ``--concurrency``:
    the async engine's aiohttp calls would get past it.
    """
    monkeypatch.setattr(jobs, "async_engine", lambda *args, **kwargs: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeGoogle(mock)
