"""1 vs 2 torch threads per agent at its paper size, on a quiet and on a loaded machine (issue 14, item 6).

    python -m benchmarks.threads [--updates 20] [--algos td3,mrq,iqrl,alm,omd]

For each agent: its bare ``update`` (buffer filled by the training loop's stepping core) timed with
``torch.set_num_threads(1)`` and ``(2)``, first alone, then while ``--load`` busy processes (default: as
many as cores) spin on the CPUs, as another training run and a test suite would. ``OMP_WAIT_POLICY``
is whatever the environment says (``bench`` sets PASSIVE unless the user set it); the table prints it.
Each (agent, threads, load) point runs in a fresh subprocess, so thread pools never carry over.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time

TASKS = {  # each agent on a task of its paper suite, at the paper's network sizes
    "td3": "gym:HalfCheetah-v4",
    "mrq": "gym:HalfCheetah-v4",
    # iqrl is left out: its updates start after its warm-up episodes (10 x 1000 steps), which this
    # script's short fill does not reach; use benchmarks.iqrl_throughput --threads 1/2 for it
    "alm": "alm-locomotion:HalfCheetah-v5",
    "omd": "omd-cartpole:CartPole-v1",
}
POINT = """
import os, sys, time, torch
from benchmarks.common import bare_updates, make_agent
from runners.loop import Stepper
algo, task, threads, updates = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
agent, env, cfg = make_agent(algo, task, None, threads=threads)
batch = max(getattr(cfg, "batch_size", 256), 256)
Stepper(env, agent, batch + 600, reset_seed=0).run(batch + 601)  # fill the buffer through the stepping core
print(bare_updates(agent, updates, "cpu"))
"""


def _spin() -> None:
    while True:
        pass


def point(algo: str, threads: int, updates: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", POINT, algo, TASKS[algo], str(threads), str(updates)],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    if out.returncode:
        raise SystemExit(f"{algo} with {threads} thread(s) failed: {out.stderr.strip().splitlines()[-1:]}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--algos", default=",".join(TASKS))
    p.add_argument("--load", type=int, default=os.cpu_count() or 2, help="busy processes for the loaded runs")
    args = p.parse_args()
    algos = [a for a in args.algos.split(",") if a]
    print(
        f"cores {os.cpu_count()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
        f"{args.updates} bare updates per point (updates/s)"
    )
    print("| agent | task | quiet, 1 thread | quiet, 2 threads | loaded, 1 thread | loaded, 2 threads |")
    print("|---|---|---|---|---|---|")
    for algo in algos:
        quiet = [point(algo, t, args.updates) for t in (1, 2)]
        hogs = [mp.get_context("spawn").Process(target=_spin, daemon=True) for _ in range(args.load)]
        for h in hogs:
            h.start()
        time.sleep(0.5)
        try:
            loaded = [point(algo, t, args.updates) for t in (1, 2)]
        finally:
            for h in hogs:
                h.kill()
        print(
            f"| {algo} | {TASKS[algo]} | {quiet[0]:.2f} | {quiet[1]:.2f} | {loaded[0]:.2f} | {loaded[1]:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
