"""An aiohttp session that calls Google APIs as a connected account."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
from django.views.decorators.debug import sensitive_variables

from google_connect.conf import get_settings
from google_connect.google import aio as google_aio
from google_connect.store import aio

if TYPE_CHECKING:
    from google_connect.store.models import GoogleAccount


class AsyncAuthorizedSession:
    """``AuthorizedSession`` for an event loop: ``Authorization: Bearer <fresh token>``.

    The token is refreshed before it expires and once more after a 401 (then
    the request is sent again, once). Connections are kept between requests
    until the session is closed. Each answer is read in full before it is
    returned, so the caller can use it after the request:

        async with await account.aauthorized_session() as session:
            response = await session.get(CALENDAR_LIST_URL)
            calendars = await response.json()
    """

    def __init__(self, account: GoogleAccount) -> None:
        self.account = account
        self.session = google_aio.new_session(
            timeout=aiohttp.ClientTimeout(total=get_settings().TIMEOUT)
        )

    @sensitive_variables()
    async def request(self, method: str, url: str, **kwargs: Any) -> aiohttp.ClientResponse:
        token = await aio.aget_access_token(self.account)
        response = await self._send_with(token, method, url, **kwargs)
        if response.status != 401:
            return response
        # Another caller may have refreshed already; ``stale_token`` makes the
        # refresh a no-op in that case and picks up their token.
        await aio.arefresh(self.account, stale_token=token)
        return await self._send_with(self.account.access_token, method, url, **kwargs)

    @sensitive_variables()
    async def _send_with(
        self, token: str, method: str, url: str, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, url, headers=headers, **kwargs) as response:
            await response.read()
        return response

    async def get(self, url: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.request("POST", url, **kwargs)

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> AsyncAuthorizedSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncAuthorizedSession for {self.account!r}>"
