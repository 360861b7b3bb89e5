from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from google_connect.scopes.names import describe

from .identities import IDENTITIES


class ConsentForm(forms.Form):
    """Which demo account signs in, and which of the requested scopes it grants."""

    identity = forms.ChoiceField(
        choices=[(i.key, f"{i.name} <{i.email}>") for i in IDENTITIES.values()],
        initial=next(iter(IDENTITIES)),
        widget=forms.RadioSelect,
    )
    scopes = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    # Google's choice since 2025: ongoing access, or access for a limited time.
    access = forms.TypedChoiceField(
        choices=[
            (0, "Ongoing access, until you remove it"),
            (7, "Access for 7 days"),
            (30, "Access for 30 days"),
        ],
        coerce=int,
        initial=0,
        required=False,
        empty_value=0,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, requested_scopes: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["scopes"]
        field.choices = [
            # The wording Google's consent screen uses.
            (scope, describe(scope))
            for scope in requested_scopes
        ]
        # Like Google's granular consent: everything ticked, each box can be unticked.
        field.initial = list(requested_scopes)

    def access_until(self) -> datetime | None:
        """When a limited grant chosen on this form ends; None for ongoing access."""
        days = self.cleaned_data["access"]
        return timezone.now() + timedelta(days=days) if days else None
