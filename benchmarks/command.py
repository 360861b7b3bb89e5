"""Run one management command as ``manage.py`` would, then report what it cost.

Usage: python -m benchmarks.command REPORT_FILE COMMAND [ARGS...]

The command's own output goes to stdout and stderr as usual. REPORT_FILE gets
a JSON object: the exit code, the wall and CPU time of the command and the
process's own peak resident memory, measured in the process that ran the
command.

Peak memory is ``VmHWM`` from ``/proc/self/status``, the high-water mark of
this process's own address space. Not ``getrusage``'s ``ru_maxrss``: Linux
carries it over from the parent through fork and exec, so a command started by
a large benchmark process would report the benchmark's peak, not its own.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def own_peak_rss_kib() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])  # "VmHWM:   86012 kB"
    except OSError:
        pass
    # Without /proc (not Linux): the closest there is.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


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
        "peak_rss_mb": own_peak_rss_kib() / 1024,
    }
    with open(report_file, "w") as out:
        json.dump(report, out)
    sys.exit(code)


if __name__ == "__main__":
    main()
