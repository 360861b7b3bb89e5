#!/usr/bin/env python
"""Build google-connect's sdist and wheel and check what a user would install.

Run by ``tox -e package`` (it needs ``build`` and ``twine``), with a work
folder as its argument:

1. ``python -m build``: the sdist, then the wheel built from that sdist, so a
   file missing from the sdist is missing from the wheel too;
2. ``twine check --strict`` on both (metadata and README rendering);
3. the wheel holds every file of the source package (templates, migrations,
   locale, ``py.typed``) and nothing else (no tests, no example project), and
   its metadata claims exactly the Python and Django versions tox.ini tests;
4. the sdist holds what it takes to rebuild and test;
5. a fresh virtualenv gets the wheel: ``import google_connect`` works with no
   Django settings, then scripts/package_smoke.py runs checks, migrations and
   a connect flow there;
6. scripts/check_quickstart.py pastes the README's Quick start into a new
   ``startproject`` site in that virtualenv, and checks, migrates and
   connects there.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "google_connect"
SMOKE = ROOT / "scripts" / "package_smoke.py"
QUICKSTART = ROOT / "scripts" / "check_quickstart.py"

# Spelled out as well as derived from the source tree: these must never go missing.
REQUIRED_IN_WHEEL = [
    "google_connect/__init__.py",
    "google_connect/py.typed",
    "google_connect/migrations/0001_initial.py",
    "google_connect/templates/google_connect/base.html",
    "google_connect/templates/google_connect/connected.html",
    "google_connect/templates/google_connect/error.html",
    "google_connect/templates/google_connect/layout.html",
    "google_connect/templates/google_connect/includes/stylesheet.html",
    "google_connect/static/google_connect/google_connect.css",
    "google_connect/testing/fixtures.py",
    "google_connect/locale/fr/LC_MESSAGES/django.po",
    "google_connect/locale/fr/LC_MESSAGES/django.mo",
]
REQUIRED_IN_SDIST = [
    "PKG-INFO",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    "tests/settings.py",
    "tests/conftest.py",
]
NOT_IN_SDIST = ("example_project/", ".ci/", ".venv", ".tox/", "__pycache__", ".pyc")


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    print("$", " ".join(str(arg) for arg in args), flush=True)
    return subprocess.run([str(arg) for arg in args], check=True, text=True, **kwargs)


def source_version() -> str:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__version__":
            return ast.literal_eval(node.value)
    raise SystemExit("google_connect/__init__.py has no __version__")


def source_package_files() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def tested_versions() -> tuple[set[str], set[str]]:
    """The Python and Django versions of tox.ini's test envs, e.g. ({"3.11"}, {"5.2"})."""
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    pairs = re.findall(r"\bpy3(\d+)-django(\d)(\d+)\b", tox["tox"]["env_list"])
    return {f"3.{py}" for py, _, _ in pairs}, {f"{major}.{minor}" for _, major, minor in pairs}


def check_wheel(wheel: Path, version: str) -> list[str]:
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"google_connect-{version}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())

    expected = source_package_files() | set(REQUIRED_IN_WHEEL)
    problems += [f"wheel lacks {name}" for name in sorted(expected - names)]
    problems += [
        f"wheel holds {name}, which is not part of google_connect"
        for name in sorted(names)
        if name.split("/")[0] not in ("google_connect", dist_info)
    ]
    # An app's registration/login.html would replace the login page of every
    # site that loads app templates: the Quick start has the site write its own.
    problems += [
        f"wheel holds {name}, which would override sites' own templates"
        for name in sorted(names)
        if "/templates/registration/" in name
    ]
    if f"{dist_info}/licenses/LICENSE" not in names:
        problems.append("wheel lacks the LICENSE file")

    if metadata["Name"] != "google-connect":
        problems.append(f"distribution name is {metadata['Name']!r}")
    if metadata["Version"] != version:
        problems.append(f"wheel version {metadata['Version']} != __version__ {version}")
    if metadata["License-Expression"] != "MIT":
        problems.append(f"License-Expression is {metadata['License-Expression']!r}")
    extras = set(metadata.get_all("Provides-Extra") or [])
    if not {"google", "risc", "test", "celery"} <= extras:
        problems.append(f"extras are {sorted(extras)}")
    if not metadata.get_all("Project-URL"):
        problems.append("no project URLs")

    pythons, djangos = tested_versions()
    classifiers = metadata.get_all("Classifier") or []
    claimed_pythons = {c.rsplit(" ", 1)[1] for c in classifiers if re.search(r":: 3\.\d+$", c)}
    claimed_djangos = {
        c.rsplit(" ", 1)[1] for c in classifiers if c.startswith("Framework :: Django :: ")
    }
    if claimed_pythons != pythons:
        problems.append(f"Python classifiers {sorted(claimed_pythons)}, tested {sorted(pythons)}")
    if claimed_djangos != djangos:
        problems.append(f"Django classifiers {sorted(claimed_djangos)}, tested {sorted(djangos)}")
    oldest_python = min(pythons, key=lambda v: tuple(map(int, v.split("."))))
    if metadata["Requires-Python"] != f">={oldest_python}":
        problems.append(f"Requires-Python is {metadata['Requires-Python']}, tested {pythons}")
    print(
        f"wheel: {len(names)} files, classifiers Python {sorted(claimed_pythons)}, Django "
        f"{sorted(claimed_djangos)}"
    )
    return problems


def check_sdist(sdist: Path, version: str) -> list[str]:
    prefix = f"google_connect-{version}/"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(prefix) for name in archive.getnames()}
    expected = source_package_files() | set(REQUIRED_IN_SDIST)
    problems = [f"sdist lacks {name}" for name in sorted(expected - names)]
    problems += [
        f"sdist holds {name}"
        for name in sorted(names)
        if any(part in name for part in NOT_IN_SDIST)
    ]
    print(f"sdist: {len(names)} entries")
    return problems


def check_installed(wheel: Path, work: Path) -> None:
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", f"{wheel}[google]", "responses>=0.25")
    run(python, "-m", "pip", "check")

    # Outside the checkout and with no settings: only the installed copy is
    # importable, and importing the package must not touch Django's settings.
    outside = work / "outside"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    run(
        python,
        "-W",
        "error",
        "-c",
        "import google_connect, sys; from django.conf import settings; "
        "assert not settings.configured; "
        "assert google_connect.__file__.startswith(sys.prefix), google_connect.__file__",
        cwd=outside,
        env=env,
    )
    smoke = outside / SMOKE.name
    shutil.copy(SMOKE, smoke)
    run(
        python,
        "-W",
        "error::DeprecationWarning",
        "-W",
        "error::PendingDeprecationWarning",
        smoke,
        cwd=outside,
        env=env,
    )
    run(sys.executable, QUICKSTART, python, work / "quickstart", env=env)


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} WORK_DIR (emptied first)")
    work = Path(sys.argv[1]).resolve()
    shutil.rmtree(work, ignore_errors=True)
    dist = work / "dist"
    version = source_version()

    run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    run(sys.executable, "-m", "twine", "check", "--strict", sdist, wheel)

    problems = check_wheel(wheel, version) + check_sdist(sdist, version)
    for problem in problems:
        print("FAIL:", problem)
    if problems:
        return 1
    check_installed(wheel, work)
    print(f"package: {wheel.name} and {sdist.name} OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
