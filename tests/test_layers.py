"""The package's layers import downward only, and nothing imports in a circle.

The layers are declared in pyproject.toml (``[tool.importlinter]``) and
explained in docs/explanation/architecture.md.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

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
