"""Per-suite score normalization from the versioned tables in ``results/reference/normalization/``.

- ``dmc``: score / 1000.
- ``gym-td3``: (x - random) / (TD3 - random), MuJoCo -v4 constants from TD7.
- ``atari-hns``: (x - random) / (human - random), 57 games (Wang et al. 2016 via MR.Q / DQN Zoo).
  ``atari_alternative=True`` uses the conflicting alternative random score where one is recorded
  (VideoPinball: 0.0 in rliable's MuZero-derived table) so a report can show the difference.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

from core.errors import UserError

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "results" / "reference"
NORMALIZATIONS = ("dmc", "gym-td3", "atari-hns")


@functools.cache
def _table(name: str) -> dict[str, dict[str, str]]:
    path = REFERENCE_DIR / "normalization" / name
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    key = "game" if "game" in rows[0] else "task"
    return {row[key]: row for row in rows}


def atari_game(task: str) -> str:
    """'Pong', 'ALE/Pong-v5' or 'Atari-Pong-v5' -> 'Pong'."""
    name = task.split("/")[-1]
    name = name[len("Atari-") :] if name.startswith("Atari-") else name
    return name.split("-v")[0]


def atari_table() -> dict[str, dict[str, str]]:
    return _table("atari_human_random.csv")


def atari_55_game_subset() -> list[str]:
    """The games with DQN / Rainbow (Dopamine) results: all but Defender and Surround."""
    return [g for g, row in atari_table().items() if row["in_55_game_subset"] == "yes"]


def normalize(normalization: str | None, task: str, score: float, *, atari_alternative: bool = False) -> float:
    """The normalized score of a raw return ``score`` on ``task`` under the named normalization."""
    if normalization is None:
        return float(score)
    if normalization == "dmc":
        return float(score) / float(_table("dmc.csv")["*"]["scale"])
    if normalization == "gym-td3":
        table = _table("gym_td3_random.csv")
        row = table.get(task) or table.get(task.removeprefix("Gym-"))
        if row is None:
            raise UserError(f"no TD3-normalization constants for {task!r}; valid: {', '.join(table)}")
        random, td3 = float(row["random"]), float(row["td3"])
        return (float(score) - random) / (td3 - random)
    if normalization == "atari-hns":
        table = atari_table()
        row = table.get(atari_game(task))
        if row is None:
            raise UserError(f"no human/random scores for Atari game {task!r}; valid: {', '.join(table)}")
        random = (
            float(row["random_alternative"])
            if atari_alternative and row["random_alternative"]
            else float(row["random"])
        )
        return (float(score) - random) / (float(row["human"]) - random)
    raise UserError(f"unknown normalization {normalization!r}; valid: {', '.join(NORMALIZATIONS)}")


def conflicts(normalization: str) -> dict[str, str]:
    """Tasks whose constants conflict between published tables, with the explanation."""
    if normalization != "atari-hns":
        return {}
    return {g: row["alternative_source"] for g, row in atari_table().items() if row["random_alternative"]}
