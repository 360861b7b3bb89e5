"""Asking for scope sets in context: the authorize view's consent request, the
links that ask for missing sets, and the way back from a partial grant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from google_connect.scopes.sets import held, labels, parse, requested_scopes
from google_connect.store.models import GoogleAccount

# The query parameters the callback adds after a partial grant.
PARTIAL_FLAG = "google_connect"
PARTIAL = "partial"
MISSING_PARAM = "missing"


# -- the authorize view's side ------------------------------------------------------


@dataclass(frozen=True)
class ConsentRequest:
    """What ``authorize?scopes=...&account=...`` asks Google for."""

    sets: tuple[str, ...]
    scopes: tuple[str, ...]
    login_hint: str | None


def consent_request(request: HttpRequest, *, base: tuple[str, ...] | None = None) -> ConsentRequest:
    """Read ``scopes`` and ``account`` from the authorize view's query string.

    ``account`` must be one of the user's own accounts (else a 404); its
    email becomes the ``login_hint`` and the sets it holds are asked again,
    so a reconnect keeps its features. Asking for sets without ``account``
    hints the user's most recently connected account. A plain authorize
    (connect another account) sends no hint.
    """
    sets = parse(request.GET.getlist("scopes"))
    account_id = request.GET.get("account")

    if account_id is None and not sets:
        # Connect another account: nothing to look up.
        return ConsentRequest(sets=(), scopes=requested_scopes((), base=base), login_hint=None)
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
    return ConsentRequest(
        sets=sets, scopes=requested_scopes(sets, base=base), login_hint=login_hint
    )


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
