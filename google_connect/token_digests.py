"""Lookup digests of the refresh token, for Google's security events.

A ``token-revoked`` event names a refresh token by its first 16 characters
(``prefix``) or by ``hash_base64_sha512_sha512``. Decrypting every stored
token to compare would cost a Fernet decryption per row; instead each account
keeps two digests, indexed, so matching is one query. Neither is the token or
its prefix in plain text: the prefix is stored as its SHA-256, and the double
SHA-512 is one-way.

The digests are columns of their own field class, computed in the field's
``pre_save()`` from the refresh token the instance holds: every write path
(``save()``, an INSERT, ``bulk_create()``) runs it, so they can never lag
behind a new refresh token.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from django.db import models

from google_connect.fields import UNDECRYPTABLE

# Google: "the first 16 characters of the token".
PREFIX_LENGTH = 16
PREFIX = "prefix"
DOUBLE_SHA512 = "hash_base64_sha512_sha512"


def prefix_digest(token_prefix: str) -> str:
    """The stored form of a token's prefix (SHA-256, hex)."""
    return hashlib.sha256(token_prefix.encode()).hexdigest()


def double_sha512(token: str) -> str:
    """``hash_base64_sha512_sha512``: standard base64 of SHA-512 over SHA-512 of the token."""
    inner = hashlib.sha512(token.encode()).digest()
    return base64.b64encode(hashlib.sha512(inner).digest()).decode("ascii")


def digest(kind: str, refresh_token: str) -> str:
    """The stored lookup digest of this ``kind`` (blank for no token)."""
    if not refresh_token:
        return ""
    if kind == PREFIX:
        return prefix_digest(refresh_token[:PREFIX_LENGTH])
    return double_sha512(refresh_token)


def lookup(token_identifier_alg: str, identifier: str) -> dict[str, str] | None:
    """The filter matching a token Google identified this way; None for an unknown alg.

    A blank identifier matches nothing: blank digests are those of accounts
    with no refresh token.
    """
    # NUL: what PostgreSQL cannot compare with a text column; no digest holds it.
    if not identifier or "\x00" in identifier:
        return None
    if token_identifier_alg == PREFIX:
        # A prefix longer or shorter than Google's is no prefix we stored.
        if len(identifier) != PREFIX_LENGTH:
            return None
        return {"refresh_token_prefix_digest": prefix_digest(identifier)}
    if token_identifier_alg == DOUBLE_SHA512:
        return {"refresh_token_digest": identifier}
    return None


if TYPE_CHECKING:
    _CharBase = models.CharField[str, str]
else:
    _CharBase = models.CharField


class RefreshTokenDigestField(_CharBase):
    """One lookup digest (``kind``: ``prefix`` or ``hash_base64_sha512_sha512``) of the
    instance's ``refresh_token``, recomputed on every write.

    An undecryptable token (or one not loaded) keeps the stored digest.
    """

    def __init__(self, *args: Any, kind: str = DOUBLE_SHA512, **kwargs: Any) -> None:
        self.kind = kind
        kwargs.setdefault("max_length", 88)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        token = model_instance.__dict__.get("refresh_token", UNDECRYPTABLE)
        if isinstance(token, str):
            setattr(model_instance, self.attname, digest(self.kind, token))
        return getattr(model_instance, self.attname)
