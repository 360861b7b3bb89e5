from __future__ import annotations

from typing import Any

from django import forms

from google_connect.scope_names import describe

from .identities import IDENTITIES


class ConsentForm(forms.Form):
    """Which demo account signs in, and which of the requested scopes it grants."""

    identity = forms.ChoiceField(
        choices=[(i.key, f"{i.name} <{i.email}>") for i in IDENTITIES.values()],
        initial=next(iter(IDENTITIES)),
        widget=forms.RadioSelect,
    )
    scopes = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

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
