"""The named suites. Each suite module registers itself here; ``bench list suites`` shows them."""

from __future__ import annotations

import difflib

from core.errors import UserError
from suites.task import Suite, Task

_SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite) -> Suite:
    if suite.name in _SUITES:
        raise ValueError(f"suite {suite.name!r} registered twice")
    names = suite.task_names
    if len(set(names)) != len(names):
        raise ValueError(f"suite {suite.name!r} has duplicate task names")
    _SUITES[suite.name] = suite
    return suite


def suites() -> dict[str, Suite]:
    import suites as _pkg  # noqa: F401  (importing the package registers every suite)

    return dict(_SUITES)


def _hint(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get_suite(name: str) -> Suite:
    known = suites()
    if name not in known:
        raise UserError(f"unknown suite {name!r}{_hint(name, known)}; valid: {', '.join(sorted(known))}")
    return known[name]


def get_task(suite: Suite, name: str) -> Task:
    try:
        return suite.task(name)
    except KeyError:
        names = suite.task_names
        shown = (
            ", ".join(names)
            if len(names) <= 30
            else ", ".join(names[:30]) + f", ... ({len(names)} in all; see 'bench list tasks --suite {suite.name}')"
        )
        raise UserError(f"unknown task {name!r} in suite {suite.name}{_hint(name, names)}; valid: {shown}") from None
