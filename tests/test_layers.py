"""The package's layers import downward only, and nothing imports in a circle.

The layers are declared in pyproject.toml (``[tool.importlinter]``) and
explained in docs/explanation/architecture.md, which names every module, so
that the page cannot fall behind the tree again.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    # lint-imports finds the package in its working directory first.
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=package_parent,
        env={**os.environ, "PYTHONPATH": str(package_parent)},
        capture_output=True,
        text=True,
    )


def test_every_layer_imports_only_the_layers_below_it():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_import_from_a_lower_layer_to_a_higher_one_breaks_the_contract(tmp_path):
    # The contract is worth something only if it fails: a copy of the package
    # whose HTTP layer reaches up into the web pages, inside a function.
    shutil.copytree(ROOT / "google_connect", tmp_path / "google_connect")
    http = tmp_path / "google_connect" / "google" / "http.py"
    http.write_text(
        http.read_text() + "\n\ndef _climb():\n    from google_connect.web import views\n"
    )
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "google_connect.google.http -> google_connect.web.views" in result.stdout


def _circles(exclude_type_checking_imports: bool) -> list[set[str]]:
    graph = grimp.build_graph(
        "google_connect", exclude_type_checking_imports=exclude_type_checking_imports
    )
    circles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                circles.append({module, imported})
    return circles


def test_no_module_imports_itself_at_run_time_through_others():
    # Imports inside functions count; imports under TYPE_CHECKING run nothing.
    assert _circles(exclude_type_checking_imports=True) == []


def test_type_only_circles_stay_inside_the_store():
    packages = {
        ".".join(module.split(".")[:2])
        for pair in _circles(exclude_type_checking_imports=False)
        for module in pair
    }
    assert packages <= {"google_connect.store"}


ARCHITECTURE = ROOT / "docs" / "explanation" / "architecture.md"
PACKAGE = ROOT / "google_connect"


def _sections(page: str) -> dict[str, str]:
    """The page's ``### `` sections, keyed by the folder their heading names (``store``)."""
    sections = {}
    for part in page.split("\n### ")[1:]:
        heading, _, body = part.partition("\n")
        folder = re.match(r"`(\w+)/`", heading)
        if folder:
            sections[folder[1]] = body.split("\n## ", 1)[0]
    return sections


def _modules() -> list[Path]:
    # A package's __init__.py is named by its folder; the migrations by theirs.
    return sorted(
        path.relative_to(PACKAGE)
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" and "migrations" not in path.parts
    )


def _named(module: Path, page: str, sections: dict[str, str]) -> bool:
    if len(module.parts) == 1:
        # At the top: its file name, not as the tail of a deeper path.
        return re.search(rf"(?<![\w/.]){re.escape(module.name)}\b", page) is not None
    if f"`{module.as_posix()}`" in page:
        return True
    top, below = module.parts[0], Path(*module.parts[1:]).as_posix()
    section = sections.get(top, "")
    if f"`{below}`" in section:
        return True
    # A deeper module by its file name alone, if no other in its package has that name.
    namesakes = [
        other for other in _modules() if other.parts[0] == top and other.name == module.name
    ]
    return len(namesakes) == 1 and f"`{module.name}`" in section


@pytest.mark.parametrize("module", _modules(), ids=str)
def test_the_architecture_page_names_every_module(module):
    page = ARCHITECTURE.read_text(encoding="utf-8")
    assert _named(module, page, _sections(page)), f"{module} is not on {ARCHITECTURE.name}"


@pytest.mark.parametrize(
    "folder",
    sorted(
        path.name
        for path in PACKAGE.iterdir()
        # Code, not templates, translations or static files.
        if path.is_dir() and any(path.rglob("*.py"))
    ),
)
def test_the_architecture_page_names_every_package(folder):
    assert f"{folder}/" in ARCHITECTURE.read_text(encoding="utf-8")
