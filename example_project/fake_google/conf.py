"""The OAuth clients the stand-in knows, read from the ``FAKE_GOOGLE`` setting on each use.

``FAKE_GOOGLE``'s own ``CLIENT_ID``... is the first client; ``OTHER_CLIENTS``
lists more, each as registered in a Cloud project of its own, so each holds
grants of its own. Every request names its client, and is checked against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


@dataclass(frozen=True, repr=False)
class RegisteredClient:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: tuple[str, ...]

    def __repr__(self) -> str:
        return f"<RegisteredClient client_id={self.client_id!r}>"


# What Google names itself in every redirect back (RFC 9207's ``iss``).
GOOGLE_ISSUER = "https://accounts.google.com"


def oauth_issuer() -> str:
    """The ``iss`` the consent page adds to every redirect (``FAKE_GOOGLE["ISSUER"]``)."""
    raw = getattr(settings, "FAKE_GOOGLE", None)
    return raw.get("ISSUER", GOOGLE_ISSUER) if isinstance(raw, dict) else GOOGLE_ISSUER


def end_now_hook() -> Callable[..., object] | None:
    """What "End now" calls besides ending the grant (``FAKE_GOOGLE["ON_END_NOW"]``), if set.

    Google has no such thing: a demo's way to let the time pass at the site
    too (example_project/demo_clock.py). Called with ``client_id``, ``sub``
    and ``ended_at``.
    """
    raw = getattr(settings, "FAKE_GOOGLE", None)
    path = raw.get("ON_END_NOW") if isinstance(raw, dict) else None
    return import_string(path) if path else None


def registered_client() -> RegisteredClient:
    """The first registered client."""
    return registered_clients()[0]


def registered_clients() -> list[RegisteredClient]:
    # Read per request rather than cached: the end-to-end test points it at
    # the live server's port with override_settings.
    raw = getattr(settings, "FAKE_GOOGLE", None)
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(
            "FAKE_GOOGLE is not set; example_project.demo.fake_google_settings() builds it."
        )
    return [_client(entry) for entry in [raw, *raw.get("OTHER_CLIENTS", [])]]


def client_with_id(client_id: str | None) -> RegisteredClient | None:
    """The registered client ``client_id`` names; None for any other id."""
    return next((c for c in registered_clients() if c.client_id == client_id), None)


def _client(raw: dict) -> RegisteredClient:
    return RegisteredClient(
        client_id=raw["CLIENT_ID"],
        client_secret=raw["CLIENT_SECRET"],
        name=raw["CLIENT_NAME"],
        redirect_uris=tuple(raw["REDIRECT_URIS"]),
    )
