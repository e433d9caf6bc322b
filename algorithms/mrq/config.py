"""mrq: the config (defaults = paper / official code, each with its source) and the named variants.

Importable without torch, so ``bench list`` and input errors answer at once; the agent is
``algorithms.mrq.agent:MRQ``, imported only when a run needs it.
"""
from __future__ import annotations

from dataclasses import dataclass

from algorithms.registry import register_algorithm, register_variant


@dataclass
class Config:
    # MRQ.py Hyperparameters @8a44a7d (= paper Table 3)
    batch_size: int = 256
    buffer_size: int = 1_000_000  # slots (an episode of length L uses L + 1)
    discount: float = 0.99
    target_update_freq: int = 250  # hard target copies, reward-scale update and encoder-burst length
    start_steps: int = 10_000  # buffer_size_before_training: uniform random actions first
    exploration_noise: float = 0.2  # x0.5 for discrete actions
    target_policy_noise: float = 0.2  # x0.5 for discrete actions
    noise_clip: float = 0.3  # x0.5 for discrete actions
    discrete_noise_scale: float = 0.5  # MRQ.py: the three noises are halved for discrete actions
    dyn_weight: float = 1.0
    reward_weight: float = 0.1
    done_weight: float = 0.1
    prioritized: bool = True  # LAP
    alpha: float = 0.4
    min_priority: float = 1.0
    enc_horizon: int = 5
    q_horizon: int = 3
    zs_dim: int = 512
    zsa_dim: int = 512
    za_dim: int = 256
    enc_hdim: int = 512
    enc_activ: str = "elu"
    enc_lr: float = 1e-4
    enc_wd: float = 1e-4
    pixel_augs: bool = True  # random shift (pad 4), pixels only
    value_hdim: int = 512
    value_activ: str = "elu"
    value_lr: float = 3e-4
    value_wd: float = 1e-4
    value_grad_clip: float = 20.0
    policy_hdim: int = 512
    policy_activ: str = "relu"
    policy_lr: float = 3e-4
    policy_wd: float = 1e-4
    gumbel_tau: float = 10.0
    pre_activ_weight: float = 1e-5
    num_bins: int = 65
    lower: float = -10.0
    upper: float = 10.0
    pixel_frame_channels: int = 0  # channels of one pixel frame; 0 = infer (3 if the stack divides by 3, else 1)
    # spec section 14 choices (see module docstring)
    nstep_form: str = "corrected"  # "corrected" (79abcb1) | "head" (8a44a7d) | "initial" (0f0ed0e)
    priority_source: str = "pre_update"  # "pre_update" | "policy_q"
    discrete_eval_gumbel: bool = False
    bf16_autocast: bool = False  # opt-in speed mode (not in the paper): updates under torch.autocast(bfloat16)
    # design study switches (paper Table 2); defaults = MR.Q
    linear_value: bool = False
    dyn_target: str = "target_zs"  # "target_zs" | "target_zsa" (Dynamics target) | "online_zsa" (No target encoder)
    nonlinear_model: bool = False
    reward_loss: str = "twohot"  # "twohot" | "mse"
    reward_scaling: bool = True
    target_min: bool = True  # False: mean over the two target Qs
    model_based_repr: bool = True  # False: "No MR", encoder trained end to end by the value loss


register_algorithm("mrq", Config, agent="algorithms.mrq.agent:MRQ", action_kinds=("continuous", "discrete"), observation_kinds=("state", "pixels"))

# Design study (paper section 5.2, Table 2; spec section 12), each a config switch.
_VARIANTS = {
    "linear-value": ("Linear value function: Q is linear in zsa", dict(linear_value=True)),
    "dynamics-target": ("Dynamics target: predict the target encoder's next zsa instead of next zs", dict(dyn_target="target_zsa")),
    "no-target-encoder": ("No target encoder: the current encoder's next zsa is the dynamics target, optimized jointly",
                          dict(dyn_target="online_zsa")),
    "revert": ("Revert: linear Q plus a state-action dynamics target from the current encoder",
               dict(linear_value=True, dyn_target="online_zsa")),
    "nonlinear-model": ("Non-linear model: separate MLPs for next-z, reward and done", dict(nonlinear_model=True)),
    "mse-reward": ("MSE reward loss instead of two-hot cross entropy", dict(reward_loss="mse")),
    "no-reward-scaling": ("No reward scaling: both scales fixed at 1", dict(reward_scaling=False)),
    "no-min": ("No min: mean instead of min over the target Qs", dict(target_min=False)),
    "no-lap": ("No LAP: uniform sampling and the MSE value loss", dict(prioritized=False)),
    "no-mr": ("No MR: no model-based representation loss; encoder trained end to end by the value loss",
              dict(model_based_repr=False)),
    "1-step": ("1-step return (H_Q = 1)", dict(q_horizon=1)),
    "no-unroll": ("No unroll: encoder horizon 1 (H_Enc = 1)", dict(enc_horizon=1)),
    # the official code's behaviours where it differs from the paper (spec section 14)
    "official-initial": ("Initial-commit behaviour (likely the published runs): n-step adds post-terminal rewards, "
                         "priority from Q(s, pi(s)), Gumbel-sampled discrete evaluation",
                         dict(nstep_form="initial", priority_source="policy_q", discrete_eval_gumbel=True)),
    # not in the paper: the CPU speed mode (AVX-512 BF16); see the issue note for its effect on learning
    "bf16": ("bf16 autocast for every update (opt-in speed mode, changes numerics)", dict(bf16_autocast=True)),
}
for _name, (_description, _overrides) in _VARIANTS.items():
    register_variant("mrq", _name, _description, **_overrides)
