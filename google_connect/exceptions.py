"""Errors raised by google_connect.

Every error carries a short machine-readable ``reason`` (shown on the error
page and usable by a site's own handlers). Messages never contain a token, an
authorization code or the client secret.
"""

from __future__ import annotations


class GoogleConnectError(Exception):
    """Base class of every error google_connect raises."""

    reason = "google_connect_error"
    default_message = "Connecting the Google account failed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class InvalidState(GoogleConnectError):
    reason = "invalid_state"
    default_message = "The OAuth state is missing, unknown, expired, already used or not yours."


class InvalidIssuer(GoogleConnectError):
    """The callback's ``iss`` (RFC 9207) is repeated or names another issuer:
    the answer may come from another authorization server (a mix-up attack)."""

    reason = "invalid_issuer"
    default_message = "The authorization response names an issuer other than Google."


class InvalidCallback(GoogleConnectError):
    reason = "invalid_request"
    default_message = "The callback carries no single authorization code."


class AccessDenied(GoogleConnectError):
    """Google redirected back with ``error=`` (``access_denied`` when the user pressed Cancel)."""

    reason = "access_denied"

    def __init__(self, google_error: str | None) -> None:
        # Only a plausible error code is kept: the value comes from the query string.
        self.google_error = google_error
        super().__init__(
            f"Google answered the authorization with error={google_error or 'unknown'}."
        )


class GoogleAPIError(GoogleConnectError):
    """An HTTP call to Google failed or answered with something unusable."""

    reason = "google_api_error"
    # The endpoint that failed, when the subclass says (see ``endpoint``).
    default_endpoint: str | None = None
    # (status, Google's error code) answers that are an outcome, not a fault:
    # logged at INFO, not as a warning.
    expected_answers: frozenset[tuple[int, str]] = frozenset()

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        error_subtype: str | None = None,
        temporary: bool = False,
        endpoint: str | None = None,
        retry_after: float | None = None,
        host: str | None = None,
    ) -> None:
        self.status_code = status_code
        # True for failures worth retrying later: timeouts, 429 and 5xx.
        self.temporary = temporary
        # Google's own ``error`` value (``invalid_grant``...), never its description.
        self.error_code = error_code
        # Google's ``error_subtype`` (``invalid_rapt``...), when it sent one.
        self.error_subtype = error_subtype
        # Which of Google's endpoints answered: "token", "userinfo" or "revoke".
        self.endpoint = endpoint or self.default_endpoint
        # Seconds Google asked us to wait (``Retry-After``), when it said.
        self.retry_after = retry_after
        # Which host answered (``oauth2.googleapis.com``, a stand-in, a proxy):
        # named in the message, the first question when a call fails.
        self.host = host
        # Without a message of its own, the error says what its attributes say.
        super().__init__(message or self._default_message())

    def _default_message(self) -> str:
        message = f"Google's {self.summary}."
        if self.host:
            message = message.replace(" endpoint:", f" endpoint ({self.host}):", 1)
        return message

    @property
    def summary(self) -> str:
        """What happened, from the attributes alone (never Google's body):
        ``token endpoint: HTTP 400, error=invalid_grant/invalid_rapt``."""
        parts = [f"{self.endpoint or 'Google'} endpoint:"]
        parts.append(f"HTTP {self.status_code}" if self.status_code else "no answer")
        if self.error_code:
            code = self.error_code + (f"/{self.error_subtype}" if self.error_subtype else "")
            parts[-1] += ","
            parts.append(f"error={code}")
        if self.retry_after is not None:
            parts[-1] += ","
            parts.append(f"retry after {self.retry_after:g}s")
        return " ".join(parts)


class TokenExchangeFailed(GoogleAPIError):
    reason = "token_exchange_failed"
    default_endpoint = "token"


class UserInfoFailed(GoogleAPIError):
    reason = "userinfo_failed"
    default_endpoint = "userinfo"


class RevokeFailed(GoogleAPIError):
    reason = "revoke_failed"
    default_endpoint = "revoke"
    # The grant was already revoked or expired: that counts as revoked.
    expected_answers = frozenset({(400, "invalid_token")})


class InvalidIdToken(GoogleAPIError):
    """With ``USE_ID_TOKEN``: the token answer's ``id_token`` is malformed, is not
    Google's, was issued to another client or is not current."""

    reason = "invalid_id_token"


class ScopeNotGranted(GoogleConnectError):
    reason = "scope_not_granted"

    def __init__(self, missing_scopes: list[str]) -> None:
        self.missing_scopes = missing_scopes
        super().__init__("Required scopes were not granted: " + " ".join(missing_scopes))


class UnknownScopeSet(GoogleConnectError):
    """A scope set was asked for by a name ``SCOPE_SETS`` does not define."""

    reason = "unknown_scope_set"

    def __init__(self, name: str) -> None:
        # The name may come from a query string: shown cut short, never trusted.
        self.name = name
        super().__init__(f"No scope set is named {name[:50]!r} in SCOPE_SETS.")


class UnknownClient(GoogleConnectError):
    """A flow names no configured web client (``CLIENT_FOR_REQUEST`` returned
    another name, or the flow's client was removed while it ran)."""

    reason = "unknown_client"
    default_message = "The OAuth client chosen for this connection is not configured."


class MissingRefreshToken(GoogleConnectError):
    reason = "missing_refresh_token"
    default_message = (
        "Google returned no refresh token and none is stored for this account; "
        "the user must remove the app's access at Google and connect again."
    )


class AccountLinkedToAnotherUser(GoogleConnectError):
    reason = "account_linked_to_another_user"
    default_message = "This Google account is already connected to another user."


class RefreshFailed(GoogleAPIError):
    """Google refused to refresh the access token for a reason other than a dead grant."""

    reason = "refresh_failed"
    default_endpoint = "token"


class ReconnectRequired(GoogleConnectError):
    """The grant is gone (revoked, expired or unused): only a new connection helps.

    Raised by every token operation on an account whose status is
    ``reconnect_required``, without calling Google.
    """

    reason = "reconnect_required"
    default_message = (
        "Google no longer accepts this account's refresh token; the user must connect again."
    )

    def __init__(self, message: str | None = None, *, account: object = None) -> None:
        # The account to reconnect (ReconnectRequiredMiddleware sends its owner there).
        self.account = account
        super().__init__(message)


class GoogleUnavailable(GoogleAPIError):
    """Google could not be reached or kept failing; the same call may succeed later.

    Its ``temporary`` attribute is always True.
    """

    reason = "google_unavailable"


class UndecryptableToken(GoogleConnectError):
    """A stored token cannot be decrypted with any key in ``FERNET_KEYS``.

    Usually a key was removed from ``FERNET_KEYS`` (or ``SECRET_KEY`` changed
    while ``FERNET_KEYS`` was unset) before ``rotate_google_token_keys`` ran.
    """

    reason = "undecryptable_token"
    default_message = (
        "A stored Google token cannot be decrypted with any key in FERNET_KEYS. Put the key "
        "it was encrypted with back into FERNET_KEYS, or have the user connect again."
    )
