"""The agent contract every algorithm implements, and the registry of algorithms and variants.

An algorithm module defines a ``Config`` dataclass (defaults = paper / official code, each with a
source note) and an ``Agent`` subclass decorated with ``@register("name")``. Design-study and
ablation variants are plain config overrides registered with ``register_variant`` beside the
algorithm, so ``mrq@no-lap`` is data, not a fork.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from algorithms import registry
from core.errors import UserError
from core.seeding import stream_seed


@dataclass
class Transition:
    """One agent step as the training loop hands it to ``Agent.observe``."""

    obs: np.ndarray
    action: np.ndarray
    reward: float
    next_obs: np.ndarray
    terminated: bool  # a true terminal: the value of next_obs is zero
    truncated: bool  # a time limit: bootstrap from next_obs, but the episode ends here


def action_kind(space: gym.Space) -> str:
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, gym.spaces.Box):
        return "continuous"
    raise UserError(f"unsupported action space {space!r}; valid: Box (continuous) or Discrete")


def observation_kind(space: gym.Space) -> str:
    """'pixels' for uint8 images (C,H,W), 'state' for flat float vectors."""
    if isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3:
        return "pixels"
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return "state"
    raise UserError(f"unsupported observation space {space!r}; valid: 1-D Box (state) or uint8 (C,H,W) Box (pixels)")


class Agent(abc.ABC):
    """Base class of every agent. Subclasses set the class attributes and implement the five methods.

    ``Config.start_steps`` (if present) is the number of uniform-random warm-up steps the training
    loop takes before the agent acts and updates (suites and ``--set`` may change it).

    Randomness (``bench/seeding.py``): from ``seed`` the agent derives two named streams:
    ``agent_sampling`` seeds ``self.torch_gen`` (torch, on the device: replay sampling, target noise,
    augmentation) and ``exploration`` seeds ``self.np_rng`` (numpy) and ``self.explore_gen`` (torch),
    which only acting draws from. Network initialisation uses the torch global RNG, which the
    training loop seeds (stream ``agent_init``) before construction. ``state_dict`` stores all four,
    so a resumed agent produces the same actions and updates as one that never stopped.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type]
    action_kinds: ClassVar[tuple[str, ...]] = ("continuous",)
    observation_kinds: ClassVar[tuple[str, ...]] = ("state",)

    def __init__(
        self, obs_space: gym.Space, action_space: gym.Space, config: Any, device: torch.device | str, seed: int
    ):
        self.obs_space = obs_space
        self.action_space = action_space
        self.config = config
        self.device = torch.device(device)
        self.seed = int(seed)
        self.np_rng = np.random.default_rng(stream_seed(seed, "exploration"))
        self.torch_gen = torch.Generator(device=self.device)
        self.torch_gen.manual_seed(stream_seed(seed, "agent_sampling"))
        self.explore_gen = torch.Generator(device=self.device)
        self.explore_gen.manual_seed(stream_seed(seed, "exploration"))

    # -- the contract -------------------------------------------------------------------------
    @abc.abstractmethod
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray | int:
        """An action for one observation, with exploration noise when ``explore``."""

    @abc.abstractmethod
    def observe(self, transition: Transition) -> None:
        """Store one transition (the agent owns its replay buffer)."""

    @abc.abstractmethod
    def update(self, step: int) -> dict[str, torch.Tensor]:
        """One learning step. Returns scalar metrics as 0-d tensors (no host sync in the hot loop)."""

    def compile_update(self, mode: str | None = None) -> None:
        """Optional (``bench run --compile``; registered with ``compile=True``): run the update's tensor work
        through ``torch.compile`` with ``mode``, keeping generators, sampling and data-dependent branches outside
        the compiled functions. Results equal the eager update's up to float rounding."""
        raise NotImplementedError(f"{type(self).__name__} has no compiled update")

    def diagnostics(self) -> dict[str, float]:
        """Optional scalars logged with each evaluation (e.g. latent rank); stored in ``diagnostics.csv``."""
        return {}

    def modules(self) -> dict[str, torch.nn.Module]:
        """Named networks, for parameter counts and the default state_dict."""
        return {k: v for k, v in vars(self).items() if isinstance(v, torch.nn.Module)}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {k: v for k, v in vars(self).items() if isinstance(v, torch.optim.Optimizer)}

    def extra_state(self) -> dict[str, Any]:
        """Counters and schedules of the subclass; override together with ``load_extra_state``."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Optional hook: restore what ``extra_state`` returned; the default (no extra state) does nothing."""

    # -- generic state handling ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
            "replay": self.replay.state_dict() if hasattr(self, "replay") else None,
            "rng": {
                "numpy": self.np_rng.bit_generator.state,
                "torch_gen": self.torch_gen.get_state(),
                "torch_explore": self.explore_gen.get_state(),
                "torch_global": torch.get_rng_state(),
            },
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mods, opts = self.modules(), self.optimizers()
        if set(state["modules"]) != set(mods) or set(state["optimizers"]) != set(opts):
            raise ValueError(f"checkpoint holds modules {sorted(state['modules'])}, agent has {sorted(mods)}")
        for k, m in mods.items():
            m.load_state_dict(state["modules"][k])
        for k, o in opts.items():
            o.load_state_dict(state["optimizers"][k])
        if state.get("replay") is not None:
            self.replay.load_state_dict(state["replay"])
        self.np_rng.bit_generator.state = state["rng"]["numpy"]
        self.torch_gen.set_state(state["rng"]["torch_gen"])
        if "torch_explore" in state["rng"]:  # absent in checkpoints written before the exploration stream
            self.explore_gen.set_state(state["rng"]["torch_explore"])
        torch.set_rng_state(state["rng"]["torch_global"])
        self.load_extra_state(state["extra"])

    def num_parameters(self) -> int:
        """Trainable parameters of the networks that act or learn (target copies excluded)."""
        seen, total = set(), 0
        for name, module in self.modules().items():
            if "target" in name:
                continue
            for p in module.parameters():
                if id(p) not in seen and p.requires_grad:
                    seen.add(id(p))
                    total += p.numel()
        return total


# -- registry (algorithms/registry.py holds the torch-free part) ---------------------------------


def register(name: str):
    """Class decorator: ``@register("td3")`` marks the agent class of ``td3``, whose Config and kinds were
    registered (torch-free) by ``register_algorithm``; they must agree."""

    def wrap(cls: type[Agent]) -> type[Agent]:
        algo = registry.info(name)
        if (
            cls.Config is not algo.config
            or tuple(cls.action_kinds) != algo.action_kinds
            or tuple(cls.observation_kinds) != algo.observation_kinds
        ):
            raise TypeError(f"{cls.__name__} disagrees with the registration of {name!r} (Config or kinds)")
        if algo.agent != f"{cls.__module__}:{cls.__qualname__}":
            raise TypeError(f"{name!r} is registered with agent {algo.agent}, not {cls.__module__}:{cls.__qualname__}")
        cls.name = name
        return cls

    return wrap


def algorithms() -> dict[str, type[Agent]]:
    """Every algorithm's agent class (imports them all)."""
    return {name: registry.agent_class(name) for name in registry.infos()}


def resolve(algo_id: str, overrides: dict[str, Any] | None = None) -> tuple[type[Agent], Any]:
    """``'td3@paper2018'`` -> (agent class, resolved Config). Raises UserError for unknown names."""
    algo, config = registry.resolve_config(algo_id, overrides)
    return registry.agent_class(algo.name), config


variants, all_algo_ids, register_variant = registry.variants, registry.all_algo_ids, registry.register_variant
Variant = registry.Variant
