"""omd: the config (defaults = paper / official code, each with its source) and the named variants.

Importable without torch, so ``bench list`` and input errors answer at once; the agent is
``algorithms.omd.agent:OMD``, imported only when a run needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.common import checks
from algorithms.registry import register_algorithm, register_variant


@dataclass
class Config:
    agent_type: str = "omd"  # train.py --agent_type: omd | mle | vep
    batch_size: int = 256  # train.py --batch_size (both code bases)
    discount: float = 0.99  # train.py --discount; omd_default.py discount
    buffer_size: int = 200_000  # train.py: capacity = num_train_steps, nothing is overwritten
    start_steps: int = 1_000  # train.py --init_steps (CartPole); MuJoCo start_training is 10k
    inner_steps: int = 1  # K: train.py --num_Q_steps, omd_default.py inner_steps (paper App. D: K = 1)
    model_steps: int = 1  # train.py --num_T_steps (MLE / VEP model steps per update)
    inverse_jacobian: str = "identity"  # identity | cg (train.py --with_inv_jac, default False)
    cg_damping: float = 1e-5  # omd.py: (H + 1e-5 I) v = g
    cg_max_iter: int = 100  # omd.py: jax.scipy.sparse.linalg.cg maxiter=100
    # discrete actions: cartpole/train.py flags
    q_hidden: tuple[int, ...] = (32, 32)  # --hidden_dim 32, two hidden layers (paper App. D)
    model_hidden_dim: int = 32  # --model_hidden_dim (the width study sweeps {1, 2, 3, 4, 6, 12})
    model_lr: float = 1e-3  # --lr: model Adam (paper App. D), also VEP
    q_lr: float = 3e-4  # --inner_lr: Q Adam (paper sweeps {3e-4, 1e-3, 3e-3})
    tau: float = 0.01  # --tau: target Polyak coefficient (paper sweeps {0.005, 0.01})
    alpha: float = 0.01  # --alpha: soft-Q temperature (target log-sum-exp and Boltzmann policy)
    epsilon: float = 0.1  # --eps: uniform random action in training
    double_q: bool = True  # --no_double False: two Q heads, min before the log-sum-exp
    hard: bool = False  # --hard: max backup and argmax acting instead of soft ones
    reset_inner_opt: bool = True  # --warm_opt False: OMD re-creates the Q Adam state at every model update
    eval_sample: bool = True  # utils.evaluate: evaluation samples the Boltzmann policy (False: argmax)
    vep_values: int = 5  # --num_ensemble_vep: frozen random value functions
    # continuous actions: mujoco/configs/omd_default.py (SAC inner optimizer)
    sac_hidden: tuple[int, ...] = (256, 256)  # hidden_dims (actor and critics)
    sac_model_hidden_dim: int = 64  # model_hidden_dim "for the misspecification experiments"
    sac_model_lr: float = 3e-4  # model_lr
    sac_lr: float = 3e-4  # actor_lr = critic_lr = temp_lr
    sac_tau: float = 0.005  # tau, target period 1
    sac_init_temperature: float = 1.0  # init_temperature
    sac_target_entropy_scale: float = 0.5  # target_entropy None -> -|A| / 2 (jax-rl convention)
    sac_reset_inner_opt: bool = False  # MuJoCo keeps the critic / actor / temperature Adam states

    def __post_init__(self) -> None:
        checks.types(self)  # a value of the wrong type is a one-line error naming the field, at construction

    def validate(self) -> None:
        checks.finite(self)
        checks.replay(self)
        checks.fraction(self, "tau", "sac_tau")
        checks.probability(self, "epsilon")
        checks.at_least_one(
            self, "inner_steps", "model_steps", "cg_max_iter", "model_hidden_dim", "vep_values", "sac_model_hidden_dim"
        )
        checks.widths(self, "q_hidden", "sac_hidden")
        checks.positive(self, "model_lr", "q_lr", "alpha", "sac_model_lr", "sac_lr", "sac_init_temperature")
        checks.non_negative(self, "cg_damping", "sac_target_entropy_scale")


register_algorithm(
    "omd",
    Config,
    agent="algorithms.omd.agent:OMD",
    action_kinds=("discrete", "continuous"),
    observation_kinds=("state",),
    max_torch_threads=1,
)  # benchmarks/threads.py: 1 thread is as fast or faster

register_variant(
    "omd",
    "mle",
    "MLE baseline (Dyna): model trained by next-state + reward MSE, Q (or SAC) on model targets (paper Fig. 4 / "
    "App. F; official --agent_type mle, --config.algo=mle)",
    agent_type="mle",
)
register_variant(
    "omd",
    "vep",
    "value-equivalence baseline: model trained to match 5 frozen random value functions + reward (paper Fig. 4; "
    "official --agent_type vep)",
    agent_type="vep",
)
register_variant(
    "omd", "cg", "OMD with the inverse Hessian by conjugate gradients (official --with_inv_jac)", inverse_jacobian="cg"
)
register_variant(
    "omd", "warm-opt", "OMD keeping the Q Adam state across model updates (official --warm_opt)", reset_inner_opt=False
)
