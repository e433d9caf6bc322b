"""Plug-in agents. The registry (``algorithms/registry.py``) and every algorithm's Config and variants
import without torch; the agent classes (``algorithms/base.py`` contract) are imported when needed.

One module per agent; each has a torch-free config module (``Config``: paper defaults with source
notes, and its named variants) and an ``Agent`` registered by name. See ``algorithms/base.py``.
"""

from algorithms.registry import (
    Variant,
    all_algo_ids,
    check_algo_id,
    infos,
    register_algorithm,
    register_variant,
    variants,
)

_LAZY = ("Agent", "Transition", "algorithms", "register", "resolve")  # from algorithms.base, which imports torch


def __getattr__(name: str):
    if name in _LAZY:
        from algorithms import base

        return getattr(base, name)
    raise AttributeError(f"module 'algorithms' has no attribute {name!r}")


__all__ = [
    "Agent",
    "Transition",
    "Variant",
    "all_algo_ids",
    "algorithms",
    "check_algo_id",
    "infos",
    "register",
    "register_algorithm",
    "register_variant",
    "resolve",
    "variants",
]
