"""Deprecated path: ``ReconnectReason`` lives in ``google_connect.store.reasons``."""

from google_connect._deprecation import moved_module

__getattr__ = moved_module(__name__, "google_connect.store.reasons")
