"""Interval estimates with a stated, tested error rate (tests/test_calibration.py simulates them).

Scores of one algorithm on a suite are **ragged**: a list with one 1-D array of seed values per
task (tasks sorted), seed counts free to differ between tasks, seeds never paired by id across
tasks (the stratified bootstrap resamples within each task, so it needs no pairing).

Aggregates over tasks, each in one named form (labels in ``METRIC_LABELS``):

- ``mean``, ``median``: of the per-task means (rliable and MR.Q agree on these).
- ``iqm``, ``optimality_gap``: rliable's run-level forms (Agarwal et al., 2021), the default: the
  interquartile mean of all runs x tasks (each task weighs 1/T, split over its seeds; with equal seed
  counts exactly ``scipy.stats.trim_mean(scores, 0.25, axis=None)``) and the mean of max(1 - x, 0)
  over all runs.
- ``iqm_task_mean``, ``optimality_gap_task_mean``: MR.Q's forms (shared/specs/mrq.md section 10), of
  the per-task means; MR.Q's Tables 4-7 print these.

Intervals (``size`` = 0.95 throughout):

- one task (``t_interval``): mean over seeds +- t(n-1) s / sqrt(n). One seed has no interval.
- aggregates (``aggregate_interval``, method ``t``, the default): a t-interval on the
  task-stratified estimate: point +- t(df) x SE, with SE the standard deviation of a stratified
  bootstrap whose resampled residuals are rescaled by sqrt(n/(n-1)) within each task (so each task
  mean's bootstrap variance is the unbiased s^2/n, not the plug-in (n-1)/n s^2 that makes a
  percentile bootstrap over 3-5 seeds too narrow) and df the Welch-Satterthwaite degrees of freedom
  of the mean's variance over tasks. Method ``percentile`` is the plain stratified percentile
  bootstrap of rliable and MR.Q (no rescaling), kept to reproduce the papers' printed intervals.

The bootstrap draws of all metrics are computed once per (data, reps, seed, rescale) and shared by
every caller in the process (``bench report`` and ``bench check`` ask for the same ones), with a
generator of their own (``numpy.random.default_rng(seed)``): same inputs, same numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import special  # the t and normal quantiles (scipy.stats costs about a second to import)

METRICS = ("mean", "median", "iqm", "optimality_gap", "iqm_task_mean", "optimality_gap_task_mean")
METRIC_LABELS = {
    "mean": "Mean",
    "median": "Median",
    "iqm": "IQM",
    "optimality_gap": "Optimality gap",
    "iqm_task_mean": "IQM of task means (MR.Q)",
    "optimality_gap_task_mean": "Optimality gap of task means (MR.Q)",
}
SIZE = 0.95
# One-sided quantile of the 80% power used for the smallest detectable difference (two-sided 5% test).
POWER = 0.80


@dataclass(frozen=True)
class Estimate:
    point: float
    low: float  # nan when there is no interval (one seed)
    high: float
    se: float
    df: float
    method: str

    @property
    def has_interval(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))


def _t(df: float, q: float) -> float:
    """Quantile ``q`` of Student's t with ``df`` degrees of freedom (the normal's when df is infinite)."""
    return float(special.ndtri(q)) if not np.isfinite(df) else float(special.stdtrit(df, q))


def t_interval(values: np.ndarray, size: float = SIZE) -> Estimate:
    """Mean over seeds of one task with a t-interval; no interval for one seed."""
    v = np.asarray(values, float)
    if len(v) == 0:
        return Estimate(np.nan, np.nan, np.nan, np.nan, np.nan, "t")
    if len(v) < 2:
        return Estimate(float(v.mean()), np.nan, np.nan, np.nan, np.nan, "t")
    se = float(v.std(ddof=1) / np.sqrt(len(v)))
    half = _t(len(v) - 1, 0.5 + size / 2) * se
    m = float(v.mean())
    return Estimate(m, m - half, m + half, se, float(len(v) - 1), "t")


def t_intervals(
    groups_mean: np.ndarray, groups_std: np.ndarray, counts: np.ndarray, size: float = SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``t_interval`` over many groups (curve points): (low, high), nan where n < 2."""
    counts = np.asarray(counts, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(counts > 1, counts - 1, np.nan)
        q = special.stdtrit(df, 0.5 + size / 2)
        half = q * groups_std / np.sqrt(counts)
    return groups_mean - half, groups_mean + half


# ------------------------------------------------------------------------------------ aggregates


def _trimmed_sorted(x: np.ndarray) -> np.ndarray:
    """scipy.stats.trim_mean(x, 0.25) along the last axis, for x already sorted along it."""
    n = x.shape[-1]
    cut = int(0.25 * n)
    return x[..., cut : n - cut].mean(axis=-1)


def _run_level_iqm(values: list[np.ndarray]) -> np.ndarray:
    """Run-level IQM of stacked draws: ``values`` per task has shape (reps, n_t)."""
    counts = {v.shape[-1] for v in values}
    if len(counts) == 1:  # equal seed counts: exactly rliable's trim_mean over all runs x tasks
        return _trimmed_sorted(np.sort(np.concatenate(values, axis=-1), axis=-1))
    T = len(values)
    x = np.concatenate(values, axis=-1)
    w = np.concatenate([np.full(v.shape[-1], 1.0 / (T * v.shape[-1])) for v in values])
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    ws = w[order]
    top = np.cumsum(ws, axis=-1)
    share = np.clip(top, 0.25, 0.75) - np.clip(top - ws, 0.25, 0.75)  # each run's weight inside the middle half
    return (share * xs).sum(axis=-1) / 0.5


def _metrics(values: list[np.ndarray]) -> np.ndarray:
    """Every metric of METRICS for draws: ``values`` per task (reps, n_t) -> (reps, len(METRICS))."""
    means = np.stack([v.mean(axis=-1) for v in values], axis=-1)  # (reps, T)
    sorted_means = np.sort(means, axis=-1)
    gap_runs = np.stack([np.maximum(1.0 - v, 0.0).mean(axis=-1) for v in values], axis=-1).mean(axis=-1)
    return np.stack(
        [
            means.mean(axis=-1),
            np.median(means, axis=-1),
            _run_level_iqm(values),
            gap_runs,
            _trimmed_sorted(sorted_means),
            np.maximum(1.0 - means, 0.0).mean(axis=-1),
        ],
        axis=-1,
    )


def aggregate(tasks: list[np.ndarray], metric: str) -> float:
    """Point value of one metric over tasks (``tasks``: one array of seed values per task)."""
    return float(_metrics([np.asarray(t, float)[None, :] for t in tasks])[0, METRICS.index(metric)])


_CACHE: dict[str, np.ndarray] = {}


def _key(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str(p.shape).encode())
            h.update(np.ascontiguousarray(p, dtype=float).tobytes())
        else:
            h.update(repr(p).encode())
    return h.hexdigest()


def _resample(rng: np.random.Generator, task: np.ndarray, reps: int, rescale: bool) -> np.ndarray:
    n = len(task)
    draws = task[rng.integers(0, n, size=(reps, n))]
    if rescale and n > 1:
        centre = task.mean()
        draws = centre + np.sqrt(n / (n - 1)) * (draws - centre)
    return draws


def bootstrap_draws(tasks: list[np.ndarray], *, reps: int, seed: int, rescale: bool) -> list[np.ndarray]:
    """Stratified bootstrap draws per task, (reps, n_t) each; tasks resampled in order from one generator."""
    rng = np.random.default_rng(seed)
    return [_resample(rng, np.asarray(t, float), reps, rescale) for t in tasks]


def bootstrap_metrics(tasks: list[np.ndarray], *, reps: int, seed: int, rescale: bool) -> np.ndarray:
    """(reps, len(METRICS)) bootstrap distribution of every metric, computed once per input and shared."""
    key = _key("metrics", reps, seed, rescale, len(tasks), *[np.asarray(t, float) for t in tasks])
    if key not in _CACHE:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = _metrics(bootstrap_draws(tasks, reps=reps, seed=seed, rescale=rescale))
    return _CACHE[key]


def satterthwaite_df(variances: np.ndarray, counts: np.ndarray) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent variance estimates."""
    variances, counts = np.asarray(variances, float), np.asarray(counts, float)
    keep = (variances > 0) & (counts > 1)
    if not keep.any():
        return np.inf
    return float(variances[keep].sum() ** 2 / np.sum(variances[keep] ** 2 / (counts[keep] - 1)))


def _task_mean_variances(tasks: list[np.ndarray]) -> np.ndarray:
    return np.array([np.var(t, ddof=1) / len(t) if len(t) > 1 else np.nan for t in tasks])


def aggregate_interval(
    tasks: list[np.ndarray], metric: str, *, method: str = "t", reps: int = 2000, seed: int = 0, size: float = SIZE
) -> Estimate:
    """One aggregate over tasks with its interval (module docstring); no interval when a task has one seed."""
    tasks = [np.asarray(t, float) for t in tasks]
    point = aggregate(tasks, metric)
    if min(len(t) for t in tasks) < 2:
        return Estimate(point, np.nan, np.nan, np.nan, np.nan, method)
    column = METRICS.index(metric)
    if method == "percentile":
        draws = bootstrap_metrics(tasks, reps=reps, seed=seed, rescale=False)[:, column]
        tail = (1 - size) / 2 * 100
        se = float(draws.std(ddof=1))
        return Estimate(
            point, float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail)), se, np.nan, method
        )
    if method != "t":
        raise ValueError(f"unknown interval method {method!r}")
    se = float(bootstrap_metrics(tasks, reps=reps, seed=seed, rescale=True)[:, column].std(ddof=1))
    df = satterthwaite_df(_task_mean_variances(tasks), np.array([len(t) for t in tasks]))
    half = _t(df, 0.5 + size / 2) * se
    return Estimate(point, point - half, point + half, se, df, method)


def difference_draws(
    variant: list[np.ndarray], baseline: list[np.ndarray], metric: str, *, reps: int, seed: int, rescale: bool
) -> tuple[float, np.ndarray]:
    """Point and bootstrap draws of metric(variant task means - baseline task means) over tasks;
    each side's seeds are resampled within each task independently (seed counts may differ)."""
    if metric not in ("mean", "median", "iqm_task_mean"):
        raise ValueError(f"a difference of task means is aggregated by mean, median or iqm_task_mean, not {metric!r}")
    column = METRICS.index(metric)
    v = bootstrap_draws(variant, reps=reps, seed=seed, rescale=rescale)
    b = bootstrap_draws(baseline, reps=reps, seed=seed + 1, rescale=rescale)
    diffs = [(vt.mean(axis=-1) - bt.mean(axis=-1))[:, None] for vt, bt in zip(v, b)]
    point = float(_metrics([np.array([[np.mean(vt) - np.mean(bt)]]) for vt, bt in zip(variant, baseline)])[0, column])
    return point, _metrics(diffs)[:, column]


def difference_interval(
    variant: list[np.ndarray],
    baseline: list[np.ndarray],
    metric: str,
    *,
    method: str = "t",
    reps: int = 2000,
    seed: int = 0,
    size: float = SIZE,
) -> Estimate:
    variant = [np.asarray(t, float) for t in variant]
    baseline = [np.asarray(t, float) for t in baseline]
    if min(len(t) for t in variant + baseline) < 2:
        point, _ = difference_draws(variant, baseline, metric, reps=1, seed=seed, rescale=False)
        return Estimate(point, np.nan, np.nan, np.nan, np.nan, method)
    point, draws = difference_draws(variant, baseline, metric, reps=reps, seed=seed, rescale=method == "t")
    if method == "percentile":
        tail = (1 - size) / 2 * 100
        return Estimate(
            point,
            float(np.percentile(draws, tail)),
            float(np.percentile(draws, 100 - tail)),
            float(draws.std(ddof=1)),
            np.nan,
            method,
        )
    se = float(draws.std(ddof=1))
    variances = np.concatenate([_task_mean_variances(variant), _task_mean_variances(baseline)])
    counts = np.array([len(t) for t in variant + baseline])
    df = satterthwaite_df(variances, counts)
    half = _t(df, 0.5 + size / 2) * se
    return Estimate(point, point - half, point + half, se, df, method)


# ------------------------------------------------------------------------------------ two samples


def claim_standard_error(kind: str, spread: tuple[float, ...], n: int) -> tuple[float, float] | None:
    """(standard error of the claimed statistic, its degrees of freedom) from the printed spread, or None.

    ``std``: s / sqrt(n), df n-1 (needs n). ``se``: as printed, df n-1 (infinite without n).
    ``ci95``: a percentile-bootstrap 95% CI over n seeds (rliable, MR.Q): half-width / 1.96 x sqrt(n/(n-1))
    (the percentile bootstrap uses the plug-in variance), df n-1. ``ci95-t``: a t-interval: half-width /
    t(n-1). For aggregate claims the caller multiplies df by the number of tasks.
    """
    if not kind or not spread:
        return None
    df = float(n - 1) if n and n > 1 else np.inf
    if kind == "std":
        if not n or n < 2:
            return None
        return spread[0] / np.sqrt(n), df
    if kind == "se":
        return spread[0], df
    half = (spread[1] - spread[0]) / 2
    if kind == "ci95":
        factor = np.sqrt(n / (n - 1)) if n and n > 1 else 1.0
        return half / float(special.ndtri(0.975)) * factor, df
    if kind == "ci95-t":
        return half / _t(df, 0.975), df
    raise ValueError(f"unknown spread kind {kind!r}")


@dataclass(frozen=True)
class Comparison:
    """Our estimate minus the claimed value: the difference, its interval and the smallest detectable shift."""

    estimate: float
    difference: float
    low: float
    high: float
    detectable: float  # smallest |difference| a two-sided 5% test detects with 80% power, at these seeds
    method: str
    consistent: bool


def compare(
    ours: float,
    ours_se: float,
    ours_df: float,
    claimed: float,
    claim_se: float | None,
    claim_df: float,
    precision: float,
    size: float = SIZE,
) -> Comparison:
    """Welch's two-sample comparison (or a one-sample t-interval when the claim has no spread): consistent
    when the interval of (ours - claimed), widened by the claim's printed precision, contains 0."""
    if claim_se is None:
        se, df, method = ours_se, ours_df, "one-sample t-interval (claim has no spread)"
    else:
        se = float(np.hypot(ours_se, claim_se))
        parts = [(ours_se, ours_df), (claim_se, claim_df)]
        denom = sum(s**4 / d for s, d in parts if s > 0 and np.isfinite(d))
        df = float(se**4 / denom) if denom > 0 else np.inf
        method = "Welch two-sample t-interval"
    diff = ours - claimed
    half = _t(df, 0.5 + size / 2) * se
    detectable = (_t(df, 0.5 + size / 2) + _t(df, POWER)) * se + precision
    low, high = diff - half, diff + half
    return Comparison(ours, diff, low, high, detectable, method, bool(low - precision <= 0.0 <= high + precision))
