"""Figures for ``bench report`` (matplotlib, Agg). Every figure is written as PNG and SVG with fixed
metadata and SVG hash salt, so the same data gives byte-identical files."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

plt.rcParams.update(
    {
        "svg.hashsalt": "latentbench",
        "figure.dpi": 100,
        "font.size": 8,
        "axes.titlesize": 8,
        "legend.fontsize": 7,
        "path.simplify": False,
    }
)
COLORS = plt.get_cmap("tab10").colors


def save(fig, base: Path) -> list[Path]:
    """``base.png`` and ``base.svg``, deterministic (no dates, no software stamp). Figures that lay
    themselves out (``fig._latentbench_laid_out``) skip the tight bounding box, which costs a draw per file."""
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = [base.parent / f"{base.name}.png", base.parent / f"{base.name}.svg"]  # not with_suffix: names may hold dots
    bbox = None if getattr(fig, "_latentbench_laid_out", False) else "tight"
    fig.savefig(paths[0], metadata={"Software": None}, bbox_inches=bbox)
    fig.savefig(paths[1], metadata={"Date": None, "Creator": None}, bbox_inches=bbox)
    plt.close(fig)
    return paths


def _steps_axis(ax) -> None:
    """1.5M / 250k instead of 1500000 / 250000 on step axes."""
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _: f"{x / 1e6:g}M" if abs(x) >= 1e6 else f"{x / 1e3:g}k" if abs(x) >= 1e3 else f"{x:g}")
    )


def _color(i: int):
    return COLORS[i % len(COLORS)]


def learning_curves(curves: pd.DataFrame, title: str, xlabel: str = "agent steps"):
    """Per-task panels; ``curves`` has task, algo, step, mean, low, high (95% CI over seeds)."""
    tasks = sorted(curves["task"].unique())
    algos = sorted(curves["algo"].unique())
    cols = min(4, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.2 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        for i, algo in enumerate(algos):
            c = curves[(curves["task"] == task) & (curves["algo"] == algo)].sort_values("step")
            if c.empty:
                continue
            ax.plot(c["step"], c["mean"], color=_color(i), label=algo, lw=1.2)
            ax.fill_between(c["step"], c["low"], c["high"], color=_color(i), alpha=0.2, lw=0)
        ax.set_title(task)
        ax.set_xlabel(xlabel)
        _steps_axis(ax)
        ax.xaxis.set_major_locator(MaxNLocator(4))  # fewer tick labels: their text layout is most of the drawing time
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    legend: dict[str, object] = {}  # every algorithm, also those missing from the first panel
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, h)
    labels = sorted(legend)
    handles = [legend[label] for label in labels]
    height = fig.get_figheight()
    legend_rows = math.ceil(len(labels) / min(4, max(1, len(labels))))
    top = 1.0 - (0.3 + 0.18 * legend_rows) / height  # room for the title and the legend above the panels
    fig.suptitle(title, y=1.0 - 0.08 / height, va="top")
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=min(4, max(1, len(labels))),
        bbox_to_anchor=(0.5, 1.0 - 0.28 / height),
        frameon=False,
    )
    width = fig.get_figwidth()
    # fixed margins in inches (a tight layout would cost one more full draw of every panel)
    fig.subplots_adjust(
        left=0.55 / width,
        right=1.0 - 0.15 / width,
        bottom=0.42 / height,
        top=top - 0.22 / height,
        wspace=0.32,
        hspace=0.7 if rows > 1 else 0.2,
    )
    fig._latentbench_laid_out = True  # laid out here; save() then skips the tight bounding box (a draw per file)
    return fig


def aggregate_intervals(aggregates: pd.DataFrame, title: str):
    """One panel per metric; a horizontal 95% CI bar and point per algorithm."""
    metrics = list(dict.fromkeys(aggregates["metric"]))
    algos = sorted(aggregates["algo"].unique())
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(2.6 * len(metrics), max(1.8, 0.45 * len(algos) + 1.2)), squeeze=False
    )
    for ax, metric in zip(axes.flat, metrics):
        for i, algo in enumerate(algos):
            r = aggregates[(aggregates["metric"] == metric) & (aggregates["algo"] == algo)]
            if r.empty:
                continue
            r = r.iloc[0]
            if np.isfinite(r["low"]) and np.isfinite(r["high"]):  # no bar where there is no interval (one seed)
                ax.barh(i, r["high"] - r["low"], left=r["low"], height=0.6, color=_color(i), alpha=0.6)
            ax.plot([r["point"]], [i], "k|", ms=10)
        ax.set_ylim(-0.75, len(algos) - 0.25)
        shown = aggregates[aggregates["metric"] == metric][["low", "point", "high"]].to_numpy(float)
        lo, hi = np.nanmin(shown), np.nanmax(shown)
        pad = 0.35 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
        ax.set_xlim(lo - pad, hi + pad)  # room around the bars, so one algorithm's interval does not fill the panel
        ax.set_yticks(range(len(algos)), algos if ax is axes.flat[0] else [""] * len(algos))
        ax.set_title(metric)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _band_lines(
    lines: dict[str, tuple], title: str, xlabel: str, ylabel: str, *, steps: bool = False, marker: str = ""
):
    """One line with a shaded 95% CI per name: ``lines[name] = (x, y, low, high)`` (low/high may be None)."""
    fig, ax = plt.subplots(figsize=(4.5, 3.0))
    for i, (name, (x, y, low, high)) in enumerate(sorted(lines.items())):
        ax.plot(x, y, color=_color(i), label=name, lw=1.2, marker=marker or None, ms=2.5)
        if low is not None:
            ax.fill_between(x, low, high, color=_color(i), alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    if steps:
        _steps_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def aggregate_curves(curves: dict[str, pd.DataFrame], title: str, ylabel: str):
    return _band_lines(
        {a: (c["step"], c["point"], c["low"], c["high"]) for a, c in curves.items()},
        title,
        "agent steps",
        ylabel,
        steps=True,
    )


def performance_profiles(
    taus: np.ndarray, profiles: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], title: str, xlabel: str
):
    return _band_lines(
        {a: (taus, p, lo, hi) for a, (p, lo, hi) in profiles.items()},
        title,
        xlabel,
        r"fraction of runs with score > $\tau$",
    )


def xy_lines(
    data: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    title: str,
    xlabel: str,
    ylabel: str,
    band: tuple[str, str] | None = None,
):
    """Generic lines (one per ``group``) with an optional CI band: for study outputs such as OMD's tabular sweep."""
    lines = {}
    for name, d in data.groupby(group):
        d = d.sort_values(x)
        lines[str(name)] = (d[x], d[y], d[band[0]] if band else None, d[band[1]] if band else None)
    return _band_lines(lines, title, xlabel, ylabel, marker="o")
