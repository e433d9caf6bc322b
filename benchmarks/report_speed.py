"""Wall and CPU time of ``bench report`` over MR.Q's four published suites plus ``bench check`` over
the whole claims registry, for one or more checkouts side by side in one run (issue 13's target:
under 30 s wall in total on 2 cores).

    python -m benchmarks.report_speed --reference ../shared/reference/mrq [--tree OLD_CHECKOUT] [--tree .]

Each tree runs in its own subprocess with its own working directory (so it imports its own code),
trees alternate ``--rounds`` times, and the script prints one line per tree and command.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = "import sys; from bench.cli import main; sys.exit(main(sys.argv[1:]))"


def timed(tree: Path, argv: list[str]) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *argv], cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):  # check exits 1 when a claim fails
        sys.exit(f"{tree}: {' '.join(argv[:1])} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.returncode


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--reference", required=True, help="folder with MR.Q's published results/ (e.g. ../shared/reference/mrq)"
    )
    p.add_argument("--tree", action="append", help="checkout to time (repeatable; default: this one)")
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args()
    trees = [Path(t).resolve() for t in (args.tree or [Path(__file__).resolve().parent.parent])]
    reference = str(Path(args.reference).resolve())
    print(f"{'tree':<40} {'command':<8} {'wall s':>8} {'cpu s':>8}  (cpus: {os.cpu_count()})")
    totals: dict[Path, float] = {t: 0.0 for t in trees}
    for _ in range(args.rounds):
        for tree in trees:
            with tempfile.TemporaryDirectory() as tmp:
                empty = Path(tmp) / "store"
                (empty / "runs").mkdir(parents=True)
                for name, argv in (
                    (
                        "report",
                        [
                            "report",
                            "--runs",
                            str(empty),
                            "--reference",
                            reference,
                            "--out",
                            str(Path(tmp) / "report"),
                            "--quiet",
                        ],
                    ),
                    ("check", ["check", "--runs", str(empty), "--reference", reference]),
                ):
                    wall, cpu, _ = timed(tree, argv)
                    totals[tree] += wall
                    print(f"{str(tree)[-40:]:<40} {name:<8} {wall:8.1f} {cpu:8.1f}", flush=True)
    for tree, total in totals.items():
        print(f"{str(tree)[-40:]:<40} {'total':<8} {total / args.rounds:8.1f}  (mean wall per round)")


if __name__ == "__main__":
    main()
