"""Config value checks, written once; each agent's ``Config.validate`` lists which fields obey which.

Run by ``algorithms.base.resolve`` when a plan is made (before anything touches the store), so a bad
``--set`` value (``discount=2``, ``hidden=(0, 0)``, ``batch_size=0``) is a one-line error naming the
field and its valid range instead of a crash, a NaN run stored as "Diverged", or a silently wrong run.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
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


_KINDS = {
    "int": "an int (a whole number)",
    "float": "a float (a number)",
    "bool": "a bool (True or False)",
    "str": "a str (text)",
    "tuple": "a tuple",
}


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_float(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _kind(annotation: Any) -> tuple[str, str | None]:
    """``'tuple[int, ...]'`` -> ('tuple', 'int'); ``'float'`` -> ('float', None); anything else -> ('', None)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    base, _, rest = text.partition("[")
    item = rest.partition(",")[0].strip() if base == "tuple" and rest.rstrip("]").endswith("...") else None
    return (base.strip() if base.strip() in _KINDS else ""), item


def types(cfg: Any) -> None:
    """Each field holds its annotated type, checked when a Config is constructed (``__post_init__``):
    ints are whole numbers (not bools), floats any real number (an int becomes a float), bools only
    True/False, tuples a tuple or list (made a tuple) of the item type. ``--set batch_size=abc`` is one line
    naming the field, the value and the type wanted."""
    for f in dataclasses.fields(cfg):
        kind, item = _kind(f.type)
        value = getattr(cfg, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        example = f", e.g. {f.name}={default!r}" if default is not None else ""
        if kind == "int":
            ok = _is_int(value)
            if ok:
                value = int(value)
        elif kind == "float":
            ok = _is_float(value)
            if ok:
                value = float(value)
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "str":
            ok = isinstance(value, str)
        elif kind == "tuple":
            check = {"int": _is_int, "float": _is_float, "str": lambda v: isinstance(v, str)}.get(
                item or "", lambda v: True
            )
            ok = isinstance(value, (tuple, list)) and all(check(v) for v in value)
            if ok:
                value = tuple(int(v) if item == "int" else float(v) if item == "float" else v for v in value)
            want = f"a tuple of {item}s" if item else _KINDS["tuple"]
            if not ok:
                raise ConfigValueError(f"{f.name}={value!r} ({type(value).__name__}); valid: {want}{example}")
        else:
            continue
        if not ok:
            raise ConfigValueError(f"{f.name}={value!r} ({type(value).__name__}); valid: {_KINDS[kind]}{example}")
        object.__setattr__(cfg, f.name, value)


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
        ok = (
            isinstance(value, (tuple, list))
            and (allow_empty or len(value) > 0)
            and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in value)
        )
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
