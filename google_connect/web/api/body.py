"""Reading an API request's JSON body: capped, typed, no field unknown.

The fields of each endpoint are declared once (``Field``); the same
declarations check the body and describe it in the OpenAPI document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from google_connect.web.api.errors import ApiError

MAX_BODY_BYTES = 16 * 1024
# As the callback: no code Google issues comes near it.
MAX_CODE_LENGTH = 2048
MAX_NEXT_LENGTH = 2048
MAX_SCOPE_SETS = 20
MAX_NAME_LENGTH = 100
JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class Field:
    name: str
    description: str
    # "string", "strings" (a list of strings) or "choice".
    kind: str = "string"
    required: bool = False
    max_length: int = MAX_NAME_LENGTH
    choices: tuple[str, ...] = ()
    max_items: int = MAX_SCOPE_SETS

    def json_schema(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"type": "string", "enum": list(self.choices), "description": self.description}
        string = {"type": "string", "minLength": 1, "maxLength": self.max_length}
        if self.kind == "strings":
            return {
                "type": "array",
                "items": string,
                "maxItems": self.max_items,
                "description": self.description,
            }
        return {**string, "description": self.description}

    def check(self, value: Any) -> Any:
        if self.kind == "choice":
            if value not in self.choices:
                raise invalid(
                    _("%(field)s must be one of: %(choices)s.")
                    % {"field": self.name, "choices": ", ".join(self.choices)}
                )
            return value
        if self.kind == "strings":
            if not isinstance(value, list) or len(value) > self.max_items:
                raise invalid(
                    _("%(field)s must be a list of at most %(count)d strings.")
                    % {"field": self.name, "count": self.max_items}
                )
            return tuple(self._string(item) for item in value)
        return self._string(value)

    def _string(self, value: Any) -> str:
        if not isinstance(value, str) or not 1 <= len(value) <= self.max_length:
            raise invalid(
                _("%(field)s must be a non-empty string of at most %(count)d characters.")
                % {"field": self.name, "count": self.max_length}
            )
        return value


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_body", message)


def read_json(request: HttpRequest, fields: Sequence[Field]) -> dict[str, Any]:
    """The body's fields, checked; an empty body is ``{}``.

    Raises ``ApiError``: 413 over ``MAX_BODY_BYTES``, 415 for a body that is
    not ``application/json``, 400 for malformed JSON, a field unknown, missing
    or of the wrong shape.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        # Refused before reading: a large body costs nothing.
        raise ApiError(413, "body_too_large")
    raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large")
    if not raw:
        data: Any = {}
    else:
        if request.content_type not in JSON_TYPES:
            raise ApiError(415, "unsupported_media_type")
        try:
            data = json.loads(raw.decode("utf-8"))
        # RecursionError: an array can nest deeper than the parser goes.
        except (ValueError, RecursionError):
            raise invalid(_("The body is not valid JSON in UTF-8.")) from None
    if not isinstance(data, dict):
        raise invalid(_("The body must be a JSON object."))
    known = {field.name: field for field in fields}
    unknown = sorted(name for name in data if name not in known)
    if unknown:
        raise invalid(
            _("Unknown field: %(fields)s.") % {"fields": ", ".join(n[:50] for n in unknown[:5])}
        )
    result: dict[str, Any] = {}
    for field in fields:
        if field.name not in data:
            if field.required:
                raise invalid(_("%(field)s is required.") % {"field": field.name})
            continue
        result[field.name] = field.check(data[field.name])
    return result
