"""Bridge to google-auth, for sites that use google-api-python-client."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from .conf import get_settings

if TYPE_CHECKING:
    from .models import GoogleAccount

# google-auth refreshes credentials 3 min 45 s before they expire and rejects
# a refresh that returns a token expiring sooner than that.
GOOGLE_AUTH_MIN_VALIDITY = timedelta(minutes=5)


def credentials_for(account: GoogleAccount) -> Any:
    try:
        from google.oauth2.credentials import Credentials
    except ImportError as exc:
        raise ImportError(
            "GoogleAccount.credentials() needs google-auth: pip install 'google_connect[google]'"
        ) from exc

    def refresh_handler(request: Any, scopes: Any) -> tuple[str, Any]:
        token = account.get_access_token(min_validity=GOOGLE_AUTH_MIN_VALIDITY)
        return token, _naive_utc(account.expires_at)

    token = account.get_access_token(min_validity=GOOGLE_AUTH_MIN_VALIDITY)
    # No refresh token and no client secret are handed over: google-auth
    # would refresh on its own, bypassing the row lock and never storing the
    # new token. It asks refresh_handler instead.
    return Credentials(  # type: ignore[no-untyped-call]
        token=token,
        expiry=_naive_utc(account.expires_at),
        scopes=account.granted_scopes,
        client_id=get_settings().CLIENT_ID,
        refresh_handler=refresh_handler,
    )


def _naive_utc(moment: Any) -> Any:
    # google-auth compares expiry with a naive UTC "now".
    return moment.astimezone(UTC).replace(tzinfo=None)
