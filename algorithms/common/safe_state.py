"""Checkpoints as plain data: saved so that ``torch.load(weights_only=True)`` can read them back.

A checkpoint (or a representation to initialise from) is a file anyone may have put in a store, so
it is never unpickled with arbitrary classes: a crafted pickle could run code on ``bench run``.
``weights_only=True`` only rebuilds tensors, numbers, strings and containers, so the few non-tensor
objects a checkpoint holds (numpy arrays inside numpy/dm_control RNG states, numpy scalars) are
encoded into those before saving and decoded after loading, bit for bit.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.errors import UserError

_ARRAY = "__numpy_array__"  # marker key of an encoded numpy array


def encode(obj: Any) -> Any:
    """``obj`` with numpy arrays and scalars replaced by plain data (tensors, ints, floats, containers)."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(f"cannot checkpoint a numpy array of dtype {obj.dtype} as plain data")
        raw = np.ascontiguousarray(obj)
        return {
            _ARRAY: torch.from_numpy(raw.reshape(-1).view(np.uint8).copy()),
            "dtype": raw.dtype.str,
            "shape": list(raw.shape),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(encode(v) for v in obj)
    if isinstance(obj, list):
        return [encode(v) for v in obj]
    return obj


def decode(obj: Any) -> Any:
    """The inverse of ``encode``."""
    if isinstance(obj, dict):
        if _ARRAY in obj and set(obj) == {_ARRAY, "dtype", "shape"}:
            raw = obj[_ARRAY].cpu().numpy().tobytes()
            return np.frombuffer(raw, dtype=np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(decode(v) for v in obj)
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


def save_state(state: Any, path: str | Path) -> None:
    torch.save(encode(state), path)


def load_state(path: str | Path, map_location: Any = "cpu", *, what: str = "checkpoint", remedy: str = "") -> Any:
    """Read a file written by ``save_state`` (or any plain torch file), never running code from it.

    A file that needs more than plain data to unpickle is refused, and an unreadable one reported,
    each as one line naming the file."""
    try:
        return decode(torch.load(path, map_location=map_location, weights_only=True))
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise UserError(
                f"refused {what} {path}: it is not plain data (tensors, numbers, containers) and loading it "
                f"could run code{remedy}"
            ) from None
        raise UserError(f"corrupt {what} {path} ({type(exc).__name__}: {first_line(exc)}){remedy}") from None
    except Exception as exc:  # noqa: BLE001  (truncated zip, bad magic number, ...)
        raise UserError(f"corrupt {what} {path} ({type(exc).__name__}: {first_line(exc)}){remedy}") from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "unreadable"
