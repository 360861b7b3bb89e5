"""``google_scopes_required``: a view that needs scope sets asks for them in context."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from google_connect.store.models import GoogleAccount
from google_connect.web import consent


def google_scopes_required(
    *set_names: str, redirect_field_name: str = REDIRECT_FIELD_NAME
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Let the view run only for a user whose Google account holds every set named.

    - Anonymous users go to the login page, as with ``login_required``.
    - With an active account holding the sets, the view runs with
      ``request.google_account`` set to it (the most recently connected one).
    - Otherwise the user goes to the authorize view for exactly the missing
      sets (to a reconnect of an account that needs one), with ``next``
      back to this URL. ``redirect_field_name`` names the login page's field,
      as in ``login_required``; the authorize view always reads ``next``.
    - Back from a consent that left sets ungranted (``?google_connect=partial``),
      the view runs with ``request.google_account = None`` and
      ``request.google_missing_scope_sets``, so it can degrade gracefully
      rather than send the user round again.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refusal = guard(request, set_names, redirect_field_name)
            if refusal is not None:
                return refusal
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def guard(
    request: HttpRequest, set_names: Sequence[str], redirect_field_name: str
) -> HttpResponse | None:
    """The response that stops the request, or None after setting ``request.google_account``."""
    here = request.get_full_path()
    if not request.user.is_authenticated:
        return redirect_to_login(here, redirect_field_name=redirect_field_name)
    # One query; the default ordering puts the most recently connected first.
    accounts = list(GoogleAccount.objects.filter(user=request.user).order_by("-created_at", "-pk"))
    missing = {account.pk: account.missing_scope_sets(*set_names) for account in accounts}
    holders = [account for account in accounts if not missing[account.pk]]
    for account in holders:
        if account.status == GoogleAccount.Status.ACTIVE:
            request.google_account = account  # type: ignore[attr-defined]
            request.google_missing_scope_sets = []  # type: ignore[attr-defined]
            return None
    # An account holding the sets that needs a reconnect is the one to fix;
    # else the newest active account gets the missing sets; else any.
    active = [a for a in accounts if a.status == GoogleAccount.Status.ACTIVE]
    target = next(iter(holders or active or accounts), None)
    wanted = list(set_names) if target is None else missing[target.pk]
    if consent.partial_flag(request):
        request.google_account = None  # type: ignore[attr-defined]
        request.google_missing_scope_sets = wanted  # type: ignore[attr-defined]
        return None
    url = consent.authorize_url(
        sets=wanted, account=target, next_url=consent.without_partial_flag(here)
    )
    return HttpResponseRedirect(url)
