"""Wall time of the same tiny grid with the local runner and the Ray runner (per-trial overhead).

    python -m benchmarks.runner_overhead [--cells 4] [--steps 300]

Each cell is TD3 on smoke Pendulum-v1 at a tiny budget (random warm-up only), so the time is
almost all process start-up, imports, env construction and scheduling.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def run(runner_args: list[str], cells: int, steps: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            "-m",
            "bench.cli",
            "run",
            "--suite",
            "smoke",
            "--tasks",
            "Pendulum-v1",
            "--algos",
            "td3",
            "--seeds",
            f"0-{cells - 1}",
            "--steps",
            str(steps),
            "--quiet",
            "--out",
            out,
            *runner_args,
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "WANDB_MODE": "disabled"})
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    rows = [
        ("local, 1 process", ["--workers", "1"]),
        ("local, 2 spawned workers", ["--workers", "2"]),
        ("ray, local instance, 1 CPU per trial", ["--runner", "ray", "--cpus-per-trial", "1"]),
    ]
    base = None
    for name, extra in rows:
        seconds = run(extra, args.cells, args.steps)
        base = base or seconds
        print(
            f"{name:<40} {seconds:7.1f} s for {args.cells} cells  ({seconds / args.cells:5.1f} s/cell, "
            f"{(seconds - base) / args.cells:+5.1f} s/cell vs the first row)"
        )


if __name__ == "__main__":
    main()
