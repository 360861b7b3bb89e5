"""The authorization response's issuer identifier, ``iss`` (RFC 9207).

A client that talks to more than one authorization server can be sent a
code from one with the state of another (a mix-up attack). RFC 9207 has the
server name itself in the redirect back; Google sends
``iss=https://accounts.google.com``.
"""

from __future__ import annotations

from google_connect.conf import get_settings
from google_connect.exceptions import InvalidIssuer


def check_issuer(values: list[str]) -> None:
    """Accept the callback's ``iss`` values, or raise ``InvalidIssuer``.

    A missing ``iss`` is accepted unless ``REQUIRE_ISSUER`` is set: RFC 9207
    lets a client accept it when the server may not send it. When present,
    it must appear once and equal ``ISSUER`` exactly (RFC 9207 §2.4: simple
    string comparison).
    """
    config = get_settings()
    if not values:
        if config.REQUIRE_ISSUER:
            raise InvalidIssuer()
        return
    if len(values) != 1 or values[0] != config.ISSUER:
        raise InvalidIssuer()
