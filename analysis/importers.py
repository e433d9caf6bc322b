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
from core.errors import UserError

# MR.Q env-name prefixes -> our suites, with the action repeat that turns agent steps into frames
_MRQ_SUITES = (("Dmc-visual-", "dmc-visual", 2), ("Dmc-", "dmc-proprio", 2), ("Gym-", "gym", 1), ("Atari-", "atari", 4))


def _mrq_task(env: str) -> tuple[str, str, int]:
    for prefix, suite, repeat in _MRQ_SUITES:
        if env.startswith(prefix):
            name = env[len(prefix) :]
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
            rows.append(
                {
                    "source": f"published:{path.name}",
                    "suite": suite,
                    "task": task,
                    "algo": algo,
                    "variant": algo.partition("@")[2],
                    "seed": seed,
                    "step": step,
                    "env_frames": step * repeat,
                    "return": value,
                    "protocol_id": f"mrq-paper:{suite}",
                }
            )
    if not rows:
        raise UserError(f"{path}: no MR.Q result rows found")
    return with_budgets(pd.DataFrame(rows, columns=COLUMNS))


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
            rows.append(
                {
                    "source": f"published:TD3/{f.name}",
                    "suite": "gym-v1",
                    "task": match.group(1),
                    "algo": algo,
                    "variant": algo.partition("@")[2],
                    "seed": int(match.group(2)),
                    "step": i * eval_every,
                    "env_frames": i * eval_every,
                    "return": float(value),
                    "protocol_id": "td3-paper:gym-v1",
                    "step_inferred": True,
                }
            )  # the .npy files hold no steps: entry i is taken as i x eval_every
    return with_budgets(pd.DataFrame(rows, columns=COLUMNS)) if rows else empty_table()


# --------------------------------------------------------------------------------------------------
# iQRL paper-draft CSVs (aidanscannell/iqrl-minimal@d8e6c32 paper/figs/plotting/<figure>/<file>.csv)
# pandas to_csv exports of W&B histories: an unnamed index column, ``env_step`` (environment steps
# with action repeat 2), ``episode_reward`` (mean of 10 deterministic evaluation episodes), ``env``
# (domain-task), ``seed``, and the label in ``agent`` or ``name``; optional ``rank0/1/2``.
IQRL_ACTION_REPEAT = 2  # iqrl.md section 4 / 8: every iQRL-era DMC run used action repeat 2


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9+.-]+", "-", label.strip().lower()).strip("-")


def import_iqrl_csvs(path: str | Path, *, variant: str = "iqrl-draft") -> pd.DataFrame:
    """A ``plotting/`` folder (every ``<figure>/<file>.csv`` below it) or one CSV file.

    ``algo`` is the slugged label plus ``@<variant>`` (``iQRL-no-normalization`` ->
    ``iqrl-no-normalization@iqrl-draft``); ``source`` keeps ``<figure>/<file>`` so an ablation
    figure can be rebuilt from its own file (the base iQRL runs appear in several figures).
    """
    path = Path(path)
    files = sorted(path.rglob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise UserError(f"{path}: no iQRL plotting CSV files found")
    frames = []
    for f in files:
        try:
            raw = pd.read_csv(f, index_col=0)
        except (OSError, ValueError) as exc:
            raise UserError(f"{f}: unreadable CSV ({exc})") from None
        label_col = "agent" if "agent" in raw.columns else "name" if "name" in raw.columns else None
        missing = [c for c in ("env_step", "episode_reward", "env", "seed") if c not in raw.columns]
        if label_col is None or missing:
            missing_text = ", ".join(missing + ([] if label_col else ["agent|name"]))
            raise UserError(f"{f}: not an iQRL plotting CSV (missing columns: {missing_text})")
        raw = raw.dropna(subset=["env_step", "episode_reward"])
        rel = f.relative_to(path).as_posix() if path.is_dir() else f.name
        labels = [_slug(str(a)) for a in raw[label_col]]
        # REDQ at two update-to-data ratios shares one label; the UTD study varies utd_ratio in a column
        if "utd_ratio" in raw.columns and raw["utd_ratio"].nunique() > 1:
            labels = [f"{a}-utd{int(u)}" for a, u in zip(labels, raw["utd_ratio"])]
        elif m := re.search(r"utd(\d+)", f.stem):
            labels = [f"{a}-utd{m.group(1)}" for a in labels]
        frames.append(
            pd.DataFrame(
                {
                    "source": f"published:iqrl-draft/{rel}",
                    "suite": "iqrl-dmc",
                    "task": raw["env"].astype(str),
                    "algo": [f"{a}@{variant}" for a in labels],
                    "variant": variant,
                    "seed": raw["seed"].astype(int),
                    "step": (raw["env_step"] // IQRL_ACTION_REPEAT).astype(int),
                    "env_frames": raw["env_step"].astype(int),
                    "return": raw["episode_reward"].astype(float),
                    "protocol_id": "iqrl-draft:dmc",
                    "budget": np.nan,
                    "step_inferred": False,
                }
            )
        )
    table = with_budgets(pd.concat(frames, ignore_index=True)[COLUMNS])
    return table.sort_values(["source", "algo", "task", "seed", "step"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# ALM ``scores/*.csv`` (RajGhugare19/alm@3b70f5b): a header row, ``Step`` then five columns all
# named ``eval_episodic_return`` (one per seed, seed identities not given; each the mean return of
# 5 evaluation episodes). ``gym_truncated_humanoid.csv`` has no ``Step`` column: its rows are every
# 5000 steps from 5000, like the others. ``Step`` is the official ``_train_step``: it counts the steps
# *after* the 4,999 uniform warm-up steps (mujoco_workspace.py ``_explore`` loops range(1, 5000); the
# files stop at Step = num_train_steps - 5000, e.g. 495k for 500k), while our x-axis counts every env
# step, warm-up included. So step = env_frames = Step + ALM_WARMUP_STEPS (alm.md sections 4 and 7).
# Table 1's "200k" numbers equal the files' rows at Step = 200000, i.e. env step 204,999
# (ALM_TABLE1_STEP): the alm-locomotion protocol runs to that step and its Table 1 claims sit there.
ALM_FILES = {
    "gym_ant": "Ant",
    "gym_humanoid": "Humanoid",
    "gym_half_cheetah": "HalfCheetah",
    "gym_walker2d": "Walker2d",
    "gym_hopper": "Hopper",
    "gym_truncated_ant": "T-Ant",
    "gym_truncated_humanoid": "T-Humanoid",
}
ALM_EVAL_EVERY = 5000
ALM_WARMUP_STEPS = 4_999  # official explore_steps 5000 -> range(1, 5000): 4,999 random env steps before Step 0
ALM_TABLE1_STEP = 200_000 + ALM_WARMUP_STEPS  # Table 1 = the files' Step 200000 (HalfCheetah 10789 +- 366 there)


def import_alm_scores(path: str | Path, *, algo: str = "alm@published") -> pd.DataFrame:
    """The official ``scores/`` folder, or one of its CSV files."""
    import csv

    path = Path(path)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise UserError(f"{path}: no ALM 'scores/*.csv' files found")
    rows = []
    for f in files:
        if f.stem not in ALM_FILES:
            raise UserError(f"{f}: unknown ALM score file; valid names: {', '.join(k + '.csv' for k in ALM_FILES)}")
        with open(f, newline="") as handle:
            lines = [r for r in csv.reader(handle) if r]
        if not lines:
            raise UserError(f"{f}: empty file")
        header, body = lines[0], lines[1:]
        has_step = header[0].strip().lower() == "step"
        seed_cols = [i for i, h in enumerate(header) if h.strip() == "eval_episodic_return"]
        if not seed_cols or len(seed_cols) != len(header) - int(has_step):
            raise UserError(
                f"{f}: expected an optional 'Step' column then 'eval_episodic_return' columns, got {header[:4]}..."
            )
        for n, r in enumerate(body):
            try:
                step = (int(float(r[0])) if has_step else (n + 1) * ALM_EVAL_EVERY) + ALM_WARMUP_STEPS
                values = [float(r[i]) for i in seed_cols]
            except (ValueError, IndexError):
                raise UserError(f"{f}:{n + 2}: expected {len(header)} numeric fields") from None
            for seed, value in enumerate(values):
                rows.append(
                    {
                        "source": f"published:alm/{f.name}",
                        "suite": "alm-locomotion",
                        "task": ALM_FILES[f.stem],
                        "algo": algo,
                        "variant": algo.partition("@")[2],
                        "seed": seed,
                        "step": step,
                        "env_frames": step,
                        "return": value,
                        "protocol_id": "alm-paper:gym-v2",
                        "step_inferred": not has_step,
                    }
                )
    return with_budgets(pd.DataFrame(rows, columns=COLUMNS))


# --------------------------------------------------------------------------------------------------
# OMD's exact tabular study (algorithms/omd/tabular.py writes ``omd_tabular_runs.csv``: one row per
# experiment x agent x norm bound x seed). Rows become suite ``omd-tabular``, task
# ``norm-bound-<b>``, step 0 (no environment steps: the study is solved exactly), return = J, the
# expected discounted return of the learned softmax policy in the true MDP.
OMD_TABULAR_ALGOS = {"omd": "omd", "mle": "omd@mle", "omd-identity": "omd@identity"}


def import_omd_tabular(path: str | Path, *, source: str = "study") -> pd.DataFrame:
    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable OMD tabular CSV ({exc})") from None
    missing = [c for c in ("experiment", "agent", "norm_bound", "seed", "J") if c not in raw.columns]
    if missing:
        raise UserError(f"{path}: not an OMD tabular study file (missing columns: {', '.join(missing)})")
    unknown = sorted(set(raw["agent"]) - set(OMD_TABULAR_ALGOS))
    if unknown:
        raise UserError(f"{path}: unknown agent(s) {', '.join(unknown)}; valid: {', '.join(OMD_TABULAR_ALGOS)}")
    algos = raw["agent"].map(OMD_TABULAR_ALGOS)
    return pd.DataFrame(
        {
            "source": f"{source}:omd-tabular/{path.name}",
            "suite": "omd-tabular",
            "task": [f"norm-bound-{b:g}" for b in raw["norm_bound"].round(4)],
            "algo": algos,
            "variant": [a.partition("@")[2] for a in algos],
            "seed": raw["seed"].astype(int),
            "step": 0,
            "env_frames": 0,
            "return": raw["J"].astype(float),
            "protocol_id": "omd-tabular:" + raw["experiment"].astype(str),
            "budget": 0.0,
            "step_inferred": False,
        }
    )[COLUMNS]


# Budgets of the published runs in agent steps (the step a table calls "final"); others are unknown (NaN):
# then "final" is the last evaluation every seed of the cell reached.
PUBLISHED_BUDGETS = {
    "mrq-paper:gym": 1_000_000,
    "mrq-paper:dmc-proprio": 500_000,
    "mrq-paper:dmc-visual": 500_000,  # MR.Q Tables 4-6
    "mrq-paper:atari": 2_500_000,  # MR.Q Table 7
    "td3-paper:gym-v1": 1_000_000,  # TD3 paper: 1M time steps
    "omd-tabular:returns": 0,
    "omd-tabular:bellman": 0,  # solved exactly, no environment steps
}


def with_budgets(table: pd.DataFrame) -> pd.DataFrame:
    """Fills ``budget`` from PUBLISHED_BUDGETS and ``step_inferred`` (False unless set) of imported rows."""
    table = table.copy()
    table["budget"] = table["protocol_id"].map(PUBLISHED_BUDGETS).astype(float)
    table["step_inferred"] = table["step_inferred"].eq(True)
    return table


# Comparable protocol fields of the published data (what the claims' protocol guard compares).
IMPORTED_PROTOCOLS: dict[str, dict[str, str]] = {
    "mrq-paper:gym": {"env_version": "v4", "action_repeat": "1", "eval_episodes": "10"},
    "mrq-paper:dmc-proprio": {
        "env_version": "dm_control",
        "observation": "state",
        "action_repeat": "2",
        "eval_episodes": "10",
    },
    "mrq-paper:dmc-visual": {
        "env_version": "dm_control",
        "observation": "pixels",
        "action_repeat": "2",
        "eval_episodes": "10",
    },
    "mrq-paper:atari": {"env_version": "v5", "action_repeat": "4", "eval_episodes": "10", "discrete_eval": "sampled"},
    "td3-paper:gym-v1": {"env_version": "v1", "action_repeat": "1", "eval_episodes": "10"},
    "iqrl-draft:dmc": {
        "env_version": "dm_control",
        "observation": "state",
        "action_repeat": "2",
        "eval_episodes": "10",
    },
    "alm-paper:gym-v2": {"env_version": "v2", "action_repeat": "1", "eval_episodes": "5"},
    "omd-tabular:returns": {"experiment": "returns"},
    "omd-tabular:bellman": {"experiment": "bellman"},
}


def import_reference(path: str | Path) -> pd.DataFrame:
    """Any published data folder: recognises MR.Q results, TD3 curves, iQRL CSVs and ALM scores by content."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such reference directory")
    found = []
    if list(path.rglob("*_results.txt")):
        found.append(import_mrq_results(next(path.rglob("*_results.txt")).parent))
    if list(path.rglob("TD3_*.npy")):
        found.append(import_td3_curves(path))
    alm = [f for f in path.rglob("*.csv") if f.stem in ALM_FILES]
    if alm:
        found.append(import_alm_scores(alm[0].parent))
    iqrl = [
        f
        for f in path.rglob("*.csv")
        if f.stem not in ALM_FILES
        and f.parent.name != "paper_tables"
        and not f.name.startswith("omd_")
        and "derived" not in f.parts
        and "episode_reward" in f.read_text(errors="replace").partition("\n")[0]
    ]
    if iqrl:
        root = Path(*_common_parts([f.parent for f in iqrl]))
        found.append(import_iqrl_csvs(root))
    for f in sorted(path.rglob("omd_tabular_runs.csv")):
        found.append(import_omd_tabular(f, source="published" if "reference" in f.parts else "study"))
    if not found:
        raise UserError(
            f"{path}: no published data recognised "
            "(MR.Q *_results.txt, TD3_*.npy, ALM scores/*.csv, iQRL plotting CSVs)"
        )
    return pd.concat(found, ignore_index=True)


def _common_parts(paths: list[Path]) -> tuple[str, ...]:
    parts = paths[0].parts
    for p in paths[1:]:
        n = 0
        while n < min(len(parts), len(p.parts)) and parts[n] == p.parts[n]:
            n += 1
        parts = parts[:n]
    return parts
