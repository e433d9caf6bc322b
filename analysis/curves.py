"""Curve checks (``bench check --against SOURCE``): our runs against imported published runs of the same
algorithm and task, at every step both have.

A learning curve up to step k does not depend on whether the run went on, so a reduced-budget run
of ours is comparable with the published runs at the steps within its budget, provided nothing in
the agent depends on the total budget: runs record the config fields whose effect scales with the
budget (the manifest's ``budget_dependent_fields``, declared by each agent); a reduced-budget run
whose agent declares any, or whose manifest does not say, is refused with the field named.

At each common step the two sets of seeds are compared with Welch's two-sample t-interval of the
difference of means; over the K compared steps of one cell the level is Bonferroni-corrected
(alpha / K per step), so a cell whose published and our runs come from the same distribution is
called **differs** with probability at most alpha (5%) whatever K (tests/test_curves.py simulates
it). A cell **matches up to step k** (the last common step) when no step rejects, else it
**differs from step k on**, k the first step that rejects, with that step's interval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import stats
from analysis.importers import IMPORTED_PROTOCOLS
from results.store import run_label

MATCHES, DIFFERS, INCONCLUSIVE, REFUSED = "matches", "differs", "inconclusive", "refused"
# How each published source counts its x-axis, said in every verdict line (our runs: agent steps).
STEP_CONVENTIONS = {
    "mrq-paper": "MR.Q's Timestep = agent steps (env frames = steps x action repeat)",
    "td3-paper": "TD3's entry i taken as agent step 5000 i (the .npy files hold no steps)",
    "alm-paper": "ALM's Step as imported (the importer's warm-up alignment)",
    "iqrl-draft": "iQRL's env_step / 2 = agent steps (action repeat 2)",
}
COMPARED_FIELDS = ("env_version", "observation", "action_repeat", "eval_episodes", "discrete_eval")


@dataclass
class CurveVerdict:
    suite: str
    task: str
    algo: str
    published: str  # protocol id of the published data
    verdict: str
    step: int | None = None  # last matching step, or the first differing one
    interval: tuple[float, float] | None = None  # (ours - published) at ``step``, Bonferroni level
    n_ours: int = 0
    n_published: int = 0
    detail: str = ""


def _base(algo: str) -> str:
    return algo.split("@")[0].split(" [")[0]


def _task_key(task: str) -> str:
    return re.sub(r"-v\d+$", "", task)


def _is_published_label(algo: str) -> bool:
    return "@" in algo and algo.split("@", 1)[1].startswith(("published", "iqrl-draft"))


def compare_curves(
    ours: pd.DataFrame, published: pd.DataFrame, *, alpha: float = 0.05, min_seeds: int = 3, tolerance: float = 0.01
) -> tuple[str, int | None, tuple[float, float] | None, str, int, int]:
    """(verdict, step, interval, detail, n_ours, n_published) for one cell's two sets of curves.
    Steps pair when they agree within ``tolerance`` of the step (at least one step)."""

    def by_step(d: pd.DataFrame) -> dict[int, np.ndarray]:
        d = d[np.isfinite(d["return"].to_numpy(float))]
        return {int(s): g["return"].to_numpy(float) for s, g in d.groupby("step")}

    mine, theirs = by_step(ours), by_step(published)
    our_steps = np.array(sorted(mine))
    pairs = []
    for s in sorted(theirs):
        if not len(our_steps):
            break
        nearest = int(our_steps[np.argmin(np.abs(our_steps - s))])
        if (
            abs(nearest - s) <= max(1, tolerance * s)
            and len(mine[nearest]) >= min_seeds
            and len(theirs[s]) >= min_seeds
        ):
            pairs.append((s, nearest))
    if not pairs:
        return INCONCLUSIVE, None, None, f"no step where both have {min_seeds} finite seeds", 0, 0
    level = alpha / len(pairs)
    first_diff, last = None, None
    for s, mine_s in pairs:
        a, b = mine[mine_s], theirs[s]
        sa, sb = a.std(ddof=1) / np.sqrt(len(a)), b.std(ddof=1) / np.sqrt(len(b))
        c = stats.compare(float(a.mean()), sa, len(a) - 1, float(b.mean()), sb, len(b) - 1, 0.0, size=1 - level)
        last = (s, c, len(a), len(b))
        if not c.consistent:
            first_diff = last
            break
    s, c, na, nb = first_diff or last
    where = f"{len(pairs)} common steps, Bonferroni level {level:.2g} per step (5% per cell)"
    if first_diff:
        return (
            DIFFERS,
            s,
            (c.low, c.high),
            f"differs from step {s:,} on: ours - published = {c.difference:+.6g}, {100 * (1 - level):.3g}% CI "
            f"[{c.low:+.6g}, {c.high:+.6g}] ({na} vs {nb} seeds; {where})",
            na,
            nb,
        )
    return (
        MATCHES,
        s,
        (c.low, c.high),
        f"matches published up to step {s:,} ({na} vs {nb} seeds; {where}); at step {s:,} ours - published = "
        f"{c.difference:+.6g}, smallest detectable difference there {c.detectable:.3g}",
        na,
        nb,
    )


def declarations(manifests: list[dict]) -> dict[str, str | None]:
    """algo -> its declared budget-dependent config fields ("" for none; None when a manifest does not say)."""
    out: dict[str, str | None] = {}
    for m in manifests:
        algo = run_label(m)  # as load_runs names the run (``td3 [lr=0.001]`` for a --set config)
        declared = m.get("budget_dependent_fields")
        value = None if declared is None else ",".join(declared)
        out[algo] = value if out.get(algo, value) == value else None  # disagreeing manifests: undeclared
    return out


def check_curves(
    data: pd.DataFrame,
    protocols: dict[str, dict[str, str]],
    budget_dependent: dict[str, str | None] | None = None,
    *,
    allow_protocol_mismatch: bool = False,
    alpha: float = 0.05,
    min_seeds: int = 3,
) -> list[CurveVerdict]:
    """One verdict per (our suite protocol, task, algorithm) x published data set of the same algorithm and task.
    ``budget_dependent``: ``declarations`` of the runs' manifests."""
    budget_dependent = budget_dependent or {}
    runs = data[data["source"] == "runs"]
    pub = data[data["source"].str.startswith("published:") & data["algo"].map(_is_published_label)]
    out: list[CurveVerdict] = []
    if runs.empty or pub.empty:
        return out
    pub_keys = pub.assign(_base=pub["algo"].map(_base), _task=pub["task"].map(_task_key))
    group = runs["protocol_id"].map(lambda p: (protocols.get(p) or {}).get("suite_protocol", p))
    for (suite, task, algo, _), ours in runs.groupby([runs["suite"], runs["task"], runs["algo"], group], sort=True):
        fields = protocols.get(ours["protocol_id"].iloc[0]) or {}
        theirs_all = pub_keys[(pub_keys["_base"] == _base(algo)) & (pub_keys["_task"] == _task_key(task))]
        for pid, theirs in theirs_all.groupby("protocol_id", sort=True):
            verdict = CurveVerdict(suite, task, algo, pid, INCONCLUSIVE)
            published_fields = IMPORTED_PROTOCOLS.get(pid, {})
            diffs = [
                f"{k}: ours {fields.get(k, 'unknown')}, published {v}"
                for k, v in published_fields.items()
                if k in COMPARED_FIELDS and fields.get(k) != v
            ]
            refusal = _budget_refusal(fields, budget_dependent.get(algo))
            if refusal or (diffs and not allow_protocol_mismatch):
                verdict.verdict = REFUSED
                verdict.detail = refusal or (
                    "protocol differs: " + "; ".join(diffs) + " (--allow-protocol-mismatch compares anyway)"
                )
                out.append(verdict)
                continue
            budget = float(ours["budget"].max()) if "budget" in ours and ours["budget"].notna().any() else np.inf
            theirs = theirs[theirs["step"] <= budget * 1.01]
            result = compare_curves(ours, theirs, alpha=alpha, min_seeds=min_seeds)
            verdict.verdict, verdict.step, verdict.interval, detail, verdict.n_ours, verdict.n_published = result
            convention = STEP_CONVENTIONS.get(pid.split(":")[0], "as imported")
            stated = ("; protocol differences accepted: " + "; ".join(diffs)) if diffs else ""
            verdict.detail = f"{detail}; steps: ours in agent steps, published {convention}{stated}"
            out.append(verdict)
    return out


def _budget_refusal(fields: dict[str, str], declared: str | None) -> str:
    """Why a reduced-budget run cannot stand for the published run up to its budget ("" when it can)."""
    if fields.get("reduced_budget") != "True":
        return ""
    if declared is None:
        return "reduced-budget run whose manifest does not declare budget_dependent_fields (re-run with this version)"
    if declared:
        return f"reduced-budget run of an agent whose {declared} depend(s) on the total budget"
    return ""
