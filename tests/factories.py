"""Rows for tests that need accounts without going through the OAuth flow."""

from google_connect.testing import make_account  # noqa: F401 (the suite's factory is the shipped one)
