"""Encrypted model fields.

A thin layer over ``fernet_fields``: the same ciphertext format and the same
``FERNET_KEYS`` setting (first key encrypts, every key decrypts, ``SECRET_KEY``
when unset), with the derived keys cached per key list rather than per field
instance, so a settings change (a test's ``override_settings``, a key rotation
in a long-lived process) is picked up and HKDF still runs once per process.
"""

from __future__ import annotations

import functools
from typing import Any

import fernet_fields
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from fernet_fields import hkdf


def configured_keys() -> tuple[str, ...]:
    keys = getattr(settings, "FERNET_KEYS", None)
    if keys is None:
        return (settings.SECRET_KEY,)
    return tuple(keys)


@functools.lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...], use_hkdf: bool) -> MultiFernet:
    derived = [hkdf.derive_fernet_key(k) if use_hkdf else k for k in keys]
    return MultiFernet([Fernet(k) for k in derived])


def current_fernet() -> MultiFernet:
    return _fernet_for(configured_keys(), getattr(settings, "FERNET_USE_HKDF", True))


class EncryptedTextField(fernet_fields.EncryptedTextField):
    """A text column stored as Fernet ciphertext (a binary column in the database)."""

    @property  # type: ignore[override]
    def keys(self) -> tuple[str, ...]:
        return configured_keys()

    @property  # type: ignore[override]
    def fernet(self) -> Any:
        return current_fernet()
