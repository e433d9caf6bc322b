"""Tables as CSV, Markdown and LaTeX from one DataFrame (no extra dependencies), and the paper-table
builders: MR.Q's per-benchmark layout (Tables 4-7) and design study (Table 2), ALM's Table 1."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.claims import difference_with_ci
from analysis.scores import aggregate_with_ci, task_ci
from results.store import atomic_write_text

_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


def write_table(df: pd.DataFrame, base: Path, caption: str = "") -> list[Path]:
    """``base.csv``, ``base.md`` and ``base.tex``; every cell already formatted as text."""
    df = df.astype(str)
    cols = list(df.columns)
    md = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    md += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in df.itertuples(index=False)]
    tex = [r"\begin{table}[t]", r"\centering"]
    if caption:
        tex.append(r"\caption{" + _tex(caption) + "}")
    tex += [r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", r"\toprule", " & ".join(_tex(c) for c in cols) + r" \\", r"\midrule"]
    tex += [" & ".join(_tex(v) for v in row) + r" \\" for row in df.itertuples(index=False)]
    tex += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    paths = [base.parent / f"{base.name}{ext}" for ext in (".csv", ".md", ".tex")]  # not with_suffix: names may hold dots
    base.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(paths[0], df.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(paths[1], (f"{caption}\n\n" if caption else "") + "\n".join(md) + "\n")
    atomic_write_text(paths[2], "\n".join(tex) + "\n")
    return paths


def fmt(x: float, digits: int) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def digits_for(values) -> int:
    """Raw returns print as integers when large; small values (normalized scores, OMD's J) with decimals."""
    finite = [abs(v) for v in values if v is not None and np.isfinite(v)]
    top = max(finite) if finite else 0.0
    return 0 if top >= 100 else 1 if top >= 10 else 3


def per_task_table(final: pd.DataFrame, aggregates: pd.DataFrame | None, sources: dict[str, str], *, seed: int, reps: int) -> pd.DataFrame:
    """MR.Q Tables 4-7 layout: one row per task, one column per algorithm, ``mean [low, high]`` over
    seeds (raw returns), then Mean / Median / IQM rows of the normalized aggregates when present.
    The first row names each column's source (our runs or a published data set)."""
    algos = sorted(final["algo"].unique())
    tasks = sorted(final["task"].unique())
    d = digits_for(final["return"])
    rows = [{"task": "source", **{a: sources.get(a, "") for a in algos}}]
    for task in tasks:
        row = {"task": task}
        for a in algos:
            v = final[(final["task"] == task) & (final["algo"] == a)]["return"].to_numpy(float)
            if len(v):
                m, lo, hi = task_ci(v, seed=seed, reps=reps)
                row[a] = f"{fmt(m, d)} [{fmt(lo, d)}, {fmt(hi, d)}] (n={len(v)})"
            else:
                row[a] = ""
        rows.append(row)
    if aggregates is not None and not aggregates.empty:
        for metric in ("mean", "median", "iqm"):
            row = {"task": metric.upper() if metric == "iqm" else metric.capitalize()}
            for a in algos:
                r = aggregates[(aggregates["algo"] == a) & (aggregates["metric"] == metric)]
                row[a] = "" if r.empty else f"{r.iloc[0]['point']:.2f} [{r.iloc[0]['low']:.2f}, {r.iloc[0]['high']:.2f}]"
            rows.append(row)
    return pd.DataFrame(rows, columns=["task", *algos])


def aggregate_rows(matrices: dict[str, np.ndarray], *, seed: int, reps: int) -> pd.DataFrame:
    rows = []
    for algo, m in sorted(matrices.items()):
        for metric, (p, lo, hi) in aggregate_with_ci(m, seed=seed, reps=reps).items():
            rows.append({"algo": algo, "metric": metric, "point": p, "low": lo, "high": hi, "seeds": m.shape[0], "tasks": m.shape[1]})
    return pd.DataFrame(rows, columns=["algo", "metric", "point", "low", "high", "seeds", "tasks"])


def design_study_table(matrices: dict[str, np.ndarray], base: str, *, seed: int, reps: int) -> pd.DataFrame:
    """MR.Q Table 2 layout: per variant of ``base``, the difference in normalized score to ``base``
    (mean, median, IQM over tasks of the per-task mean difference) with 95% stratified bootstrap CIs."""
    rows = []
    for algo in sorted(a for a in matrices if a.startswith(base.split("@")[0] + "@") and a != base):
        row = {"variant": algo, "seeds": matrices[algo].shape[0]}
        for metric in ("mean", "median", "iqm"):
            p, lo, hi = difference_with_ci(matrices[algo], matrices[base], metric, seed=seed, reps=reps)
            row[f"{metric} diff"] = f"{p:+.2f} [{lo:+.2f}, {hi:+.2f}]"
        rows.append(row)
    return pd.DataFrame(rows, columns=["variant", "seeds", "mean diff", "median diff", "iqm diff"])


def mean_std_table(final: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """ALM Table 1 layout: one row per algorithm, one column per task, ``mean +- std`` over seeds."""
    tasks = sorted(final["task"].unique())
    rows = []
    for algo in sorted(final["algo"].unique()):
        row = {"algo": algo}
        for task in tasks:
            v = final[(final["algo"] == algo) & (final["task"] == task)]["return"].to_numpy(float)
            row[task] = "" if not len(v) else f"{v.mean():.0f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.0f} (n={len(v)})"
        rows.append(row)
    if step is not None:
        return pd.DataFrame(rows, columns=["algo", *tasks]).rename(columns={"algo": f"algo (at {step:,} steps)"})
    return pd.DataFrame(rows, columns=["algo", *tasks])
