"""td3: the config (defaults = paper / official code, each with its source) and the named variants.

Importable without torch, so ``bench list`` and input errors answer at once; the agent is
``algorithms.td3:TD3``, imported only when a run needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.common import checks
from algorithms.registry import register_algorithm, register_variant


@dataclass
class Config:
    hidden: tuple[int, ...] = (256, 256)  # TD3.py HEAD: 256-256 (paper: 400-300)
    lr: float = 3e-4  # TD3.py HEAD: Adam(lr=3e-4) for actor and critic (paper: 1e-3)
    batch_size: int = 256  # main.py HEAD --batch_size 256 (paper: 100)
    discount: float = 0.99  # main.py --discount
    tau: float = 0.005  # main.py --tau (Polyak)
    policy_noise: float = 0.2  # main.py --policy_noise (target smoothing std)
    noise_clip: float = 0.5  # main.py --noise_clip
    noise_scaled_by_max_action: bool = True  # HEAD multiplies both by max_action; paper era did not
    actor_update_freq: int = 2  # main.py --policy_freq (actor delay)
    exploration_noise: float = 0.1  # main.py --expl_noise, times max_action
    start_steps: int = 25_000  # main.py --start_timesteps (HEAD default; 1k for InvertedPendulum/Reacher)
    buffer_size: int = 1_000_000  # utils.ReplayBuffer max_size

    def __post_init__(self) -> None:
        checks.types(self)  # a value of the wrong type is a one-line error naming the field, at construction

    def validate(self) -> None:
        checks.finite(self)
        checks.replay(self)
        checks.widths(self, "hidden")
        checks.positive(self, "lr")
        checks.fraction(self, "tau")
        checks.non_negative(self, "policy_noise", "noise_clip", "exploration_noise")
        checks.at_least_one(self, "actor_update_freq")


register_algorithm(
    "td3",
    Config,
    agent="algorithms.td3:TD3",
    action_kinds=("continuous",),
    observation_kinds=("state",),
    max_torch_threads=1,  # benchmarks/threads.py: 1 thread is as fast or faster
    seed_batch="algorithms.td3:TD3SeedBatch",
    compile=True,
)

register_variant(
    "td3",
    "paper2018",
    "TD3 paper / camera-ready code (bc98e62): 400-300 nets, Adam 1e-3, batch 100, absolute noise, 10k start",
    hidden=(400, 300),
    lr=1e-3,
    batch_size=100,
    noise_scaled_by_max_action=False,
    start_steps=10_000,
)
