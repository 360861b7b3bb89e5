"""Why an account needs a reconnect.

Google ends a grant for many reasons and reports most of them as the same
``invalid_grant``; the reason stored with the account tells an operator which
one it was, and a page can tell the user in words.
"""

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
