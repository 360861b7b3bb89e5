"""The end of a test run names a skipped browser test: "N passed, 1 skipped" hides it."""

from types import SimpleNamespace

from tests.conftest import pytest_terminal_summary

SKIP_REASON = "/usr/bin/chromium not found: apt-get install chromium chromium-driver"


class Reporter:
    def __init__(self, skipped):
        self.stats = {"skipped": skipped}
        self.lines = []

    def section(self, title):
        self.lines.append(f"== {title}")

    def write_line(self, line, **markup):
        self.lines.append(line)


def skipped(nodeid, keywords):
    return SimpleNamespace(
        nodeid=nodeid, keywords=keywords, longrepr=("f.py", 1, f"Skipped: {SKIP_REASON}")
    )


def test_a_skipped_browser_test_gets_a_line_of_its_own_naming_the_fix():
    reporter = Reporter([skipped("tests/e2e/test_tour.py::test_demo_tour", {"e2e": 1})])

    pytest_terminal_summary(reporter)

    assert reporter.lines[-1] == (
        f"BROWSER TEST SKIPPED: tests/e2e/test_tour.py::test_demo_tour: {SKIP_REASON}"
    )


def test_other_skipped_tests_are_left_to_the_usual_summary():
    reporter = Reporter([skipped("tests/test_x.py::test_pg_only", {"test_pg_only": 1})])

    pytest_terminal_summary(reporter)

    assert not [line for line in reporter.lines if "BROWSER" in line]
