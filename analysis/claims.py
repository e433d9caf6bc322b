"""Published claims as data, and ``bench check``: does each claimed number hold on the runs we have?

A claims file is a CSV under ``results/reference/claims/`` with one claim per row:

``claim_id`` unique id; ``paper``, ``table``, ``cell`` where it is printed; ``suite``, ``task``
(``*`` = an aggregate over the suite's tasks); ``algo`` (matched against our runs' algorithm id and
against imported published data labelled ``<algo>@published``); ``baseline`` (only for ``*-diff``
aggregations: the algorithm the difference is taken against); ``protocol`` (``key=value;...``
fields the evidence must share: ``env_version``, ``observation``, ``action_repeat``,
``eval_episodes``, ...); ``step`` (budget in agent steps); ``metric`` (``return`` or
``normalized``); ``aggregation`` (``seed-mean`` for one task, ``mean``/``median``/``iqm`` over
tasks, or ``mean-diff``/``median-diff``/``iqm-diff`` against ``baseline``); ``value`` as printed;
``spread_kind`` (``std``, ``ci95`` or empty) and ``spread`` (``s`` or ``low;high``); ``n_seeds``;
``source`` (where the number was read).

Verdicts, per claim and per body of evidence (our runs, or one imported data set; they are never
pooled): **inconclusive** when fewer than ``min_seeds`` seeds reached the claim's step (or tasks
are missing from an aggregate); otherwise **consistent** when the claimed value, widened by its
printed precision (``6901`` -> +-1, ``1.50`` -> +-0.01), meets our 95% bootstrap confidence interval
of the same statistic (seeds resampled; stratified by task for aggregates), and **inconsistent**
when it lies outside. That asks "is the printed number a plausible value of this statistic, given
these runs?"; the claim's own spread is shown but not used. Evidence recorded under a different
protocol is refused, with the differing fields named, unless ``allow_protocol_mismatch``.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.importers import IMPORTED_PROTOCOLS
from analysis.normalize import normalize
from analysis.scores import AGGREGATES, aggregate_with_ci, task_ci
from bench.errors import UserError

CLAIMS_DIR = Path(__file__).resolve().parent.parent / "results" / "reference" / "claims"
CLAIM_COLUMNS = ["claim_id", "paper", "table", "cell", "suite", "task", "algo", "baseline", "protocol", "step", "metric",
                 "aggregation", "value", "spread_kind", "spread", "n_seeds", "source"]
METRICS = ("return", "normalized")
AGGREGATIONS = ("seed-mean", "mean", "median", "iqm", "mean-diff", "median-diff", "iqm-diff")
CONSISTENT, INCONSISTENT, INCONCLUSIVE, REFUSED = "consistent", "inconsistent", "inconclusive", "refused"


@dataclass(frozen=True)
class Claim:
    claim_id: str
    paper: str
    table: str
    cell: str
    suite: str
    task: str
    algo: str
    baseline: str
    protocol: dict[str, str]
    step: int
    metric: str
    aggregation: str
    value: float
    precision: float  # one unit of the last printed digit (printed ints are truncated means, so +-1)
    spread_kind: str
    spread: str
    n_seeds: int
    source: str
    where: str = ""  # file:line, for messages


@dataclass
class Verdict:
    claim: Claim
    evidence: str  # "runs" or a published data set's protocol id
    verdict: str
    estimate: float | None = None
    ci: tuple[float, float] | None = None
    n_seeds: int = 0
    detail: str = ""
    stats: dict = field(default_factory=dict)


def _precision(text: str) -> float:
    exponent = Decimal(text).as_tuple().exponent
    return float(Decimal(1).scaleb(exponent)) if isinstance(exponent, int) else 0.0


def load_claims(paths: list[str | Path] | None = None) -> list[Claim]:
    """Every claim in the given files (default: every CSV in results/reference/claims/)."""
    files = [Path(p) for p in paths] if paths else sorted(CLAIMS_DIR.glob("*.csv"))
    claims: list[Claim] = []
    seen: dict[str, str] = {}
    for path in files:
        if not path.is_file():
            raise UserError(f"{path}: no such claims file")
        for line, row in _claim_rows(path):
            claim = _parse(row, f"{path.name}:{line}")
            if claim.claim_id in seen:
                raise UserError(f"{path}:{line}: claim_id {claim.claim_id!r} already used at {seen[claim.claim_id]}")
            seen[claim.claim_id] = claim.where
            claims.append(claim)
    return claims


def _claim_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of every row; a binary file, an unbalanced quote or a row with the wrong number of fields
    is a one-line error naming the file and line."""
    last = 0  # the line where the last complete row ended
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, strict=True)
            missing = [c for c in CLAIM_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path}: missing columns {', '.join(missing)}; a claims file needs {', '.join(CLAIM_COLUMNS)}")
            rows, last = [], 1
            for row in reader:
                start, last = last + 1, reader.line_num
                if None in row or None in row.values():
                    n = len(reader.fieldnames) + len(row.get(None) or []) - sum(v is None for v in row.values())
                    raise UserError(f"{path}:{start}: {n} fields, the header has {len(reader.fieldnames)} "
                                    f"(an unbalanced quote or a missing comma?)")
                rows.append((start, row))
            return rows
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text CSV file (not UTF-8); valid: a claims CSV with columns {', '.join(CLAIM_COLUMNS)}") from None
    except csv.Error as exc:
        hint = "an unbalanced quote: the quoted field runs to the end of the file" if "end of data" in str(exc) else str(exc)
        raise UserError(f"{path}:{last + 1}: malformed CSV ({hint})") from None


def _parse(row: dict[str, str], where: str) -> Claim:
    def bad(what: str) -> UserError:
        return UserError(f"{where}: {what}")

    row = {k: (v or "").strip() for k, v in row.items() if k}
    if row["metric"] not in METRICS:
        raise bad(f"metric {row['metric']!r}; valid: {', '.join(METRICS)}")
    if row["aggregation"] not in AGGREGATIONS:
        raise bad(f"aggregation {row['aggregation']!r}; valid: {', '.join(AGGREGATIONS)}")
    if (row["task"] == "*") == (row["aggregation"] == "seed-mean"):
        raise bad("task '*' goes with an aggregate over tasks, a task name with 'seed-mean'")
    if row["aggregation"].endswith("-diff") and not row["baseline"]:
        raise bad(f"aggregation {row['aggregation']} needs a baseline algorithm")
    if row["spread_kind"] not in ("", "std", "ci95"):
        raise bad(f"spread_kind {row['spread_kind']!r}; valid: std, ci95 or empty")
    protocol = {}
    for part in filter(None, row["protocol"].split(";")):
        key, sep, value = part.partition("=")
        if not sep:
            raise bad(f"protocol part {part!r} is not key=value")
        protocol[key.strip()] = value.strip()
    try:
        value, precision = float(row["value"]), _precision(row["value"])
        step, n_seeds = int(float(row["step"])), int(row["n_seeds"] or 0)
    except (ValueError, InvalidOperation):
        raise bad(f"value {row['value']!r}, step {row['step']!r} and n_seeds {row['n_seeds']!r} must be numbers") from None
    if not np.isfinite(value) or step < 0 or n_seeds < 0:
        raise bad(f"value {row['value']!r}, step {row['step']!r}, n_seeds {row['n_seeds']!r}; valid: a finite value, "
                  f"step >= 0 and n_seeds >= 0")
    _check_spread(row["spread_kind"], row["spread"], bad)
    return Claim(row["claim_id"], row["paper"], row["table"], row["cell"], row["suite"], row["task"], row["algo"],
                 row["baseline"], protocol, step, row["metric"], row["aggregation"], value, precision,
                 row["spread_kind"], row["spread"], n_seeds, row["source"], where)


def _check_spread(kind: str, spread: str, bad) -> None:
    """``std``: one number >= 0; ``ci95``: ``low;high`` with low <= high; no kind: no spread."""
    try:
        parts = [float(p) for p in spread.split(";")] if spread else []
    except ValueError:
        parts = None
    ok = {"": parts == [], "std": parts is not None and len(parts) == 1 and np.isfinite(parts).all() and parts[0] >= 0,
          "ci95": parts is not None and len(parts) == 2 and np.isfinite(parts).all() and parts[0] <= parts[1]}[kind]
    if not ok:
        valid = {"": "empty when spread_kind is empty", "std": "one number >= 0", "ci95": "low;high with low <= high"}[kind]
        raise bad(f"spread {spread!r} for spread_kind {kind!r}; valid: {valid}")


def suite_normalization(suite: str) -> str | None:
    from suites.registry import suites

    known = suites()
    return known[suite].tasks[0].normalization if suite in known and known[suite].tasks else None


def suite_tasks(suite: str) -> list[str] | None:
    from suites.registry import suites

    known = suites()
    return list(known[suite].task_names) if suite in known else None


def _task_key(task: str) -> str:
    return re.sub(r"-v\d+$", "", task)


def _matches(algo_col: pd.Series, algo: str) -> pd.Series:
    return (algo_col == algo) | (algo_col == f"{algo}@published")


def _protocol_differences(claim: Claim, fields: dict[str, str] | None) -> list[str]:
    fields = fields or {}
    return [f"{k}: claim {v}, data {fields.get(k, 'unknown')}" for k, v in claim.protocol.items() if fields.get(k) != v]


def _values_at(rows: pd.DataFrame, step: int) -> pd.DataFrame:
    """Per (task, seed): the evaluation at ``step`` (nearest within 2% of it)."""
    tol = max(1, int(0.02 * step))
    near = rows[(rows["step"] - step).abs() <= tol].copy()
    near["dist"] = (near["step"] - step).abs()
    return near.sort_values(["task", "seed", "dist"], kind="mergesort").drop_duplicates(["task", "seed"])


def check(claims: list[Claim], data: pd.DataFrame, protocols: dict[str, dict[str, str]] | None = None, *,
          allow_protocol_mismatch: bool = False, min_seeds: int = 3, seed: int = 0, reps: int = 2000) -> list[Verdict]:
    """One verdict per (claim, body of evidence). ``protocols``: protocol_id -> fields of our runs."""
    known = {**IMPORTED_PROTOCOLS, **(protocols or {})}
    out: list[Verdict] = []
    for claim in claims:
        rows = data[(data["suite"] == claim.suite) & _matches(data["algo"], claim.algo)]
        if claim.task != "*":  # versions live in the protocol: "HalfCheetah" matches HalfCheetah-v5 runs (then the guard compares versions)
            rows = rows[rows["task"].map(_task_key) == _task_key(claim.task)]
        if rows.empty:
            out.append(Verdict(claim, "-", INCONCLUSIVE, detail=f"no runs or imported data for {claim.algo} on {claim.suite}/{claim.task}"))
            continue
        keys = [_evidence_key(s, p) for s, p in zip(rows["source"], rows["protocol_id"])]
        for evidence, group in rows.groupby(pd.Series(keys, index=rows.index), sort=True):
            ids = group["protocol_id"].unique()
            diffs = sorted({d for pid in ids for d in _protocol_differences(claim, known.get(pid))})
            if diffs and not allow_protocol_mismatch:
                out.append(Verdict(claim, evidence, REFUSED, detail="protocol differs: " + "; ".join(diffs)))
                continue
            base = None
            if claim.aggregation.endswith("-diff"):
                base = data[(data["suite"] == claim.suite) & _matches(data["algo"], claim.baseline) & data["protocol_id"].isin(ids)]
            out.append(_judge(claim, evidence, group, base, min_seeds, seed, reps))
    return out


def _evidence_key(source: str, protocol_id: str) -> str:
    """Our runs per protocol, or one imported / study data set: ``runs:<id>``, ``published:<id>``, ``study:<id>``."""
    return f"{'runs' if source == 'runs' else source.split(':')[0]}:{protocol_id}"


def _metric(claim: Claim, picked: pd.DataFrame) -> pd.DataFrame:
    picked = picked.copy()
    if claim.metric == "normalized":
        norm = suite_normalization(claim.suite)
        picked["value"] = [normalize(norm, t, r) for t, r in zip(picked["task"], picked["return"])]
    else:
        picked["value"] = picked["return"]
    return picked


def _judge(claim: Claim, evidence: str, rows: pd.DataFrame, base: pd.DataFrame | None, min_seeds: int, seed: int, reps: int) -> Verdict:
    if claim.metric == "normalized" and suite_normalization(claim.suite) is None:
        return Verdict(claim, evidence, INCONCLUSIVE, detail=f"suite {claim.suite} has no normalization")
    picked = _metric(claim, _values_at(rows, claim.step))
    if picked.empty:
        return Verdict(claim, evidence, INCONCLUSIVE, detail=f"budget not reached: last evaluation at step {int(rows['step'].max())} < {claim.step}")
    if claim.aggregation == "seed-mean":
        values = picked["value"].to_numpy(float)
        if len(values) < min_seeds:
            return Verdict(claim, evidence, INCONCLUSIVE, n_seeds=len(values), detail=f"{len(values)} seed(s) at step {claim.step}, need {min_seeds}")
        point, low, high = task_ci(values, seed=seed, reps=reps)
        stats = {"std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
        return _verdict(claim, evidence, point, low, high, len(values), stats)
    expected = suite_tasks(claim.suite) or sorted(rows["task"].unique())
    matrix, n = _matrix(picked, expected)
    if matrix is None or n < min_seeds:
        return Verdict(claim, evidence, INCONCLUSIVE, n_seeds=n, detail=f"covers {picked['task'].nunique()} of {len(expected)} tasks with {n} common seed(s) at step {claim.step}, need all tasks and {min_seeds} seeds")
    name = claim.aggregation.removesuffix("-diff")
    if base is None:
        result = aggregate_with_ci(matrix, seed=seed, reps=reps)[name]
        return _verdict(claim, evidence, *result, n, {"tasks": len(expected)})
    base_matrix, base_n = _matrix(_metric(claim, _values_at(base, claim.step)), expected)
    if base_matrix is None or base_n < min_seeds:
        return Verdict(claim, evidence, INCONCLUSIVE, n_seeds=n, detail=f"baseline {claim.baseline} lacks {min_seeds} seeds on all {len(expected)} tasks at step {claim.step}")
    point, low, high = difference_with_ci(matrix, base_matrix, name, seed=seed, reps=reps)
    return _verdict(claim, evidence, point, low, high, n, {"tasks": len(expected), "baseline_seeds": base_n})


def _matrix(picked: pd.DataFrame, tasks: list[str]) -> tuple[np.ndarray | None, int]:
    """(seeds x tasks) with the seeds every task has; None when a task is missing."""
    if set(tasks) - set(picked["task"]):
        return None, int(picked.groupby("task")["seed"].nunique().min()) if not picked.empty else 0
    wide = picked.pivot_table(index="seed", columns="task", values="value", aggfunc="first")[sorted(tasks)].dropna()
    return wide.to_numpy(), len(wide)


def difference_with_ci(variant: np.ndarray, baseline: np.ndarray, aggregate: str, *, seed: int = 0, reps: int = 2000,
                       size: float = 0.95) -> tuple[float, float, float]:
    """Aggregate over tasks of (variant task mean - baseline task mean), with a stratified percentile
    bootstrap that resamples each side's seeds within each task independently (seed counts may differ:
    MR.Q's design study has 5 seeds per variant against the 10-seed main run)."""
    agg = AGGREGATES[aggregate]

    def stat(v: np.ndarray, b: np.ndarray) -> float:
        return agg((v.mean(axis=0) - b.mean(axis=0))[None, :])

    rng = np.random.default_rng(seed)
    draws = np.empty(reps)
    for i in range(reps):
        vi = rng.integers(0, len(variant), size=variant.shape)
        bi = rng.integers(0, len(baseline), size=baseline.shape)
        draws[i] = stat(np.take_along_axis(variant, vi, 0), np.take_along_axis(baseline, bi, 0))
    tail = (1 - size) / 2 * 100
    return stat(variant, baseline), float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))


def _verdict(claim: Claim, evidence: str, point: float, low: float, high: float, n: int, stats: dict) -> Verdict:
    lo, hi = claim.value - claim.precision, claim.value + claim.precision
    ok = hi >= low and lo <= high
    where = "inside" if ok else ("above" if lo > high else "below")
    detail = f"claimed {claim.value:g} is {where} our 95% CI [{low:.6g}, {high:.6g}] (estimate {point:.6g}, {n} seeds)"
    return Verdict(claim, evidence, CONSISTENT if ok else INCONSISTENT, point, (low, high), n, detail, stats)


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    rows = [{"claim_id": v.claim.claim_id, "paper": v.claim.paper, "table": v.claim.table, "cell": v.claim.cell,
             "claimed": v.claim.value, "evidence": v.evidence, "verdict": v.verdict,
             "estimate": v.estimate, "ci_low": v.ci[0] if v.ci else None, "ci_high": v.ci[1] if v.ci else None,
             "n_seeds": v.n_seeds, "detail": v.detail} for v in verdicts]
    return pd.DataFrame(rows, columns=["claim_id", "paper", "table", "cell", "claimed", "evidence", "verdict", "estimate",
                                       "ci_low", "ci_high", "n_seeds", "detail"])
