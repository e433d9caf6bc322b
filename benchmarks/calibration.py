"""The verdict rule's measured error rates as a table (the simulation of tests/test_calibration.py).

    python -m benchmarks.calibration [--trials 4000] [--agg-trials 400]

Rows: one task (Welch with the claim's std; one-sample t when the claim prints no spread) at 3, 5 and
10 seeds each side, normal and skewed returns; aggregates over 5 tasks (claim printed with a 95%
percentile stratified bootstrap CI, as MR.Q and rliable print); and the power against a shift of 2
standard deviations at 10 seeds.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

from analysis import stats

_spec = importlib.util.spec_from_file_location(
    "calibration_sim", Path(__file__).resolve().parent.parent / "tests" / "test_calibration.py"
)
sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=sim.TRIALS)
    p.add_argument("--agg-trials", type=int, default=sim.AGG_TRIALS)
    args = p.parse_args()
    sim.TRIALS = args.trials
    print("| claim | returns | seeds (ours x claim's) | false 'inconsistent' (two-sample) | (no claimed spread) |")
    print("|---|---|---|---|---|")
    for kind in ("normal", "skewed"):
        for m, n in ((3, 3), (5, 5), (10, 10), (3, 10), (10, 3)):
            two, one = sim._single_task_rates(kind, m, n, seed=1000 + m * 17 + n)
            print(f"| one task | {kind} | {m} x {n} | {two:.1%} | {one:.1%} |", flush=True)
    rng = np.random.default_rng(99)
    for kind in ("normal", "skewed"):
        for metric in ("mean", "median", "iqm", "iqm_task_mean"):
            for seeds in (3, 5, 10):
                bad = 0
                for i in range(args.agg_trials):
                    paper = stats.aggregate_interval(
                        sim._tasks(rng, kind, seeds), metric, method="percentile", reps=300, seed=i
                    )
                    se, df = stats.claim_standard_error("ci95", (paper.low, paper.high), seeds)
                    ours = stats.aggregate_interval(sim._tasks(rng, kind, seeds), metric, reps=300, seed=10**6 + i)
                    bad += not stats.compare(ours.point, ours.se, ours.df, paper.point, se, df * 5, 0.0).consistent
                print(
                    f"| {stats.METRIC_LABELS[metric]} over 5 tasks | {kind} | {seeds} x {seeds} "
                    f"| {bad / args.agg_trials:.1%} | |",
                    flush=True,
                )
    detected = 0
    for _ in range(args.trials):
        claim, ours = rng.normal(0, 1, 10), rng.normal(2.0, 1, 10)
        se, df = stats.claim_standard_error("std", (claim.std(ddof=1),), 10)
        e = stats.t_interval(ours)
        detected += not stats.compare(e.point, e.se, e.df, claim.mean(), se, df, 0.0).consistent
    print(f"\npower against a 2-sd shift at 10 x 10 seeds: {detected / args.trials:.1%}")


if __name__ == "__main__":
    main()
