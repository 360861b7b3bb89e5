"""A ``requests.Session`` that calls Google APIs as a connected account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from django.views.decorators.debug import sensitive_variables

from google_connect import __version__
from google_connect.conf import get_settings
from google_connect.store import tokens

if TYPE_CHECKING:
    from google_connect.store.models import GoogleAccount


class AuthorizedSession(requests.Session):
    """Sends ``Authorization: Bearer <fresh token>`` with every request.

    When an API answers 401 (the token was revoked or expired early), the
    token is refreshed once and the request retried once. Requests get the
    ``GOOGLE_CONNECT["TIMEOUT"]`` unless the caller passes its own.

        session = account.authorized_session()
        calendars = session.get("https://www.googleapis.com/calendar/v3/users/me/calendarList")
    """

    def __init__(self, account: GoogleAccount) -> None:
        super().__init__()
        self.account = account
        self.headers["User-Agent"] = f"google-connect/{__version__}"

    @sensitive_variables()
    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", get_settings().TIMEOUT)
        token = self.account.get_access_token()
        response = self._send_with(token, method, url, *args, **kwargs)
        if response.status_code != 401:
            return response
        response.close()
        # Another caller may have refreshed already; ``stale_token`` makes
        # the refresh a no-op in that case and picks up their token.
        tokens.refresh(self.account, stale_token=token)
        return self._send_with(self.account.access_token, method, url, *args, **kwargs)

    # Everything, including the requests/urllib3 frames below, which carry
    # the Authorization header.
    @sensitive_variables()
    def _send_with(self, token: str, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        headers = dict(kwargs.get("headers") or {})
        headers["Authorization"] = f"Bearer {token}"
        return super().request(method, url, *args, **{**kwargs, "headers": headers})

    def __repr__(self) -> str:
        return f"<AuthorizedSession for {self.account!r}>"
