"""``GoogleScopesRequiredMixin``: the class-based form of ``google_scopes_required``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse

from google_connect.decorators import guard


class GoogleScopesRequiredMixin:
    """Run the view only for a user whose Google account holds ``google_scope_sets``.

    Behaves as ``google_scopes_required(*google_scope_sets)``: put it first
    among the bases; the view finds ``request.google_account`` set.
    """

    google_scope_sets: tuple[str, ...] = ()
    redirect_field_name = REDIRECT_FIELD_NAME

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = guard(request, self.google_scope_sets, self.redirect_field_name)
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]
