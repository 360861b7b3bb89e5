"""Signals google_connect sends. Each is sent with ``sender=GoogleAccount``
after the database transaction that made the change has committed."""

from django.dispatch import Signal

# A user connected (or reconnected) a Google account through the callback.
# kwargs: account (GoogleAccount), created (bool: True on the first connect,
# False on a reconnect), request (HttpRequest).
google_account_connected = Signal()
