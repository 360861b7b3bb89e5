"""How long a grant lasts, as Google's token answers tell it.

Since 2025 a user can grant access for a limited time; the token answer then
carries ``refresh_token_expires_in`` (and a server following the IETF draft
``authorization_expires_in``, the whole grant's lifetime). Neither library
google_connect could lean on reads them, so the end dates are stored here, on
every token answer, along with when the grant was last used: Google also ends
refresh tokens left unused for six months.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google_connect.google.answers import TokenResponse
    from google_connect.store.models import GoogleAccount

# The end-date columns and the token-answer field each is computed from.
END_DATES = (
    ("refresh_token_expires_at", "refresh_token_expires_in"),
    ("authorization_expires_at", "authorization_expires_in"),
)


def store_lifetimes(
    account: GoogleAccount, tokens: TokenResponse, *, now: datetime, connect: bool
) -> None:
    """Set the account's end dates and ``last_refreshed_at`` from a token answer.

    An answer with a lifetime sets its date. An answer without it that brings
    a new refresh token is a grant without that limit, so the date is
    cleared; a refresh answer without either leaves the date as it was.
    ``connect``: the answer came from a consent, not a refresh.
    """
    for column, answer_field in END_DATES:
        seconds = getattr(tokens, answer_field)
        if seconds is not None:
            setattr(account, column, now + timedelta(seconds=seconds))
        elif tokens.refresh_token:
            setattr(account, column, None)
    account.last_refreshed_at = now
    if connect and tokens.refresh_token:
        # A new grant: its expiry may be warned about again.
        account.expiry_warned_at = None


def grant_ends_at(account: GoogleAccount) -> datetime | None:
    """When the grant ends, if it is time-limited: the earlier of its end dates."""
    dates = [getattr(account, column) for column, _ in END_DATES]
    known = [date for date in dates if date is not None]
    return min(known) if known else None


def grant_has_ended(account: GoogleAccount, now: datetime) -> bool:
    end = grant_ends_at(account)
    return end is not None and end <= now
