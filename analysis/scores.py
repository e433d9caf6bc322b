"""Scores and aggregates with bootstrap confidence intervals.

MR.Q's rules (shared/specs/mrq.md section 10, verified against its tables): the per-task score is
the mean over seeds of the evaluation at the final step (printed as ``int(mean)``, truncated
toward zero); Mean / Median / IQM aggregate the per-task means (IQM = 25%-trimmed mean of the task
means); CIs are 95% percentile intervals of a stratified bootstrap (seeds resampled within each
task). Intervals come from rliable; its ``random_state`` does not control the resampling (rliable
1.2.0 draws with the global ``np.random.choice``), so ``seeded`` fixes and restores the global
numpy state around every call: the same seed gives the same interval, whatever ran before.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from analysis.normalize import normalize


@contextlib.contextmanager
def seeded(seed: int):
    """Seed numpy's global generator for the block, then put the previous state back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def final_scores(table: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """Per (suite, task, algo, seed): the return at ``step`` (default: each seed's last evaluation)."""
    if step is not None:
        picked = table[table["step"] == step]
    else:
        last = table.groupby(["suite", "task", "algo", "seed"])["step"].transform("max")
        picked = table[table["step"] == last]
    return picked[["suite", "task", "algo", "seed", "step", "return"]].reset_index(drop=True)


def add_normalized(scores: pd.DataFrame, normalization: dict[str, str | None]) -> pd.DataFrame:
    """Adds ``normalized`` using the suite -> normalization name map (e.g. {'gym': 'gym-td3'})."""
    out = scores.copy()
    out["normalized"] = [normalize(normalization.get(s), t, r) for s, t, r in zip(out["suite"], out["task"], out["return"])]
    return out


def score_matrix(scores: pd.DataFrame, algo: str, value: str = "normalized") -> tuple[np.ndarray, list[str]]:
    """(seeds x tasks) matrix of one algorithm, tasks sorted; every task needs the same seed count."""
    sub = scores[scores["algo"] == algo]
    wide = sub.pivot_table(index="seed", columns="task", values=value, aggfunc="first").sort_index(axis=1)
    if wide.isna().any().any():
        missing = wide.columns[wide.isna().any()].tolist()
        raise ValueError(f"{algo}: unequal seeds across tasks (missing in {missing[:5]})")
    return wide.to_numpy(), list(wide.columns)


def iqm_of_task_means(matrix: np.ndarray) -> float:
    return float(stats.trim_mean(matrix.mean(axis=0), 0.25))


AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda m: float(m.mean(axis=0).mean()),
    "median": lambda m: float(np.median(m.mean(axis=0))),
    "iqm": iqm_of_task_means,  # MR.Q: 25%-trimmed mean of the per-task means
    "optimality_gap": lambda m: float(np.mean(np.maximum(1.0 - m.mean(axis=0), 0.0))),
}


def aggregate_with_ci(matrix: np.ndarray, *, seed: int = 0, reps: int = 2000, size: float = 0.95) -> dict[str, tuple[float, float, float]]:
    """{metric: (point, ci_low, ci_high)} with a stratified percentile bootstrap (seeds within tasks)."""
    from rliable import library as rly

    names = list(AGGREGATES)

    def all_metrics(x: np.ndarray) -> np.ndarray:
        return np.array([AGGREGATES[n](x) for n in names])

    with seeded(seed):
        points, intervals = rly.get_interval_estimates({"algo": matrix}, all_metrics, reps=reps,
                                                       confidence_interval_size=size, method="percentile")
    return {n: (float(points["algo"][i]), float(intervals["algo"][0, i]), float(intervals["algo"][1, i]))
            for i, n in enumerate(names)}


def task_ci(values: np.ndarray, *, seed: int = 0, reps: int = 2000, size: float = 0.95) -> tuple[float, float, float]:
    """Mean over seeds of one task with a 95% percentile bootstrap CI over seeds."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(reps, len(values)), replace=True).mean(axis=1)
    tail = (1 - size) / 2 * 100
    return float(values.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def performance_profile(matrices: dict[str, np.ndarray], taus: np.ndarray, *, seed: int = 0, reps: int = 2000) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{algo: (fraction of runs with score > tau, ci_low, ci_high)} per tau (rliable, stratified bootstrap)."""
    from rliable import library as rly

    with seeded(seed):
        profiles, cis = rly.create_performance_profile(matrices, taus, reps=reps, confidence_interval_size=0.95)
    return {a: (np.asarray(profiles[a]), np.asarray(cis[a][0]), np.asarray(cis[a][1])) for a in matrices}


def probability_of_improvement(x: np.ndarray, y: np.ndarray, *, seed: int = 0, reps: int = 2000) -> tuple[float, float, float]:
    """P(X > Y) averaged over tasks (Mann-Whitney per task), with a stratified bootstrap CI (rliable).
    ``x`` and ``y`` are (seeds x tasks) over the same tasks; seed counts may differ."""
    from rliable import library as rly
    from rliable import metrics

    with seeded(seed):
        points, intervals = rly.get_interval_estimates({"pair": (x, y)}, metrics.probability_of_improvement, reps=reps,
                                                       confidence_interval_size=0.95, method="percentile")
    low, high = np.asarray(intervals["pair"]).reshape(-1)[:2]
    return float(np.asarray(points["pair"]).reshape(())), float(low), float(high)


def sample_efficiency(table: pd.DataFrame, algo: str, value: str, *, aggregate: str = "iqm", max_points: int = 25,
                      seed: int = 0, reps: int = 500) -> pd.DataFrame:
    """Aggregate-vs-steps curve of one algorithm: at each evaluation step every task shares (at most
    ``max_points`` of them, evenly spaced), the aggregate over tasks with a stratified bootstrap CI."""
    sub = table[table["algo"] == algo]
    per_task = sub.groupby("task")["step"].apply(set)
    steps = sorted(set.intersection(*per_task)) if len(per_task) else []
    if len(steps) > max_points:
        steps = [steps[i] for i in np.linspace(0, len(steps) - 1, max_points).round().astype(int)]
    rows = []
    for step in steps:
        at = sub[sub["step"] == step]
        wide = at.pivot_table(index="seed", columns="task", values=value, aggfunc="first").dropna()
        if wide.empty:
            continue
        point, low, high = aggregate_with_ci(wide.to_numpy(), seed=seed, reps=reps)[aggregate]
        rows.append({"step": step, "point": point, "low": low, "high": high, "seeds": len(wide)})
    return pd.DataFrame(rows, columns=["step", "point", "low", "high", "seeds"])
