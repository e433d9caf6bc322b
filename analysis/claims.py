"""Published claims as data, and ``bench check``: does each claimed number hold on the runs we have?

A claims file is a CSV under ``results/reference/claims/`` with one claim per row:

``claim_id`` unique id; ``paper``, ``table``, ``cell`` where it is printed; ``suite``, ``task``
(``*`` = an aggregate over the suite's tasks); ``algo`` (matched against our runs' algorithm id and
against imported published data labelled ``<algo>@published``); ``baseline`` (only for ``*-diff``
aggregations: the algorithm the difference is taken against); ``protocol`` (``key=value;...``
fields the evidence must share: ``env_version``, ``observation``, ``action_repeat``,
``eval_episodes``, ...); ``step`` (budget in agent steps); ``metric`` (``return`` or
``normalized``); ``aggregation`` (``seed-mean`` for one task; ``mean``, ``median``, ``iqm``
(rliable's run-level IQM) or ``iqm-task-mean`` (MR.Q's IQM of the task means) over tasks; or
``mean-diff`` / ``median-diff`` / ``iqm-diff`` (IQM of the per-task mean differences, as MR.Q's
Table 2) against ``baseline``); ``value`` as printed; ``spread_kind`` and ``spread``: ``std`` (``s``
over ``n_seeds``), ``se`` (``s``), ``ci95`` (``low;high``, a percentile-bootstrap CI as rliable and
MR.Q print), ``ci95-t`` (``low;high``, a t-interval) or empty; ``n_seeds``; ``source`` (where the
number was read). An optional ``ddof`` column states the std's delta degrees of freedom when the
paper says which it used.

Verdicts, per claim and per body of evidence (our runs under one suite-level protocol, or one
imported data set; they are never pooled):

- **Statistical** (our runs, or published data from another paper): our estimate at the claim's
  step and the claim are two samples. With a printed spread, the interval of (ours - claimed) is
  Welch's two-sample t-interval (single task: our seeds' t standard error; aggregates: the
  task-stratified estimate's bootstrap standard error with Satterthwaite degrees of freedom, see
  ``analysis.stats``); without one, a one-sample t-interval on our runs. **consistent** when that
  interval, widened by the claim's printed precision (``6901`` -> +-1, ``1.50`` -> +-0.01), holds 0;
  **inconsistent** otherwise. A true claim is called inconsistent at the nominal 5% (measured
  2-8% for one task, at most 10% for aggregates, at 3-10 seeds: tests/test_calibration.py). Each
  verdict also gives the smallest difference these seeds detect (two-sided 5%, 80% power), so a
  "consistent" from three noisy seeds says how weak it is.
- **Exact** (the paper's own published runs): no statistics. The printed statistic is recomputed at
  the claim's step (mean; std with ``ddof`` when stated; aggregates in the claim's form) and
  **reproduces** / **does not reproduce** to the printed precision, naming the step used; a step the
  importer inferred (a file without a step column) is flagged ``step inferred``.
- **inconclusive** when fewer than ``min_seeds`` finite seeds reached the claim's step (or tasks are
  missing from an aggregate); **refused** when the evidence was recorded under a different protocol
  (the differing fields are named) unless ``allow_protocol_mismatch``.

Non-finite returns are never used in an estimate and never dropped silently: the verdict says how
many seeds were excluded.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import stats
from analysis.importers import IMPORTED_PROTOCOLS
from analysis.normalize import normalize
from core.errors import UserError

CLAIMS_DIR = Path(__file__).resolve().parent.parent / "results" / "reference" / "claims"
CLAIM_COLUMNS = [
    "claim_id",
    "paper",
    "table",
    "cell",
    "suite",
    "task",
    "algo",
    "baseline",
    "protocol",
    "step",
    "metric",
    "aggregation",
    "value",
    "spread_kind",
    "spread",
    "n_seeds",
    "source",
]
OPTIONAL_COLUMNS = ["ddof"]
METRICS = ("return", "normalized")
AGGREGATIONS = ("seed-mean", "mean", "median", "iqm", "iqm-task-mean", "mean-diff", "median-diff", "iqm-diff")
SPREAD_KINDS = ("", "std", "se", "ci95", "ci95-t")
# claim aggregation -> analysis.stats metric
STAT_OF = {
    "mean": "mean",
    "median": "median",
    "iqm": "iqm",
    "iqm-task-mean": "iqm_task_mean",
    "mean-diff": "mean",
    "median-diff": "median",
    "iqm-diff": "iqm_task_mean",
}
CONSISTENT, INCONSISTENT, INCONCLUSIVE, REFUSED = "consistent", "inconsistent", "inconclusive", "refused"
REPRODUCES, NOT_REPRODUCED = "reproduces", "does not reproduce"
FAILING = (INCONSISTENT, NOT_REPRODUCED)
# Imported data sets whose claims come from the same paper (protocol id prefix -> paper name prefix): exact mode.
OWN_PAPER = {"mrq-paper": "MR.Q", "td3-paper": "TD3", "alm-paper": "ALM", "iqrl-draft": "iQRL", "omd-tabular": "OMD"}


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
    spread: tuple[float, ...]
    n_seeds: int
    source: str
    where: str = ""  # file:line, for messages
    ddof: int | None = None
    spread_precision: float = 0.0  # one unit of the printed std's last digit


@dataclass
class Verdict:
    claim: Claim
    evidence: str  # "runs:<suite protocol>" or a published data set's protocol id
    verdict: str
    estimate: float | None = None
    ci: tuple[float, float] | None = None  # interval of (our estimate - claimed value); None in exact mode
    n_seeds: int = 0
    detail: str = ""
    stats: dict = field(default_factory=dict)
    detectable: float | None = None  # smallest difference these seeds detect (statistical mode)
    method: str = ""


def printed(claim: Claim) -> str:
    """The claimed value as the paper printed it (``0.90``, not ``0.9``)."""
    decimals = max(0, -int(np.floor(np.log10(claim.precision)))) if claim.precision > 0 else 6
    return f"{claim.value:.{decimals}f}"


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
                raise UserError(
                    f"{path}: missing columns {', '.join(missing)}; a claims file needs {', '.join(CLAIM_COLUMNS)}"
                )
            rows, last = [], 1
            for row in reader:
                start, last = last + 1, reader.line_num
                if None in row or None in row.values():
                    n = len(reader.fieldnames) + len(row.get(None) or []) - sum(v is None for v in row.values())
                    raise UserError(
                        f"{path}:{start}: {n} fields, the header has {len(reader.fieldnames)} "
                        f"(an unbalanced quote or a missing comma?)"
                    )
                rows.append((start, row))
            return rows
    except UnicodeDecodeError:
        raise UserError(
            f"{path}: not a text CSV file (not UTF-8); valid: a claims CSV with columns {', '.join(CLAIM_COLUMNS)}"
        ) from None
    except csv.Error as exc:
        hint = (
            "an unbalanced quote: the quoted field runs to the end of the file"
            if "end of data" in str(exc)
            else str(exc)
        )
        raise UserError(f"{path}:{last + 1}: malformed CSV ({hint})") from None


def _parse(row: dict[str, str], where: str) -> Claim:
    def bad(what: str) -> UserError:
        return UserError(f"{where}: {what}")

    if None in row:
        raise bad("more fields than the header (an unbalanced quote or a stray comma)")
    row = {k: (v or "").strip() for k, v in row.items() if k}
    if row["metric"] not in METRICS:
        raise bad(f"metric {row['metric']!r}; valid: {', '.join(METRICS)}")
    if row["aggregation"] not in AGGREGATIONS:
        raise bad(f"aggregation {row['aggregation']!r}; valid: {', '.join(AGGREGATIONS)}")
    if (row["task"] == "*") == (row["aggregation"] == "seed-mean"):
        raise bad("task '*' goes with an aggregate over tasks, a task name with 'seed-mean'")
    if row["aggregation"].endswith("-diff") and not row["baseline"]:
        raise bad(f"aggregation {row['aggregation']} needs a baseline algorithm")
    if row["spread_kind"] not in SPREAD_KINDS:
        raise bad(f"spread_kind {row['spread_kind']!r}; valid: {', '.join(k for k in SPREAD_KINDS if k)} or empty")
    protocol = {}
    for part in filter(None, row["protocol"].split(";")):
        key, sep, value = part.partition("=")
        if not sep:
            raise bad(f"protocol part {part!r} is not key=value")
        protocol[key.strip()] = value.strip()
    try:
        value, precision = float(row["value"]), _precision(row["value"])
        step, n_seeds = int(float(row["step"])), int(row["n_seeds"] or 0)
    except (ValueError, InvalidOperation, OverflowError):
        raise bad(
            f"value {row['value']!r}, step {row['step']!r} and n_seeds {row['n_seeds']!r} must be numbers"
        ) from None
    if not np.isfinite(value) or step < 0 or n_seeds < 0:
        raise bad(
            f"value {row['value']!r}, step {row['step']!r}, n_seeds {row['n_seeds']!r}; valid: a finite value, "
            f"step >= 0 and n_seeds >= 0"
        )
    spread = _spread(row["spread_kind"], row["spread"], bad)
    ddof = row.get("ddof", "")
    if ddof not in ("", "0", "1"):
        raise bad(f"ddof {ddof!r}; valid: 0, 1 or empty (not stated)")
    return Claim(
        row["claim_id"],
        row["paper"],
        row["table"],
        row["cell"],
        row["suite"],
        row["task"],
        row["algo"],
        row["baseline"],
        protocol,
        step,
        row["metric"],
        row["aggregation"],
        value,
        precision,
        row["spread_kind"],
        spread,
        n_seeds,
        row["source"],
        where,
        int(ddof) if ddof else None,
        _precision(row["spread"]) if row["spread_kind"] in ("std", "se") else 0.0,
    )


def _spread(kind: str, text: str, bad) -> tuple[float, ...]:
    """The printed spread as numbers: ``std``/``se`` one number >= 0; ``ci95``/``ci95-t`` ``low;high`` with
    low <= high."""
    if not kind:
        if text:
            raise bad(f"spread {text!r} for spread_kind ''; valid: empty when spread_kind is empty")
        return ()
    want = 2 if kind.startswith("ci95") else 1
    try:
        values = tuple(float(x) for x in text.split(";"))
    except ValueError:
        values = ()
    if (
        len(values) != want
        or not all(np.isfinite(values))
        or (want == 1 and values[0] < 0)
        or (want == 2 and values[0] > values[1])
    ):
        valid = "low;high with low <= high" if want == 2 else "one number >= 0"
        raise bad(f"spread {text!r} for spread_kind {kind!r}; valid: {valid}")
    return values


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


def _protocol_differences(claim: Claim, fields: dict[str, str] | None) -> list[str]:
    fields = fields or {}
    return [f"{k}: claim {v}, data {fields.get(k, 'unknown')}" for k, v in claim.protocol.items() if fields.get(k) != v]


def _values_at(rows: pd.DataFrame, step: int) -> pd.DataFrame:
    """Per (task, seed): the evaluation at ``step`` (nearest within 2% of it)."""
    tol = max(1, int(0.02 * step))
    near = rows[(rows["step"] - step).abs() <= tol].copy()
    near["dist"] = (near["step"] - step).abs()
    return near.sort_values(["task", "seed", "dist"], kind="mergesort").drop_duplicates(["task", "seed"])


def check(
    claims: list[Claim],
    data: pd.DataFrame,
    protocols: dict[str, dict[str, str]] | None = None,
    *,
    allow_protocol_mismatch: bool = False,
    min_seeds: int = 3,
    seed: int = 0,
    reps: int = 2000,
) -> list[Verdict]:
    """One verdict per (claim, body of evidence). ``protocols``: protocol_id -> comparable fields of our
    runs (``analysis.load.run_protocols``), whose ``suite_protocol`` groups a suite's tasks together."""
    known = {**IMPORTED_PROTOCOLS, **(protocols or {})}
    out: list[Verdict] = []
    data = data.reset_index(drop=True)
    pairs = {(s, p): _evidence_key(s, p, known) for s, p in zip(data["source"], data["protocol_id"])}
    groups = pd.Series([pairs[sp] for sp in zip(data["source"], data["protocol_id"])], index=data.index, dtype=object)
    keys = {t: _task_key(t) for t in data["task"].unique()}
    task_keys = data["task"].map(keys)
    index = data.groupby(["suite", "algo"], sort=False).indices  # (suite, algo) -> row positions, computed once

    def select(suite: str, algo: str) -> pd.DataFrame:
        at = [index.get((suite, a), []) for a in (algo, f"{algo}@published")]
        return data.iloc[np.sort(np.concatenate([np.asarray(a, dtype=int) for a in at]))]

    for claim in claims:
        rows = select(claim.suite, claim.algo)
        # versions live in the protocol: "HalfCheetah" matches HalfCheetah-v5 runs (then the guard compares versions)
        if claim.task != "*":
            rows = rows[task_keys[rows.index] == _task_key(claim.task)]
        if rows.empty:
            out.append(
                Verdict(
                    claim,
                    "-",
                    INCONCLUSIVE,
                    detail=f"no runs or imported data for {claim.algo} on {claim.suite}/{claim.task}",
                )
            )
            continue
        for evidence, group in rows.groupby(groups[rows.index], sort=True):
            ids = group["protocol_id"].unique()
            diffs = sorted({d for pid in ids for d in _protocol_differences(claim, known.get(pid))})
            if diffs and not allow_protocol_mismatch:
                out.append(Verdict(claim, evidence, REFUSED, detail="protocol differs: " + "; ".join(diffs)))
                continue
            base = None
            if claim.aggregation.endswith("-diff"):
                base = select(claim.suite, claim.baseline)
                base = base[groups[base.index] == evidence]
            exact = _own_paper(claim, group)
            out.append(_judge(claim, evidence, group, base, min_seeds, seed, reps, exact))
    return out


def _evidence_key(source: str, protocol_id: str, known: dict[str, dict[str, str]]) -> str:
    """Our runs per suite-level protocol (every task of a suite together), or one imported / study
    data set: ``runs:<suite protocol>``, ``published:<id>``, ``study:<id>``."""
    if source == "runs":
        return f"runs:{(known.get(protocol_id) or {}).get('suite_protocol', protocol_id)}"
    return f"{source.split(':')[0]}:{protocol_id}"


def _own_paper(claim: Claim, group: pd.DataFrame) -> bool:
    """Is this evidence the claim's own paper's published runs (exact mode)?"""
    if not group["source"].iloc[0].startswith("published:"):
        return False
    prefix = str(group["protocol_id"].iloc[0]).split(":")[0]
    return prefix in OWN_PAPER and claim.paper.startswith(OWN_PAPER[prefix])


def _metric(claim: Claim, picked: pd.DataFrame) -> pd.DataFrame:
    picked = picked.copy()
    if claim.metric == "normalized":
        norm = suite_normalization(claim.suite)
        picked["value"] = [normalize(norm, t, r) for t, r in zip(picked["task"], picked["return"])]
    else:
        picked["value"] = picked["return"]
    return picked


def _per_task(picked: pd.DataFrame, tasks: list[str]) -> tuple[list[np.ndarray], int]:
    """Finite seed values per task (seeds not paired by id across tasks) and how many were not finite."""
    out, excluded = [], 0
    for task in tasks:
        v = picked.loc[picked["task"] == task, "value"].to_numpy(float)
        excluded += int((~np.isfinite(v)).sum())
        out.append(v[np.isfinite(v)])
    return out, excluded


def _steps_note(picked: pd.DataFrame, claim: Claim) -> str:
    steps = sorted({int(s) for s in picked["step"]})
    used = f"step {steps[0]:,}" if len(steps) == 1 else f"steps {steps[0]:,}-{steps[-1]:,}"
    inferred = "step_inferred" in picked and bool(picked["step_inferred"].eq(True).any())
    return used + (" (step inferred by the importer: the file has no step column)" if inferred else "")


def _judge(
    claim: Claim,
    evidence: str,
    rows: pd.DataFrame,
    base: pd.DataFrame | None,
    min_seeds: int,
    seed: int,
    reps: int,
    exact: bool,
) -> Verdict:
    if claim.metric == "normalized" and suite_normalization(claim.suite) is None:
        return Verdict(claim, evidence, INCONCLUSIVE, detail=f"suite {claim.suite} has no normalization")
    picked = _metric(claim, _values_at(rows, claim.step))
    if picked.empty:
        return Verdict(
            claim,
            evidence,
            INCONCLUSIVE,
            detail=f"budget not reached: last evaluation at step {int(rows['step'].max())} < {claim.step}",
        )
    # sorted like the report's tables, so both share one bootstrap of the same arrays
    tasks = (
        [sorted(picked["task"].unique())[0]]
        if claim.aggregation == "seed-mean"
        else sorted(suite_tasks(claim.suite) or rows["task"].unique())
    )
    values, excluded = _per_task(picked, tasks)
    note = _steps_note(picked, claim) + (f"; {excluded} non-finite seed value(s) excluded" if excluded else "")
    n = min(len(v) for v in values)
    need = 1 if exact else max(min_seeds, 2)
    if claim.aggregation == "seed-mean":
        if n < need:
            return Verdict(
                claim, evidence, INCONCLUSIVE, n_seeds=n, detail=f"{n} finite seed(s) at {note}, need {need}"
            )
        return (
            _exact_task(claim, evidence, values[0], note)
            if exact
            else _statistical_task(claim, evidence, values[0], note)
        )
    covered = sum(len(v) > 0 for v in values)
    if covered < len(tasks) or n < need:
        return Verdict(
            claim,
            evidence,
            INCONCLUSIVE,
            n_seeds=n,
            detail=f"covers {covered} of {len(tasks)} tasks with at least {n} finite seed(s) "
            f"at {note}, need all tasks and {need} seeds",
        )
    metric = STAT_OF[claim.aggregation]
    base_values = None
    if base is not None:
        base_values, base_excluded = _per_task(_metric(claim, _values_at(base, claim.step)), tasks)
        if min(len(v) for v in base_values) < need:
            return Verdict(
                claim,
                evidence,
                INCONCLUSIVE,
                n_seeds=n,
                detail=f"baseline {claim.baseline} lacks {need} finite seeds on all "
                f"{len(tasks)} tasks at step {claim.step:,}",
            )
        if base_excluded:
            note += f"; {base_excluded} non-finite baseline value(s) excluded"
    if exact:
        point = (
            stats.difference_draws(values, base_values, metric, reps=1, seed=seed, rescale=False)[0]
            if base_values is not None
            else stats.aggregate(values, metric)
        )
        return _exact_verdict(claim, evidence, point, n, f"{stats.METRIC_LABELS[metric]} over {len(tasks)} tasks", note)
    if base_values is not None:
        est = stats.difference_interval(values, base_values, metric, reps=reps, seed=seed)
    else:
        est = stats.aggregate_interval(values, metric, reps=reps, seed=seed)
    what = f"{stats.METRIC_LABELS[metric]}{' difference' if base_values is not None else ''} over {len(tasks)} tasks"
    return _statistical(claim, evidence, est.point, est.se, est.df, n, what, note, tasks=len(tasks))


def _statistical_task(claim: Claim, evidence: str, values: np.ndarray, note: str) -> Verdict:
    est = stats.t_interval(values)
    return _statistical(
        claim, evidence, est.point, est.se, est.df, len(values), "seed mean", note, std=float(values.std(ddof=1))
    )


def _statistical(
    claim: Claim,
    evidence: str,
    point: float,
    se: float,
    df: float,
    n: int,
    what: str,
    note: str,
    *,
    tasks: int = 1,
    std: float | None = None,
) -> Verdict:
    claim_se = stats.claim_standard_error(claim.spread_kind, claim.spread, claim.n_seeds)
    claim_df = claim_se[1] * tasks if claim_se else np.inf
    c = stats.compare(point, se, df, claim.value, claim_se[0] if claim_se else None, claim_df, claim.precision)
    verdict = CONSISTENT if c.consistent else INCONSISTENT
    detail = (
        f"ours {point:.6g} ({what}, {n} seeds, {note}) - claimed {printed(claim)} = {c.difference:+.6g}, "
        f"95% CI [{c.low:+.6g}, {c.high:+.6g}] ({c.method}, widened by the printed precision {claim.precision:g}); "
        f"smallest detectable difference {c.detectable:.3g}"
    )
    out = {"tasks": tasks, **({"std": std} if std is not None else {})}
    return Verdict(claim, evidence, verdict, point, (c.low, c.high), n, detail, out, c.detectable, c.method)


def _exact_task(claim: Claim, evidence: str, values: np.ndarray, note: str) -> Verdict:
    verdict = _exact_verdict(claim, evidence, float(values.mean()), len(values), "seed mean", note)
    if claim.spread_kind == "std" and len(values) > 1:
        if claim.ddof is not None:
            std = float(values.std(ddof=claim.ddof))
            if abs(std - claim.spread[0]) > claim.spread_precision + 1e-9:
                verdict.verdict = NOT_REPRODUCED
            verdict.detail += f"; std (ddof {claim.ddof}) {std:.6g} vs printed {claim.spread[0]:g}"
        else:
            verdict.detail += (
                f"; std not checked (the paper does not state its ddof): {values.std(ddof=1):.6g} (ddof 1), "
                f"{values.std(ddof=0):.6g} (ddof 0) vs printed {claim.spread[0]:g}"
            )
    return verdict


def _exact_verdict(claim: Claim, evidence: str, point: float, n: int, what: str, note: str) -> Verdict:
    ok = abs(point - claim.value) <= claim.precision + 1e-9 * max(1.0, abs(claim.value))
    detail = (
        f"recomputed {what} {point:.6g} from the paper's own {n} published seeds at {note} "
        f"{'matches' if ok else 'differs from'} the printed {printed(claim)} (precision {claim.precision:g})"
    )
    return Verdict(claim, evidence, REPRODUCES if ok else NOT_REPRODUCED, point, None, n, detail, method="exact")


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    cols = [
        "claim_id",
        "paper",
        "table",
        "cell",
        "claimed",
        "evidence",
        "verdict",
        "estimate",
        "diff_low",
        "diff_high",
        "detectable",
        "n_seeds",
        "method",
        "detail",
    ]
    rows = [
        {
            "claim_id": v.claim.claim_id,
            "paper": v.claim.paper,
            "table": v.claim.table,
            "cell": v.claim.cell,
            "claimed": v.claim.value,
            "evidence": v.evidence,
            "verdict": v.verdict,
            "estimate": v.estimate,
            "diff_low": v.ci[0] if v.ci else None,
            "diff_high": v.ci[1] if v.ci else None,
            "detectable": v.detectable,
            "n_seeds": v.n_seeds,
            "method": v.method,
            "detail": v.detail,
        }
        for v in verdicts
    ]
    return pd.DataFrame(rows, columns=cols)
