"""Run one management command as ``manage.py`` would, then report what it cost.

Usage: python -m benchmarks.command REPORT_FILE COMMAND [ARGS...]

The command's own output goes to stdout and stderr as usual. REPORT_FILE gets
a JSON object: the exit code, the wall and CPU time of the command and the
process's peak resident memory (``resource.getrusage``), measured in the process that
ran the command.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def main() -> None:
    report_file, argv = sys.argv[1], sys.argv[2:]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    from django.core.management import execute_from_command_line

    code = 0
    started = time.perf_counter()
    try:
        execute_from_command_line(["manage.py", *argv])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "exit_code": code,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # ru_maxrss is in KiB on Linux
    }
    with open(report_file, "w") as out:
        json.dump(report, out)
    sys.exit(code)


if __name__ == "__main__":
    main()
