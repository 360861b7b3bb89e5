"""Named groups of optional scopes (the ``SCOPE_SETS`` setting), asked for in context.

``SCOPES`` is asked on every connect. A scope set is asked for only when a
feature needs it (``authorize?scopes=calendar``), with
``include_granted_scopes=true``, so Google answers with the union of
everything the user granted. Users may untick a set's scopes: the account is
stored with what was granted, and the page that asked is told which sets are
missing (``?google_connect=partial&missing=calendar``) rather than failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from google_connect import scopes
from google_connect.conf import get_settings
from google_connect.exceptions import UnknownScopeSet

# Slug-like, so a name reads well in a URL: ``calendar``, ``drive-files``.
NAME_RE = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")
# What the callback appends to ``next`` when a requested set was not granted.


@dataclass(frozen=True)
class ScopeSet:
    name: str
    label: Any  # a str or a lazy translation
    scopes: tuple[str, ...]


def configured() -> dict[str, ScopeSet]:
    """The ``SCOPE_SETS`` entries by name, in the order the setting lists them."""
    result = {}
    for name, value in get_settings().SCOPE_SETS.items():
        if isinstance(value, dict):
            members, label = value.get("scopes", ()), value.get("label")
        else:
            members, label = value, None
        result[name] = ScopeSet(name, label or default_label(name), tuple(members))
    return result


def default_label(name: str) -> str:
    """``drive_files`` reads as "Drive files" where no label is configured."""
    return re.sub(r"[_-]+", " ", name).capitalize()


def get(names: Iterable[str]) -> list[ScopeSet]:
    """The sets named, in that order; ``UnknownScopeSet`` for a name not configured."""
    known = configured()
    found = []
    for name in names:
        if name not in known:
            raise UnknownScopeSet(name)
        found.append(known[name])
    return found


def parse(values: Sequence[str]) -> tuple[str, ...]:
    """The set names of ``?scopes=a,b`` (the parameter may repeat), deduplicated."""
    names = [name.strip() for value in values for name in value.split(",")]
    unique = tuple(dict.fromkeys(name for name in names if name))
    get(unique)
    return unique


def missing(granted: Iterable[str], names: Iterable[str]) -> list[str]:
    """The names among ``names`` whose scopes are not all in ``granted``."""
    granted = list(granted)
    return [s.name for s in get(names) if scopes.missing(s.scopes, granted)]


def held(granted: Iterable[str]) -> tuple[str, ...]:
    """Every configured set whose scopes are all in ``granted``."""
    granted = list(granted)
    return tuple(s.name for s in configured().values() if not scopes.missing(s.scopes, granted))


def requested_scopes(names: Iterable[str], *, base: Iterable[str] | None = None) -> tuple[str, ...]:
    """``base`` (``SCOPES`` unless given: a client's own) followed by the
    scopes of the sets named, each once."""
    result = list(get_settings().SCOPES if base is None else base)
    seen = {scopes.normalize(scope) for scope in result}
    for scope_set in get(names):
        for scope in scope_set.scopes:
            if scopes.normalize(scope) not in seen:
                seen.add(scopes.normalize(scope))
                result.append(scope)
    return tuple(result)


def labels(names: Iterable[str]) -> str:
    """The sets' labels as words for a sentence: "Calendar, Drive"."""
    return ", ".join(str(s.label) for s in get(names))
