"""The docs' Python code blocks: every one compiles, and those marked to run are run.

A MyST comment on the line right above a block's fence marks it (a comment
never shows on the site):

- ``% runs``: the block is run as a module in the suite's Django test
  environment: its settings, a test database, and Google faked by the
  ``google`` fixture, so nothing leaves the process.
- ``% runs given NAME, ...``: the same, with the names the page's context
  supplies (a view's ``request``, the site's Celery ``app``...), made by
  ``GIVENS`` below; some givens then check what the block did with them.
- ``% runs under pytest``: the page's blocks so marked are written into a
  new folder, each into the file its first-line comment names
  (``# conftest.py``), else ``test_docs.py``, and run by pytest with
  pytest-django; every test in them must pass.
- ``% runs as settings``: a settings fragment. Its settings (with ``env``,
  django-environ's, giving a value for any name) replace the suite's, a
  ``GOOGLE_CONNECT`` with a ``# ...`` line merged over the suite's one, and
  google_connect's system checks must say nothing they did not say before.
  A module the page's marked blocks are (``# myproject/tenancy.py``) can be
  imported meanwhile, and the site has a ``base.html``.

A ``% runs`` block may use no name it neither defines, imports nor is
given, even in a function nobody calls here: a view's body runs only on a
request, so a missing import would otherwise pass. Blocks that are
fragments of a file (``INSTALLED_APPS``, a ``celery.py`` without its
``app``) stay unmarked, and still must compile. scripts/check_quickstart.py pastes the tutorial's
blocks into a new site; tests/test_docs_recipes.py checks the scheduling
recipe's jobs one by one.
"""

from __future__ import annotations

import builtins
import contextlib
import dis
import os
import re
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import responses
from django.dispatch import Signal
from django.test import RequestFactory

from google_connect import signals
from google_connect.testing import make_account

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE_RE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[^\s`]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
MARK_RE = re.compile(r"^[ \t]*% runs\b(?P<rest>.*)$")
TARGET_RE = re.compile(r"^# (?P<file>\w+\.py)\b")
# A block that is a module of the site's own: "# myproject/tenancy.py".
MODULE_RE = re.compile(r"^# (?P<path>\w+(?:/\w+)*)\.py$", re.M)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the block's first line of code, 1-based
    code: str
    mark: str | None  # what follows "% runs" on the line above, stripped; None: unmarked

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(DOCS)}:{self.line}"

    def compiled(self) -> types.CodeType:
        # Blank lines before the code, so a traceback names the page's own line.
        padded = "\n" * (self.line - 1) + self.code
        return compile(padded, str(self.page), "exec", dont_inherit=True)


def pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if "_build" not in path.parts)


def python_blocks() -> list[Block]:
    found = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for match in FENCE_RE.finditer(text):
            if match["lang"] != "python":
                continue
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            mark = MARK_RE.match(before)
            found.append(
                Block(
                    page=page,
                    line=text[: match.start("body")].count("\n") + 1,
                    code=textwrap.dedent(match["body"]),
                    mark=mark["rest"].strip() if mark else None,
                )
            )
    return found


BLOCKS = python_blocks()


def marked(kind: Callable[[str], bool]) -> list[Block]:
    return [block for block in BLOCKS if block.mark is not None and kind(block.mark)]


def given_names(mark: str) -> list[str]:
    names = mark.removeprefix("given").strip()
    return [name.strip() for name in names.split(",") if name.strip()]


def is_module(mark: str) -> bool:
    return mark == "" or mark.startswith("given ")


def is_pytest(mark: str) -> bool:
    return mark == "under pytest"


def is_settings(mark: str) -> bool:
    return mark == "as settings"


# What a page's context gives a block: a factory (called with the ``google``
# fixture), and optionally a check of what the block did with it.
def _request(google: Any) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("ada")
    make_account(user)
    # The block calls a Google API with the account's token: any answer will do.
    google.mock.add(responses.GET, re.compile(r"https://www\.googleapis\.com/.*"), json={})
    request = RequestFactory().get("/")
    request.user = user
    return request


def _celery_app(google: Any) -> Any:
    celery = pytest.importorskip("celery")
    return celery.Celery("docs_site", set_as_current=False)


def _beat_schedule_names_real_tasks(app: Any) -> None:
    from google_connect import tasks

    schedule = app.conf.beat_schedule
    known = {task.name for task in vars(tasks).values() if hasattr(task, "delay")}
    assert schedule, "the block schedules nothing"
    assert {entry["task"] for entry in schedule.values()} <= known


def _sync_calendar(google: Any) -> Any:
    return mock.Mock(spec=["delay"])


def _receiver_starts_the_sync_for_a_new_account(sync_calendar: Any) -> None:
    from google_connect.models import GoogleAccount

    account = make_account()
    signals.google_account_connected.send(
        sender=GoogleAccount, account=account, created=False, request=None
    )
    assert not sync_calendar.delay.called, "a reconnect started a sync"
    signals.google_account_connected.send(
        sender=GoogleAccount, account=account, created=True, request=None
    )
    sync_calendar.delay.assert_called_once_with(account.pk)


GIVENS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], None] | None]] = {
    # A view's request: a logged-in user with one connected account.
    "request": (_request, None),
    # The site's Celery app (celery.py); every scheduled task must exist.
    "app": (_celery_app, _beat_schedule_names_real_tasks),
    # A site's own Celery task, as a receiver would queue it.
    "sync_calendar": (_sync_calendar, _receiver_starts_the_sync_for_a_new_account),
}


def loaded_globals(code: types.CodeType) -> Iterator[str]:
    """The names the functions in ``code`` read as globals.

    Module and class bodies (``LOAD_NAME``) need no look: they ran, so every
    name they read was there. A function's body runs only when called.
    """
    for instruction in dis.get_instructions(code):
        if instruction.opname == "LOAD_GLOBAL":
            yield instruction.argval
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from loaded_globals(constant)


@contextlib.contextmanager
def receivers_restored() -> Iterator[None]:
    """google_connect's signals as they were: a block's @receiver must not outlive it."""
    every = [value for value in vars(signals).values() if isinstance(value, Signal)]
    saved = {signal: list(signal.receivers) for signal in every}
    try:
        yield
    finally:
        for signal, receivers in saved.items():
            with signal.lock:
                signal.receivers = receivers
                signal.sender_receivers_cache.clear()


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.id)
def test_every_python_block_compiles(block):
    block.compiled()


def test_every_run_mark_sits_right_above_a_python_block():
    # A mark above a shell block, or a typo, would silently run nothing.
    marks = [
        f"{page.relative_to(DOCS)}:{number}"
        for page in pages()
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if MARK_RE.match(line)
    ]
    assert len(marks) == len([block for block in BLOCKS if block.mark is not None]), marks
    for block in BLOCKS:
        if block.mark is not None and not (is_pytest(block.mark) or is_settings(block.mark)):
            assert is_module(block.mark), block.id
            assert set(given_names(block.mark)) <= set(GIVENS), block.id


def test_the_marks_mark_blocks_to_run():
    # Losing every mark would pass the tests above by running nothing.
    assert marked(is_module) and marked(is_pytest) and marked(is_settings)


@pytest.mark.django_db
@pytest.mark.parametrize("block", marked(is_module), ids=lambda block: block.id)
def test_a_marked_block_runs(block, google):
    code = block.compiled()
    names = given_names(block.mark)
    given = {name: GIVENS[name][0](google) for name in names}
    scope: dict[str, Any] = {"__name__": "docs_block", **given}
    with receivers_restored():
        exec(code, scope)  # noqa: S102 - our own documentation
        undefined = sorted(
            {name for name in loaded_globals(code) if name not in scope} - set(dir(builtins))
        )
        assert not undefined, f"{block.id} uses names it never defines: {undefined}"
        for name in names:
            check = GIVENS[name][1]
            if check is not None:
                check(given[name])


def pytest_pages() -> list[Path]:
    return sorted({block.page for block in marked(is_pytest)})


@pytest.mark.parametrize("page", pytest_pages(), ids=lambda page: str(page.relative_to(DOCS)))
def test_a_pages_pytest_blocks_pass(page, tmp_path):
    blocks = [block for block in marked(is_pytest) if block.page == page]
    for block in blocks:
        target = TARGET_RE.match(block.code)
        path = tmp_path / (target["file"] if target else "test_docs.py")
        path.write_text(path.read_text() + block.code if path.exists() else block.code)
    # The folder is its own rootdir: the suite's pyproject options stay out of it.
    (tmp_path / "pytest.ini").write_text("[pytest]\ndjango_find_project = false\n")
    expected = sum(len(re.findall(r"^def test_", block.code, re.M)) for block in blocks)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Its own SQLite test database: a second test database on the suite's
    # server would take the name of the one this run is using.
    env.pop("DATABASE_URL", None)
    # Tables from the models: the migrations are tested on their own, and
    # running them here would triple the time of this test.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + ["--ds", "tests.settings", "--no-migrations", "-W", "error::DeprecationWarning"]
        + [str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert expected and re.search(rf"\b{expected} passed\b", result.stdout), result.stdout


def _placeholder_env(name: str, default: Any = None) -> str:
    """django-environ's ``env(NAME)`` as a settings file calls it: a value for any name."""
    return f"placeholder-{name.lower()}-" + "x" * 32


@contextlib.contextmanager
def page_modules(page: Path) -> Iterator[None]:
    """The modules the page's marked blocks are (``# myproject/tenancy.py``), importable."""
    made: dict[str, types.ModuleType] = {}
    for block in BLOCKS:
        first_line = block.code.split("\n", 1)[0]
        target = MODULE_RE.fullmatch(first_line)
        if block.page != page or block.mark is None or not is_module(block.mark) or not target:
            continue
        dotted = target["path"].replace("/", ".")
        parts = dotted.split(".")
        for end in range(1, len(parts)):
            package = ".".join(parts[:end])
            made.setdefault(package, types.ModuleType(package)).__path__ = []
        module = made[dotted] = types.ModuleType(dotted)
        exec(block.compiled(), module.__dict__)  # noqa: S102 - our own documentation
    with mock.patch.dict(sys.modules, made):
        yield


def google_connect_messages() -> set[tuple[str, str]]:
    from django.core.checks import WARNING, run_checks

    return {
        (message.id, message.msg)
        for message in run_checks()
        if message.id and message.id.startswith("google_connect.") and message.level >= WARNING
    }


@pytest.mark.parametrize("block", marked(is_settings), ids=lambda block: block.id)
def test_a_settings_block_passes_the_system_checks(block, settings, tmp_path):
    scope: dict[str, Any] = {"env": _placeholder_env}
    exec(block.compiled(), scope)  # noqa: S102 - our own documentation
    defined = {name: value for name, value in scope.items() if name.isupper()}
    assert defined, f"{block.id} sets no setting"
    # The site's base template, as the pages' how-to describes it.
    (tmp_path / "base.html").write_text(
        "{% block title %}{% endblock %}{% block content %}{% endblock %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    before = google_connect_messages()
    with page_modules(block.page):
        for name, value in defined.items():
            if name == "GOOGLE_CONNECT" and "# ..." in block.code:
                # The site's other keys, which the block leaves out: the suite's.
                value = {**settings.GOOGLE_CONNECT, **value}
            setattr(settings, name, value)
        assert google_connect_messages() - before == set()
