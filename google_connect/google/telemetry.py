"""OpenTelemetry spans and metrics for calls to Google and the operations around them.

Only ``opentelemetry-api`` is used (the ``otel`` extra). Without it every
function here is a no-op costing a function call. With the API but no tracer
provider set (no SDK), no span is started (``tracing()``), and the counters
and the histogram are the API's proxies, which drop what they are given
until a meter provider is set. The site configures the SDK and its
exporters; google_connect never does.

Attribute values are low-cardinality names chosen here (a method, a host, a
status, a reason code, a client's name): never a token, code, email, ``sub``
or query string. ``url.full`` is the URL without query, fragment or userinfo.

Both HTTP paths, requests' and aiohttp's, call ``client_span()`` once per
attempt; ``retry_attempt()`` tells it which attempt (a context variable, so
it holds across an ``await`` within one task).

A bulk run (a command's, or one chunk of a task) is one ``bulk()`` span: the
per-account operations and their HTTP calls are its descendants. asyncio
tasks created inside it inherit it; worker threads are handed it by
``carried()``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

_context: Any
_metrics: Any
_trace: Any
try:
    from opentelemetry import context as _context
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
except ImportError:  # the otel extra is not installed
    # Typed Any above: the checker sees the API installed, but code here must
    # also run without it, and every use checks for None first.
    _context = None
    _metrics = None
    _trace = None

logger = logging.getLogger("google_connect")

P = ParamSpec("P")
R = TypeVar("R")

INSTRUMENTATION_NAME = "google_connect"
PREFIX = "google_connect."
# Seconds; the buckets OpenTelemetry's HTTP semantic conventions advise.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

COUNTERS = {
    "google_connect.refreshes": "Refreshes of access tokens at Google, by outcome.",
    "google_connect.connections": "Connections (OAuth callbacks), by outcome and reason.",
    "google_connect.reconnect_required": "Grants found dead, by reason.",
    "google_connect.security_events": "Security events received, by event type and action.",
    "google_connect.revocations": "Revocations of grants at Google, by outcome.",
}

_attempt: contextvars.ContextVar[int] = contextvars.ContextVar("google_connect_attempt", default=0)
_instruments: dict[str, Any] = {}


def enabled() -> bool:
    """Whether opentelemetry-api is installed (not whether an SDK is configured)."""
    return _trace is not None


def _version() -> str:
    from google_connect import __version__

    return __version__


# Fetched once: asking the API again on every call cost more than the rest of
# a hook, and the SDK builds a new Tracer each time. Safe to keep from before
# the site sets its providers: until then the API hands out a ProxyTracer and
# a proxy Meter (whose instruments are proxies), which forward to the
# providers set later (tests/test_telemetry_cost.py checks it in a fresh process).
_tracer: Any = None
_meter: Any = None


def tracer() -> Any:
    global _tracer
    if _tracer is None:
        _tracer = _trace.get_tracer(INSTRUMENTATION_NAME, _version())
    return _tracer


def meter() -> Any:
    global _meter
    if _meter is None:
        _meter = _metrics.get_meter(INSTRUMENTATION_NAME, _version())
    return _meter


def tracing() -> bool:
    """Whether spans can be recorded: a tracer provider is set (an SDK's).

    With the API alone the provider is the API's proxy (or a
    ``NoOpTracerProvider`` a site set on purpose), and every span would be
    the current one handed back unchanged: starting one, building its
    attributes and making it current would change nothing, so the hooks skip
    it all. Asked on every call, as it is cheap: a provider set later is seen
    at once.
    """
    provider = _trace.get_tracer_provider()
    return not isinstance(provider, _trace.ProxyTracerProvider | _trace.NoOpTracerProvider)


def _instrument(name: str) -> Any:
    found = _instruments.get(name)
    if found is None:
        if name == "http.client.request.duration":
            found = meter().create_histogram(
                name,
                unit="s",
                description="Duration of HTTP client requests to Google.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
        else:
            found = meter().create_counter(name, unit="{call}", description=COUNTERS[name])
        _instruments[name] = found
    return found


def count(name: str, amount: int = 1, /, **attributes: str) -> None:
    """Add ``amount`` (one) to the counter ``name`` (one of ``COUNTERS``), by
    ``attributes`` (without the ``google_connect.`` prefix: ``outcome="success"``)."""
    if _metrics is None:
        return
    counter = _instrument(name)
    try:
        counter.add(amount, {PREFIX + key: value for key, value in attributes.items()})
    except Exception:  # whatever the SDK raised: see _metric_failed
        _metric_failed(name)


def _metric_failed(name: str) -> None:
    # The SDK, a view or a reader is the site's code, not ours: its fault
    # must not fail what was counted. A refresh counts inside the account's
    # transaction, and an exception there would roll back the new tokens
    # Google just issued (and a rotated refresh token with them).
    logger.warning("Recording the metric %s failed; carrying on", name, exc_info=True)


# -- client spans: one per HTTP attempt -------------------------------------------


def safe_url(url: str) -> str:
    """``url`` without query string, fragment or credentials (``url.full``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{netloc}{parts.path}"


class ClientSpan:
    """What a call site reports about one HTTP attempt."""

    __slots__ = ("attributes", "span")

    def __init__(self, span: Any, attributes: dict[str, Any]) -> None:
        self.span = span
        self.attributes = attributes

    def set_status_code(self, status_code: int) -> None:
        self.attributes["http.response.status_code"] = status_code
        if self.span is not None:
            self.span.set_attribute("http.response.status_code", status_code)
        if status_code >= 400:
            self.set_error(str(status_code))

    def set_error(self, error_type: str) -> None:
        """``error.type``: an exception's class name or the status code as text."""
        self.attributes["error.type"] = error_type
        if self.span is not None:
            self.span.set_attribute("error.type", error_type)
            self.span.set_status(_trace.StatusCode.ERROR)


_NO_SPAN = ClientSpan(None, {})


@contextlib.contextmanager
def retry_attempt(number: int) -> Iterator[None]:
    """Calls inside are attempt ``number`` (0 the first) of a retried operation."""
    token = _attempt.set(number)
    try:
        yield
    finally:
        _attempt.reset(token)


@contextlib.contextmanager
def client_span(method: str, url: str, attempt: int | None = None) -> Iterator[ClientSpan]:
    """A CLIENT span named ``method`` for one HTTP attempt, and its duration
    in ``http.client.request.duration``. An exception leaving the block sets
    ``error.type`` to its class name. ``attempt`` defaults to the one
    ``retry_attempt()`` set (0 outside a retry loop)."""
    if _trace is None:
        yield _NO_SPAN
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # The histogram's, wanted whether or not spans are: a site may set a
    # meter provider alone.
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "server.address": parts.hostname or "",
        "server.port": port,
    }
    reported = ClientSpan(None, attributes)
    started = time.perf_counter()
    with _start_client_span(method, url, attributes, attempt) as span:
        if span is not None and span.is_recording():
            reported.span = span
        try:
            yield reported
        except BaseException as exc:
            if "error.type" not in attributes:
                reported.set_error(type(exc).__name__)
            raise
        finally:
            histogram = _instrument("http.client.request.duration")
            try:
                histogram.record(time.perf_counter() - started, attributes)
            except Exception:  # whatever the SDK raised: see _metric_failed
                _metric_failed("http.client.request.duration")


def _start_client_span(
    method: str, url: str, attributes: dict[str, Any], attempt: int | None
) -> contextlib.AbstractContextManager[Any]:
    if not tracing():
        return contextlib.nullcontext()
    # Given at the start, not set later: a sampler decides on them.
    span_attributes = {**attributes, "url.full": safe_url(url)}
    resend_count = _attempt.get() if attempt is None else attempt
    if resend_count:
        span_attributes["http.request.resend_count"] = resend_count
    # tracer() is typed Any (opentelemetry is optional); name what it gives.
    span_context: contextlib.AbstractContextManager[Any] = tracer().start_as_current_span(
        method,
        kind=_trace.SpanKind.CLIENT,
        attributes=span_attributes,
        record_exception=False,
        set_status_on_exception=False,
    )
    return span_context


# -- operation spans ----------------------------------------------------------------


class Operation:
    """What an operation reports: attributes of our own, prefixed ``google_connect.``."""

    __slots__ = ("span",)

    def __init__(self, span: Any) -> None:
        self.span = span

    def set(self, key: str, value: str | int | bool) -> None:
        if self.span is not None:
            self.span.set_attribute(PREFIX + key, value)

    def set_counts(self, counts: Mapping[str, int]) -> None:
        """A run's counts of outcomes, one integer attribute each (``google_connect.failed``)."""
        for key, value in counts.items():
            self.set(key, int(value))

    def set_error(self, error_type: str) -> None:
        """``error.type`` (an exception's class name) for a failure caught inside."""
        if self.span is not None:
            self.span.set_attribute("error.type", error_type)
            self.span.set_status(_trace.StatusCode.ERROR)


_NO_OPERATION = Operation(None)


@contextlib.contextmanager
def operation(name: str, **attributes: str | int | bool) -> Iterator[Operation]:
    """A span ``google_connect.<name>`` (``refresh``, ``risc.event``, ``connect``)
    around one operation; the HTTP calls inside are its children. An exception
    leaving it sets ``error.type`` (its class name), never its message."""
    if _trace is None or not tracing():
        yield _NO_OPERATION
        return
    with tracer().start_as_current_span(
        PREFIX + name,
        attributes={PREFIX + key: value for key, value in attributes.items()},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        # A span the sampler dropped records nothing: no attribute is set on it.
        reported = Operation(span if span.is_recording() else None)
        try:
            yield reported
        except BaseException as exc:
            reported.set_error(type(exc).__name__)
            raise


# The bulk operation the current code runs in, by name: a chunk's engine
# reports into its chunk's span rather than opening a second one.
_bulk: contextvars.ContextVar[tuple[str, Operation] | None] = contextvars.ContextVar(
    "google_connect_bulk", default=None
)


@contextlib.contextmanager
def bulk(name: str, *, engine: str, concurrency: int) -> Iterator[Operation]:
    """A span ``google_connect.bulk.<name>`` around one bulk run, or one chunk of a task.

    ``engine`` is ``async``, ``threads`` or ``serial``; ``concurrency`` the
    calls that may be in flight at once. The caller sets the counts of
    outcomes when the run is over (``set_counts``). Inside a bulk operation
    of the same name (a task's chunk handing its accounts to an engine), no
    second span is opened: the engine reports into the chunk's.
    """
    if _trace is None:
        yield _NO_OPERATION
        return
    outer = _bulk.get()
    if outer is not None and outer[0] == name:
        outer[1].set("engine", engine)
        outer[1].set("concurrency", concurrency)
        yield outer[1]
        return
    with operation("bulk." + name, engine=engine, concurrency=concurrency) as reported:
        token = _bulk.set((name, reported))
        try:
            yield reported
        finally:
            _bulk.reset(token)


def engine_of(workers: int) -> str:
    """The ``engine`` attribute of a run on ``workers`` threads."""
    return "threads" if workers > 1 else "serial"


def carried(function: Callable[P, R]) -> Callable[P, R]:
    """``function``, to be run on another thread, inside the span current here.

    A thread starts with an empty context: without this, the spans of a
    worker thread would each start a trace of their own. Only OpenTelemetry's
    context is handed over, not the caller's other context variables.
    """
    if _trace is None:
        return function
    here = _context.get_current()

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _context.attach(here)
        try:
            return function(*args, **kwargs)
        finally:
            _context.detach(token)

    return run


def annotate(**attributes: str) -> None:
    """Set ``google_connect.<key>`` attributes on the current span (the operation's)."""
    if _trace is None:
        return
    span = _trace.get_current_span()
    if span.is_recording():
        for key, value in attributes.items():
            span.set_attribute(PREFIX + key, value)


def traced(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the function's calls as ``operation(name)``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with operation(name):
                return function(*args, **kwargs)

        return wrapper

    return decorate


# -- the opt-in gauge ---------------------------------------------------------------

# The names of the gauges registered in this process.
_gauges: set[str] = set()


def observe_gauge(
    name: str, read: Callable[[], Iterable[tuple[int, dict[str, str]]]], *, description: str
) -> bool:
    """Register the observable gauge ``name`` once per process, reporting what
    ``read()`` returns: ``(value, attributes)`` pairs. False without the API,
    or when ``name`` is registered already."""
    if _metrics is None or name in _gauges:
        return False

    def callback(options: Any) -> Iterator[Any]:
        for value, attrs in read():
            yield _metrics.Observation(value, {PREFIX + key: v for key, v in attrs.items()})

    meter().create_observable_gauge(name, callbacks=[callback], description=description)
    _gauges.add(name)
    return True
