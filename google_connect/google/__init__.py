"""Talking to Google: one HTTP call with caps and a deadline, retries, the OAuth
client, what Google answers, the id_token, the issuer, the RISC discovery and keys.

This layer knows nothing of the stored grant or the web pages: it imports only
``google_connect.conf`` and ``google_connect.exceptions``.
"""
