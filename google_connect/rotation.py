"""Deprecated path: ``rotate_keys`` lives in ``google_connect.grants``."""

from google_connect._deprecation import moved_module

__getattr__ = moved_module(__name__, "google_connect.grants")
