"""``bench report``: every figure, table and the HTML leaderboard, regenerated from the store and
imported published data into ``results/report/``.

Layout: ``index.html`` (per-suite sortable leaderboards with coverage, compute, provenance links and
the command that reproduces each cell; the claim verdicts), ``<suite>/`` with ``scores.*`` (per-task
table, MR.Q Tables 4-7 layout), ``aggregates.*``, ``design_study.*`` (MR.Q Table 2 layout, when
variants ran), ``mean_std.*`` (ALM Table 1 layout), figures ``curves``, ``aggregates``,
``sample_efficiency``, ``profile`` and ``<figure>`` for iQRL's ablation data (PNG and SVG), and
``claims.csv``. Nothing depends on the clock or the machine: same inputs, byte-identical outputs.
"""

from __future__ import annotations

import html
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import stats
from analysis.claims import check, load_claims, suite_normalization, verdict_table
from analysis.importers import ALM_TABLE1_STEP, import_omd_tabular, import_reference
from analysis.load import COLUMNS, empty_table, load_manifests, load_runs, run_protocols
from analysis.normalize import normalize
from analysis.scores import final_scores, per_task, performance_profile, probability_of_improvement, sample_efficiency
from analysis.tables import (
    aggregate_rows,
    design_study_table,
    digits_for,
    fmt,
    interval_text,
    mean_std_table,
    per_task_table,
    seeds_text,
    write_table,
)
from core.errors import UserError
from core.vocabulary import current_names
from results.names import inside, make_output_dir, safe_name
from results.store import atomic_write_text, run_label

PUBLISHED_URLS = {  # protocol id of imported data -> the public folder it came from (analysis/fetch.py pins)
    "mrq-paper": "https://github.com/facebookresearch/MRQ/tree/8a44a7d4b1cf117e5da4bf8214d35b02aa68d68b/results",
    "td3-paper": "https://github.com/sfujim/TD3/tree/bc98e6260e4e35e1a2afc1c78b6925251dd0a1e9/learning_curves",
    "iqrl-draft": "https://github.com/aidanscannell/iqrl-minimal/tree/d8e6c321de4a91b310935ad2bb34050dc0837f07/paper/figs/plotting",
    "alm-paper": "https://github.com/RajGhugare19/alm/tree/3b70f5b8c3c11b3222b9a288ef6dd370c95d973f/scores",
}


@dataclass
class Inputs:
    data: pd.DataFrame
    manifests: list[dict]
    protocols: dict[str, dict[str, str]]
    runs_dirs: list[Path] = field(default_factory=list)
    studies: list[Path] = field(default_factory=list)  # raw study outputs (omd_tabular_runs.csv) for their own figures
    failed: list[dict] = field(default_factory=list)  # manifests of failed cells (diverged): counted in the tables
    notes: list[str] = field(default_factory=list)  # what the reader should know about the inputs (cells read once)


EVIDENCE_STORE = Path("results/evidence")  # our committed runs (make evidence), read by default beside results/


def _cell_key(manifest: dict) -> tuple:
    cell, protocol = manifest.get("cell") or {}, manifest.get("protocol") or {}
    return (
        cell.get("suite"),
        cell.get("task"),
        cell.get("algo"),
        cell.get("config_id", ""),
        cell.get("seed"),
        protocol.get("protocol_id"),
    )


def _choose_copies(stores: dict[Path, list[dict]], explicit: bool) -> tuple[set[Path], list[str]]:
    """The cell folders left out because another store holds the same cell (suite, task, algo, config, seed and
    protocol), and the notes saying so. Given explicitly, two copies are an error naming both; by default the
    complete copy is read (the first store's when both are), so a scratch run never hides committed evidence."""
    chosen: dict[tuple, dict] = {}
    for manifests in stores.values():
        for m in manifests:
            key, other = _cell_key(m), chosen.get(_cell_key(m))
            if other is None:
                chosen[key] = m
            elif explicit:
                raise UserError(
                    f"{m['_dir']}: the same cell as {other['_dir']} (one cell is never counted twice); "
                    "valid: stores that hold different cells"
                )
            elif m.get("status") == "complete" and other.get("status") != "complete":
                chosen[key] = m
    read = {id(m) for m in chosen.values()}
    left_out, notes = set(), []
    for root, manifests in stores.items():
        dropped = [m for m in manifests if id(m) not in read]
        left_out |= {m["_dir"] for m in dropped}
        if dropped:
            notes.append(
                f"{len(dropped)} cell(s) of {root} also in another store: the complete copy is read, "
                f"the first store's when both are"
            )
    return left_out, notes


def gather(runs: list[str | Path] | None, references: list[str | Path] | None) -> Inputs:
    """Our runs plus imported data. By default the stores are ``results/`` and the committed evidence
    ``results/evidence/`` (each skipped when missing); both are "our runs". One cell (suite, task, algo,
    config, seed, protocol) is never read twice (``_choose_copies``)."""
    explicit = bool(runs)
    runs_dirs = [Path(r) for r in (runs or ["results", EVIDENCE_STORE])]
    frames, manifests, protocols, studies, failed = [], [], {}, [], []
    stores: dict[Path, list[dict]] = {}
    for d in runs_dirs:
        for f in sorted((d / "studies").rglob("omd_tabular_runs.csv")):
            frames.append(import_omd_tabular(f))
            studies.append(f)
        if not (d / "runs").is_dir():
            if explicit and not (d / "studies").is_dir():
                raise UserError(
                    f"{d}: not a results store (no {d / 'runs'} folder); pass the --out folder of 'bench run'"
                )
            continue
        stores[d] = load_manifests(d, include_incomplete=True)
    left_out, notes = _choose_copies(stores, explicit)
    for d, everything in stores.items():
        keep = [m for m in everything if m["_dir"] not in left_out]
        frames.append(load_runs(d, exclude=left_out))
        manifests += [m for m in keep if m.get("status") == "complete"]
        failed += [m for m in keep if m.get("status") == "failed"]
        protocols.update(run_protocols(d))
    for r in references or []:
        frames.append(import_reference(r))
        studies += sorted(Path(r).rglob("omd_tabular_runs.csv"))
    frames = [f for f in frames if not f.empty]
    data = pd.concat(frames, ignore_index=True)[COLUMNS] if frames else empty_table()
    return Inputs(data, manifests, protocols, runs_dirs, studies, failed, notes)


def _curves(data: pd.DataFrame, value: str, *, max_points: int = 60) -> pd.DataFrame:
    """Per (task, algo, step): mean over the finite seeds with a 95% t-interval (none for one seed)."""
    cols = ["task", "algo", "step", "mean", "low", "high"]
    d = data[np.isfinite(data[value].to_numpy(float))]
    if d.empty:
        return pd.DataFrame(columns=cols)
    g = d.groupby(["task", "algo", "step"], sort=True)[value].agg(["mean", "std", "count"]).reset_index()
    # at most max_points evenly spaced steps per (task, algo)
    rank = g.groupby(["task", "algo"]).cumcount()
    size = g.groupby(["task", "algo"])["step"].transform("size")
    keep = np.zeros(len(g), bool)
    for n in sorted(size.unique()):
        chosen = set(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
        keep |= (size == n).to_numpy() & rank.isin(chosen).to_numpy()
    g = g[keep]
    low, high = stats.t_intervals(g["mean"].to_numpy(), g["std"].to_numpy(), g["count"].to_numpy())
    return pd.DataFrame(
        {
            "task": g["task"],
            "algo": g["algo"],
            "step": g["step"].astype(int),
            "mean": g["mean"],
            "low": low,
            "high": high,
        },
        columns=cols,
    ).reset_index(drop=True)


def _sources(data: pd.DataFrame) -> dict[str, str]:
    out = {}
    for algo, g in data.groupby("algo"):
        kinds = sorted(
            {
                "our runs"
                if s == "runs"
                else f"our study ({p.split(':')[0]})"
                if s.startswith("study:")
                else f"published ({p.split(':')[0]})"
                for s, p in zip(g["source"], g["protocol_id"])
            }
        )
        out[algo] = " + ".join(kinds)
    return out


def _per_algo(final: pd.DataFrame) -> dict[str, list[np.ndarray]]:
    """Finite normalized seed values per task (sorted) of each algorithm that has at least one on every
    task of the suite (seeds not paired across tasks); others are left out of the aggregates and the
    coverage column says so."""
    tasks = sorted(final["task"].unique())
    out = {}
    for algo in sorted(final["algo"].unique()):
        values, _ = per_task(final, algo, "normalized", tasks)
        if all(len(v) for v in values):
            out[algo] = values
    return out


def _labels(sub: pd.DataFrame, protocols: dict[str, dict[str, str]]) -> pd.Series:
    """Row labels that never put two protocols or budgets in one table cell: our runs at a reduced budget
    are ``algo [100k]``; a further protocol of the same label gets ``[protocol <id>]``."""

    def steps(n: float) -> str:
        return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" if n >= 1e3 else f"{n:g}"

    runs = sub["source"] == "runs"
    group = pd.Series(
        [(protocols.get(p) or {}).get("suite_protocol", p) if r else p for p, r in zip(sub["protocol_id"], runs)],
        index=sub.index,
    )
    reduced = pd.Series(
        [bool((protocols.get(p) or {}).get("reduced_budget") == "True") for p in sub["protocol_id"]], index=sub.index
    )
    label = sub["algo"].where(~(runs & reduced), sub["algo"] + " [" + sub["budget"].map(steps) + "]")
    out = label.copy()
    for name, idx in label.groupby(label).groups.items():
        kinds = group[idx]
        if kinds.nunique() > 1:
            main = kinds.value_counts().sort_index().idxmax()
            other = idx[kinds != main]
            out[other] = name + " [protocol " + group[other].astype(str) + "]"
    return out


def _failed_counts(failed: list[dict], suite: str) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for m in failed:
        cell = m.get("cell") or {}
        if cell.get("suite") == suite:
            key = (cell.get("task"), run_label(m) if "cell" in m else cell.get("algo"))  # the label its rows carry
            counts[key] = counts.get(key, 0) + 1
    return counts


def _command(m: dict, seeds: list[int]) -> str:
    cell, proto = m["cell"], m["protocol"]
    parts = [
        "bench",
        "run",
        "--suite",
        cell["suite"],
        "--tasks",
        cell["task"],
        "--algos",
        cell["algo"],
        "--seeds",
        ",".join(str(s) for s in sorted(seeds)),
    ]
    if proto.get("reduced_budget"):
        parts += ["--steps", str(proto["agent_steps"])]
    for k, v in sorted(current_names(cell["algo"], m.get("config_overrides")).items()):  # old names read as today's
        parts += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    return shlex.join(parts)


def _compute(manifests: list[dict], suite: str, out: Path) -> pd.DataFrame:
    rows = []
    for m in manifests:
        if m["cell"]["suite"] != suite:
            continue
        algo = run_label(m)
        if m["protocol"].get("reduced_budget"):  # the same label as _labels gives its rows
            n = float(m["protocol"].get("agent_steps", 0))
            algo += f" [{n / 1e6:g}M]" if n >= 1e6 else f" [{n / 1e3:g}k]" if n >= 1e3 else f" [{n:g}]"
        rows.append(
            {
                "task": m["cell"]["task"],
                "algo": algo,
                "seed": m["cell"]["seed"],
                "params": m.get("num_parameters"),
                "updates_per_sec": m.get("updates_per_sec"),
                "wall_clock_s": m.get("wall_clock_s"),
                "link": os.path.relpath(m["_dir"] / "manifest.json", out),
                "m": m,
            }
        )
    return pd.DataFrame(
        rows, columns=["task", "algo", "seed", "params", "updates_per_sec", "wall_clock_s", "link", "m"]
    )


def build(
    inputs: Inputs,
    out: str | Path = "results/report",
    *,
    claims_files=None,
    seed: int = 0,
    reps: int = 2000,
    progress: bool = True,
) -> list[Path]:
    data = inputs.data
    if data.empty:
        where = ", ".join(str(d / "runs") for d in inputs.runs_dirs) or "results/runs"
        raise UserError(
            f"nothing to report: no complete runs in {where} and no --reference data; run 'bench run' first "
            f"or import published data with --reference DIR (see 'bench reference fetch')"
        )
    data = data.copy()
    for column, missing in (("budget", np.nan), ("step_inferred", False)):  # tables built by hand may lack them
        if column not in data:
            data[column] = missing
    from analysis import plots  # matplotlib: only bench report draws (bench check shares gather without it)

    out = make_output_dir(out)
    written: list[Path] = []
    sections = []
    suites = sorted(data["suite"].unique())
    from tqdm import tqdm

    for suite in tqdm(suites, desc="report", unit="suite", disable=not progress):
        raw = data[data["suite"] == suite]
        # the same published run can sit in several files (iQRL's base runs appear in every ablation folder):
        # count it once
        sub = raw.drop_duplicates(["task", "algo", "seed", "step", "protocol_id"]).copy()
        sub["algo"] = _labels(sub, inputs.protocols)  # one protocol and one budget per table cell
        norm = suite_normalization(suite)
        sub["normalized"] = [normalize(norm, t, r) for t, r in zip(sub["task"], sub["return"])] if norm else np.nan
        final = final_scores(sub)
        final["normalized"] = (
            [normalize(norm, t, r) for t, r in zip(final["task"], final["return"])] if norm else np.nan
        )
        failed = _failed_counts(inputs.failed, suite)
        sdir = inside(out, out / safe_name(suite, "suite", f"data from {raw['source'].iloc[0]}"))
        sources = _sources(sub)
        per_algo = _per_algo(final) if norm else {}
        aggregates = aggregate_rows(per_algo, seed=seed, reps=reps) if per_algo else None
        written += write_table(
            per_task_table(final, aggregates, sources, failed),
            sdir / "scores",
            f"{suite}: final return per task (at each run's budget), mean over seeds [95% t-interval] (n = seeds used)"
            + (
                f"; aggregates of normalized scores ({norm}), MR.Q's forms, 95% t-intervals on the stratified estimate"
                if norm
                else ""
            ),
        )
        if sub["step"].max() > 0:  # exact studies (omd-tabular) have no learning curves
            written += plots.save(
                plots.learning_curves(_curves(sub, "return"), f"{suite}: return (mean, 95% t-interval over seeds)"),
                sdir / "curves",
            )
        if aggregates is not None:
            shown = aggregates.assign(**{c: aggregates[c].map(lambda x: fmt(x, 4)) for c in ("point", "low", "high")})
            written += write_table(
                shown,
                sdir / "aggregates",
                f"{suite}: aggregates of normalized scores ({norm}); IQM and optimality gap are rliable's run-level "
                "forms, '(MR.Q)' rows MR.Q's task-mean forms; 95% t-intervals on the task-stratified estimate",
            )
            written += plots.save(
                plots.aggregate_intervals(
                    aggregates[aggregates["metric"].isin(("mean", "median", "iqm", "optimality_gap"))].assign(
                        metric=lambda a: a["label"]
                    ),
                    f"{suite} ({norm}): aggregates, 95% CIs",
                ),
                sdir / "aggregates",
            )
            covered = sub[sub["task"].isin(final["task"].unique())]
            curves = {a: sample_efficiency(covered, a, "normalized", seed=seed) for a in per_algo}
            written += plots.save(
                plots.aggregate_curves(curves, f"{suite}: IQM (run-level, rliable) vs agent steps", f"IQM ({norm})"),
                sdir / "sample_efficiency",
            )
            top = max(float(np.max(np.concatenate(v))) for v in per_algo.values())
            taus = np.linspace(0.0, max(1.0, top), 51)
            written += plots.save(
                plots.performance_profiles(
                    taus,
                    performance_profile(per_algo, taus, seed=seed, reps=reps),
                    f"{suite}: performance profile (95% percentile bootstrap)",
                    f"normalized score ({norm}) " + r"$\tau$",
                ),
                sdir / "profile",
            )
            if len(per_algo) > 1:
                poi = [
                    {
                        "x": x,
                        "y": y,
                        **dict(
                            zip(
                                ("P(X>Y)", "low", "high"),
                                (
                                    f"{v:.3f}"
                                    for v in probability_of_improvement(per_algo[x], per_algo[y], seed=seed, reps=reps)
                                ),
                            )
                        ),
                    }
                    for x in sorted(per_algo)
                    for y in sorted(per_algo)
                    if x < y
                ]
                written += write_table(
                    pd.DataFrame(poi),
                    sdir / "probability_of_improvement",
                    f"{suite}: probability of improvement, 95% stratified percentile bootstrap CI",
                )
            base = [a for a in per_algo if "@" not in a and any(b.startswith(a + "@") for b in per_algo)]
            for b in base:
                written += write_table(
                    design_study_table(per_algo, b, seed=seed, reps=reps),
                    sdir / f"design_study_{safe_name(b, 'algorithm')}",
                    f"{suite}: difference in normalized score to {b} (MR.Q Table 2 layout), 95% t-intervals",
                )
        if suite.startswith("alm"):
            written += write_table(
                mean_std_table(final_scores(sub, step=ALM_TABLE1_STEP)),
                sdir / "mean_std_200k",
                f"{suite}: return at 200k steps after the 4,999-step warm-up (env step {ALM_TABLE1_STEP}), "
                "mean ± std over seeds (ALM Table 1 layout)",
            )
        for figure, g in raw[raw["protocol_id"] == "iqrl-draft:dmc"].groupby(raw["source"].str.split("/").str[1]):
            written += plots.save(
                plots.learning_curves(
                    _curves(g.drop_duplicates(["task", "algo", "seed", "step"]), "return"),
                    f"iQRL paper draft: {figure}",
                    "agent steps (action repeat 2)",
                ),
                sdir / f"iqrl_{safe_name(figure, 'figure folder')}",
            )
        diag = _diagnostics(inputs.manifests, suite)
        if not diag.empty:  # e.g. iQRL's latent rank and FSQ code usage (the paper's rank comparison)
            written += write_table(
                diag.sort_values(["metric", "task", "algo", "seed", "step"]).astype(str),
                sdir / "diagnostics",
                f"{suite}: per-evaluation agent diagnostics",
            )
            for metric in sorted(m for m in diag["metric"].unique() if m.startswith("latent_rank")):
                d = diag[diag["metric"] == metric].rename(columns={"value": "return"})
                written += plots.save(
                    plots.learning_curves(_curves(d, "return"), f"{suite}: {metric} (mean, 95% t-interval over seeds)"),
                    sdir / f"diagnostics_{safe_name(metric, 'diagnostic metric')}",
                )
        sections.append((suite, sub, final, aggregates, sources, _compute(inputs.manifests, suite, out), norm, failed))
    for i, study in enumerate(inputs.studies):
        written += _omd_tabular_figures(pd.read_csv(study), out / "omd-tabular", "" if i == 0 else f"_{i}")
    status = reproduction_status(data, inputs, load_claims(claims_files))
    if not status.empty:
        written += write_table(
            status,
            out / "reproduction",
            "reproduction status: our runs' learning curves against the published runs "
            "of the same algorithm and task (bench check --against), else against "
            "published point claims within their budget",
        )
    verdicts = verdict_table(check(load_claims(claims_files), data, inputs.protocols, seed=seed, reps=reps))
    written += write_table(
        verdicts.assign(
            **{
                c: verdicts[c].map(lambda x: "" if pd.isna(x) else f"{x:.4g}")
                for c in ("estimate", "diff_low", "diff_high", "detectable")
            }
        ),
        out / "claims",
        "published claims checked against runs and imported data (diff = ours - claimed, 95% CI)",
    )
    svgs = sorted(p.relative_to(out) for p in written if p.suffix == ".svg")
    studies = {
        f"study:omd-tabular/{p.name}": os.path.relpath(p, out) for p in inputs.studies
    }  # study rows link to their CSV
    pages = [_section(*args, studies, [p.as_posix() for p in svgs if p.parts[0] == args[0]]) for args in sections]
    index = out / "index.html"
    atomic_write_text(index, _html(pages, verdicts, status))
    written.append(index)
    return written


def _diagnostics(manifests: list[dict], suite: str) -> pd.DataFrame:
    """``diagnostics.csv`` of every cell of the suite (long format: step, env_frames, metric, value)."""
    frames = []
    for m in manifests:
        path = m["_dir"] / "diagnostics.csv"
        if m["cell"]["suite"] == suite and path.exists():
            try:
                d = pd.read_csv(path)
            except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
                raise UserError(
                    f"{path}: not a readable diagnostics CSV ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"
                ) from None
            frames.append(d.assign(task=m["cell"]["task"], algo=run_label(m), seed=int(m["cell"]["seed"])))
    if not frames:
        return pd.DataFrame(columns=["task", "algo", "seed", "step", "env_frames", "metric", "value"])
    return pd.concat(frames, ignore_index=True)[["task", "algo", "seed", "step", "env_frames", "metric", "value"]]


def _omd_tabular_figures(runs: pd.DataFrame, folder: Path, suffix: str) -> list[Path]:
    """OMD paper Figure 2 (J vs model norm bound, returns objective) and Figure 3 right (max |Q* - Q|
    and the Theorem-2 bound vs norm bound, Bellman objective), mean and 95% t-interval over seeds."""
    from analysis import plots

    def summary(df: pd.DataFrame, value: str) -> pd.DataFrame:
        rows = []
        for (agent, bound), g in df.groupby(["agent", "norm_bound"], sort=True):
            e = stats.t_interval(g[value].to_numpy(float))
            rows.append({"agent": agent, "norm_bound": bound, "mean": e.point, "low": e.low, "high": e.high})
        return pd.DataFrame(rows)

    returns, bellman = runs[runs["experiment"] == "returns"], runs[runs["experiment"] == "bellman"]
    written = plots.save(
        plots.xy_lines(
            summary(returns, "J"),
            "norm_bound",
            "mean",
            "agent",
            "OMD tabular: return vs model norm bound",
            "norm bound on model parameters",
            "J (true MDP)",
            ("low", "high"),
        ),
        folder / f"omd_tabular_returns{suffix}",
    )
    if bellman.empty:
        return written
    tight = pd.concat(
        [
            summary(bellman, "q_error").assign(agent=lambda d: d["agent"] + ": |Q*-Q|"),
            summary(bellman, "bound").assign(agent=lambda d: d["agent"] + ": bound"),
        ]
    )
    written += plots.save(
        plots.xy_lines(
            tight,
            "norm_bound",
            "mean",
            "agent",
            "OMD tabular (Bellman objective): Q* error and Theorem-2 bound",
            "norm bound on model parameters",
            "max |Q* - Q|",
            ("low", "high"),
        ),
        folder / f"omd_tabular_tightness{suffix}",
    )
    return written


FIGURE_CAPTIONS = {
    "curves": "Learning curves: return per task against agent steps, mean over seeds with a 95% t-interval.",
    "aggregates": "Aggregate normalized scores over tasks (Mean, Median, rliable's run-level IQM and optimality gap) "
    "with 95% intervals.",
    "sample_efficiency": "Sample efficiency: rliable's run-level IQM of normalized scores against agent steps, "
    "with 95% intervals.",
    "profile": "Performance profile: fraction of runs scoring above each normalized threshold, "
    "with 95% bootstrap bands.",
}


def _caption(path: str) -> str:
    name = Path(path).stem
    if name in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[name]
    if name.startswith("iqrl_"):
        return (
            f"iQRL paper draft, figure data '{name[5:]}': "
            "published learning curves per task (agent steps, action repeat 2)."
        )
    if name.startswith("diagnostics_"):
        return f"Agent diagnostic '{name[12:]}' per task against agent steps, mean over seeds with a 95% t-interval."
    return name.replace("_", " ")


def _ranks(final: pd.DataFrame) -> pd.Series:
    """Mean over tasks of each algorithm's rank (1 = best task mean) among the algorithms that ran the task."""
    means = final[np.isfinite(final["return"].to_numpy(float))].groupby(["task", "algo"])["return"].mean().reset_index()
    means["rank"] = means.groupby("task")["return"].rank(ascending=False, method="average")
    return means.groupby("algo")["rank"].mean()


def _section(
    suite, sub, final, aggregates, sources, compute, norm, failed, studies: dict[str, str], figures: list[str]
) -> str:
    """One suite: leaderboard (per algorithm) and cells (per task x algorithm) tables."""
    board = []
    ranks = _ranks(final) if not norm else None
    tasks_total = final["task"].nunique()
    for algo in sorted(final["algo"].unique()):
        f = final[final["algo"] == algo]
        c = compute[compute["algo"] == algo] if not compute.empty else compute
        finite = f[np.isfinite(f["return"].to_numpy(float))]
        seeds = finite.groupby("task")["seed"].nunique().reindex(f["task"].unique(), fill_value=0)
        lost = int(len(f) - len(finite)) + sum(n for (t, a), n in failed.items() if a == algo)
        seeds_col = (f"{seeds.min()}–{seeds.max()}" if seeds.min() != seeds.max() else str(seeds.min())) + (
            f" ({lost} diverged)" if lost else ""
        )
        columns = []
        if aggregates is not None:
            for metric in ("iqm", "iqm_task_mean", "mean"):
                r = aggregates[(aggregates["algo"] == algo) & (aggregates["metric"] == metric)]
                text = (
                    interval_text(r.iloc[0]["point"], r.iloc[0]["low"], r.iloc[0]["high"], 3)
                    if not r.empty
                    else "incomplete"
                )
                columns.append(
                    (f"{stats.METRIC_LABELS[metric]} ({norm})", text, r.iloc[0]["point"] if not r.empty else -1e18)
                )
        elif ranks is not None:
            columns.append(
                (
                    f"mean rank over tasks (1 = best, of {final['algo'].nunique()})",
                    fmt(ranks.get(algo, np.nan), 2),
                    ranks.get(algo, 1e18),
                )
            )
        board.append(
            [
                ("algo", algo, algo),
                ("source", sources.get(algo, ""), sources.get(algo, "")),
                ("tasks", f"{f['task'].nunique()} of {tasks_total}", f["task"].nunique()),
                ("seeds per cell", seeds_col, seeds.min()),
                *columns,
                ("params", _num(_median(c, "params"), 0), _median(c, "params", -1)),
                ("updates/s", _num(_median(c, "updates_per_sec"), 1), _median(c, "updates_per_sec", -1)),
                (
                    "wall-clock h (sum)",
                    _num(c["wall_clock_s"].sum() / 3600 if len(c) else None, 2),
                    c["wall_clock_s"].sum() if len(c) else -1,
                ),
            ]
        )
    cells = []
    digits = {task: digits_for(g["return"]) for task, g in final.groupby("task")}
    for (task, algo), f in final.groupby(["task", "algo"], sort=True):
        c = compute[(compute["task"] == task) & (compute["algo"] == algo)] if not compute.empty else compute
        v = f["return"].to_numpy(float)
        ok = v[np.isfinite(v)]
        d = digits[task]
        links = " ".join(
            f'<a href="{html.escape(r.link)}">seed {r.seed}</a>' for r in c.sort_values("seed").itertuples()
        )
        here = sub[(sub["task"] == task) & (sub["algo"] == algo)]
        pid, source = f"{here['protocol_id'].iloc[0]}", here["source"].iloc[0]
        if not links and source in studies:
            links = f'<a href="{html.escape(studies[source])}">study data</a>'
        elif not links:
            url = PUBLISHED_URLS.get(pid.split(":")[0])
            links = f'<a href="{url}">published data</a>' if url else "published data"
        command = _command(c.iloc[0]["m"], list(c["seed"])) if len(c) else ""
        spread = f" ± {fmt(ok.std(ddof=1), d)}" if len(ok) > 1 else ""
        mean = ok.mean() if len(ok) else np.nan
        nrm = f["normalized"].to_numpy(float)
        nrm = nrm[np.isfinite(nrm)]
        cells.append(
            [
                ("task", task, task),
                ("algo", algo, algo),
                ("return (mean ± std)", f"{fmt(mean, d)}{spread}", mean),
                ("normalized", fmt(nrm.mean(), 3) if norm and len(nrm) else "", nrm.mean() if norm and len(nrm) else 0),
                ("seeds", seeds_text(len(ok), len(v) - len(ok), failed.get((task, algo), 0)), len(ok)),
                ("step", f"{int(f['step'].max()):,}", int(f["step"].max())),
                ("params", _num(_median(c, "params"), 0), _median(c, "params", -1)),
                ("updates/s", _num(_median(c, "updates_per_sec"), 1), _median(c, "updates_per_sec", -1)),
                ("runs", links, None),
                ("reproduce", f"<code>{html.escape(command)}</code>" if command else "", None),
            ]
        )
    imgs = "".join(
        f'<figure><img src="{html.escape(f)}" alt="{html.escape(_caption(f))}">'
        f"<figcaption>{html.escape(_caption(f))}</figcaption></figure>"
        for f in figures
        if f.endswith(".svg")
    )
    how = (
        (
            "normalization: "
            + norm
            + "; IQM is rliable's run-level interquartile mean, 'IQM of task means (MR.Q)' MR.Q's form; "
            "intervals are 95% t-intervals on the task-stratified estimate"
        )
        if norm
        else "no normalization (raw returns): algorithms are ranked per task instead of aggregated across tasks"
    )
    return (
        f'<section id="{html.escape(suite)}"><h2>{html.escape(suite)}</h2>'
        f'<p>{html.escape(how)}. Tables: <a href="{html.escape(suite)}/scores.md">scores.md</a>, '
        f'<a href="{html.escape(suite)}/scores.csv">csv</a>, '
        f'<a href="{html.escape(suite)}/scores.tex">tex</a></p>'
        f"<h3>Leaderboard</h3>{_table(board, 'board-' + suite)}"
        f"<h3>Cells (final = each run's budget)</h3>{_table(cells, 'cells-' + suite)}"
        f'<div class="figs">{imgs}</div></section>'
    )


def _median(compute: pd.DataFrame, column: str, missing=None):
    """Median of a compute column over the cells that recorded it (published rows record none)."""
    values = pd.to_numeric(compute[column], errors="coerce").dropna() if len(compute) else ()
    return float(np.median(values)) if len(values) else missing


def _num(x, digits: int) -> str:
    return "" if x is None or pd.isna(x) else f"{x:,.{digits}f}"


def _table(rows: list[list[tuple]], table_id: str) -> str:
    """Sortable table: each cell is (column, html, sort key); escaped text except links/code."""
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f'<th data-col="{i}">{html.escape(c)}</th>' for i, (c, _, _) in enumerate(rows[0]))
    body = []
    for row in rows:
        tds = []
        for col, text, key in row:
            content = text if col in ("runs", "reproduce") else html.escape(str(text))
            sort = "" if key is None else f' data-sort="{html.escape(_sort_key(key))}"'
            css = f' class="{html.escape(str(text).replace(" ", "-"))}"' if col == "verdict" else ""
            tds.append(f"<td{sort}{css}>{content}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (
        f'<table class="sortable" id="{html.escape(table_id)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _sort_key(key) -> str:
    if isinstance(key, (int, float, np.integer, np.floating)) and not pd.isna(key):
        return repr(float(key))
    return str(key)


_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = +th.dataset.col;
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    function key(r) { var c = r.cells[col]; var k = c.dataset.sort !== undefined ? c.dataset.sort : c.textContent; \
return /^-?[0-9.]+(e[-+]?[0-9]+)?$/i.test(k) ? parseFloat(k) : k; }
    rows.sort(function (a, b) { var x = key(a), y = key(b); \
var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y)); \
return asc ? c : -c; });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""
_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
code { font-size: 12px; } .figs img { max-width: 900px; } figure { margin: 1em 0; }
.consistent, .reproduces { color: #176317; } .inconsistent, .does-not-reproduce { color: #a31515; font-weight: bold; }
.inconclusive, .refused { color: #777; } figcaption { color: #444; max-width: 900px; }
"""


def reproduction_status(data: pd.DataFrame, inputs: Inputs, claims: list | None = None) -> pd.DataFrame:
    """Per published (algorithm, suite): "matches published up to step k (n seeds)", "differs from step k
    (task)", "not comparable: ..." or "not yet run", from ``analysis.curves``; then per (algorithm, suite)
    of our runs that no published curve covers, the published point claims at steps within its budget
    ("consistent with the published value at step k (n seeds)" / "differs at step k (task)"), else "no
    published curve or claim". Protocol differences are accepted and stated, as a reviewer reading the
    table needs the comparison, not a refusal, but only within a suite (a dmc-proprio run is not checked
    against the dmc-visual curve); never written by hand (README block: ``bench status``)."""
    from analysis import curves
    from suites import suites

    known_suites = set(suites())
    cols = ["published", "suite", "our algo", "status", "detail"]
    published = data[data["source"].str.startswith("published:") & data["algo"].map(curves._is_published_label)]
    verdicts = (
        curves.check_curves(data, inputs.protocols, curves.declarations(inputs.manifests), allow_protocol_mismatch=True)
        if not published.empty
        else []
    )
    rows = []
    for (algo, pid), g in published.groupby(["algo", "protocol_id"], sort=True):
        # never across two of our suites (a dmc-proprio run against the dmc-visual curve compares nothing); a
        # published pseudo-suite (TD3's gym-v1) is compared with the runs its protocol guard lets through
        suite = g["suite"].iloc[0]
        mine = [
            v
            for v in verdicts
            if v.published == pid
            and curves._base(v.algo) == curves._base(algo)
            and (v.suite == suite or suite not in known_suites)
        ]
        for ours in sorted({v.algo for v in mine}) or [""]:
            cells = [v for v in mine if v.algo == ours]
            differ = [v for v in cells if v.verdict == curves.DIFFERS]
            match = [v for v in cells if v.verdict == curves.MATCHES]
            if not cells:
                status, detail = "not yet run", f"no runs of ours on the {g['task'].nunique()} published tasks"
            elif differ:
                first = min(differ, key=lambda v: v.step)
                status, detail = f"differs from step {first.step:,} ({first.task})", first.detail
            elif match:
                k, n = min(v.step for v in match), min(v.n_ours for v in match)
                status = f"matches published up to step {k:,} ({n} seeds)"
                detail = f"{len(match)} of {g['task'].nunique()} published tasks compared"
            else:
                status, detail = "not comparable", cells[0].detail
            rows.append(
                {
                    "published": f"{algo} ({pid})",
                    "suite": g["suite"].iloc[0],
                    "our algo": ours or "-",
                    "status": status,
                    "detail": detail,
                }
            )
    covered = {(r["suite"], r["our algo"]) for r in rows if r["status"] not in ("not yet run", "not comparable")}
    covered |= {(v.suite, v.algo) for v in verdicts if v.verdict in (curves.MATCHES, curves.DIFFERS)}
    rows += _claim_status(data[data["source"] == "runs"], inputs, claims, covered)
    return pd.DataFrame(rows, columns=cols)


def _claim_status(ours: pd.DataFrame, inputs: Inputs, claims: list | None, covered: set) -> list[dict]:
    """Status rows of our (algorithm, suite) cells from published point claims (single tasks, within budget)."""
    from analysis import claims as cl

    rows = []
    claims = [c for c in (claims if claims is not None else load_claims()) if c.task != "*"]
    known = {**cl.IMPORTED_PROTOCOLS, **inputs.protocols}
    for (suite, algo), g in ours.groupby(["suite", "algo"], sort=True):
        if (suite, algo) in covered:
            continue
        budget = int(g["step"].max())
        mine = [c for c in claims if c.suite == suite and c.algo == algo and c.step <= budget]
        verdicts = [
            v
            for v in cl.check(mine, g, inputs.protocols, allow_protocol_mismatch=True, reps=200)
            if v.verdict in (cl.CONSISTENT, cl.INCONSISTENT) or (v.verdict == cl.INCONCLUSIVE and v.evidence != "-")
        ]
        if not verdicts:
            rows.append(
                {
                    "published": "-",
                    "suite": suite,
                    "our algo": algo,
                    "status": "no published curve or claim",
                    "detail": f"{g['task'].nunique()} task(s), "
                    f"{g.groupby('task')['seed'].nunique().min()} seeds or more, to step {budget:,}",
                }
            )
            continue
        for v in sorted(verdicts, key=lambda v: (v.claim.task, v.claim.step)):
            diffs = sorted(
                {d for pid in g["protocol_id"].unique() for d in cl._protocol_differences(v.claim, known.get(pid))}
            )
            status = {
                cl.CONSISTENT: f"consistent with the published value at step {v.claim.step:,} ({v.n_seeds} seeds)",
                cl.INCONSISTENT: f"differs at step {v.claim.step:,} ({v.claim.task})",
            }.get(v.verdict, f"inconclusive at step {v.claim.step:,} ({v.claim.task})")
            rows.append(
                {
                    "published": f"{v.claim.paper}, {v.claim.table}: {v.claim.cell}",
                    "suite": suite,
                    "our algo": algo,
                    "status": status,
                    "detail": v.detail.rstrip(".") + (f"; protocol differs: {'; '.join(diffs)}" if diffs else ""),
                }
            )
    return rows


def _html(sections: list[str], verdicts: pd.DataFrame, status: pd.DataFrame | None = None) -> str:
    counts = verdicts["verdict"].value_counts()
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    claims = [
        [
            ("claim", r.claim_id, r.claim_id),
            ("where", f"{r.paper}, {r.table}: {r.cell}", r.table),
            ("claimed", f"{r.claimed:g}", r.claimed),
            ("evidence", r.evidence, r.evidence),
            ("verdict", r.verdict, r.verdict),
            ("detail", r.detail, r.detail),
        ]
        for r in verdicts.itertuples()
        if r.verdict != "inconclusive" or r.evidence != "-"
    ]
    nav = " · ".join(
        f'<a href="#{html.escape(s.split(chr(34))[1])}">{html.escape(s.split(chr(34))[1])}</a>' for s in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>latentbench leaderboard</title>'
        f"<style>{_STYLE}</style></head><body><h1>latentbench leaderboard</h1>"
        f'<p>suites: {nav} · <a href="#claims">claims</a></p>'
        + "".join(sections)
        + (
            '<section id="reproduction"><h2>Reproduction status</h2>'
            "<p>Our runs' learning curves against the published runs of the "
            'same algorithm and task, step by step (Welch t, Bonferroni over steps: 5% false "differs" per cell); '
            "where no published curve exists, against the published point claims within the run's budget "
            "(bench check's rule, 5% two-sided). Protocol differences are stated, not refused.</p>"
            + _table(
                [[(c, str(v), str(v)) for c, v in r.items()] for r in status.to_dict("records")], "reproduction-table"
            )
            + "</section>"
            if status is not None and not status.empty
            else ""
        )
        + f'<section id="claims"><h2>Published claims</h2><p>{html.escape(summary)} '
        "(claims without any matching data are listed only in "
        f'<a href="claims.csv">claims.csv</a>)</p>{_table(claims, "claims-table")}</section>'
        + f"<script>{_SCRIPT}</script></body></html>\n"
    )
