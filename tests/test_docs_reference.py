"""The reference pages list every setting, check id, reason, command option, task
and model field.

They are hand-written tables; these tests fail when the code grows a name
the tables do not have yet, so the docs cannot silently fall behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import load_command_class

from google_connect import checks
from google_connect.conf import DEFAULTS
from google_connect.store.reasons import ReconnectReason
from google_connect.web.error_texts import DISCONNECT_REASONS, ERROR_TEXTS

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
PACKAGE = ROOT / "google_connect"


def page(name: str) -> str:
    return (REFERENCE / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a ``## `` line), up to the next heading of that level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by their first cell without backticks."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


def check_ids() -> list[str]:
    # Every id is a quoted code: ID.format("E001"), or a (setting, "E007") pair
    # of a loop over settings.
    source = Path(checks.__file__).read_text(encoding="utf-8")
    return sorted(set(re.findall(r'"([EW]\d{3})"', source)))


def task_names() -> list[str]:
    source = (PACKAGE / "tasks.py").read_text(encoding="utf-8")
    return sorted(set(re.findall(r'name="(google_connect\.\w+)"', source)))


def command_names() -> list[str]:
    folder = PACKAGE / "management" / "commands"
    return sorted(path.stem for path in folder.glob("*.py") if not path.stem.startswith("_"))


# The options Django gives every command; its own documentation covers them.
DJANGO_OPTIONS = {
    "-h",
    "--help",
    "--version",
    "-v",
    "--verbosity",
    "--settings",
    "--pythonpath",
    "--traceback",
    "--no-color",
    "--force-color",
    "--skip-checks",
}


def command_options() -> list[tuple[str, str]]:
    found = []
    for name in command_names():
        parser = load_command_class("google_connect", name).create_parser("manage.py", name)
        for action in parser._actions:
            found += [
                (name, option) for option in action.option_strings if option not in DJANGO_OPTIONS
            ]
    return found


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_setting_has_a_row_with_type_and_default(key):
    row = table_rows(page("settings.md")).get(key)

    assert row is not None, f"docs/reference/settings.md has no row for {key}"
    assert len(row) == 4 and all(row[1:]), f"the row of {key} lacks a type, default or meaning"


def test_the_check_ids_are_found_in_checks_py():
    # Guards the pattern above: an empty list would make the next test vacuous.
    assert {"E001", "E080", "W001", "W090"} <= set(check_ids())


@pytest.mark.parametrize("code", check_ids())
def test_every_check_id_is_listed(code):
    assert f"google_connect.{code}" in table_rows(page("checks.md"))


@pytest.mark.parametrize("reason", [reason.value for reason in ReconnectReason])
def test_every_reconnect_reason_is_listed(reason):
    rows = table_rows(section(page("errors.md"), "Why an account needs a reconnect"))

    assert reason in rows


# Words the error page has for reasons its views never raise: the callback
# never retries (so no GoogleUnavailable), and client_removed is a reconnect
# reason, listed with the others.
NOT_ON_THE_ERROR_PAGE = {"google_unavailable", *(reason.value for reason in ReconnectReason)}


@pytest.mark.parametrize("reason", sorted(set(ERROR_TEXTS) - NOT_ON_THE_ERROR_PAGE))
def test_every_error_page_reason_is_listed(reason):
    rows = table_rows(section(page("errors.md"), "Why a connection failed: the error page"))

    assert reason in rows


@pytest.mark.parametrize("reason", sorted(set(ERROR_TEXTS) - NOT_ON_THE_ERROR_PAGE))
def test_the_error_table_says_where_the_spec_sentence_is_shown_as_the_code_decides(reason):
    rows = table_rows(section(page("errors.md"), "Why a connection failed: the error page"))
    shown = rows[reason][3]

    if reason == "token_exchange_failed":
        # Only for a refused code (needs_disconnect reads the error's code).
        assert shown.startswith("only when Google answered `invalid_grant`")
    else:
        assert shown == ("yes" if reason in DISCONNECT_REASONS else "no")


def test_the_command_options_are_found():
    assert ("revoke_google_accounts", "--include-undecryptable") in command_options()


@pytest.mark.parametrize(("command", "option"), command_options())
def test_every_command_option_is_documented_under_its_command(command, option):
    assert f"`{option}" in section(page("commands.md"), f"`{command}`")


def test_the_task_names_are_found():
    assert "google_connect.retry_pending_revocations" in task_names()


@pytest.mark.parametrize("name", task_names())
def test_every_celery_task_has_a_row(name):
    rows = table_rows(page("tasks.md"))

    assert any(key == name or key.startswith(f"{name}(") for key in rows)


def model_section(model: type) -> str:
    return section(page("models.md"), f"`{model.__name__}`")


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (model, field)
        for model in apps.get_app_config("google_connect").get_models()
        for field in model._meta.concrete_fields
        # The auto-created primary key is Django's, the same on every model.
        if not field.auto_created
    ],
    ids=lambda value: getattr(value, "__name__", None) or value.name,
)
def test_every_model_field_is_on_the_models_page_under_its_model(model, field):
    assert f"`{field.name}`" in model_section(model)
