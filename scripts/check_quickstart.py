#!/usr/bin/env python
"""The README's Quick start, and the docs' steps marked to run, each pasted into a new site.

Run by scripts/check_package.py (``tox -e package``) with the Python of the
fresh virtualenv it installed the wheel into, and a work folder. The sources
are the README's Quick start section and, in every page of docs/, the code
blocks between a ``% check_quickstart: begin`` line and a
``% check_quickstart: end`` line (MyST comments, so the markers never show).
For each source, in a folder of its own:

1. ``django-admin startproject mysite``;
2. the source's code blocks, read from the file itself: the key
   one-liner is run to make the key, the ``export`` lines give the
   environment, each Python block goes into the file its first line names
   (appended for "(at the end)", else the whole file), and the shell
   commands run (the ``pip install`` is the wheel already installed);
3. ``check --deploy --fail-level ERROR``, with no google_connect message
   (a stock project's own deploy problems are left to the site);
4. ``migrate``;
5. an anonymous visitor is sent to a login page that exists, a user who is
   not staff logs in there, and a logged-in user goes through authorize and
   the callback, with Google faked by ``responses``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BEGIN, END = "% check_quickstart: begin", "% check_quickstart: end"
PROJECT = "mysite"
BLOCK_RE = re.compile(
    r"^(?P<indent> *)```(?P<lang>\w+)\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S
)
TARGET_RE = re.compile(r"^# (?P<file>\w+\.py)(?P<append> \(at the end\))?$")
# A template block names its file, from the site's root, in a comment on its first line.
TEMPLATE_RE = re.compile(r"^\{# (?P<file>templates/[\w/.-]+\.html)\b")

# Run inside the new site: authorize, then the callback with Google faked.
FLOW = """
import django, responses
from urllib.parse import parse_qs, urlsplit
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
from google_connect.conf import get_settings
from google_connect.models import GoogleAccount
setup_test_environment()
config = get_settings()

anonymous = Client().get("/google/accounts/authorize", follow=True)
assert anonymous.status_code == 200, ("login page", anonymous.status_code)
print("ok: an anonymous visitor is sent to", anonymous.redirect_chain[-1][0])

# Every user, not only staff, logs in on that page and comes back to connect.
login_url = anonymous.redirect_chain[-1][0]
get_user_model().objects.create_user("plain", password="a-plain-users-password")
visitor = Client()
page = visitor.get(login_url)
assert page.status_code == 200, ("login page", page.status_code)
answer = visitor.post(login_url, {"username": "plain", "password": "a-plain-users-password"})
assert answer.status_code == 302, ("a plain user could not log in", answer.status_code)
assert answer["Location"].startswith("/google/accounts/authorize"), answer["Location"]
print("ok: a user who is not staff logs in at", login_url.split("?")[0])

client = Client()
client.force_login(get_user_model().objects.create_user("quickstart"))
response = client.get("/google/accounts/authorize")
assert response.status_code == 302, response.status_code
location = urlsplit(response["Location"])
assert location.netloc == "accounts.google.com", location
state = parse_qs(location.query)["state"][0]
with responses.RequestsMock() as google:
    google.post(config.TOKEN_URL, json={
        "access_token": "ya29.QUICKSTART", "expires_in": 3599, "refresh_token": "1//QUICKSTART",
        "scope": " ".join(config.SCOPES), "token_type": "Bearer"})
    google.get(config.USERINFO_URL, json={"sub": "42", "email": "quick@example.com"})
    response = client.get("/google/accounts/connect", {"state": state, "code": "4/CODE"})
assert response.status_code == 200, response.content
account = GoogleAccount.objects.get()
assert (account.email, account.refresh_token) == ("quick@example.com", "1//QUICKSTART")
print("ok: authorize and callback stored", account.email)
"""


def run(*args: str | Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess[str]:
    shown = [str(arg) if "\n" not in str(arg) else "<script>" for arg in args]
    print("$", " ".join(shown), flush=True)
    result = subprocess.run([str(arg) for arg in args], text=True, capture_output=True, **kwargs)
    if check and result.returncode:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
        raise SystemExit(f"FAIL: {shown[0]} exited with {result.returncode}")
    return result


def quickstart_blocks(readme: str) -> list[tuple[str, str]]:
    """The (language, code) of each fenced block in the README's Quick start section."""
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return blocks_of(section)


def blocks_of(text: str) -> list[tuple[str, str]]:
    return [(match["lang"], textwrap.dedent(match["body"])) for match in BLOCK_RE.finditer(text)]


def marked_blocks(page: str) -> list[tuple[str, str]]:
    """The (language, code) of each fenced block between the page's begin and end markers."""
    blocks: list[tuple[str, str]] = []
    for part in page.split(f"\n{BEGIN}\n")[1:]:
        assert f"\n{END}\n" in part, f"a {BEGIN!r} without its {END!r}"
        blocks += blocks_of(part.split(f"\n{END}\n", 1)[0])
    return blocks


def sources() -> dict[str, list[tuple[str, str]]]:
    """Each file's runnable blocks, by a folder name: the README's Quick start, then docs/."""
    found = {"readme": quickstart_blocks(README.read_text(encoding="utf-8"))}
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        blocks = marked_blocks(page.read_text(encoding="utf-8"))
        if blocks:
            found["-".join(page.relative_to(DOCS).with_suffix("").parts)] = blocks
    # The tutorial's "add to a new site" page must stay checked: a lost marker
    # would otherwise pass by checking less.
    assert "tutorial-new-site" in found, "docs/tutorial/new-site.md has no checked blocks"
    return found


def main() -> int:
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {sys.argv[0]} VENV_PYTHON WORK_DIR")
    python, work = Path(sys.argv[1]), Path(sys.argv[2])
    for name, blocks in sources().items():
        print(f"== {name}: {len(blocks)} code blocks", flush=True)
        check_site(python, work / name, blocks)
    return 0


def check_site(python: Path, work: Path, blocks: list[tuple[str, str]]) -> None:
    """Paste the blocks into a new startproject site, then check, migrate and connect there."""
    work.mkdir(parents=True)
    bin_dir = python.parent
    run(bin_dir / "django-admin", "startproject", PROJECT, cwd=work)
    site = work / PROJECT
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    commands: list[str] = []

    for lang, code in blocks:
        if lang == "html":
            template = TEMPLATE_RE.match(code)
            assert template, f"a template block does not name its file: {code[:60]!r}"
            path = site / template["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code)
            print(f"wrote {template['file']}")
            continue
        if lang == "python":
            target = TARGET_RE.match(code.splitlines()[0])
            assert target, f"a Quick start Python block does not name its file: {code[:60]!r}"
            path = site / PROJECT / target["file"]
            if target["append"]:
                path.write_text(path.read_text() + "\n" + code)
            else:
                path.write_text(code)
            print(f"applied the {target['file']} block")
            continue
        for line in code.splitlines():
            if line.startswith("pip install "):
                # The wheel is installed already; the docs say where it comes from.
                assert line.split("#")[0].split()[2:] == ["path/to/google_connect"], line
            elif line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                env[name] = shlex.split(value)[0]
            elif "generate_key" in line:
                key = run(*shlex.split(line), env=env).stdout.strip()
            elif line.strip():
                commands.append(line)
    env["FERNET_KEY"] = key
    print(f"FERNET_KEY is a new key of {len(key)} characters")

    # A stock project has deploy problems of its own (DEBUG, SECRET_KEY and, on
    # Django 6.1, mail.E001 for the console email backend): the site's
    # business. google_connect must add none, not even a warning.
    checked = run(
        python,
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "ERROR",
        cwd=site,
        env=env,
        check=False,
    )
    output = checked.stdout + checked.stderr
    assert "google_connect" not in output, output
    others = re.findall(r"^\?: \((\S+)\)", output, re.M)
    print(
        f"ok: check --deploy --fail-level ERROR: no google_connect message ({len(others)} "
        f"of Django's own: {', '.join(others) or 'none'})"
    )
    for command in commands:
        run(*shlex.split(command), cwd=site, env=env)
    flow = run(
        python, "-c", FLOW, cwd=site, env={**env, "DJANGO_SETTINGS_MODULE": "mysite.settings"}
    )
    print(flow.stdout, end="")
    print("quickstart: these steps work in a new startproject site")


if __name__ == "__main__":
    sys.exit(main())
