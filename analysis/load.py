"""The results store (and published data, via ``analysis.importers``) as one tidy table.

One row per evaluation of one seed:
``source, suite, task, algo, variant, seed, step, env_frames, return, protocol_id, budget, step_inferred``
where ``step`` is in agent steps and ``env_frames = step x action repeat``; ``algo`` is the full
name (``mrq@no-lap``), with the ``--set`` values that changed its config in brackets
(``td3 [lr=0.001]``, ``results.store.run_label``), so such runs are never averaged with the default;
``variant`` is the part after ``@`` (empty for the default); ``budget`` is the
run's budget in agent steps (the protocol's ``agent_steps``; the published budget for imported data,
NaN when unknown), the step a table calls "final"; ``step_inferred`` marks steps an importer inferred
(a file without a step column).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

import pandas as pd

from core.errors import UserError
from results.names import safe_name
from results.store import run_label

COLUMNS = [
    "source",
    "suite",
    "task",
    "algo",
    "variant",
    "seed",
    "step",
    "env_frames",
    "return",
    "protocol_id",
    "budget",
    "step_inferred",
]
# Protocol fields that name the task rather than the suite's protocol: left out of the suite-level id,
# so every task of one suite run under one protocol is one body of evidence for aggregate claims.
TASK_FIELDS = ("env_id", "env_kwargs", "max_episode_frames", "protocol_id")


def empty_table() -> pd.DataFrame:
    kinds = {
        "source": "object",
        "suite": "object",
        "task": "object",
        "algo": "object",
        "variant": "object",
        "protocol_id": "object",
        "step_inferred": "bool",
    }
    return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, "float64")) for c in COLUMNS})


def load_runs(
    root: str | Path = "results", *, include_incomplete: bool = False, exclude: set[Path] | frozenset = frozenset()
) -> pd.DataFrame:
    """Every evaluation row of every cell under ``root/runs`` (complete cells only, unless asked), but the
    cell folders in ``exclude``."""
    runs = Path(root) / "runs"
    if not runs.is_dir():
        raise UserError(f"no results store at {runs}; run 'bench run' first or pass the right --runs directory")
    rows = []
    for manifest in load_manifests(root, include_incomplete=include_incomplete):
        if manifest["_dir"] in exclude:
            continue
        manifest_path = manifest["_dir"] / "manifest.json"
        try:
            cell, protocol_id = manifest["cell"], manifest["protocol"]["protocol_id"]
            algo, suite, task, seed = run_label(manifest), cell["suite"], cell["task"], int(cell["seed"])
            budget = int(manifest["protocol"].get("agent_steps") or 0) or float("nan")
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{manifest_path}: not a latentbench manifest (missing or bad {exc})") from None
        for what, value in (("suite", suite), ("task", task), ("algo", algo)):  # they name report folders and files
            safe_name(value, f"cell {what}", manifest_path)
        evals = manifest["_dir"] / "evals.csv"
        if not evals.exists():
            continue
        rows += [
            {
                "source": "runs",
                "suite": suite,
                "task": task,
                "algo": algo,
                "variant": cell["algo"].partition("@")[2],
                "seed": seed,
                "step": step,
                "env_frames": frames,
                "return": value,
                "protocol_id": protocol_id,
                "budget": budget,
                "step_inferred": False,
            }
            for step, frames, value in read_evals_csv(evals, complete=manifest.get("status") == "complete")
        ]
    return pd.DataFrame(rows, columns=COLUMNS) if rows else empty_table()


def read_evals_csv(evals: Path, *, complete: bool = True) -> list[tuple[int, int, float]]:
    """(step, env_frames, return_mean) of every row; anything malformed is a UserError naming the file and line.

    Only a partial last line (a kill mid-write) is skipped; a NaN or infinite return, a wrong header or a
    complete cell without rows is never silently dropped (a dropped seed would shrink n in every table)."""
    from results.store import EVAL_COLUMNS

    out = []
    try:
        with open(evals, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, strict=True)
            header = reader.fieldnames
            if header is None:
                if complete:
                    raise UserError(
                        f"{evals}: empty, but its cell is complete; "
                        f"valid: a header {','.join(EVAL_COLUMNS)} and one row per evaluation"
                    )
                return out
            if list(header) != EVAL_COLUMNS:
                raise UserError(f"{evals}:1: header {','.join(map(str, header))!r}; valid: {','.join(EVAL_COLUMNS)}")
            records = [(reader.line_num, r) for r in reader]
            for i, (line, r) in enumerate(records):
                if not r.get("wall_time") or None in r.values():
                    if i == len(records) - 1:
                        continue  # a partial last line left by a kill mid-write
                    raise UserError(
                        f"{evals}:{line}: incomplete row; valid: {len(EVAL_COLUMNS)} fields ({','.join(EVAL_COLUMNS)})"
                    )
                if None in r:
                    raise UserError(
                        f"{evals}:{line}: {len(EVAL_COLUMNS) + len(r[None])} fields; "
                        f"valid: {len(EVAL_COLUMNS)} ({','.join(EVAL_COLUMNS)})"
                    )
                try:
                    step, frames, value = int(r["step"]), int(r["env_frames"]), float(r["return_mean"])
                except (KeyError, TypeError, ValueError):
                    raise UserError(f"{evals}:{line}: expected numeric step, env_frames and return_mean") from None
                if not math.isfinite(value):
                    raise UserError(
                        f"{evals}:{line}: return_mean {r['return_mean']} is not a finite number; "
                        f"a diverged cell is stored as failed, so this file is corrupt"
                    )
                out.append((step, frames, value))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(
            f"{evals}: not a readable CSV ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"
        ) from None
    if complete and not out:
        raise UserError(f"{evals}: no evaluation rows, but its cell is complete; valid: one row per evaluation")
    return out


def load_manifests(root: str | Path = "results", *, include_incomplete: bool = False) -> list[dict]:
    """Every cell's manifest (complete cells only, unless asked), with ``_dir`` = its folder."""
    runs = Path(root) / "runs"
    out = []
    for manifest_path in sorted(runs.glob("*/*/*/*/manifest.json")):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(
                f"{manifest_path}: unreadable manifest ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"
            ) from None
        if not isinstance(manifest, dict):
            raise UserError(
                f"{manifest_path}: not a latentbench manifest (a JSON object with cell, protocol and status)"
            )
        if manifest.get("status") == "complete" or include_incomplete:
            out.append({**manifest, "_dir": manifest_path.parent})
    return out


def protocol_fields(protocol: dict) -> dict[str, str]:
    """The fields a published claim's protocol is compared on, from a manifest's protocol."""
    env_id = str(protocol.get("env_id", ""))
    library = protocol.get("library", "")
    version = "dm_control" if library == "dm_control" else (env_id.rsplit("-", 1)[-1] if "-v" in env_id else library)
    return {
        "env_version": version,
        "observation": str(protocol.get("observation", "")),
        "action_repeat": str(protocol.get("action_repeat", "")),
        "eval_episodes": str(protocol.get("eval_episodes", "")),
        "eval_epsilon": str(protocol.get("eval_epsilon", "")),
        "budget": str(protocol.get("agent_steps", "")),
        "reduced_budget": str(bool(protocol.get("reduced_budget"))),
        "suite_protocol": suite_protocol_id(protocol),
        **({"discrete_eval": str(protocol["discrete_eval"])} if "discrete_eval" in protocol else {}),
    }


def suite_protocol_id(protocol: dict) -> str:
    """Short id of a protocol without its task-naming fields: equal for every task of one suite run the same way
    (library and version, observation, repeat, budget, reduced or not, evaluation, ...)."""
    shared = {k: v for k, v in protocol.items() if k not in TASK_FIELDS}
    return hashlib.sha1(json.dumps(shared, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_protocols(root: str | Path = "results") -> dict[str, dict[str, str]]:
    """protocol_id -> comparable fields, for every cell in the store."""
    return {
        m["protocol"]["protocol_id"]: protocol_fields(m["protocol"])
        for m in load_manifests(root, include_incomplete=True)
    }
