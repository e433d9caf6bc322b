"""Tables as CSV, Markdown and LaTeX from one DataFrame (no extra dependencies), and the paper-table
builders: MR.Q's per-benchmark layout (Tables 4-7) and design study (Table 2), ALM's Table 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import stats
from results.store import atomic_write_text

_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


def markdown_table(df: pd.DataFrame) -> list[str]:
    """The lines of a Markdown table; every cell already formatted as text."""
    df = df.astype(str)
    md = ["| " + " | ".join(df.columns) + " |", "|" + "|".join("---" for _ in df.columns) + "|"]
    return md + ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in df.itertuples(index=False)]


def write_table(df: pd.DataFrame, base: Path, caption: str = "") -> list[Path]:
    """``base.csv``, ``base.md`` and ``base.tex``; every cell already formatted as text."""
    df = df.astype(str)
    cols = list(df.columns)
    md = markdown_table(df)
    tex = [r"\begin{table}[t]", r"\centering"]
    if caption:
        tex.append(r"\caption{" + _tex(caption) + "}")
    tex += [
        r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
        r"\toprule",
        " & ".join(_tex(c) for c in cols) + r" \\",
        r"\midrule",
    ]
    tex += [" & ".join(_tex(v) for v in row) + r" \\" for row in df.itertuples(index=False)]
    tex += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    paths = [
        base.parent / f"{base.name}{ext}" for ext in (".csv", ".md", ".tex")
    ]  # not with_suffix: names may hold dots
    base.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(paths[0], df.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(paths[1], (f"{caption}\n\n" if caption else "") + "\n".join(md) + "\n")
    atomic_write_text(paths[2], "\n".join(tex) + "\n")
    return paths


def fmt(x: float | None, digits: int) -> str:
    """Fixed decimals; empty for None/NaN; never "-0" (a value that rounds to zero prints unsigned)."""
    if x is None or (isinstance(x, (float, np.floating)) and not np.isfinite(x)):
        return "" if x is None or np.isnan(x) else ("inf" if x > 0 else "-inf")
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def digits_for(values) -> int:
    """Decimals for one scale of values (call it per task): integers when large, decimals when small."""
    finite = [abs(v) for v in values if v is not None and np.isfinite(v)]
    top = max(finite) if finite else 0.0
    return 0 if top >= 100 else 1 if top >= 10 else 2 if top >= 1 else 3


def seeds_text(n: int, nonfinite: int = 0, failed: int = 0) -> str:
    """``n=3`` or ``n=3, 1 diverged``: finite seeds used, plus the seeds that are not (never dropped silently)."""
    lost = nonfinite + failed
    return f"n={n}" + (f", {lost} diverged" if lost else "")


def mean_ci_text(values: np.ndarray, digits: int, nonfinite: int = 0, failed: int = 0) -> str:
    """``mean [low, high] (n=5)`` with a 95% t-interval over seeds; one seed has no interval."""
    est = stats.t_interval(values)
    if not len(values):
        return f"({seeds_text(0, nonfinite, failed)})"
    ci = f" [{fmt(est.low, digits)}, {fmt(est.high, digits)}]" if est.has_interval else ""
    return f"{fmt(est.point, digits)}{ci} ({seeds_text(len(values), nonfinite, failed)})"


def per_task_table(
    final: pd.DataFrame,
    aggregates: pd.DataFrame | None,
    sources: dict[str, str],
    failed: dict[tuple[str, str], int] | None = None,
) -> pd.DataFrame:
    """MR.Q Tables 4-7 layout: one row per task, one column per algorithm, ``mean [95% t-interval] (n)``
    over seeds (raw returns, decimals per task), then the Mean / Median / IQM of task means (MR.Q) rows of
    the normalized aggregates when present. The first row names each column's source."""
    failed = failed or {}
    algos = sorted(final["algo"].unique())
    tasks = sorted(final["task"].unique())
    rows = [{"task": "source", **{a: sources.get(a, "") for a in algos}}]
    for task in tasks:
        row = {"task": task}
        at = final[final["task"] == task]
        d = digits_for(at["return"])
        for a in algos:
            v = at[at["algo"] == a]["return"].to_numpy(float)
            lost = failed.get((task, a), 0)
            row[a] = mean_ci_text(v[np.isfinite(v)], d, int((~np.isfinite(v)).sum()), lost) if len(v) or lost else ""
        rows.append(row)
    if aggregates is not None and not aggregates.empty:
        for metric in ("mean", "median", "iqm_task_mean"):
            row = {"task": stats.METRIC_LABELS[metric]}
            for a in algos:
                r = aggregates[(aggregates["algo"] == a) & (aggregates["metric"] == metric)]
                row[a] = "" if r.empty else interval_text(r.iloc[0]["point"], r.iloc[0]["low"], r.iloc[0]["high"], 2)
            rows.append(row)
    return pd.DataFrame(rows, columns=["task", *algos])


def interval_text(point: float, low: float, high: float, digits: int, sign: str = "") -> str:
    def f(x):
        text = fmt(x, digits)
        return "+" + text if sign and not text.startswith("-") and float(text) != 0 else text

    return f"{f(point)} [{f(low)}, {f(high)}]" if np.isfinite(low) else f"{f(point)} (no CI: a task has one seed)"


def aggregate_rows(per_algo: dict[str, list[np.ndarray]], *, seed: int, reps: int) -> pd.DataFrame:
    """Every metric of ``analysis.stats.METRICS`` per algorithm with its 95% t-interval (stratified bootstrap SE)."""
    rows = []
    for algo, tasks in sorted(per_algo.items()):
        counts = [len(t) for t in tasks]
        for metric in stats.METRICS:
            e = stats.aggregate_interval(tasks, metric, reps=reps, seed=seed)
            rows.append(
                {
                    "algo": algo,
                    "metric": metric,
                    "label": stats.METRIC_LABELS[metric],
                    "point": e.point,
                    "low": e.low,
                    "high": e.high,
                    "seeds": f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}",
                    "tasks": len(tasks),
                }
            )
    return pd.DataFrame(rows, columns=["algo", "metric", "label", "point", "low", "high", "seeds", "tasks"])


def design_study_table(per_algo: dict[str, list[np.ndarray]], base: str, *, seed: int, reps: int) -> pd.DataFrame:
    """MR.Q Table 2 layout: per variant of ``base``, the difference in normalized score to ``base``
    (mean, median and IQM over tasks of the per-task mean difference) with 95% t-intervals."""
    rows = []
    for algo in sorted(a for a in per_algo if a.startswith(base.split("@")[0] + "@") and a != base):
        counts = [len(t) for t in per_algo[algo]]
        row = {
            "variant": algo,
            "seeds": f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}",
        }
        for metric, col in (
            ("mean", "mean diff"),
            ("median", "median diff"),
            ("iqm_task_mean", "IQM diff (of task-mean differences)"),
        ):
            e = stats.difference_interval(per_algo[algo], per_algo[base], metric, seed=seed, reps=reps)
            row[col] = interval_text(e.point, e.low, e.high, 2, sign="+")
        rows.append(row)
    return pd.DataFrame(
        rows, columns=["variant", "seeds", "mean diff", "median diff", "IQM diff (of task-mean differences)"]
    )


def mean_std_table(final: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """ALM Table 1 layout: one row per algorithm, one column per task, ``mean +- std`` over seeds."""
    tasks = sorted(final["task"].unique())
    rows = []
    for algo in sorted(final["algo"].unique()):
        row = {"algo": algo}
        for task in tasks:
            v = final[(final["algo"] == algo) & (final["task"] == task)]["return"].to_numpy(float)
            finite = v[np.isfinite(v)]
            std = f" ± {fmt(finite.std(ddof=1), 0)}" if len(finite) > 1 else ""
            mean = fmt(finite.mean(), 0) if len(finite) else ""
            row[task] = "" if not len(v) else f"{mean}{std} ({seeds_text(len(finite), len(v) - len(finite))})"
        rows.append(row)
    if step is not None:
        return pd.DataFrame(rows, columns=["algo", *tasks]).rename(columns={"algo": f"algo (at {step:,} steps)"})
    return pd.DataFrame(rows, columns=["algo", *tasks])
