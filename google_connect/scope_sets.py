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
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from . import scopes
from .conf import get_settings
from .exceptions import UnknownScopeSet

# Slug-like, so a name reads well in a URL: ``calendar``, ``drive-files``.
NAME_RE = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")
# What the callback appends to ``next`` when a requested set was not granted.
PARTIAL_FLAG = "google_connect"
PARTIAL = "partial"
MISSING_PARAM = "missing"


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


def requested_scopes(names: Iterable[str]) -> tuple[str, ...]:
    """``SCOPES`` followed by the scopes of the sets named, each once."""
    result = list(get_settings().SCOPES)
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


# -- the authorize view's side ------------------------------------------------------


@dataclass(frozen=True)
class ConsentRequest:
    """What ``authorize?scopes=...&account=...`` asks Google for."""

    sets: tuple[str, ...]
    scopes: tuple[str, ...]
    login_hint: str | None


def consent_request(request: HttpRequest) -> ConsentRequest:
    """Read ``scopes`` and ``account`` from the authorize view's query string.

    ``account`` must be one of the user's own accounts (else a 404); its
    email becomes the ``login_hint`` and the sets it holds are asked again,
    so a reconnect keeps its features. Asking for sets without ``account``
    hints the user's most recently connected account. A plain authorize
    (connect another account) sends no hint.
    """
    sets = parse(request.GET.getlist("scopes"))
    account_id = request.GET.get("account")
    from .models import GoogleAccount  # models imports this module

    if account_id is None and not sets:
        # Connect another account: nothing to look up.
        return ConsentRequest(sets=(), scopes=requested_scopes(()), login_hint=None)
    owner: Any = request.user  # logged in: the view requires it
    accounts = GoogleAccount.objects.filter(user=owner).order_by("-created_at", "-pk")
    if account_id is not None:
        # Digits only, and short enough for any integer primary key column.
        if not (account_id.isascii() and account_id.isdigit()) or len(account_id) > 18:
            raise Http404("No such Google account.")
        account = accounts.filter(pk=int(account_id)).only("email", "scopes").first()
        if account is None:
            raise Http404("No such Google account.")
        sets = tuple(dict.fromkeys(sets + held(account.granted_scopes)))
        login_hint = account.email or None
    else:
        login_hint = accounts.values_list("email", flat=True).first() or None
    return ConsentRequest(sets=sets, scopes=requested_scopes(sets), login_hint=login_hint)


def authorize_url(
    *, sets: Iterable[str] = (), account: Any = None, next_url: str | None = None
) -> str:
    """The authorize view's URL asking for ``sets`` (and reconnecting ``account``)."""
    params = {}
    if account is not None:
        params["account"] = str(account.pk)
    names = ",".join(sets)
    if names:
        params["scopes"] = names
    if next_url:
        params["next"] = next_url
    url = reverse("google_connect:authorize")
    return f"{url}?{urlencode(params, safe=',/')}" if params else url


# -- the callback's side -------------------------------------------------------------


def without_partial_flag(url: str) -> str:
    """``url`` without the ``google_connect``/``missing`` parameters the callback adds."""
    parts = urlsplit(url)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and piece.partition("=")[0] not in (PARTIAL_FLAG, MISSING_PARAM)
    ]
    return urlunsplit(parts._replace(query="&".join(kept)))


def with_partial_flag(url: str, missing_sets: Iterable[str]) -> str:
    """``url`` with ``google_connect=partial&missing=a,b`` added to its query."""
    parts = urlsplit(without_partial_flag(url))
    flag = urlencode({PARTIAL_FLAG: PARTIAL, MISSING_PARAM: ",".join(missing_sets)}, safe=",")
    query = f"{parts.query}&{flag}" if parts.query else flag
    return urlunsplit(parts._replace(query=query))


def partial_flag(request: HttpRequest) -> bool:
    """Whether this request is the return from a consent that left sets ungranted."""
    return request.GET.get(PARTIAL_FLAG) == PARTIAL


def partial_grant_redirect(
    request: HttpRequest, next_url: str | None, missing_sets: list[str]
) -> HttpResponseRedirect:
    """Back to ``next`` (or the accounts page) saying which sets were not granted."""
    text = _(
        "Google did not grant access for: %(features)s. The features that need it "
        "stay off until you grant it."
    ) % {"features": labels(missing_sets)}
    messages.warning(request, text, fail_silently=True)
    destination = next_url or reverse("google_connect:accounts")
    return HttpResponseRedirect(with_partial_flag(destination, missing_sets))
