"""Final scores and the aggregate figures' statistics (interval methods: ``analysis.stats``).

"Final" is a run's budget: the evaluation at the protocol's ``agent_steps`` (the reduced budget
when one was recorded), never a later one; for imported data with no known budget, the last step
that every seed of the cell reached. MR.Q's per-task score is the mean over seeds of that value
(printed as ``int(mean)``); its Mean / Median / IQM aggregate the task means, which
``analysis.stats`` names ``iqm_task_mean``; rliable's run-level IQM is ``iqm``.

Scores are ragged (one array of seed values per task, seeds never paired by id across tasks);
non-finite values (diverged seeds) are counted by the callers and never enter an estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import stats
from analysis.normalize import normalize

KEYS = ["suite", "task", "algo", "seed"]


def final_scores(table: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """Per (suite, task, algo, seed): the return at ``step``, else at the run's budget (module docstring)."""
    cols = ["suite", "task", "algo", "seed", "step", "return"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    if step is not None:
        return table.loc[table["step"] == step, cols].reset_index(drop=True)
    budget = table["budget"] if "budget" in table else pd.Series(np.nan, index=table.index)
    known = budget.notna()
    at_budget = table[known & (table["step"] == budget)]
    rest = table[~known]
    if not rest.empty:
        last = rest.groupby(KEYS)["step"].transform("max")
        common = last.groupby([rest[k] for k in ("suite", "task", "algo")]).transform("min")
        rest = rest[rest["step"] == common]
    picked = pd.concat([at_budget, rest]).sort_values(KEYS + ["step"], kind="mergesort")
    return picked.drop_duplicates(KEYS, keep="last")[cols].reset_index(drop=True)


def add_normalized(scores: pd.DataFrame, normalization: dict[str, str | None]) -> pd.DataFrame:
    """Adds ``normalized`` using the suite -> normalization name map (e.g. {'gym': 'gym-td3'})."""
    out = scores.copy()
    out["normalized"] = [
        normalize(normalization.get(s), t, r) for s, t, r in zip(out["suite"], out["task"], out["return"])
    ]
    return out


def per_task(
    scores: pd.DataFrame, algo: str, value: str = "normalized", tasks: list[str] | None = None
) -> tuple[list[np.ndarray], int]:
    """One algorithm's finite seed values per task (``tasks`` order, default sorted) and the number of non-finite
    ones."""
    sub = scores[scores["algo"] == algo]
    tasks = tasks if tasks is not None else sorted(sub["task"].unique())
    out, excluded = [], 0
    for task in tasks:
        v = sub.loc[sub["task"] == task, value].to_numpy(float)
        excluded += int((~np.isfinite(v)).sum())
        out.append(v[np.isfinite(v)])
    return out, excluded


def performance_profile(
    per_algo: dict[str, list[np.ndarray]], taus: np.ndarray, *, seed: int = 0, reps: int = 2000
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{algo: (fraction of runs with score > tau, ci_low, ci_high)} per tau: each task weighs 1/T (rliable's
    run-score profile when seed counts are equal); 95% stratified percentile bootstrap (rliable's method)."""
    out = {}
    for algo, tasks in per_algo.items():

        def profile(values: list[np.ndarray]) -> np.ndarray:  # values per task (reps, n_t) -> (reps, len(taus))
            return np.mean([(v[..., None] > taus).mean(axis=-2) for v in values], axis=0)

        point = profile([t[None, :] for t in tasks])[0]
        draws = profile(stats.bootstrap_draws(tasks, reps=reps, seed=seed, rescale=False))
        out[algo] = (point, np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0))
    return out


def probability_of_improvement(
    x: list[np.ndarray], y: list[np.ndarray], *, seed: int = 0, reps: int = 2000
) -> tuple[float, float, float]:
    """P(X > Y) averaged over tasks (Mann-Whitney per task, ties count half) with a 95% stratified
    percentile bootstrap CI (rliable's definition); per-task seed counts may differ."""

    def poi(xs: list[np.ndarray], ys: list[np.ndarray]) -> np.ndarray:
        return np.mean(
            [
                ((a[..., :, None] > b[..., None, :]) + 0.5 * (a[..., :, None] == b[..., None, :])).mean(axis=(-1, -2))
                for a, b in zip(xs, ys)
            ],
            axis=0,
        )

    point = float(poi([t[None, :] for t in x], [t[None, :] for t in y])[0])
    draws = poi(
        stats.bootstrap_draws(x, reps=reps, seed=seed, rescale=False),
        stats.bootstrap_draws(y, reps=reps, seed=seed + 1, rescale=False),
    )
    return point, float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


def sample_efficiency(
    table: pd.DataFrame,
    algo: str,
    value: str,
    *,
    metric: str = "iqm",
    max_points: int = 25,
    seed: int = 0,
    reps: int = 500,
) -> pd.DataFrame:
    """Aggregate-vs-steps curve of one algorithm: at each evaluation step every task shares (at most
    ``max_points`` of them, evenly spaced), one metric over tasks with its t-interval (``analysis.stats``)."""
    sub = table[(table["algo"] == algo) & np.isfinite(table[value].to_numpy(float))]
    tasks = sorted(sub["task"].unique())
    per_task_steps = sub.groupby("task")["step"].apply(set)
    steps = sorted(set.intersection(*per_task_steps)) if len(per_task_steps) else []
    if len(steps) > max_points:
        steps = [steps[i] for i in np.linspace(0, len(steps) - 1, max_points).round().astype(int)]
    grouped = {key: g[value].to_numpy(float) for key, g in sub[sub["step"].isin(steps)].groupby(["step", "task"])}
    rows = []
    for step in steps:
        values = [grouped[(step, t)] for t in tasks]
        est = stats.aggregate_interval(values, metric, reps=reps, seed=seed)
        rows.append(
            {"step": step, "point": est.point, "low": est.low, "high": est.high, "seeds": min(len(v) for v in values)}
        )
    return pd.DataFrame(rows, columns=["step", "point", "low", "high", "seeds"])
