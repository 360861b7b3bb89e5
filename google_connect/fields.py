"""Encrypted model fields.

A thin layer over ``fernet_fields``: the same ciphertext format and the same
``FERNET_KEYS`` setting (first key encrypts, every key decrypts, ``SECRET_KEY``
when unset), with two changes:

- The derived keys are cached per key list rather than per field instance, so
  a settings change (a test's ``override_settings``, a key rotation in a
  long-lived process) is picked up, and HKDF still runs once per process.
- A value that no configured key decrypts does not break loading the row:
  the row loads, and reading that attribute raises ``UndecryptableToken``. A
  page or the admin can list the account; nothing can send garbage to Google.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import fernet_fields
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models.query_utils import DeferredAttribute
from django.utils.encoding import force_str
from fernet_fields import hkdf

from google_connect.exceptions import UndecryptableToken

if TYPE_CHECKING:
    # fernet_fields is untyped; to a type checker these columns are text.
    from django.db.models import TextField

    _EncryptedTextBase = TextField[str, str]
else:
    _EncryptedTextBase = fernet_fields.EncryptedTextField


def configured_keys() -> tuple[str, ...]:
    keys = getattr(settings, "FERNET_KEYS", None)
    if keys is None:
        return (settings.SECRET_KEY,)
    # A string is iterable too: tuple("key") would encrypt with "k" alone.
    if (
        not isinstance(keys, list | tuple)
        or not keys
        or not all(isinstance(key, str) and key for key in keys)
    ):
        raise ImproperlyConfigured(
            "FERNET_KEYS must be a non-empty list of strings, not "
            f"{type(keys).__name__}; the first key encrypts, every key decrypts."
        )
    return tuple(keys)


def use_hkdf() -> bool:
    return getattr(settings, "FERNET_USE_HKDF", True)


def build_fernet(key: str, use_hkdf: bool) -> Fernet:
    """One key as django-fernet-fields builds it: derived with HKDF (any string
    will do), or else used as is (a url-safe base64 32-byte Fernet key);
    ``ValueError`` for a key that is not one."""
    return Fernet(hkdf.derive_fernet_key(key) if use_hkdf else key)


@functools.lru_cache(maxsize=16)
def _fernets_for(keys: tuple[str, ...], use_hkdf: bool) -> tuple[Fernet, ...]:
    return tuple(build_fernet(k, use_hkdf) for k in keys)


@functools.lru_cache(maxsize=16)
def _multi_fernet_for(keys: tuple[str, ...], use_hkdf: bool) -> MultiFernet:
    return MultiFernet(list(_fernets_for(keys, use_hkdf)))


def current_fernet() -> MultiFernet:
    """Encrypts with the first configured key, decrypts with any of them."""
    # Cached too: every token read or written asks for it.
    return _multi_fernet_for(configured_keys(), use_hkdf())


def primary_fernet() -> Fernet:
    """The first configured key alone: what a freshly encrypted value uses."""
    return _fernets_for(configured_keys(), use_hkdf())[0]


class Undecryptable:
    """Stands in for a stored value that no configured key can decrypt."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<undecryptable>"


UNDECRYPTABLE = Undecryptable()

_passing_through = contextvars.ContextVar("google_connect_undecryptable_passthrough", default=False)


@contextlib.contextmanager
def undecryptable_passthrough() -> Iterator[None]:
    """Let Django's own copying of field values (``refresh_from_db``) move the
    marker around instead of raising."""
    token = _passing_through.set(True)
    try:
        yield
    finally:
        _passing_through.reset(token)


class EncryptedAttribute(DeferredAttribute):
    """Raises ``UndecryptableToken`` instead of handing out the marker.

    A data descriptor (it has ``__set__``): Django's plain field attributes
    are shadowed by the instance ``__dict__``, which would skip ``__get__``.
    """

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        value = super().__get__(instance, cls)
        if value is UNDECRYPTABLE and not _passing_through.get():
            raise UndecryptableToken(
                f"{type(instance).__name__}.{self.field.name} of id={instance.pk} cannot be "
                "decrypted with any key in FERNET_KEYS."
            )
        return value


class Concealed(str):
    """A plaintext value on its way to the database, whose repr hides it.

    Django's error reports (``ExceptionReporter``, what ``AdminEmailHandler``
    mails) print the locals of every frame, Django's own included: when a
    write fails, ``Model._save_table`` and ``QuerySet._update`` hold the
    values being saved, and ``@sensitive_variables`` can only hide the frames
    of the functions it decorates. Values are otherwise plain strings.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'********************'"


class EncryptedTextField(_EncryptedTextBase):
    """A text column stored as Fernet ciphertext (a binary column in the database)."""

    descriptor_class = EncryptedAttribute

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        # What Django's save() passes down to the query it builds.
        value = super().pre_save(model_instance, add)
        return Concealed(value) if type(value) is str else value

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        # An SQL expression (a CASE of ciphertexts from a bulk update) is
        # written as it is: django-fernet-fields would encrypt its SQL text.
        if hasattr(value, "as_sql"):
            return value
        return super().get_db_prep_save(value, connection)

    @property
    def keys(self) -> tuple[str, ...]:
        return configured_keys()

    @property
    def fernet(self) -> Any:
        return current_fernet()

    def from_db_value(self, value: Any, expression: Any, connection: Any, *args: Any) -> Any:
        if value is None:
            return None
        try:
            return self.to_python(force_str(self.fernet.decrypt(bytes(value))))
        except InvalidToken:
            return UNDECRYPTABLE
