"""Values read from files (manifests, claims, published data) that name files or folders.

Such a value is never joined into a path unchecked: a manifest whose suite is ``../../outside`` or
``/etc`` would otherwise make ``bench report`` write outside ``--out``. ``safe_name`` admits one
plain path component; ``inside`` is the last check before writing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from core.errors import UserError

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+=,\[\] -]{0,199}")  # one component: no separators, no leading dot


def safe_name(value: object, what: str, where: object = "") -> str:
    """``value`` as one path component, or a one-line UserError naming where it came from."""
    text = str(value)
    if not _NAME.fullmatch(text) or ".." in text:
        at = f"{where}: " if where else ""
        raise UserError(
            f"{at}{what} {text!r} cannot name a file or folder; valid: letters, digits and _ . @ + = , - "
            f"(no path separators, no leading dot, no '..')"
        )
    return text


def inside(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``path``, refused unless it lies under ``root`` once both are resolved."""
    root_r, path_r = Path(root).resolve(), Path(path).resolve()
    if path_r != root_r and root_r not in path_r.parents:
        raise UserError(f"refusing to write {path}: it lies outside {root}")
    return Path(path)


def make_output_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Create the folder ``path`` (and its parents) or say in one line why it cannot be."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: exists and is not a folder; valid: a folder (new or existing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError("not writable")
    except OSError as exc:
        raise UserError(
            f"{flag} {path}: cannot create or write this folder ({exc.strerror or exc}); valid: a writable folder"
        ) from None
    return path
