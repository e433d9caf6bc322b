"""One config vocabulary across agents: a shared field has one name and one meaning in every Config.

``SHARED`` is the vocabulary: each name an agent's Config may carry, what it means, and which agents carry
it (tests/test_vocabulary.py checks every Config against it). ``RENAMED`` maps each agent's old field names
to the current ones. An old name is still accepted for one release (0.2 rejects it) wherever a config is
given: ``--set``, variants, suite and task ``agent_overrides``; each use prints a one-line note, once per
process. Stored manifests keep the names they were written with; readers (the planner, reports) pass them
through ``current_names`` so runs stored before the rename stay complete and readable.

Torch-free and at the bottom of the layers: ``results/``, ``runners/`` and ``analysis/`` read it too.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from core.errors import UserError

# Names that mean the same thing in every agent that has them (the hidden-width scheme: ``hidden`` /
# ``<part>_hidden`` is a tuple of layer widths, depth = its length; ``hidden_dim`` / ``<part>_hidden_dim``
# is one width for every hidden layer of a network of fixed depth).
SHARED: dict[str, tuple[str, tuple[str, ...]]] = {
    "discount": ("discount factor gamma of the return", ("alm", "iqrl", "mrq", "omd", "td3")),
    "batch_size": ("samples (transitions or windows) per gradient update", ("alm", "iqrl", "mrq", "omd", "td3")),
    "buffer_size": ("replay capacity in transitions (slots)", ("alm", "iqrl", "mrq", "omd", "td3")),
    "start_steps": ("uniform-random warm-up agent steps before the policy acts", ("alm", "iqrl", "mrq", "omd", "td3")),
    "lr": ("the one Adam learning rate of actor and critics", ("iqrl", "td3")),
    "tau": ("Polyak rate of the target networks", ("alm", "iqrl", "omd", "td3")),
    "exploration_noise": ("constant std of the Gaussian exploration noise, in action-scale units", ("mrq", "td3")),
    "exploration_noise_start": (
        "std of the Gaussian exploration noise at the schedule's start, in action-scale units",
        ("alm", "iqrl"),
    ),
    "exploration_noise_end": ("std of the Gaussian exploration noise at the schedule's end", ("alm", "iqrl")),
    "exploration_decay_steps": ("agent steps over which the exploration std decays linearly", ("alm",)),
    "exploration_decay_episodes": ("episodes over which the exploration std decays linearly", ("iqrl",)),
    "policy_noise": ("std of the target-policy smoothing noise, in action-scale units", ("iqrl", "mrq", "td3")),
    "noise_clip": ("clip of the target-policy smoothing noise", ("iqrl", "mrq", "td3")),
    "actor_update_freq": ("critic updates per actor update (delayed policy updates)", ("iqrl", "td3")),
    "hidden": ("layer widths of the actor and critic MLPs (iQRL: and dynamics, projection)", ("iqrl", "td3")),
    "hidden_dim": ("one width of every hidden layer of the agent's MLPs", ("alm",)),
    "enc_hidden": ("layer widths of the encoder MLP", ("iqrl",)),
    "enc_hidden_dim": ("one width of every hidden layer of the encoder", ("mrq",)),
    "value_hidden_dim": ("one width of every hidden layer of the value network", ("mrq",)),
    "policy_hidden_dim": ("one width of every hidden layer of the policy network", ("mrq",)),
    "model_hidden_dim": ("one width of every hidden layer of the learned model", ("alm", "omd")),
    "sac_model_hidden_dim": ("one width of every hidden layer of the learned model (SAC inner optimizer)", ("omd",)),
    "q_hidden": ("layer widths of the Q network", ("omd",)),
    "sac_hidden": ("layer widths of the SAC actor and critics", ("omd",)),
    "enc_lr": ("learning rate of the encoder", ("iqrl", "mrq")),
    "model_lr": ("learning rate of the learned model (ALM: with the encoder)", ("alm", "omd")),
    "latent_dim": ("width of the latent state", ("alm", "iqrl")),
    "priority_exponent": ("exponent alpha of the LAP priority |TD error|^alpha", ("mrq",)),
}

# agent -> {old field name: new field name}; accepted with a note until release 0.2
RENAMED: dict[str, dict[str, str]] = {
    "td3": {"expl_noise": "exploration_noise", "policy_freq": "actor_update_freq"},
    "mrq": {
        "target_policy_noise": "policy_noise",
        "enc_hdim": "enc_hidden_dim",
        "value_hdim": "value_hidden_dim",
        "policy_hdim": "policy_hidden_dim",
        "alpha": "priority_exponent",
    },
    "iqrl": {"gamma": "discount"},
    "alm": {
        "expl_start": "exploration_noise_start",
        "expl_end": "exploration_noise_end",
        "expl_duration": "exploration_decay_steps",
    },
    "omd": {"model_hidden": "model_hidden_dim", "sac_model_hidden": "sac_model_hidden_dim"},
}
# every old name, whichever agent had it: given for another agent that has the new field, it maps the same way
OLD_NAMES: dict[str, str] = {}
for _table in RENAMED.values():
    for _old, _new in _table.items():
        if OLD_NAMES.setdefault(_old, _new) != _new:
            raise ValueError(f"old config name {_old!r} renamed two ways")
UNTIL = "0.2"  # the release that rejects the old names

_NOTED: set[tuple[str, str]] = set()


class RenamedFieldWarning(FutureWarning):
    """An old config field name was given; it was mapped to the current one (the CLI prints it as a note)."""


def note_renamed(old: str, new: str, where: str) -> None:
    """The one-line deprecation note, once per process and old name."""
    if (old, new) in _NOTED:
        return
    _NOTED.add((old, new))
    warnings.warn(
        f"config field {old!r} is now {new!r} ({where}); the old name is accepted until latentbench {UNTIL}",
        RenamedFieldWarning,
        stacklevel=3,
    )


def to_current(values: dict[str, Any], fields: Iterable[str], where: str, *, note: bool = True) -> dict[str, Any]:
    """Given config values with old field names mapped to the current ones of a Config with ``fields``
    (a note for each old name); an old name whose new field ``fields`` lacks stays as given (the caller
    reports it as unknown). UserError when an old name and its new name are both given."""
    fields = set(fields)
    out: dict[str, Any] = {}
    for key, value in values.items():
        new = OLD_NAMES.get(key)
        if new is None or key in fields or new not in fields:
            out[key] = value
            continue
        if new in values:
            raise UserError(
                f"config field {key!r} is the old name of {new!r} and both are given ({where}); valid: {new!r} only"
            )
        if note:
            note_renamed(key, new, where)
        out[new] = value
    return out


def current_names(algo: str, values: dict[str, Any] | None) -> dict[str, Any]:
    """A stored mapping (a manifest's config, sources or overrides) with ``algo``'s old names replaced by the
    current ones, quietly: stores written before a rename read as if written today."""
    table = RENAMED.get(algo.partition("@")[0], {})
    return {table.get(key, key): value for key, value in (values or {}).items()}


def old_names(algo: str, values: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``current_names``: ``values`` under the names ``algo`` used before the rename."""
    back = {new: old for old, new in RENAMED.get(algo.partition("@")[0], {}).items()}
    return {back.get(key, key): value for key, value in values.items()}
