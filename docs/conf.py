"""Sphinx configuration: the google_connect documentation (furo, Markdown with MyST)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# autodoc imports the models, so Django must be set up first. The test
# settings hold placeholder credentials and need no database server.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

import google_connect  # noqa: E402  (after django.setup(), for autodoc)

project = "google_connect"
author = "google_connect maintainers"
copyright = "google_connect maintainers"  # noqa: A001  (Sphinx's name for it)
release = google_connect.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Headings up to ### get anchors, so [text](page.md#heading) links resolve.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
# -n (nitpicky) checks every cross-reference. Those into Python's, Django's
# and requests' own documentation are not resolved: the build uses no
# network (no intersphinx), so it works offline and in a fresh clone.
nitpick_ignore_regex = [
    (r"py:(class|obj|exc|data|func|meth)", r"(?!google_connect\.).*"),
]

html_theme = "furo"
html_title = f"google_connect {release}"
html_static_path = ["_static"]
