"""A local stand-in for Google's OAuth 2.0 endpoints, for demos and tests only.

It speaks Google's request and response formats closely enough for
google_connect to run against it unchanged, and keeps its state in the
database so it works under a multi-process server.
"""
