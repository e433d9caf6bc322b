"""Tasks and suites as data: what to build and the protocol fields that decide comparability.

A ``Task`` knows how to construct its environment (always through the gymnasium API) and carries
every protocol field a reviewer needs to decide whether two results may be compared: env library
and version, observation kind, action repeat, frame stack, termination semantics, step budget in
agent steps *and* env frames, evaluation cadence and the normalization reference.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import gymnasium as gym


def library_version(library: str) -> str:
    dist = {"gymnasium": "gymnasium", "dm_control": "dm_control", "ale": "ale-py"}[library]
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        version = "missing"
    if library in ("gymnasium", "dm_control"):
        try:
            version += f"+mujoco{metadata.version('mujoco')}"
        except metadata.PackageNotFoundError:
            pass
    return version


def reduced_eval_every(eval_every: int, agent_steps: int, evaluations: int = 5) -> int:
    """Evaluation cadence of a reduced budget: at least ``evaluations`` evaluations after step 0
    (``agent_steps // evaluations`` at most). Where the budget reaches the protocol's first evaluation, the
    cadence is the coarsest divisor of the protocol's ``eval_every`` that fits, so the grid still holds every
    step the protocol evaluates at (15k of a 5k protocol: every 2.5k, meeting published curves at 5k, 10k
    and 15k, not only at the end); a budget below that keeps ``agent_steps // evaluations``."""
    most = max(1, agent_steps // evaluations)
    if most >= eval_every:
        return eval_every
    if agent_steps < eval_every:
        return most
    return max(eval_every // d for d in range(2, eval_every + 1) if eval_every % d == 0 and eval_every // d <= most)


@dataclass(frozen=True)
class Task:
    name: str  # unique within its suite, e.g. "cartpole-balance"
    env_id: str  # library id, e.g. "Pendulum-v1" or "cartpole/balance"
    library: str  # "gymnasium" | "dm_control" | "ale"
    make_env: Callable[..., gym.Env] = field(repr=False, compare=False, hash=False)  # make_env(task, seed) -> gym.Env
    agent_steps: int  # training budget in agent steps (one agent step = action_repeat env frames)
    eval_every: int  # agent steps between evaluations
    eval_episodes: int
    observation: str = "state"  # "state" | "pixels"
    action: str = "continuous"  # "continuous" | "discrete"
    action_repeat: int = 1
    frame_stack: int = 1
    termination: str = "terminate+truncate"  # or "truncate-only" (DMC: 1000-frame episodes, no terminals)
    max_episode_frames: int | None = None
    normalization: str | None = None  # key of a table under results/reference/normalization, or None
    warmup_steps: int | None = None  # overrides the agent's random-start steps (scaled-down suites); None = paper value
    eval_epsilon: float = 0.0  # probability of a uniform random action during evaluation (Atari: 1e-3)
    # Discrete tasks: how a stochastic discrete policy acts at evaluation, "greedy" (argmax of its logits) or
    # "sampled" (a draw from the policy, e.g. MR.Q's Gumbel-softmax argmax, as MR.Q's published Atari numbers).
    # The suite sets the agents' config accordingly (agent_overrides); ignored for continuous actions.
    discrete_eval: str = "greedy"
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    full_agent_steps: int | None = None  # the protocol's budget when this task's budget was reduced (--steps)
    # Per-task config overrides per algorithm (e.g. iQRL's n-step per DMC task), applied after the suite's and
    # before --set; they land in the resolved config of every manifest.
    agent_overrides: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, hash=False)

    @property
    def env_frames(self) -> int:
        return self.agent_steps * self.action_repeat

    def make(self, seed: int) -> gym.Env:
        return self.make_env(self, seed)

    def with_budget(self, agent_steps: int) -> Task:
        """The same task at a reduced (or enlarged) budget, recorded so it is never mistaken for the protocol's."""
        reduced = agent_steps < self.agent_steps
        eval_every = reduced_eval_every(self.eval_every, agent_steps) if reduced else self.eval_every
        return dataclasses.replace(
            self,
            agent_steps=int(agent_steps),
            eval_every=eval_every,
            full_agent_steps=self.full_agent_steps or self.agent_steps,
        )

    def protocol(self) -> dict[str, Any]:
        """Every field that decides comparability, plus a short id that is equal iff the protocols are."""
        proto = {
            "env_id": self.env_id,
            "library": self.library,
            "library_version": library_version(self.library),
            "observation": self.observation,
            "action": self.action,
            "action_repeat": self.action_repeat,
            "frame_stack": self.frame_stack,
            "termination": self.termination,
            "max_episode_frames": self.max_episode_frames,
            "agent_steps": self.agent_steps,
            "env_frames": self.env_frames,
            "eval_every_agent_steps": self.eval_every,
            "eval_episodes": self.eval_episodes,
            "eval_epsilon": self.eval_epsilon,
            "normalization": self.normalization,
            "warmup_steps_override": self.warmup_steps,
            "env_kwargs": dict(self.env_kwargs),
            "reduced_budget": self.full_agent_steps is not None and self.full_agent_steps != self.agent_steps,
            "full_agent_steps": self.full_agent_steps or self.agent_steps,
        }
        if self.action == "discrete":  # only discrete tasks carry it (continuous protocol ids are unchanged)
            proto["discrete_eval"] = self.discrete_eval
        proto["protocol_id"] = hashlib.sha1(json.dumps(proto, sort_keys=True).encode()).hexdigest()[:12]
        return proto


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    tasks: tuple[Task, ...]
    # Config overrides per algorithm for CPU-scale suites (smoke), applied before the user's --set;
    # they land in the resolved config of every manifest. Paper-protocol suites leave this empty.
    agent_overrides: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, hash=False)

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]
