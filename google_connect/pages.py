"""Deprecated path: ``render_page`` lives in ``google_connect.web.pages``."""

from google_connect._deprecation import moved_module

__getattr__ = moved_module(__name__, "google_connect.web.pages")
