"""Why an account needs a reconnect.

Google ends a grant for many reasons and reports most of them as the same
``invalid_grant``; the reason stored with the account tells an operator which
one it was, and a page can tell the user in words.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReconnectReason(models.TextChoices):
    # Google said invalid_grant and nothing more is known.
    INVALID_GRANT = "invalid_grant", _("Google ended the grant")
    # A time-limited grant ran out.
    REFRESH_TOKEN_EXPIRED = "refresh_token_expired", _("Time-limited access ended")
    # invalid_grant with error_subtype invalid_rapt / rapt_required:
    # Google Cloud session control asks the user to sign in again.
    REAUTH_REQUIRED = "reauth_required", _("Google asks the user to sign in again")
    # We revoked the grant, or learned that it was revoked.
    REVOKED = "revoked", _("Access was removed")
    # Google disabled the Google account (Cross-Account Protection).
    ACCOUNT_DISABLED = "account_disabled", _("The Google account was disabled")
    # The grant's OAuth client (GoogleAccount.client_id) is no longer in
    # GOOGLE_CONNECT; no other client can refresh the grant.
    CLIENT_REMOVED = (
        "client_removed",
        _("The OAuth client that issued this grant is no longer configured"),
    )


# invalid_grant with one of these subtypes: Google Cloud session control
# (reauthentication policy) wants the user to sign in again.
REAUTH_SUBTYPES = frozenset({"invalid_rapt", "rapt_required"})
# Our end date is computed from when the answer arrived, a little after
# Google started counting: an invalid_grant this close before it is the expiry.
EXPIRY_LEEWAY = timedelta(minutes=5)


def reason_for_invalid_grant(
    error_subtype: str | None, grant_ends_at: datetime | None, now: datetime
) -> ReconnectReason:
    """Why Google answered ``invalid_grant``, as far as we can tell."""
    if error_subtype in REAUTH_SUBTYPES:
        return ReconnectReason.REAUTH_REQUIRED
    if grant_ends_at is not None and grant_ends_at - EXPIRY_LEEWAY <= now:
        return ReconnectReason.REFRESH_TOKEN_EXPIRED
    return ReconnectReason.INVALID_GRANT
