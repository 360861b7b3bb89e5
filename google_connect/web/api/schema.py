"""The OpenAPI 3.1 document of the JSON API (``api/v1/openapi.json``).

The request bodies are built from the same ``Field`` declarations the
views check bodies with, so the document cannot drift from the checks.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

import google_connect
from google_connect.web.api.body import MAX_CODE_LENGTH, MAX_NEXT_LENGTH, Field

POPUP, MOBILE = "popup", "mobile"

SCOPE_SETS_FIELD = Field(
    "scope_sets", "SCOPE_SETS names asked for besides the client's scopes.", kind="strings"
)
AUTHORIZE_FIELDS = (
    SCOPE_SETS_FIELD,
    Field(
        "next",
        "Where the callback sends the browser back to, on this site.",
        max_length=MAX_NEXT_LENGTH,
    ),
)
CODE_FIELDS = (
    Field(
        "code",
        "The authorization code (a popup's) or server auth code (a mobile app's).",
        required=True,
        max_length=MAX_CODE_LENGTH,
    ),
    Field(
        "flow",
        "popup: Google Identity Services' code client in popup mode; mobile: an iOS or "
        "Android app's server auth code.",
        kind="choice",
        required=True,
        choices=(POPUP, MOBILE),
    ),
    SCOPE_SETS_FIELD,
)

NULLABLE_STRING = {"type": ["string", "null"]}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "The reason code (as the error pages')."},
            "message": {
                "type": "string",
                "description": "What happened, for the user: for a failed connect, the error "
                "page's text for the reason (with the permissions to leave ticked, and the "
                "spec's sentence where the page shows it).",
            },
            "help_url": {
                "type": "string",
                "description": "The guide the error page links to: only where the page shows "
                "it (where disconnecting Google completely, then retrying, is the fix).",
            },
            "missing_scopes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "scope_not_granted: the scopes not granted.",
            },
            "missing_permissions": {
                "type": "array",
                "description": "scope_not_granted: each scope not granted, with Google's "
                "consent-screen wording for it (the scope itself when unknown).",
                "items": {
                    "type": "object",
                    "required": ["scope", "description"],
                    "additionalProperties": False,
                    "properties": {
                        "scope": {"type": "string"},
                        "description": {"type": "string"},
                    },
                },
            },
        },
    },
    "Account": {
        "type": "object",
        "required": [
            "id",
            "email",
            "name",
            "picture",
            "status",
            "reconnect_reason",
            "scope_sets",
            "grant_expires_at",
            "client",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "picture": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["active", "reconnect_required"],
                "description": "As the accounts page and the admin show it: a time-limited "
                "grant whose end (grant_expires_at) has passed is reconnect_required, with "
                "the reason refresh_token_expired, before any refresh has failed.",
            },
            "reconnect_reason": {
                "description": "Why a reconnect is needed (code and sentence); null while "
                "status is active.",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                ],
            },
            "scope_sets": {
                "type": "object",
                "required": ["granted", "missing"],
                "properties": {
                    "granted": {"type": "array", "items": {"type": "string"}},
                    "missing": {"type": "array", "items": {"type": "string"}},
                },
            },
            "grant_expires_at": {**NULLABLE_STRING, "format": "date-time"},
            "client": {
                **NULLABLE_STRING,
                "description": "The site's name for the OAuth client holding the grant.",
            },
        },
    },
}


def _body(fields: tuple[Field, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {field.name: field.json_schema() for field in fields},
    }
    required = [field.name for field in fields if field.required]
    if required:
        schema["required"] = required
    return {"required": False, "content": {"application/json": {"schema": schema}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, *, retry: bool = False) -> dict[str, Any]:
    response = _json(description, {"$ref": "#/components/schemas/Error"})
    if retry:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "string"},
            }
        }
    return response


ERRORS = {
    "400": _error("Bad input, or Google refused the grant."),
    "401": _error("Not authenticated."),
    "403": _error("The CSRF check failed, or the popup's custom header is missing."),
    "405": _error("Method not allowed."),
}
BODY_ERRORS = {
    "413": _error("The body is larger than 16 KiB."),
    "415": _error("The body is not JSON."),
}
UNAVAILABLE = {"503": _error("Google is unavailable, or failed for now.", retry=True)}
ACCOUNT = {"$ref": "#/components/schemas/Account"}


def document(request: HttpRequest) -> dict[str, Any]:
    """The document, with the API's address on this site as its server."""
    base = reverse("google_connect:api-openapi").rsplit("/", 1)[0]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "google_connect JSON API",
            "version": google_connect.__version__,
            "description": "Connect Google accounts from single-page and mobile apps. "
            "Any other path under this server's URL answers 404 with an Error, "
            '"error": "not_found".',
        },
        "servers": [{"url": base}],
        "paths": {
            "/accounts": {
                "get": {
                    "operationId": "listAccounts",
                    "summary": "The user's connected Google accounts.",
                    "responses": {
                        "200": _json(
                            "The accounts, newest first.",
                            {
                                "type": "object",
                                "required": ["accounts"],
                                "properties": {"accounts": {"type": "array", "items": ACCOUNT}},
                            },
                        ),
                        **ERRORS,
                    },
                }
            },
            "/accounts/{id}/disconnect": {
                "post": {
                    "operationId": "disconnectAccount",
                    "summary": "Revoke the grant at Google, then forget the account.",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    ],
                    "requestBody": _body(()),
                    "responses": {
                        "200": _json(
                            "Disconnected.",
                            {
                                "type": "object",
                                "required": ["id", "disconnected", "revoked_at_google"],
                                "additionalProperties": False,
                                "properties": {
                                    "id": {"type": "integer"},
                                    "disconnected": {"const": True},
                                    "revoked_at_google": {
                                        "type": "boolean",
                                        "description": "True when no grant is left live at "
                                        "Google (revoked now, or found revoked already); false "
                                        "when the stored tokens could not be read, so Google "
                                        "was not told.",
                                    },
                                    "message": {
                                        "type": "string",
                                        "description": "Only when Google was not told: the "
                                        "page's warning, asking the user to remove this "
                                        "site's access in their Google Account.",
                                    },
                                },
                            },
                        ),
                        **ERRORS,
                        "404": _error("No such account of this user."),
                        **BODY_ERRORS,
                        "503": _error(
                            "Google could not be told; the account is still connected.",
                            retry=True,
                        ),
                    },
                }
            },
            "/authorize": {
                "post": {
                    "operationId": "authorize",
                    "summary": "Start a redirect flow (session authentication only).",
                    "requestBody": _body(AUTHORIZE_FIELDS),
                    "responses": {
                        "200": _json(
                            "Google's consent URL: navigate there.",
                            {
                                "type": "object",
                                "required": ["authorization_url"],
                                "properties": {"authorization_url": {"type": "string"}},
                            },
                        ),
                        **ERRORS,
                        **BODY_ERRORS,
                    },
                }
            },
            "/code": {
                "post": {
                    "operationId": "exchangeCode",
                    "summary": "Exchange a popup's or a mobile app's code and connect.",
                    "parameters": [
                        {
                            "name": "X-Requested-With",
                            "in": "header",
                            "required": False,
                            "description": "XmlHttpRequest; required for flow=popup.",
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {**_body(CODE_FIELDS), "required": True},
                    "responses": {
                        "200": _json("Reconnected.", ACCOUNT),
                        "201": _json("Connected.", ACCOUNT),
                        **ERRORS,
                        "409": _error("The Google account is connected to another user."),
                        **BODY_ERRORS,
                        **UNAVAILABLE,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {
                        "200": _json("The OpenAPI document.", {"type": "object"}),
                        "405": ERRORS["405"],
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "sessionid",
                    "description": "Django's session (the default API_AUTHENTICATION); "
                    "unsafe methods also need the CSRF token in X-CSRFToken.",
                }
            },
        },
        "security": [{"session": []}],
    }
