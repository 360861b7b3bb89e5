"""Signals google_connect sends. Each is sent with ``sender=GoogleAccount``
after the database transaction that made the change has committed."""

from django.dispatch import Signal

# A user connected (or reconnected) a Google account through the callback.
# kwargs: account (GoogleAccount), created (bool: True on the first connect,
# False on a reconnect), request (HttpRequest).
google_account_connected = Signal()

# A stored access token was replaced by a fresh one from Google.
# kwargs: account (GoogleAccount, holding the new token).
google_token_refreshed = Signal()

# The account's status is now ``reconnect_required``. Sent once, when the
# status changes.
# kwargs: account (GoogleAccount), reason (str: a ``ReconnectReason`` value,
# also stored as ``account.reconnect_reason``), error (str: Google's error
# code, or None when no Google error was involved).
google_account_reconnect_required = Signal()

# A time-limited grant ends within ``EXPIRY_WARNING_DAYS``. Sent once per
# grant (by ``check_google_accounts --send-warnings`` or
# ``grants.send_expiry_warnings()``); a reconnect that brings a new refresh
# token is a new grant and may be warned about again.
# kwargs: account (GoogleAccount), expires_at (datetime: when the grant ends).
google_account_expiring = Signal()

# An account was revoked at Google and its row deleted. The row no longer
# exists; ``account.pk`` still holds the id it had.
# kwargs: account (GoogleAccount), request (HttpRequest, or None outside a view).
google_account_disconnected = Signal()

# The account's stored scopes changed: a first connect (``added`` holds every
# granted scope), a reconnect or incremental grant that changed them, or a
# refresh whose ``scope`` differed. Never sent when nothing changed.
# kwargs: account (GoogleAccount), added (list[str]), removed (list[str]).
google_account_scopes_changed = Signal()
# Google pushed a security event (Cross-Account Protection) that was new: a
# duplicate ``jti`` sends nothing. Sent with ``sender=GoogleSecurityEvent``,
# once the accounts it changed are stored; a receiver that raises is logged.
# kwargs: event (GoogleSecurityEvent: its type, reason, what was done),
# accounts (list of GoogleAccount: every account the event names, changed or
# not; empty when it names none of ours).
google_security_event = Signal()
