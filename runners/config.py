"""What a run's config is, where each value came from, and the identity it gives the run in the store.

Layers, later ones win: ``paper default`` (the Config dataclass) <- ``variant`` (``algo@variant``)
<- ``suite`` (the suite's per-algorithm overrides) <- ``task`` (the task's random warm-up
``warmup_steps`` as ``start_steps``, then its per-algorithm overrides) <- ``--set``.

Identity: the suite, task and algo@variant are already in a cell's folder, and their layers are a
function of them; what the folder name must add is everything else that changed the config,
i.e. the ``--set`` values that differ from the suite's resolved config. Those fields are the run's
``overrides``; a short stable hash of them is its ``config_id`` (``""`` when there are none), so
``td3 --set lr=1e-3`` lands in ``td3+<config_id>/`` and never shares a folder with ``td3/``.

Field names: every layer may still use a field's old name (``core.vocabulary.RENAMED``, with a note); it
is mapped to the current name first, so sources, overrides and the config_id know only current names
(``--set gamma=0.9`` and ``--set discount=0.9`` are one folder). A run stored before a rename under
``--set <old name>`` sits in the folder of the old name's hash: ``legacy_config_ids`` names it, and the
planner takes a complete run found there as done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.vocabulary import old_names, to_current
from results.store import overrides_label  # noqa: F401  (re-exported: the report label of overrides)

SOURCES = ("paper default", "variant", "suite", "task", "--set")


@dataclass(frozen=True)
class ResolvedConfig:
    algo: Any  # algorithms.registry.AlgoInfo: name, Config, kinds, agent class path
    config: Any  # the agent's Config dataclass, as it runs
    sources: dict[str, str]  # field -> the layer that set it (one of SOURCES)
    overrides: dict[str, Any]  # fields where --set changed the suite's resolved value (the run's identity)
    replaced: tuple[
        tuple[str, str, Any, Any], ...
    ]  # (field, layer, its value, the variant's value): a suite/task layer replacing a variant setting
    warmup_steps: int  # uniform-random warm-up steps the loop takes
    warmup_source: str
    # config ids a store written before a field rename gave these --set values (old names, values as given)
    legacy_config_ids: tuple[str, ...] = ()

    @property
    def agent_cls(self) -> type:
        """The agent class (imports torch)."""
        from algorithms.registry import agent_class

        return agent_class(self.algo.name)

    @property
    def config_id(self) -> str:
        return config_id(self.overrides)

    def as_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self.config))


def jsonable(obj: Any) -> Any:
    """A value as it reads back from manifest.json (tuples become lists)."""
    return json.loads(json.dumps(obj, default=str))


def config_id(overrides: dict[str, Any]) -> str:
    """8 hex digits of sha1 over the sorted JSON of the overrides; ``""`` for none (the suite's config)."""
    if not overrides:
        return ""
    return hashlib.sha1(json.dumps(jsonable(overrides), sort_keys=True).encode()).hexdigest()[:8]


def resolve_run_config(
    suite_name: str, algo: str, task_name: str | None = None, set_overrides: dict[str, Any] | None = None
) -> ResolvedConfig:
    """The config of ``algo`` on ``suite_name``'s task ``task_name`` with ``--set`` values; raises UserError
    for unknown algorithms, variants, tasks, fields or badly typed values."""
    from algorithms.registry import resolve_config as resolve  # torch-free
    from algorithms.registry import variants
    from suites import get_suite, get_task

    base, _, variant = algo.partition("@")
    suite = get_suite(suite_name)
    task = get_task(suite, task_name) if task_name is not None else None
    info, _ = resolve(algo)  # unknown algorithm or variant: UserError before anything else
    fields = {f.name for f in dataclasses.fields(info.config)}
    task_layer: dict[str, Any] = {}
    if task is not None and task.warmup_steps is not None and "start_steps" in fields:
        task_layer["start_steps"] = task.warmup_steps
    if task is not None:
        task_layer.update(task.agent_overrides.get(base, {}))
    given = dict(set_overrides or {})
    layers = [
        ("variant", dict(variants(base)[variant].overrides) if variant else {}),
        ("suite", to_current(dict(suite.agent_overrides.get(base, {})), fields, f"suite {suite.name}, {base}")),
        ("task", to_current(task_layer, fields, f"suite {suite.name}, task {task_name}, {base}")),
        ("--set", to_current(given, fields, f"--set, {base}")),
    ]

    sources = {name: "paper default" for name in fields}
    for layer, values in layers:
        for key in values:
            if key in sources:
                sources[key] = layer
    suite_values = {k: v for _, values in layers[1:3] for k, v in values.items()}
    _, suite_config = resolve(algo, suite_values)
    _, config = resolve(algo, {**suite_values, **layers[3][1]})
    variant_values = layers[0][1]
    replaced = tuple(
        (k, layer, values[k], variant_values[k])
        for layer, values in layers[1:3]
        for k in values
        if k in variant_values and jsonable(values[k]) != jsonable(variant_values[k])
    )
    overrides = {
        k: getattr(config, k)
        for k in layers[3][1]
        if jsonable(getattr(config, k)) != jsonable(getattr(suite_config, k))
    }
    # before the rename (and before ints given for float fields became floats) the id hashed the old names
    # and the values as given
    as_given = {}
    for key in overrides:
        old = next(iter(old_names(base, {key: None})))
        as_given[key] = given.get(key, given.get(old, getattr(config, key)))
    legacy = tuple(
        dict.fromkeys(
            i for i in (config_id(old_names(base, as_given)), config_id(as_given)) if i != config_id(overrides)
        )
    )

    if "start_steps" in fields:
        warmup, warmup_source = int(config.start_steps), sources["start_steps"]
    elif (
        task is not None and task.warmup_steps is not None
    ):  # an agent without start_steps still gets the task's warm-up
        warmup, warmup_source = task.warmup_steps, "task"
    else:
        warmup, warmup_source = 0, "paper default"
    return ResolvedConfig(info, config, sources, overrides, replaced, warmup, warmup_source, legacy)
