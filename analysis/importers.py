"""Importers: published result files -> the same tidy table as our runs (``analysis.load.COLUMNS``).

- MR.Q ``results/*.txt`` (facebookresearch/MRQ): blocks of ``Env: <name>`` then
  ``Timestep<TAB>Seed 0<TAB><TAB>Seed 1 ...`` and one row per evaluation; fields are separated by one
  or two tabs. Values are per-seed means of 10 evaluation episodes, raw env units, agent steps.
- TD3 ``learning_curves/<EnvDir>/TD3_<EnvId>_<seed>.npy`` (sfujim/TD3): float64 arrays of 201
  evaluations, entry i at about 5000 i time steps.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.load import COLUMNS, empty_table
from bench.errors import UserError

# MR.Q env-name prefixes -> our suites, with the action repeat that turns agent steps into frames
_MRQ_SUITES = (("Dmc-visual-", "dmc-visual", 2), ("Dmc-", "dmc-proprio", 2), ("Gym-", "gym", 1), ("Atari-", "atari", 4))


def _mrq_task(env: str) -> tuple[str, str, int]:
    for prefix, suite, repeat in _MRQ_SUITES:
        if env.startswith(prefix):
            name = env[len(prefix):]
            if suite == "atari":
                name = name.split("-v")[0]  # Atari-Pong-v5 -> Pong
            return suite, name, repeat
    raise UserError(f"unknown MR.Q environment name {env!r}; valid prefixes: {', '.join(p for p, _, _ in _MRQ_SUITES)}")


def import_mrq_results(path: str | Path, *, algo: str = "mrq@published") -> pd.DataFrame:
    """One MR.Q ``*_results.txt`` file, or a folder of them."""
    path = Path(path)
    files = sorted(path.glob("*_results.txt")) if path.is_dir() else [path]
    if not files:
        raise UserError(f"{path}: no MR.Q '*_results.txt' files found")
    frames = [_import_mrq_file(f, algo) for f in files]
    table = pd.concat(frames, ignore_index=True)
    # dmc_results.txt repeats every Dmc-visual block of dmc-visual_results.txt: keep one copy
    return table.drop_duplicates(subset=["suite", "task", "seed", "step"], keep="first").reset_index(drop=True)


def _import_mrq_file(path: Path, algo: str) -> pd.DataFrame:
    rows: list[dict] = []
    env = None
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or set(line.strip()) == {"-"}:
            continue
        if line.startswith("Env:"):
            env = line.split(":", 1)[1].strip()
            suite, task, repeat = _mrq_task(env)
            continue
        if line.startswith("Timestep"):
            continue
        fields = [f for f in line.split("\t") if f.strip()]
        if env is None or len(fields) < 2:
            raise UserError(f"{path}:{number}: expected 'Env: NAME' then tab-separated 'timestep value...' rows")
        try:
            step, values = int(float(fields[0])), [float(v) for v in fields[1:]]
        except ValueError:
            raise UserError(f"{path}:{number}: non-numeric field in {line.strip()[:60]!r}") from None
        for seed, value in enumerate(values):
            rows.append({"source": f"published:{path.name}", "suite": suite, "task": task, "algo": algo,
                         "variant": algo.partition("@")[2], "seed": seed, "step": step, "env_frames": step * repeat,
                         "return": value, "protocol_id": f"mrq-paper:{suite}"})
    if not rows:
        raise UserError(f"{path}: no MR.Q result rows found")
    return pd.DataFrame(rows, columns=COLUMNS)


def import_td3_curves(path: str | Path, *, algo: str = "td3@published2018", eval_every: int = 5000) -> pd.DataFrame:
    """The official TD3 ``learning_curves/`` folder (or one env folder): ``TD3_<EnvId>_<seed>.npy``."""
    path = Path(path)
    files = sorted(path.rglob("TD3_*.npy"))
    if not files:
        raise UserError(f"{path}: no 'TD3_<EnvId>_<seed>.npy' learning curves found")
    rows = []
    for f in files:
        match = re.fullmatch(r"TD3_(.+)_(\d+)\.npy", f.name)
        if not match:
            raise UserError(f"{f}: expected a name like TD3_HalfCheetah-v1_0.npy")
        curve = np.load(f)
        if curve.ndim != 1:
            raise UserError(f"{f}: expected a 1-D array of evaluations, got shape {curve.shape}")
        for i, value in enumerate(curve):
            rows.append({"source": f"published:TD3/{f.name}", "suite": "gym-v1", "task": match.group(1), "algo": algo,
                         "variant": algo.partition("@")[2], "seed": int(match.group(2)), "step": i * eval_every,
                         "env_frames": i * eval_every, "return": float(value), "protocol_id": "td3-paper:gym-v1"})
    return pd.DataFrame(rows, columns=COLUMNS) if rows else empty_table()
