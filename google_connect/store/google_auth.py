"""Bridge to google-auth, for sites that use google-api-python-client."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from django.views.decorators.debug import sensitive_variables

from google_connect.google import clients
from google_connect.store import tokens

if TYPE_CHECKING:
    from google_connect.store.models import GoogleAccount

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

    @sensitive_variables()
    def refresh_handler(request: Any, scopes: Any) -> tuple[str, Any]:
        current = credentials.token
        if current and not credentials.expired:
            # google-auth asks for a refresh before a request only once the
            # token is (nearly) expired; asked while it is not, an API has
            # just rejected it (401: revoked or rotated at Google). Handing
            # the same token back would fail again: refresh single-flight,
            # as AuthorizedSession does after a 401, and store the result.
            tokens.refresh(account, stale_token=current)
        token = account.get_access_token(min_validity=GOOGLE_AUTH_MIN_VALIDITY)
        return token, _naive_utc(account.expires_at)

    token = account.get_access_token(min_validity=GOOGLE_AUTH_MIN_VALIDITY)
    # No refresh token and no client secret are handed over: google-auth
    # would refresh on its own, bypassing the row lock and never storing the
    # new token. It asks refresh_handler instead.
    credentials = Credentials(  # type: ignore[no-untyped-call]
        token=token,
        expiry=_naive_utc(account.expires_at),
        scopes=account.granted_scopes,
        # The account's own client: the grant is that client's.
        client_id=_client_id(account),
        refresh_handler=refresh_handler,
    )
    return credentials


def _client_id(account: GoogleAccount) -> str:
    client = clients.with_id(account.client_id)
    return client.client_id if client is not None else account.client_id


def _naive_utc(moment: Any) -> Any:
    # google-auth compares expiry with a naive UTC "now".
    return moment.astimezone(UTC).replace(tzinfo=None)
