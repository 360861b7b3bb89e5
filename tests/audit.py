"""The secrets audit's collector: every place a secret could end up, searched.

Every secret the audit plants contains ``AUDIT-`` and nothing else does, so a
plain substring search finds a secret in plaintext and in the usual encodings
(URL-encoded, HTML- or JSON-escaped). Sessions and message cookies are signed
and compressed, so they are decoded first, as anyone holding the database or
the signing key could.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections import Counter
from collections.abc import Iterator
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core import signing
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.views.debug import ExceptionReporter

CLIENT_SECRET = "AUDIT-CLIENT-SECRET-q8Zr2mW4"
CODE = "4/AUDIT-CODE-0aB9xKe7"


def access_token(label: str) -> str:
    return f"ya29.AUDIT-ACCESS-{label}"


def refresh_token(label: str) -> str:
    return f"1//AUDIT-REFRESH-{label}"


# (what it is, what to look for), most specific first; the last catches any
# other form of any of them.
NEEDLES = (
    ("access token", "ya29.AUDIT"),
    ("refresh token", "1//AUDIT"),
    ("URL-encoded refresh token", "1%2F%2FAUDIT"),
    ("authorization code", "4/AUDIT"),
    ("URL-encoded authorization code", "4%2FAUDIT"),
    ("client secret", "AUDIT-CLIENT-SECRET"),
    ("part of an audit secret", "AUDIT-"),
)

# LogRecord attributes every record has; anything else came in ``extra=``.
_STANDARD_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
}


@contextlib.contextmanager
def quiet_templates() -> Iterator[None]:
    """Rendering an error report logs a DEBUG record (with the whole report
    context) per missing variable; those come from the audit's own rendering,
    not from the code under audit, and are left out."""
    template_logger = logging.getLogger("django.template")
    template_logger.disabled = True
    try:
        yield
    finally:
        template_logger.disabled = False


def report_text(request: HttpRequest | None, exc_info: Any = (None, None, None)) -> tuple[str, str]:
    """The text and HTML of the report ``AdminEmailHandler`` would mail."""
    reporter = ExceptionReporter(request, *exc_info, is_email=True)
    with quiet_templates():
        return reporter.get_traceback_text(), reporter.get_traceback_html()


def as_text(value: Any) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else repr(value)


class Audit:
    """Collects what was searched, by kind of place, and every hit, by place."""

    def __init__(self) -> None:
        self.places: Counter[str] = Counter()
        self.found: list[str] = []

    def add(self, where: str, text: Any, *, also: tuple[tuple[str, str], ...] = ()) -> None:
        """Search ``text``; ``where`` is "kind: detail", and its kind is what gets counted."""
        self.places[where.split(":", 1)[0]] += 1
        text = as_text(text)
        for name, needle in (*NEEDLES, *also):
            at = text.find(needle)
            if at >= 0:
                self.found.append(f"{where}: {name} in {text[max(0, at - 60) : at + 60]!r}")
                return

    def hits(self) -> list[str]:
        return list(self.found)

    # -- the kinds of places ----------------------------------------------------

    def strings(self, what: str, value: Any, **kwargs: Any) -> None:
        self.add(f"str/repr: str({what})", str(value), **kwargs)
        self.add(f"str/repr: repr({what})", repr(value), **kwargs)

    def exception(self, what: str, exc: BaseException) -> None:
        """The exception and everything chained to it, and the error report it would make."""
        seen = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.strings(f"{what}: {type(current).__name__}", current)
            current = current.__cause__ or current.__context__
        self.add(f"exception: {what}, traceback", "".join(traceback.format_exception(exc)))
        self.error_report(what, None, (type(exc), exc, exc.__traceback__))

    def error_report(self, what: str, request: HttpRequest | None, exc_info: Any) -> None:
        """What ``AdminEmailHandler`` mails (text and HTML) for this exception and request."""
        text, html = report_text(request, exc_info)
        self.add(f"error report: {what} (text)", text)
        self.add(f"error report: {what} (HTML)", html)

    def response(self, response: Any) -> None:
        request = response.wsgi_request
        where = f"{request.method} {request.path} -> {response.status_code}"
        content = b"".join(response.streaming_content) if response.streaming else response.content
        self.add(f"page: {where}", content)
        self.add(f"page: {where}, headers", f"{list(response.items())}\n{response.cookies}")
        if "messages" in response.cookies:
            self.messages_cookie(where, response.cookies["messages"].value)
        # What an error report of this request (a DEBUG page, a 500 mail) would show.
        self.add(f"request report: {where}", report_text(request)[0])

    def messages_cookie(self, where: str, value: str) -> None:
        if not value:
            return
        stored = CookieStorage(HttpRequest())._decode(value)
        assert stored is not None, f"undecodable messages cookie at {where}"
        for message in stored:
            self.add(f"message: {where}", f"{message.level_tag} {message}")

    def client(self, name: str, client: Client) -> None:
        self.add(f"cookie jar: {name}", client.cookies.output())
        if "messages" in client.cookies:
            self.messages_cookie(f"{name}'s cookie jar", client.cookies["messages"].value)

    def logs(self, records: list[Any]) -> None:
        for number, record in enumerate(list(records)):
            where = f"{record.name} {record.levelname} #{number}"
            parts = [record.getMessage(), repr(record.msg), repr(record.args)]
            parts += [record.exc_text or "", record.stack_info or ""]
            if record.exc_info and record.exc_info[1] is not None:
                parts.append("".join(traceback.format_exception(*record.exc_info)))
            extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_ATTRIBUTES}
            parts.append(repr(extras))
            self.add(f"log record: {where}", "\n".join(parts))
            # What AdminEmailHandler would mail for it (it handles ERROR and up).
            if record.levelno >= logging.ERROR and record.exc_info and record.exc_info[1]:
                self.error_report(where, getattr(record, "request", None), record.exc_info)

    def database(self) -> None:
        """Every row of every table, raw: ciphertext as bytes, sessions decoded."""
        session_store = import_module(settings.SESSION_ENGINE).SessionStore()
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for table in sorted(connection.introspection.table_names()):
                # Table names come from the database itself, not from input.
                cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608
                columns = [column[0] for column in cursor.description]
                for row in cursor.fetchall():
                    values = dict(zip(columns, row, strict=True))
                    self.add(
                        f"table row: {table}",
                        " | ".join(f"{k}={as_text(v)}" for k, v in values.items()),
                    )
                    if table == "django_session":
                        decoded = signing.loads(
                            values["session_data"],
                            salt=session_store.key_salt,
                            serializer=session_store.serializer,
                        )
                        self.add(f"session: {values['session_key'][:8]}...", repr(decoded))


class AuditClient(Client):
    """A test client that hands every response it gets (redirects too) to the audit."""

    def __init__(self, audit: Audit, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.audit = audit

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        self.audit.response(response)
        return response
