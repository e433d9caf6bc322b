"""The registry of algorithms and their named variants, importable without torch.

Each algorithm's ``Config`` dataclass (paper defaults with source notes) and its variants live in a
torch-free module (``algorithms/td3_config.py``, ``algorithms/mrq/config.py``, ...) that calls
``register_algorithm`` and ``register_variant``; the agent class (torch) is named by its import path
and imported only when a run needs it (``agent_class``). So ``bench list``, ``bench show-config``
and every input error answer without loading torch.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from dataclasses import dataclass
from typing import Any

from core.errors import UserError
from core.vocabulary import to_current

# the torch-free modules that register each algorithm and its variants
CONFIG_MODULES = (
    "algorithms.alm.config",
    "algorithms.iqrl.config",
    "algorithms.mrq.config",
    "algorithms.omd.config",
    "algorithms.td3_config",
)


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict[str, Any]
    description: str


@dataclass(frozen=True)
class AlgoInfo:
    name: str
    config: type  # the Config dataclass
    agent: str  # "module:Class" of the Agent subclass
    action_kinds: tuple[str, ...]
    observation_kinds: tuple[str, ...]
    # Config fields whose effect scales with the total budget (a schedule proportional to it). The agent
    # contract never passes the budget, so every agent here declares none; a run's curve up to step k is
    # then the same whatever its budget, and reduced-budget runs are comparable with published curves
    # within their budget (analysis.curves). Recorded in every manifest.
    budget_dependent_fields: tuple[str, ...] = ()
    # Most torch threads one cell of this agent uses (None: the cores its runner gives it). Small networks
    # are launch-bound: benchmarks/threads.py (2 cores, quiet) measured TD3 127.7 vs 63.6 updates/s and
    # OMD 200.1 vs 51.1 with 1 vs 2 threads, MR.Q 8.92 vs 8.55; ALM 1.77 vs 2.04 keeps the cores.
    max_torch_threads: int | None = None
    # "module:Class" of the agent's seed batch (algorithms/common/seed_batch.py: S seeds updated as one
    # batched computation, ``bench run --seed-batch S``); None: its seeds run one cell at a time.
    seed_batch: str | None = None
    # The agent's update can run through torch.compile (``Agent.compile_update``, ``bench run --compile``).
    compile: bool = False


_INFOS: dict[str, AlgoInfo] = {}
_VARIANTS: dict[str, dict[str, Variant]] = {}


def register_algorithm(
    name: str,
    config: type,
    *,
    agent: str,
    action_kinds: tuple[str, ...] = ("continuous",),
    observation_kinds: tuple[str, ...] = ("state",),
    budget_dependent_fields: tuple[str, ...] = (),
    max_torch_threads: int | None = None,
    seed_batch: str | None = None,
    compile: bool = False,
) -> None:
    if name in _INFOS:
        raise ValueError(f"algorithm {name!r} registered twice")
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"the Config of {name} must be a dataclass")
    _INFOS[name] = AlgoInfo(
        name,
        config,
        agent,
        tuple(action_kinds),
        tuple(observation_kinds),
        tuple(budget_dependent_fields),
        max_torch_threads,
        seed_batch,
        compile,
    )
    _VARIANTS.setdefault(name, {})


def register_variant(algo: str, name: str, description: str, **overrides: Any) -> None:
    """A named config override, e.g. ``register_variant("td3", "paper2018", "...", batch_size=100)``.
    Old field names (``core.vocabulary.RENAMED``) are mapped to the current ones with a note."""
    fields = {f.name for f in dataclasses.fields(_INFOS[algo].config)}
    overrides = to_current(overrides, fields, f"variant {algo}@{name}")
    unknown = set(overrides) - fields
    if unknown:
        raise TypeError(f"variant {algo}@{name} overrides unknown config fields {sorted(unknown)}")
    _VARIANTS[algo][name] = Variant(name, dict(overrides), description)


def infos() -> dict[str, AlgoInfo]:
    for module in CONFIG_MODULES:
        importlib.import_module(module)
    return dict(_INFOS)


def info(name: str) -> AlgoInfo:
    known = infos()
    if name not in known:
        raise UserError(f"unknown algorithm {name!r}{_did_you_mean(name, known)}; valid: {_choices(known)}")
    return known[name]


def variants(algo: str) -> dict[str, Variant]:
    infos()
    return dict(_VARIANTS.get(algo, {}))


def all_algo_ids() -> list[str]:
    """Every runnable name: each algorithm and each ``algo@variant``."""
    ids = []
    for algo in sorted(infos()):
        ids.append(algo)
        ids.extend(f"{algo}@{v}" for v in sorted(variants(algo)))
    return ids


def check_algo_id(algo_id: str) -> AlgoInfo:
    """The algorithm of ``'td3@paper2018'``; UserError for an unknown algorithm or variant."""
    base, _, variant = algo_id.partition("@")
    algo = info(base)
    if variant and variant not in _VARIANTS[base]:
        known = _VARIANTS[base]
        raise UserError(
            f"unknown variant {variant!r} of {base}{_did_you_mean(variant, known)}; "
            f"valid: {_choices(known) or '(none)'}"
        )
    return algo


def resolve_config(algo_id: str, overrides: dict[str, Any] | None = None) -> tuple[AlgoInfo, Any]:
    """``'td3@paper2018'`` -> (its AlgoInfo, the Config with the variant's then ``overrides``' values).
    Old field names are mapped to the current ones with a note (``core.vocabulary``). Raises UserError
    for unknown names, unknown fields and values of the wrong type (``checks.types``, at construction)."""
    algo = check_algo_id(algo_id)
    base, _, variant = algo_id.partition("@")
    fields = {f.name for f in dataclasses.fields(algo.config)}
    merged: dict[str, Any] = dict(_VARIANTS[base][variant].overrides) if variant else {}
    merged.update(to_current(overrides or {}, fields, base))
    bad = set(merged) - fields
    if bad:
        raise UserError(
            f"unknown config field(s) {sorted(bad)} for {base}{_did_you_mean_any(bad, fields)}; "
            f"valid: {_choices(fields)}"
        )
    try:  # each Config checks its types on construction and owns its value ranges (algorithms/common/checks.py)
        config = algo.config(**merged)
        validate = getattr(config, "validate", None)
        if validate is not None:
            validate()
    except UserError as exc:
        raise UserError(f"bad {algo_id} config value {exc}") from None
    return algo, config


def agent_class(name: str) -> type:
    """The Agent subclass of algorithm ``name`` (imports its module, and so torch)."""
    module, _, cls = info(name).agent.partition(":")
    return getattr(importlib.import_module(module), cls)


def seed_batch_class(name: str) -> type | None:
    """The seed-batch class of algorithm ``name`` (imports torch), or None where it has none."""
    path = info(name).seed_batch
    if path is None:
        return None
    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)


def _choices(options) -> str:
    return ", ".join(sorted(options))


def _did_you_mean_any(words, options) -> str:
    for word in sorted(words):
        hint = _did_you_mean(word, options)
        if hint:
            return hint
    return ""


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
