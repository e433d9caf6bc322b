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

from analysis import plots
from analysis.claims import check, load_claims, suite_normalization, verdict_table
from analysis.importers import import_omd_tabular, import_reference
from analysis.load import COLUMNS, empty_table, load_manifests, load_runs, run_protocols
from analysis.normalize import normalize
from analysis.scores import final_scores, performance_profile, probability_of_improvement, sample_efficiency
from analysis.tables import aggregate_rows, design_study_table, digits_for, fmt, mean_std_table, per_task_table, write_table
from bench.errors import UserError
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


def gather(runs: list[str | Path] | None, references: list[str | Path] | None) -> Inputs:
    """Our runs (default ``results/``; a missing default store is skipped) plus imported data."""
    explicit = bool(runs)
    runs_dirs = [Path(r) for r in (runs or ["results"])]
    frames, manifests, protocols, studies = [], [], {}, []
    for d in runs_dirs:
        for f in sorted((d / "studies").rglob("omd_tabular_runs.csv")):
            frames.append(import_omd_tabular(f))
            studies.append(f)
        if not (d / "runs").is_dir():
            if explicit and not (d / "studies").is_dir():
                raise UserError(f"{d}: not a results store (no {d / 'runs'} folder); pass the --out folder of 'bench run'")
            continue
        frames.append(load_runs(d))
        manifests += load_manifests(d)
        protocols.update(run_protocols(d))
    for r in references or []:
        frames.append(import_reference(r))
        studies += sorted(Path(r).rglob("omd_tabular_runs.csv"))
    frames = [f for f in frames if not f.empty]
    data = pd.concat(frames, ignore_index=True)[COLUMNS] if frames else empty_table()
    return Inputs(data, manifests, protocols, runs_dirs, studies)


def _curves(data: pd.DataFrame, value: str, *, seed: int, reps: int, max_points: int = 60) -> pd.DataFrame:
    """Per (task, algo, step): mean over seeds with a 95% percentile bootstrap CI (vectorised)."""
    rng = np.random.default_rng(seed)
    out = []
    for (task, algo), g in data.groupby(["task", "algo"], sort=True):
        steps = np.sort(g["step"].unique())
        if len(steps) > max_points:
            steps = steps[np.linspace(0, len(steps) - 1, max_points).round().astype(int)]
        for step in steps:
            v = g.loc[g["step"] == step, value].to_numpy(float)
            means = rng.choice(v, size=(reps, len(v))).mean(axis=1)
            out.append({"task": task, "algo": algo, "step": int(step), "mean": v.mean(),
                        "low": np.percentile(means, 2.5), "high": np.percentile(means, 97.5)})
    return pd.DataFrame(out, columns=["task", "algo", "step", "mean", "low", "high"])


def _sources(data: pd.DataFrame) -> dict[str, str]:
    out = {}
    for algo, g in data.groupby("algo"):
        kinds = sorted({"our runs" if s == "runs" else f"our study ({p.split(':')[0]})" if s.startswith("study:")
                        else f"published ({p.split(':')[0]})" for s, p in zip(g["source"], g["protocol_id"])})
        out[algo] = " + ".join(kinds)
    return out


def _matrices(final: pd.DataFrame) -> dict[str, np.ndarray]:
    """(seeds x tasks) normalized matrix per algorithm that covers every task of the suite with
    common seeds; algorithms with gaps are left out of the aggregates (the coverage column says so)."""
    tasks = sorted(final["task"].unique())
    out = {}
    for algo, g in final.groupby("algo"):
        wide = g.pivot_table(index="seed", columns="task", values="normalized", aggfunc="first")
        if sorted(wide.columns) != tasks:
            continue
        wide = wide[tasks].dropna()
        if len(wide):
            out[algo] = wide.to_numpy()
    return out


def _command(m: dict, seeds: list[int]) -> str:
    cell, proto = m["cell"], m["protocol"]
    parts = ["bench", "run", "--suite", cell["suite"], "--tasks", cell["task"], "--algos", cell["algo"],
             "--seeds", ",".join(str(s) for s in sorted(seeds))]
    if proto.get("reduced_budget"):
        parts += ["--steps", str(proto["agent_steps"])]
    for k, v in sorted((m.get("config_overrides") or {}).items()):
        parts += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    return shlex.join(parts)


def _compute(manifests: list[dict], suite: str, out: Path) -> pd.DataFrame:
    rows = []
    for m in manifests:
        if m["cell"]["suite"] != suite:
            continue
        rows.append({"task": m["cell"]["task"], "algo": run_label(m), "seed": m["cell"]["seed"],
                     "params": m.get("num_parameters"), "updates_per_sec": m.get("updates_per_sec"),
                     "wall_clock_s": m.get("wall_clock_s"), "link": os.path.relpath(m["_dir"] / "manifest.json", out),
                     "m": m})
    return pd.DataFrame(rows, columns=["task", "algo", "seed", "params", "updates_per_sec", "wall_clock_s", "link", "m"])


def build(inputs: Inputs, out: str | Path = "results/report", *, claims_files=None, seed: int = 0, reps: int = 2000,
          progress: bool = True) -> list[Path]:
    data = inputs.data
    if data.empty:
        where = ", ".join(str(d / "runs") for d in inputs.runs_dirs) or "results/runs"
        raise UserError(f"nothing to report: no complete runs in {where} and no --reference data; run 'bench run' first "
                        f"or import published data with --reference DIR (see 'bench reference fetch')")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sections = []
    suites = sorted(data["suite"].unique())
    from tqdm import tqdm

    for suite in tqdm(suites, desc="report", unit="suite", disable=not progress):
        raw = data[data["suite"] == suite]
        # the same published run can sit in several files (iQRL's base runs appear in every ablation folder): count it once
        sub = raw.drop_duplicates(["task", "algo", "seed", "step"]).copy()
        norm = suite_normalization(suite)
        sub["normalized"] = [normalize(norm, t, r) for t, r in zip(sub["task"], sub["return"])] if norm else np.nan
        final = final_scores(sub)
        final["normalized"] = [normalize(norm, t, r) for t, r in zip(final["task"], final["return"])] if norm else np.nan
        sdir = out / suite
        sources = _sources(sub)
        matrices = _matrices(final) if norm else {}
        aggregates = aggregate_rows(matrices, seed=seed, reps=reps) if matrices else None
        written += write_table(per_task_table(final, aggregates, sources, seed=seed, reps=reps), sdir / "scores",
                               f"{suite}: final return per task, mean [95% CI] over seeds" + ("; aggregates normalized" if norm else ""))
        if sub["step"].max() > 0:  # exact studies (omd-tabular) have no learning curves
            written += plots.save(plots.learning_curves(_curves(sub, "return", seed=seed, reps=500), f"{suite}: return (mean, 95% CI over seeds)"), sdir / "curves")
        if aggregates is not None:
            written += write_table(aggregates.assign(point=aggregates["point"].map(lambda x: f"{x:.4f}"), low=aggregates["low"].map(lambda x: f"{x:.4f}"),
                                                     high=aggregates["high"].map(lambda x: f"{x:.4f}")), sdir / "aggregates",
                                   f"{suite}: aggregates of normalized scores ({norm}), 95% stratified bootstrap CIs")
            written += plots.save(plots.aggregate_intervals(aggregates, f"{suite} ({norm})"), sdir / "aggregates")
            curves = {a: sample_efficiency(sub[sub["task"].isin(final["task"].unique())], a, "normalized", seed=seed) for a in matrices}
            written += plots.save(plots.aggregate_curves(curves, f"{suite}: IQM vs steps", f"IQM ({norm})"), sdir / "sample_efficiency")
            taus = np.linspace(0.0, max(1.0, float(max(m.max() for m in matrices.values()))), 51)
            written += plots.save(plots.performance_profiles(taus, performance_profile(matrices, taus, seed=seed, reps=reps),
                                                             f"{suite}: performance profile", f"normalized score ({norm}) " + r"$\tau$"), sdir / "profile")
            if len(matrices) > 1:
                poi = [{"x": x, "y": y, **dict(zip(("P(X>Y)", "low", "high"), (f"{v:.3f}" for v in probability_of_improvement(matrices[x], matrices[y], seed=seed, reps=reps))))}
                       for x in sorted(matrices) for y in sorted(matrices) if x < y]
                written += write_table(pd.DataFrame(poi), sdir / "probability_of_improvement", f"{suite}: probability of improvement, 95% CI")
            base = [a for a in matrices if "@" not in a and any(b.startswith(a + "@") for b in matrices)]
            for b in base:
                written += write_table(design_study_table(matrices, b, seed=seed, reps=reps), sdir / f"design_study_{b}",
                                       f"{suite}: difference in normalized score to {b} (MR.Q Table 2 layout)")
        if suite.startswith("alm"):
            written += write_table(mean_std_table(final_scores(sub, step=200_000)), sdir / "mean_std_200k",
                                   f"{suite}: return at 200k steps, mean ± std over seeds (ALM Table 1 layout)")
        for figure, g in raw[raw["protocol_id"] == "iqrl-draft:dmc"].groupby(raw["source"].str.split("/").str[1]):
            written += plots.save(plots.learning_curves(_curves(g.drop_duplicates(["task", "algo", "seed", "step"]), "return", seed=seed, reps=200),
                                                        f"iQRL paper draft: {figure}", "agent steps (action repeat 2)"), sdir / f"iqrl_{figure}")
        diag = _diagnostics(inputs.manifests, suite)
        if not diag.empty:  # e.g. iQRL's latent rank and FSQ code usage (the paper's rank comparison)
            written += write_table(diag.sort_values(["metric", "task", "algo", "seed", "step"]).astype(str), sdir / "diagnostics",
                                   f"{suite}: per-evaluation agent diagnostics")
            for metric in sorted(m for m in diag["metric"].unique() if m.startswith("latent_rank")):
                d = diag[diag["metric"] == metric].rename(columns={"value": "return"})
                written += plots.save(plots.learning_curves(_curves(d, "return", seed=seed, reps=200), f"{suite}: {metric} (mean, 95% CI over seeds)"),
                                      sdir / f"diagnostics_{metric}")
        sections.append((suite, sub, final, aggregates, sources, _compute(inputs.manifests, suite, out), norm))
    for i, study in enumerate(inputs.studies):
        written += _omd_tabular_figures(pd.read_csv(study), out / "omd-tabular", "" if i == 0 else f"_{i}", seed=seed)
    verdicts = verdict_table(check(load_claims(claims_files), data, inputs.protocols, seed=seed, reps=reps))
    written += write_table(verdicts.assign(**{c: verdicts[c].map(lambda x: "" if pd.isna(x) else f"{x:.4g}") for c in ("estimate", "ci_low", "ci_high")}),
                           out / "claims", "published claims checked against runs and imported data")
    svgs = sorted(p.relative_to(out) for p in written if p.suffix == ".svg")
    studies = {f"study:omd-tabular/{p.name}": os.path.relpath(p, out) for p in inputs.studies}  # study rows link to their CSV
    pages = [_section(*args, studies, [p.as_posix() for p in svgs if p.parts[0] == args[0]]) for args in sections]
    index = out / "index.html"
    atomic_write_text(index, _html(pages, verdicts))
    written.append(index)
    return written


def _diagnostics(manifests: list[dict], suite: str) -> pd.DataFrame:
    """``diagnostics.csv`` of every cell of the suite (long format: step, env_frames, metric, value)."""
    frames = []
    for m in manifests:
        path = m["_dir"] / "diagnostics.csv"
        if m["cell"]["suite"] == suite and path.exists():
            d = pd.read_csv(path)
            frames.append(d.assign(task=m["cell"]["task"], algo=run_label(m), seed=int(m["cell"]["seed"])))
    if not frames:
        return pd.DataFrame(columns=["task", "algo", "seed", "step", "env_frames", "metric", "value"])
    return pd.concat(frames, ignore_index=True)[["task", "algo", "seed", "step", "env_frames", "metric", "value"]]


def _omd_tabular_figures(runs: pd.DataFrame, folder: Path, suffix: str, *, seed: int) -> list[Path]:
    """OMD paper Figure 2 (J vs model norm bound, returns objective) and Figure 3 right (max |Q* - Q|
    and the Theorem-2 bound vs norm bound, Bellman objective), mean and 95% bootstrap CI over seeds."""
    def summary(df: pd.DataFrame, value: str) -> pd.DataFrame:
        rows = []
        rng = np.random.default_rng(seed)
        for (agent, bound), g in df.groupby(["agent", "norm_bound"], sort=True):
            v = g[value].to_numpy(float)
            means = rng.choice(v, size=(1000, len(v))).mean(axis=1)
            rows.append({"agent": agent, "norm_bound": bound, "mean": v.mean(), "low": np.percentile(means, 2.5), "high": np.percentile(means, 97.5)})
        return pd.DataFrame(rows)

    returns, bellman = runs[runs["experiment"] == "returns"], runs[runs["experiment"] == "bellman"]
    written = plots.save(plots.xy_lines(summary(returns, "J"), "norm_bound", "mean", "agent", "OMD tabular: return vs model norm bound",
                                        "norm bound on model parameters", "J (true MDP)", ("low", "high")), folder / f"omd_tabular_returns{suffix}")
    if bellman.empty:
        return written
    tight = pd.concat([summary(bellman, "q_error").assign(agent=lambda d: d["agent"] + ": |Q*-Q|"),
                       summary(bellman, "bound").assign(agent=lambda d: d["agent"] + ": bound")])
    written += plots.save(plots.xy_lines(tight, "norm_bound", "mean", "agent", "OMD tabular (Bellman objective): Q* error and Theorem-2 bound",
                                         "norm bound on model parameters", "max |Q* - Q|", ("low", "high")), folder / f"omd_tabular_tightness{suffix}")
    return written


def _section(suite, sub, final, aggregates, sources, compute, norm, studies: dict[str, str], figures: list[str]) -> str:
    """One suite: leaderboard (per algorithm) and cells (per task x algorithm) tables."""
    d = digits_for(final["return"])
    board = []
    for algo in sorted(final["algo"].unique()):
        f = final[final["algo"] == algo]
        c = compute[compute["algo"] == algo] if not compute.empty else compute
        seeds = f.groupby("task")["seed"].nunique()
        agg = {}
        if aggregates is not None:
            for metric in ("iqm", "mean"):
                r = aggregates[(aggregates["algo"] == algo) & (aggregates["metric"] == metric)]
                agg[metric] = (r.iloc[0]["point"], r.iloc[0]["low"], r.iloc[0]["high"]) if not r.empty else None
        board.append([("algo", algo, algo), ("source", sources.get(algo, ""), sources.get(algo, "")),
                      ("tasks", str(f["task"].nunique()), f["task"].nunique()),
                      ("seeds per cell", f"{seeds.min()}–{seeds.max()}" if seeds.min() != seeds.max() else str(seeds.min()), seeds.min()),
                      *(((f"{m.upper()} ({norm})", f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]" if v else "incomplete", v[0] if v else -1e18) for m, v in agg.items())),
                      ("params", _num(c["params"].median() if len(c) else None, 0), c["params"].median() if len(c) else -1),
                      ("updates/s", _num(c["updates_per_sec"].median() if len(c) else None, 1), c["updates_per_sec"].median() if len(c) else -1),
                      ("wall-clock h (sum)", _num(c["wall_clock_s"].sum() / 3600 if len(c) else None, 2), c["wall_clock_s"].sum() if len(c) else -1)])
    cells = []
    for (task, algo), f in final.groupby(["task", "algo"], sort=True):
        c = compute[(compute["task"] == task) & (compute["algo"] == algo)] if not compute.empty else compute
        v = f["return"].to_numpy(float)
        links = " ".join(f'<a href="{html.escape(r.link)}">seed {r.seed}</a>' for r in c.sort_values("seed").itertuples())
        pid = f"{sub[(sub['task'] == task) & (sub['algo'] == algo)]['protocol_id'].iloc[0]}"
        source = sub[(sub["task"] == task) & (sub["algo"] == algo)]["source"].iloc[0]
        if not links and source in studies:
            links = f'<a href="{html.escape(studies[source])}">study data</a>'
        elif not links:
            url = PUBLISHED_URLS.get(pid.split(":")[0])
            links = f'<a href="{url}">published data</a>' if url else "published data"
        command = _command(c.iloc[0]["m"], list(c["seed"])) if len(c) else ""
        cells.append([("task", task, task), ("algo", algo, algo), ("return", f"{fmt(v.mean(), d)} ± {fmt(v.std(ddof=1) if len(v) > 1 else 0.0, d)}", v.mean()),
                      ("normalized", fmt(f["normalized"].mean(), 3) if norm else "", f["normalized"].mean() if norm else 0),
                      ("seeds", str(len(v)), len(v)), ("step", f"{int(f['step'].max()):,}", int(f["step"].max())),
                      ("params", _num(c["params"].median() if len(c) else None, 0), c["params"].median() if len(c) else -1),
                      ("updates/s", _num(c["updates_per_sec"].median() if len(c) else None, 1), c["updates_per_sec"].median() if len(c) else -1),
                      ("runs", links, None), ("reproduce", f"<code>{html.escape(command)}</code>" if command else "", None)])
    imgs = "".join(f'<figure><img src="{html.escape(f)}" alt="{html.escape(f)}"><figcaption>{html.escape(f)}</figcaption></figure>' for f in figures)
    return (f'<section id="{html.escape(suite)}"><h2>{html.escape(suite)}</h2>'
            f'<p>normalization: {html.escape(norm or "none (raw returns; no aggregate across tasks)")}; '
            f'tables: <a href="{html.escape(suite)}/scores.md">scores.md</a>, <a href="{html.escape(suite)}/scores.csv">csv</a>, '
            f'<a href="{html.escape(suite)}/scores.tex">tex</a></p>'
            f"<h3>Leaderboard</h3>{_table(board, 'board-' + suite)}<h3>Cells</h3>{_table(cells, 'cells-' + suite)}"
            f'<div class="figs">{imgs}</div></section>')


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
            css = f' class="{html.escape(str(text))}"' if col == "verdict" else ""
            tds.append(f"<td{sort}{css}>{content}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f'<table class="sortable" id="{html.escape(table_id)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


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
    function key(r) { var c = r.cells[col]; var k = c.dataset.sort !== undefined ? c.dataset.sort : c.textContent; return /^-?[0-9.]+(e[-+]?[0-9]+)?$/i.test(k) ? parseFloat(k) : k; }
    rows.sort(function (a, b) { var x = key(a), y = key(b); var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y)); return asc ? c : -c; });
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
.consistent { color: #176317; } .inconsistent { color: #a31515; font-weight: bold; } .inconclusive, .refused { color: #777; }
"""


def _html(sections: list[str], verdicts: pd.DataFrame) -> str:
    counts = verdicts["verdict"].value_counts()
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    claims = [[("claim", r.claim_id, r.claim_id), ("where", f"{r.paper}, {r.table}: {r.cell}", r.table),
               ("claimed", f"{r.claimed:g}", r.claimed), ("evidence", r.evidence, r.evidence),
               ("verdict", r.verdict, r.verdict), ("detail", r.detail, r.detail)] for r in verdicts.itertuples()
              if r.verdict != "inconclusive" or r.evidence != "-"]
    nav = " · ".join(f'<a href="#{html.escape(s.split(chr(34))[1])}">{html.escape(s.split(chr(34))[1])}</a>' for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>latentbench leaderboard</title>"
            f"<style>{_STYLE}</style></head><body><h1>latentbench leaderboard</h1><p>suites: {nav} · <a href=\"#claims\">claims</a></p>"
            + "".join(sections)
            + f'<section id="claims"><h2>Published claims</h2><p>{html.escape(summary)} (claims without any matching data are listed only in '
              f'<a href="claims.csv">claims.csv</a>)</p>{_table(claims, "claims-table")}</section>'
            + f"<script>{_SCRIPT}</script></body></html>\n")
