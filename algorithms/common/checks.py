"""Config value checks, written once; each agent's ``Config.validate`` lists which fields obey which.

Run by ``algorithms.base.resolve`` when a plan is made (before anything touches the store), so a bad
``--set`` value (``discount=2``, ``hidden=(0, 0)``, ``batch_size=0``) is a one-line error naming the
field and its valid range instead of a crash, a NaN run stored as "Diverged", or a silently wrong run.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from core.errors import UserError


class ConfigValueError(UserError):
    """A config field outside its valid range (``resolve`` adds the algorithm's name)."""


def _bad(name: str, value: Any, valid: str) -> ConfigValueError:
    return ConfigValueError(f"{name}={value!r}; valid: {valid}")


def _number(cfg: Any, name: str) -> float:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(name, value, "a number")
    return value


def finite(cfg: Any) -> None:
    """Every float field is a finite number (``--set lr=1e999`` is inf)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise _bad(f.name, value, "a finite number")


def positive(cfg: Any, *names: str) -> None:
    for name in names:
        if not _number(cfg, name) > 0:
            raise _bad(name, getattr(cfg, name), f"{name} > 0")


def non_negative(cfg: Any, *names: str) -> None:
    for name in names:
        if not _number(cfg, name) >= 0:
            raise _bad(name, getattr(cfg, name), f"{name} >= 0")


def at_least_one(cfg: Any, *names: str) -> None:
    """Counts and sizes: a whole number >= 1."""
    for name in names:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _bad(name, value, f"a whole number {name} >= 1")


def fraction(cfg: Any, *names: str) -> None:
    """Discounts and Polyak rates: 0 < value <= 1."""
    for name in names:
        if not 0 < _number(cfg, name) <= 1:
            raise _bad(name, getattr(cfg, name), f"0 < {name} <= 1")


def probability(cfg: Any, *names: str) -> None:
    for name in names:
        if not 0 <= _number(cfg, name) <= 1:
            raise _bad(name, getattr(cfg, name), f"0 <= {name} <= 1")


def widths(cfg: Any, *names: str, allow_empty: bool = False) -> None:
    """Hidden-layer widths: a tuple of whole numbers > 0 (non-empty unless ``allow_empty``)."""
    for name in names:
        value = getattr(cfg, name)
        ok = isinstance(value, (tuple, list)) and (allow_empty or len(value) > 0) and all(
            isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in value)
        if not ok:
            raise _bad(name, value, f"a tuple of layer widths > 0, e.g. {name}=(256, 256)")


def no_more_than(cfg: Any, small: str, big: str) -> None:
    if getattr(cfg, small) > getattr(cfg, big):
        raise _bad(small, getattr(cfg, small), f"{small} <= {big} ({getattr(cfg, big)})")


def replay(cfg: Any) -> None:
    """The shared vocabulary of replay-based agents: batch_size, buffer_size, start_steps, discount."""
    at_least_one(cfg, "batch_size", "buffer_size")
    no_more_than(cfg, "batch_size", "buffer_size")
    non_negative(cfg, "start_steps")
    if hasattr(cfg, "discount"):
        fraction(cfg, "discount")
