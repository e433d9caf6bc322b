"""CPU seconds of ``bench`` commands that should answer at once (issue 14, item 7: under 1 s of CPU).

CPU time (user + system of the child process), not wall time, so a loaded machine changes the
figure little. Each command runs in a fresh interpreter, as a user's shell would start it.

    python benchmarks/cli_startup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

COMMANDS = {
    "bench --help": ["--help"],
    "bench list": ["list"],
    "bench run --algos nope (unknown algorithm)": ["run", "--algos", "nope", "--out", os.devnull + "-nothing"],
    "bench show-config --algo td3@paper2018": ["show-config", "--suite", "smoke", "--algo", "td3@paper2018"],
}
HEAVY = ("torch", "gymnasium", "dm_control", "ray")


def cpu_seconds(argv: list[str]) -> tuple[float, int]:
    """(CPU seconds, exit code) of ``python -m bench.cli *argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "bench.cli", *argv], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.returncode


def heavy_imports(argv: list[str]) -> list[str]:
    """Which of the heavy stacks the command imports."""
    code = (
        "import sys, runpy; sys.argv = ['bench'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('bench.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.__stderr__)"
    )
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    return proc.stderr.strip().splitlines()[-1].split() if proc.stderr.strip() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; the minimum is reported (default 3)")
    args = parser.parse_args()
    print(f"{'command':<46} {'CPU s (min)':>11} {'exit':>5}  heavy imports")
    for name, argv in COMMANDS.items():
        runs = [cpu_seconds(argv) for _ in range(args.repeat)]
        print(f"{name:<46} {min(r[0] for r in runs):>11.2f} {runs[0][1]:>5}  {' '.join(heavy_imports(argv)) or '-'}")


if __name__ == "__main__":
    main()
