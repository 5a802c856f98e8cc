"""Wall time of `scheduler --help` and of a few sub-command helps (the CLI imports
heavy modules lazily so these stay fast). Prints figures; asserts nothing.

    python benchmarks/cli_help_time.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

COMMANDS = [["--help"], ["preview", "--help"], ["simulate", "--help"], ["queue", "--help"]]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for args in COMMANDS:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "scheduler", *args], capture_output=True, check=True
            )
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"scheduler {' '.join(args):<18} median {statistics.median(times):6.1f} ms  "
            f"min {min(times):6.1f} ms  max {max(times):6.1f} ms  ({runs} runs)"
        )
    modules = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['scheduler','--help'];\n"
            "try:\n import scheduler.cli as c; c.main()\nexcept SystemExit: pass\n"
            "heavy=[m for m in ('sqlalchemy','sqlmodel','apscheduler','httpx','jinja2','trafilatura')"
            " if m in sys.modules]; print('heavy modules imported by --help:', heavy or 'none', file=sys.stderr)",
        ],
        capture_output=True,
        text=True,
    )
    print(modules.stderr.strip())


if __name__ == "__main__":
    main()
