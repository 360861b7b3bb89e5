"""Google's RISC management API: register the receiver and manage the event stream.

Calls are authorized by a JWT the project's service account signs itself
(no OAuth round trip), with google-auth from the ``risc`` extra. They go
through the shared session, like every call to Google.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.views.decorators.debug import sensitive_variables

from google_connect.conf import GoogleConnectSettings, get_settings
from google_connect.exceptions import GoogleAPIError
from google_connect.google.answers import code_of
from google_connect.google.risc_keys import fetch_json
from google_connect.risc.actions import EVENT_TYPES

logger = logging.getLogger("google_connect")

AUDIENCE = "https://risc.googleapis.com/google.identity.risc.v1beta.RiscManagementService"
PUSH = "https://schemas.openid.net/secevent/risc/delivery-method/push"


class RiscApiError(GoogleAPIError):
    reason = "risc_api_failed"


def service_account_token(key_file: str) -> str:
    """A self-signed JWT for the RISC API, signed with the service account's key."""
    try:
        from google.auth import jwt as google_jwt
        from google.oauth2 import service_account
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise RiscApiError(
            "google-auth is not installed: pip install 'google-connect[risc]'."
        ) from None
    try:
        signing = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            key_file
        )
    except (OSError, ValueError, KeyError) as exc:
        raise RiscApiError(
            f"The service account key file cannot be read ({type(exc).__name__})."
        ) from None
    credentials = google_jwt.Credentials.from_signing_credentials(  # type: ignore[no-untyped-call]
        signing, audience=AUDIENCE
    )
    credentials.refresh(None)  # signs locally; no request is made
    token = credentials.token
    # google-auth has returned the JWT as bytes in some versions.
    return token.decode("ascii") if isinstance(token, bytes) else str(token)


class RiscStreamClient:
    """The calls ``register_google_risc_stream`` makes."""

    def __init__(self, token: str, config: GoogleConnectSettings | None = None) -> None:
        self.token = token
        self.config = config or get_settings()

    def update_stream(self, receiver_url: str) -> Any:
        body = {
            "delivery": {"delivery_method": PUSH, "url": receiver_url},
            "events_requested": list(EVENT_TYPES),
        }
        return self._call("POST", "stream:update", body)

    def stream(self) -> Any:
        return self._call("GET", "stream")

    def status(self) -> Any:
        return self._call("GET", "stream/status")

    def set_status(self, status: str) -> Any:
        return self._call("POST", "stream/status:update", {"status": status})

    def verify(self, state: str) -> Any:
        return self._call("POST", "stream:verify", {"state": state})

    # The Authorization header holds the service account's signed JWT.
    @sensitive_variables()
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.config.RISC_API_URL.rstrip('/')}/{path}"
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response, answer = fetch_json(
            method,
            url,
            RiscApiError,
            timeout=self.config.TIMEOUT,
            data=None if body is None else json.dumps(body),
            headers=headers,
        )
        if not response.ok:
            message = _message(answer)
            raise RiscApiError(
                f"Google answered HTTP {response.status_code} to {path}"
                + (f": {message}" if message else "."),
                status_code=response.status_code,
                error_code=code_of(answer),
            )
        return answer if answer is not None else {}


def _message(answer: Any) -> str:
    # Google API errors: {"error": {"code": 403, "message": "...", "status": "..."}}.
    error = answer.get("error") if isinstance(answer, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message[:300] if isinstance(message, str) else ""
