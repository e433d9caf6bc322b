"""alm: the config (defaults = paper / official code, each with its source) and the named variants.

Importable without torch, so ``bench list`` and input errors answer at once; the agent is
``algorithms.alm.agent:ALM``, imported only when a run needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.common import checks
from algorithms.registry import register_algorithm, register_variant


@dataclass
class Config:
    # cfgs/agent/alm.yaml @3b70f5b (= paper Table 3 unless noted)
    discount: float = 0.99  # gamma
    start_steps: int = 5_000  # explore_steps / Table 3 warm-up (the official loop takes 4,999 random steps)
    tau: float = 0.005  # Polyak rate of the target encoder and target critic
    target_update_interval: int = 1
    td_lambda: float = 0.95  # agents/alm.py lambda_returns default argument (not in the yaml)
    buffer_size: int = 100_000  # env_buffer_size (Table 3: 1e6 for Humanoid-v2, which the code special-cases)
    batch_size: int = 512  # sequence batch and transition batch alike
    model_lr: float = 1e-4  # encoder + latent model
    reward_lr: float = 1e-4  # reward + classifier
    critic_lr: float = 1e-4
    actor_lr: float = 1e-4
    max_grad_norm: float = 100.0  # clip_grad_norm_ per optimizer's parameter group
    latent_dim: int = 50  # latent_dims
    hidden_dim: int = 512  # hidden_dims: encoder, reward, classifier, critic, actor
    model_hidden_dim: int = 1024  # model_hidden_dims: latent model
    classifier_coef: float = 0.1  # lambda_cost: weight of the classifier log-odds in the actor's rewards only
    stddev_clip: float = 0.3  # clip of the policy noise inside the losses
    exploration_noise_start: float = 1.0  # linear(1.0, 0.1, 100000) std schedule over agent steps (was expl_start)
    exploration_noise_end: float = 0.1  # (was expl_end)
    exploration_decay_steps: int = 100_000  # (was expl_duration)
    seq_len: int = 3  # K: model-training window and actor imagination horizon
    # ablations (paper Fig. 5, App. E); defaults = ALM(3)
    kl_coef: float = 1.0  # 0 = "no KL term" in the encoder/model objective
    value_coef: float = 1.0  # 0 = "no value term" (the terminal min Q) in the encoder/model objective
    actor_objective: str = "lambda_svg"  # "td": model-free -min Q actor loss (official unused _td_loss)
    entropy_bonus: bool = False  # ALM-ENT (Table 5), our reconstruction (module docstring)
    init_temperature: float = 0.1  # ALM-ENT only
    temperature_lr: float = 1e-4  # ALM-ENT only
    # behaviour switches (module docstring)
    windows_cross_timeouts: bool = False  # True = official buffer: only terminals end a window's episode
    rescale_actions: bool = False  # official: no rescaling of the tanh actor to the action bounds

    def __post_init__(self) -> None:
        checks.types(self)  # a value of the wrong type is a one-line error naming the field, at construction

    def validate(self) -> None:
        checks.finite(self)
        checks.replay(self)
        checks.fraction(self, "tau")
        checks.probability(self, "td_lambda")
        checks.at_least_one(
            self,
            "target_update_interval",
            "latent_dim",
            "hidden_dim",
            "model_hidden_dim",
            "exploration_decay_steps",
            "seq_len",
        )
        checks.positive(self, "model_lr", "reward_lr", "critic_lr", "actor_lr", "temperature_lr", "init_temperature")
        checks.non_negative(
            self,
            "max_grad_norm",
            "classifier_coef",
            "stddev_clip",
            "exploration_noise_start",
            "exploration_noise_end",
            "kl_coef",
            "value_coef",
        )


register_algorithm(
    "alm", Config, agent="algorithms.alm.agent:ALM", action_kinds=("continuous",), observation_kinds=("state",)
)

# Paper Figure 5 / Appendix E ablations, each a config switch.
_VARIANTS = {
    "no-kl": ("No KL term in the encoder/model objective (Fig. 5a)", dict(kl_coef=0.0)),
    "no-value": ("No value term (terminal min Q) in the encoder/model objective (Fig. 5a)", dict(value_coef=0.0)),
    "no-classifier": ("No classifier log-odds reward in the actor objective (Fig. 5a)", dict(classifier_coef=0.0)),
    **{
        f"k{k}": (f"ALM({k}): sequence length and imagination horizon K = {k} (Fig. 5b)", dict(seq_len=k))
        for k in range(1, 6)
    },
    "td3-actor": (
        "Model-free TD3-style actor (-min Q(z, pi(z))) on ALM's representation (Fig. 5c)",
        dict(actor_objective="td"),
    ),
    "ent": (
        "RECONSTRUCTION (no official code; Table 5 gives one sentence): ALM-ENT, SAC entropy bonus with a "
        "learned std and temperature; H = entropy of the 0.3-clipped (truncated) policy the losses sample",
        dict(entropy_bonus=True),
    ),
    "official-windows": (
        "Official replay windows: only terminals end a window, so windows may cross timeouts "
        "(official buffer @3b70f5b)",
        dict(windows_cross_timeouts=True),
    ),
}
for _name, (_description, _overrides) in _VARIANTS.items():
    register_variant("alm", _name, _description, **_overrides)
