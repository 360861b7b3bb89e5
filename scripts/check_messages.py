#!/usr/bin/env python
"""Check google_connect's translations tooling (run by ``tox -e i18n``; needs gettext).

1. ``django-admin makemessages -l xx`` works from inside the app, with no
   Django settings, as a translator would run it; it runs on a copy, so the
   working tree is left alone, and must extract strings from both the
   templates and the Python code.
2. Every committed ``django.mo`` is the compiled form of the ``django.po``
   beside it, so an edited catalog cannot ship uncompiled.

Untranslated entries are listed but do not fail: new strings reach the
catalogs when someone runs makemessages, not on every change.
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "google_connect"


def run(args: list[str], cwd: Path) -> None:
    print("$", " ".join(args), f"(in {cwd})", flush=True)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(args, cwd=cwd, env=env, check=True)


def catalog(mo_path: Path) -> dict[object, str]:
    with mo_path.open("rb") as f:
        translations = gettext.GNUTranslations(f)
    return dict(translations._catalog)  # type: ignore[attr-defined]


def check_makemessages(work: Path) -> list[str]:
    app = work / "google_connect"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__"))
    django_admin = str(Path(sys.executable).with_name("django-admin"))
    run([django_admin, "makemessages", "-l", "xx"], cwd=app)
    po = (app / "locale" / "xx" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    problems = []
    if "#: templates/google_connect/" not in po:
        problems.append("makemessages extracted nothing from the templates")
    if ".py:" not in po:
        problems.append("makemessages extracted nothing from the Python code")
    print(f"makemessages -l xx: {po.count('msgid ') - 1} strings extracted")
    return problems


def check_compiled(work: Path) -> list[str]:
    problems = []
    for po in sorted(APP.glob("locale/*/LC_MESSAGES/django.po")):
        mo = po.with_suffix(".mo")
        fresh = work / f"{po.parent.parent.name}.mo"
        run(["msgfmt", "--check-format", "-o", str(fresh), str(po)], cwd=work)
        relative = po.relative_to(APP.parent)
        if not mo.exists():
            problems.append(f"{relative} has no compiled .mo: run django-admin compilemessages")
        elif catalog(mo) != catalog(fresh):
            problems.append(f"{mo.relative_to(APP.parent)} is stale: run compilemessages")
        # An empty msgstr not continued on the next line (the header's is).
        untranslated = len(re.findall(r'^msgstr ""\n(?!")', po.read_text(encoding="utf-8"), re.M))
        print(f"{relative}: {len(catalog(fresh)) - 1} translated, {untranslated} untranslated")
    return problems


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        problems = check_makemessages(work) + check_compiled(work)
    for problem in problems:
        print("FAIL:", problem)
    print("translations:", "FAILED" if problems else "OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
