"""mrq: the config (defaults = paper / official code, each with its source) and the named variants.

Importable without torch, so ``bench list`` and input errors answer at once; the agent is
``algorithms.mrq.agent:MRQ``, imported only when a run needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.common import checks
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
    policy_noise: float = 0.2  # MRQ.py target_policy_noise; x0.5 for discrete actions
    noise_clip: float = 0.3  # x0.5 for discrete actions
    discrete_noise_scale: float = 0.5  # MRQ.py: the three noises are halved for discrete actions
    dyn_weight: float = 1.0
    reward_weight: float = 0.1
    done_weight: float = 0.1
    prioritized: bool = True  # LAP
    priority_exponent: float = 0.4  # MRQ.py alpha: LAP priority |delta|^alpha
    min_priority: float = 1.0
    enc_horizon: int = 5
    q_horizon: int = 3
    zs_dim: int = 512
    zsa_dim: int = 512
    za_dim: int = 256
    enc_hidden_dim: int = 512  # MRQ.py enc_hdim
    enc_activ: str = "elu"
    enc_lr: float = 1e-4
    enc_wd: float = 1e-4
    pixel_augs: bool = True  # random shift (pad 4), pixels only
    value_hidden_dim: int = 512  # MRQ.py value_hdim
    value_activ: str = "elu"
    value_lr: float = 3e-4
    value_wd: float = 1e-4
    value_grad_clip: float = 20.0
    policy_hidden_dim: int = 512  # MRQ.py policy_hdim
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
    discrete_eval_gumbel: bool = False  # official select_action: Gumbel-sampled at eval too (the atari suite sets True)
    # official-code bugs (0f0ed0e and HEAD) we fix; True reproduces them (README, MR.Q section)
    official_terminal_target: bool = False  # stale dynamics target of a terminal step inside an encoder window
    official_warmup_actions: bool = False  # numpy-int warm-up discrete actions stored as [k, ..., k], not one-hot
    bf16_autocast: bool = False  # opt-in speed mode (not in the paper): updates under torch.autocast(bfloat16)
    # design study switches (paper Table 2); defaults = MR.Q
    linear_value: bool = False
    # "target_zs" | "target_zsa" (Dynamics target) | "online_zsa" (No target encoder); zsa: a' = next stored action
    dyn_target: str = "target_zs"
    nonlinear_model: bool = False
    reward_loss: str = "twohot"  # "twohot" | "mse" (a scalar reward output, MSE)
    reward_scaling: bool = True
    target_min: bool = True  # False: mean over the two target Qs
    model_based_repr: bool = True  # False: "No MR", encoder trained end to end by the value loss

    def __post_init__(self) -> None:
        checks.types(self)  # a value of the wrong type is a one-line error naming the field, at construction

    def validate(self) -> None:
        checks.finite(self)
        checks.replay(self)
        checks.at_least_one(
            self,
            "target_update_freq",
            "enc_horizon",
            "q_horizon",
            "zs_dim",
            "zsa_dim",
            "za_dim",
            "enc_hidden_dim",
            "value_hidden_dim",
            "policy_hidden_dim",
            "num_bins",
        )
        checks.positive(self, "enc_lr", "value_lr", "policy_lr", "gumbel_tau", "min_priority")
        checks.non_negative(
            self,
            "exploration_noise",
            "policy_noise",
            "noise_clip",
            "discrete_noise_scale",
            "dyn_weight",
            "reward_weight",
            "done_weight",
            "priority_exponent",
            "enc_wd",
            "value_wd",
            "policy_wd",
            "value_grad_clip",
            "pre_activ_weight",
            "pixel_frame_channels",
        )
        checks.no_more_than(self, "lower", "upper")


register_algorithm(
    "mrq",
    Config,
    agent="algorithms.mrq.agent:MRQ",
    action_kinds=("continuous", "discrete"),
    observation_kinds=("state", "pixels"),
    max_torch_threads=1,  # benchmarks/threads.py: 1 thread is as fast or faster
    seed_batch="algorithms.mrq.agent:MRQSeedBatch",
    compile=True,
)

# Design study (paper section 5.2, Table 2; spec section 12), each a config switch.
_VARIANTS = {
    "linear-value": ("Linear value function (Table 2): Q is linear in zsa", dict(linear_value=True)),
    "dynamics-target": (
        "Dynamics target (Table 2): the model predicts the target encoder's z_{s'a'} (a' = the next stored "
        "action, H+1 per window; the rollout stays in zsa space; our reading, no official code)",
        dict(dyn_target="target_zsa"),
    ),
    "no-target-encoder": (
        "No target encoder (Table 2): the current encoder's z_{s'a'} (a' = next stored action) is the "
        "dynamics target, optimized jointly; our reading, no official code",
        dict(dyn_target="online_zsa"),
    ),
    "revert": (
        "Revert (Table 2): linear Q plus the current encoder's z_{s'a'} dynamics target (a' = next stored "
        "action); our reading, no official code",
        dict(linear_value=True, dyn_target="online_zsa"),
    ),
    "nonlinear-model": (
        "Non-linear model (Table 2): separate MLPs for next-z, reward and done",
        dict(nonlinear_model=True),
    ),
    "mse-reward": (
        "MSE reward loss (Table 2): a scalar reward output regressed on r by MSE, in place of the 65 "
        "two-hot logits and their cross entropy",
        dict(reward_loss="mse"),
    ),
    "no-reward-scaling": ("No reward scaling (Table 2): both scales fixed at 1", dict(reward_scaling=False)),
    "no-min": ("No min (Table 2): mean instead of min over the target Qs", dict(target_min=False)),
    "no-lap": ("No LAP (Table 2): uniform sampling and the MSE value loss", dict(prioritized=False)),
    "no-mr": (
        "No MR (Table 2): no model-based representation loss; encoder trained end to end by the value loss",
        dict(model_based_repr=False),
    ),
    "1-step": ("1-step return (Table 2): H_Q = 1", dict(q_horizon=1)),
    "no-unroll": ("No unroll (Table 2): encoder horizon 1 (H_Enc = 1)", dict(enc_horizon=1)),
    # the official code's behaviours where it differs from the paper (spec section 14)
    # The discrete evaluation rule is not a variant's: it is the task's protocol field (the atari suite samples).
    "official-initial": (
        "Official initial commit 0f0ed0e (likely the published runs): n-step adds post-terminal rewards, "
        "priority from Q(s, pi(s)), stale terminal dynamics target, warm-up discrete actions stored as "
        "[k, ..., k] (not reproduced: warm-up counted in slots; the eval rule is the suite's protocol)",
        dict(
            nstep_form="initial",
            priority_source="policy_q",
            official_terminal_target=True,
            official_warmup_actions=True,
        ),
    ),
    # not in the paper: the CPU speed mode (AVX-512 BF16); see the issue note for its effect on learning
    "bf16": (
        "bf16 autocast for every update (ours, not in the paper: opt-in CPU speed mode, changes numerics)",
        dict(bf16_autocast=True),
    ),
}
for _name, (_description, _overrides) in _VARIANTS.items():
    register_variant("mrq", _name, _description, **_overrides)
