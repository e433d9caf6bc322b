"""Per-agent training throughput of two (or more) checkouts, measured side by side in one run.

    python -m benchmarks.tree_throughput --tree /tmp/before --tree . [--repeats 2] [--agents td3,mrq,iqrl,alm,omd]

Each measurement is a fresh subprocess in that checkout (its own code, this venv): the training loop's stepping
core (``benchmarks.common.timed``: act, env step, store, one update per step) after the agent's warm-up, at paper
size, with the torch threads a cell of that agent gets (``max_torch_threads``: 1 for TD3, MR.Q and OMD, 2 for
iQRL and ALM on this 2-core machine). Trees alternate within each repeat, so a load change hits both; the table
gives the median env steps/s per tree and the ratio to the first tree.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

# agent -> (suite:task, warm-up steps before timing, timed steps, torch threads)
CASES = {
    "td3": ("gym:HalfCheetah-v4", 1_000, 400, 1),
    "mrq": ("gym:HalfCheetah-v4", 1_000, 250, 1),  # 250 = one encoder/target burst (MR.Q's schedule)
    "iqrl": ("iqrl-dmc:walker-walk", 5_100, 200, 2),  # updates begin after 10 random episodes (10 x 500 steps)
    "alm": ("alm-locomotion:HalfCheetah-v5", 1_000, 40, 2),
    "omd": ("omd-cartpole:CartPole-v1", 1_000, 400, 1),
}

PROBE = """
import os, sys
os.environ.setdefault("MUJOCO_GL", "egl")
from benchmarks.common import make_agent, timed
algo, task, warmup, steps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
agent, env, _ = make_agent(algo, task, threads=threads)
print(timed(agent, env, warmup, steps, "cpu"))
"""


def measure(tree: Path, agent: str) -> float:
    task, warmup, steps, threads = CASES[agent]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, agent, task, str(warmup), str(steps), str(threads)],
        cwd=tree,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "OMP_WAIT_POLICY": "PASSIVE", "MUJOCO_GL": "egl"},
    )
    if out.returncode != 0:
        raise SystemExit(f"{tree} {agent}: {out.stderr.strip().splitlines()[-1]}")
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tree", action="append", required=True, help="a checkout (repeat; the first is the baseline)")
    p.add_argument("--agents", default=",".join(CASES))
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    trees = [Path(t).resolve() for t in args.tree]
    agents = args.agents.split(",")
    rates: dict[tuple[str, Path], list[float]] = {(a, t): [] for a in agents for t in trees}
    for r in range(args.repeats):
        for agent in agents:
            for tree in trees if r % 2 == 0 else reversed(trees):
                rates[agent, tree].append(measure(tree, agent))
                print(
                    f"repeat {r + 1} {agent:<5} {tree}: {rates[agent, tree][-1]:.2f} steps/s",
                    file=sys.stderr,
                    flush=True,
                )
    print(f"{'agent':<6} {'task':<28}" + "".join(f"{t.name[:18]:>20}" for t in trees) + "   ratio to the first")
    for agent in agents:
        medians = [statistics.median(rates[agent, t]) for t in trees]
        ratios = " ".join(f"{m / medians[0]:.2f}" for m in medians[1:])
        print(f"{agent:<6} {CASES[agent][0]:<28}" + "".join(f"{m:>20.2f}" for m in medians) + f"   {ratios}")


if __name__ == "__main__":
    main()
