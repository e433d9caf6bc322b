"""iqrl: the config (defaults = paper / official code, each with its source) and the named variants.

Importable without torch, so ``bench list`` and input errors answer at once; the agent is
``algorithms.iqrl.agent:IQRL``, imported only when a run needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.common import checks
from algorithms.registry import register_algorithm, register_variant


@dataclass
class Config:
    hidden: tuple[int, ...] = (512, 512)  # iQRLConfig.mlp_dims: actor, critics, dynamics, projection
    lr: float = 3e-4  # iQRLConfig.lr: Adam for actor and critics
    batch_size: int = 256  # iQRLConfig.batch_size (slices of max(nstep, horizon) steps)
    actor_update_freq: int = 2  # iQRLConfig.actor_update_freq
    discount: float = 0.99  # iQRLConfig.gamma
    tau: float = 0.005  # iQRLConfig.tau: target actor and critics
    num_critics: int = 5  # iQRLConfig.num_critics (release since dd17b6c; draft: 2)
    q_sample_size: int = 2  # iQRLConfig.q_sample_size: critics drawn per min/avg
    nstep: int = 1  # iQRLConfig.nstep (3 for acrobot, fish, reacher, dog: suites/iqrl_dmc.py)
    latent_dim: int = 1024  # latent width D (release: 512 groups x 2 channels; 2048 for humanoid/dog)
    official_latent_groups: bool = (
        False  # official quirk: without FSQ the width is latent_dim / len(fsq_levels) (spec 1a)
    )
    horizon: int = 5  # iQRLConfig.horizon
    rho: float = 0.9  # iQRLConfig.rho: weight rho^t of rollout step t
    enc_hidden: tuple[int, ...] = (256,)  # iQRLConfig.enc_mlp_dims
    enc_lr: float = 1e-4  # iQRLConfig.enc_lr (AdamW)
    enc_weight_decay: float = 0.01  # torch.optim.AdamW default, as the release
    enc_tau: float = 0.005  # iQRLConfig.enc_tau (0.0005 for acrobot-swingup)
    grad_clip_norm: float = 20.0  # iQRLConfig.grad_clip_norm (representation params only)
    use_fsq: bool = True  # iQRLConfig.use_fsq
    fsq_levels: tuple[int, ...] = (8, 8)  # iQRLConfig.fsq_levels: 64 codes per group
    rep_loss: str = "cosine"  # "cosine" (iQRLConfig.use_cosine_similarity_dynamics) or "mse" (paper draft)
    official_cosine_sign: bool = False  # official quirk: minimise +cos (spec 3.1)
    use_rew_loss: bool = False  # iQRLConfig.use_rew_loss
    use_rec_loss: bool = False  # reconstruction ablation (paper draft, "iQRL+rec")
    use_projection: bool = False  # iQRLConfig.use_latent_projection (True for fish)
    proj_dim: int = 0  # 0 = D // 16 (iQRLConfig.proj_dim None)
    exploration_noise_start: float = 1.0  # iQRLConfig.exploration_noise_start (std, x action scale)
    exploration_noise_end: float = 0.1  # iQRLConfig.exploration_noise_end
    exploration_decay_episodes: int = 50  # iQRLConfig.exploration_noise_num_steps: 50 / 150 / 500 easy/medium/hard
    policy_noise: float = 0.2  # iQRLConfig.policy_noise (x action scale)
    noise_clip: float = 0.3  # iQRLConfig.noise_clip (x action scale)
    random_episodes: int = 10  # TrainConfig.random_episodes: actor + N(0, 1) noise, no updates
    start_steps: int = 0  # the loop's uniform warm-up: none (the release has no uniform warm-up)
    buffer_size: int = 1_600_000  # slots; the release's 10M never fills, nor does this at 3M frames (1.5M steps)
    official_nstep1_no_discount: bool = False  # official quirk: discount 1.0 when nstep == 1 (spec 3.3)
    official_ignore_done: bool = False  # official quirk: done flags never set (spec 3.3)
    official_noop_init: bool = False  # official quirk: critic orthogonal init is a no-op (spec 2)
    init_representation_from: str = ""  # task-agnostic ablation: agent_final.pt of a finished iQRL run
    diagnostics_batch: int = 0  # observations per rank diagnostic; 0 = D (release: a batch of D samples)

    def __post_init__(self) -> None:
        checks.types(self)  # a value of the wrong type is a one-line error naming the field, at construction

    def validate(self) -> None:
        checks.finite(self)
        checks.replay(self)
        checks.widths(self, "hidden")
        checks.widths(self, "enc_hidden", allow_empty=True)
        checks.widths(self, "fsq_levels")
        checks.positive(self, "lr", "enc_lr")
        checks.fraction(self, "discount", "tau", "enc_tau", "rho")
        checks.at_least_one(
            self,
            "actor_update_freq",
            "num_critics",
            "q_sample_size",
            "nstep",
            "latent_dim",
            "horizon",
            "exploration_decay_episodes",
        )
        checks.no_more_than(self, "q_sample_size", "num_critics")
        checks.non_negative(
            self,
            "enc_weight_decay",
            "grad_clip_norm",
            "proj_dim",
            "exploration_noise_start",
            "exploration_noise_end",
            "policy_noise",
            "noise_clip",
            "random_episodes",
            "diagnostics_batch",
        )


register_algorithm(
    "iqrl", Config, agent="algorithms.iqrl.agent:IQRL", action_kinds=("continuous",), observation_kinds=("state",)
)

# Ablations of the paper's figures (reference folders in shared/reference/iqrl: names in quotes).
register_variant(
    "iqrl",
    "no-fsq",
    "no quantization ('iQRL-no-normalization' in the paper draft figures norm-ablation / rank-comparison; "
    "the draft's 'normalization' is FSQ); latent 512 wide (1024 humanoid/dog) as in the release, "
    "which doubles its width only with FSQ",
    use_fsq=False,
    official_latent_groups=True,
)
register_variant(
    "iqrl",
    "rec",
    "+ reconstruction loss on every rollout latent ('iQRL+rec', paper draft figure reconstruction-ablation)",
    use_rec_loss=True,
)
register_variant(
    "iqrl",
    "rew",
    "+ reward head on the cosine loss ('iQRL+cos+rew', paper draft figure reward-ablation; release use_rew_loss)",
    use_rew_loss=True,
)
register_variant(
    "iqrl",
    "mse-rew",
    "+ reward head, MSE consistency ('iQRL+rew', paper draft figure reward-ablation; the draft's MSE base loss)",
    use_rew_loss=True,
    rep_loss="mse",
)
register_variant(
    "iqrl",
    "tcrl",
    "cosine + reward head without FSQ ('TCRL-ours', paper draft figure reward-ablation); latent 512 wide "
    "(1024 humanoid/dog) as in the release",
    use_rew_loss=True,
    use_fsq=False,
    official_latent_groups=True,
)
register_variant(
    "iqrl",
    "proj",
    "+ projection head D -> 512 -> 512 -> D/16 before the loss (release use_latent_projection)",
    use_projection=True,
)
register_variant("iqrl", "mse", "MSE instead of cosine consistency loss (the paper draft's main loss)", rep_loss="mse")
register_variant(
    "iqrl",
    "official",
    "the released code's five behaviours (spec 1a, 2, 3.1, 3.3): +cos minimised, no "
    "discount at nstep 1, no done flags, no-op critic init, latent_dim counted in FSQ groups",
    official_cosine_sign=True,
    official_nstep1_no_discount=True,
    official_ignore_done=True,
    official_noop_init=True,
    official_latent_groups=True,
)
