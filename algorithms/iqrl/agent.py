"""iQRL (Scannell et al., "iQRL - Implicitly Quantized Representations for Sample-efficient RL", 2024).

Spec: ``shared/specs/iqrl.md`` (official code github:aidanscannell/iqrl @dc1435a, the release).
Representation: encoder ``obs -> 256 (LayerNorm, Mish) -> D`` followed by FSQ (levels [8, 8] per
group of 2 channels, straight-through rounding); a momentum (EMA) copy of the encoder gives the
targets; a residual latent dynamics model ``z' = FSQ(z + d([z, a]))`` is re-quantized at every
step of a 5-step rollout; the self-prediction loss is ``mean_t rho^t mean_b -cos(zhat_t, zbar_t)``
(rho 0.9), optimised with AdamW (lr 1e-4, weight decay 0.01) and gradient clipping 20.
RL: TD3 on the (no-grad) quantized latent of the *online* encoder: 5 critics, two of them drawn at
random (the same two for the batch) for the target minimum and for the actor's average; n-step
returns; actor and target actor every 2 critic steps, target critics every critic step; target
smoothing 0.2 clipped at 0.3 (times the action scale); Adam 3e-4. Exploration: Gaussian noise
whose std falls linearly (per episode, once training has begun) from 1.0 to 0.1 over 50 / 150 /
500 episodes (easy / medium / hard tasks). Warm-up: ``random_episodes`` = 10 episodes of
"untrained actor + N(0, 1)" actions with no updates (the loop's uniform warm-up is 0 by default).

Paper intent is the default; each behaviour of the released code that contradicts it is a flag:

- ``official_cosine_sign`` (spec 3.1): the release *minimises* +cosine similarity (predictions are
  pushed to anti-align with the targets). Default False: minimise -cosine, as the paper states.
- ``official_nstep1_no_discount`` (spec 3.3): with nstep 1 the release bootstraps with discount 1.0.
  Default False: gamma^n for every n.
- ``official_ignore_done`` (spec 3.3): on DMC the release never sets done flags, so it bootstraps
  from terminals and never masks the representation loss. Default False: terminals stop
  bootstrapping and mask later rollout steps (cumulatively). Windows never straddle two episodes
  here, with or without the flag (the release's 5-step slices can: not reproduced).
- ``official_latent_groups`` (spec 1a): the release's ``latent_dim`` counts FSQ groups (512; 1024 for
  humanoid and dog) and ``Encoder.__init__`` doubles it in place *only when FSQ is on*, so its FSQ
  latent is D = 1024 (2048) wide but its no-FSQ latent stays 512 (1024) wide. ``latent_dim`` here is
  the FSQ width D (= the release's effective widths); with the flag, a no-FSQ agent's width is
  ``latent_dim / len(fsq_levels)`` as in the release. Default False (paper intent: the same width D
  with and without FSQ); ``iqrl@official``, ``@no-fsq`` and ``@tcrl`` (the release's ablation runs)
  set it. It changes nothing while FSQ is on.
- ``official_noop_init`` (spec 2): the release's critic orthogonal init is a no-op (PyTorch default
  init). Default False: the intended orthogonal weights and zero biases for the critics.

Other choices: updates run once per agent step (the loop's schedule) instead of 500 after each
episode; same number, interleaved. Sequences come from the shared device replay
(``algorithms/common/sequence_replay.py``, MR.Q's ``"mask"`` boundary, uniform, no LAP), which never
samples windows that cross a time-limit boundary (so the last 5 start positions of an episode are
not sampled); the n-step return is the shared one (``algorithms/common/returns.py``). The
optional reward head predicts r_t from [z_t, a_t] (paper draft; the release applies it to the
predicted next latent); the reconstruction ablation decodes s_t from every latent z_t of the
rollout (t = 0 encoded, t > 0 predicted), MSE weighted by rho^t. The MSE consistency loss is the
mean squared error over latent dims.

Task-agnostic ablation (reference ``task-agnostic-ablation``: "iQRL-pretrained"): set
``init_representation_from`` to a finished iQRL run's ``agent_final.pt`` (e.g. walker-walk) to
start the encoder, its momentum copy and the dynamics (and the reward head, if both have one)
from it, e.g. ``--set init_representation_from=OUT/runs/iqrl-dmc/walker-walk/iqrl/0/agent_final.pt``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from algorithms.base import Agent, Transition, register
from algorithms.common.actions import ActionScaler
from algorithms.common.nets import EnsembleQ, adam, adamw, mlp, orthogonal, polyak_update
from algorithms.common.returns import nstep_return
from algorithms.common.safe_state import load_state
from algorithms.common.schedules import linear_schedule
from algorithms.common.sequence_replay import SequenceReplay
from algorithms.iqrl.config import Config  # the paper defaults and the variants, importable without torch
from core.errors import UserError

RANK_TOLERANCES = (1e-1, 1e-2, 1e-3)  # utils/helper.py calc_rank: atol = rtol at these three values (rank-0/1/2)


# -- networks -------------------------------------------------------------------------------------


def normed_mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> nn.Sequential:
    """utils/helper.py mlp: (Linear -> LayerNorm -> Mish) per hidden layer, then a plain Linear."""
    return mlp(in_dim, hidden, out_dim, nn.Mish, layer_norm=True)


class FSQ(nn.Module):
    """Finite scalar quantization as vector-quantize-pytorch 1.15.6 runs it (spec 2.1).

    The last dim is split into groups of ``len(levels)`` channels; channel i is bounded to
    ``tanh(z + shift) * half_l - offset``, rounded with a straight-through gradient and divided by
    ``L // 2``. For L = 8 the codes are {-1, -0.75, ..., 0.75}.
    """

    def __init__(self, levels: tuple[int, ...], eps: float = 1e-3):
        super().__init__()
        lv = torch.tensor(levels, dtype=torch.float32)
        half_l = (lv - 1) * (1 + eps) / 2
        offset = torch.where(lv % 2 == 0, 0.5, 0.0)
        self.levels = tuple(int(x) for x in levels)
        self.register_buffer("half_l", half_l, persistent=False)
        self.register_buffer("offset", offset, persistent=False)
        self.register_buffer("shift", torch.atanh(offset / half_l), persistent=False)
        self.register_buffer("half_width", torch.floor(lv / 2), persistent=False)
        basis = torch.cumprod(torch.tensor([1, *levels[:-1]], dtype=torch.float32), 0)
        self.register_buffer("basis", basis, persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        shape = z.shape
        z = z.reshape(*shape[:-1], -1, len(self.levels)).float()
        bounded = torch.tanh(z + self.shift) * self.half_l - self.offset
        rounded = bounded + (torch.round(bounded) - bounded).detach()  # straight-through
        return (rounded / self.half_width).reshape(shape)

    def indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Code index of each group: (..., D) codes -> (..., D / len(levels)) integers in [0, prod(levels))."""
        digits = codes.reshape(*codes.shape[:-1], -1, len(self.levels)) * self.half_width + self.half_width
        return (digits * self.basis).sum(-1).round().long()

    @property
    def codebook_size(self) -> int:
        return int(np.prod(self.levels))


class Encoder(nn.Module):
    """obs -> 256 (LN, Mish) -> D, then FSQ (or nothing for the no-quantization ablation)."""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...], latent_dim: int, fsq: FSQ | None):
        super().__init__()
        self.net = normed_mlp(obs_dim, hidden, latent_dim)
        self.fsq = fsq

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        z = self.net(obs)
        return self.fsq(z) if self.fsq is not None else z


class Dynamics(nn.Module):
    """Residual latent dynamics, re-quantized each step: z' = FSQ(z + d([z, a]))."""

    def __init__(self, latent_dim: int, action_dim: int, hidden: tuple[int, ...], fsq: FSQ | None):
        super().__init__()
        self.net = normed_mlp(latent_dim + action_dim, hidden, latent_dim)
        self.fsq = fsq

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        z = z + self.net(torch.cat([z, action], -1))
        return self.fsq(z) if self.fsq is not None else z


class Actor(nn.Module):
    def __init__(
        self, latent_dim: int, action_dim: int, hidden: tuple[int, ...], scale: torch.Tensor, bias: torch.Tensor
    ):
        super().__init__()
        self.net = normed_mlp(latent_dim, hidden, action_dim)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(z)) * self.scale + self.bias


# -- diagnostics ------------------------------------------------------------------------------------


@torch.no_grad()
def latent_rank(z: torch.Tensor, tolerances: tuple[float, ...] = RANK_TOLERANCES) -> list[int]:
    """Matrix rank of a (N, D) batch of latents: singular values > max(tol, tol * s_max) (helper.py calc_rank)."""
    s = torch.linalg.svdvals(z.float())
    return [int((s > max(tol, tol * float(s.max()))).sum()) for tol in tolerances]


@torch.no_grad()
def codebook_usage(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """Fraction of the codebook used by each group over a batch: (N, G) indices -> (G,) fractions."""
    groups = indices.shape[1]
    one_hot = torch.zeros(groups, codebook_size, device=indices.device)
    one_hot.scatter_(1, indices.T, 1.0)
    return one_hot.mean(1)


# -- the agent --------------------------------------------------------------------------------------


@register("iqrl")
class IQRL(Agent):
    Config = Config
    action_kinds = ("continuous",)
    observation_kinds = ("state",)
    # small networks for the conformance tests (every variant is built and updated there)
    conformance_overrides = {
        "hidden": (32, 32),
        "enc_hidden": (32,),
        "latent_dim": 16,
        "batch_size": 16,
        "buffer_size": 2_000,
        "random_episodes": 0,
        "diagnostics_batch": 32,
    }

    def __init__(self, obs_space, action_space, config: Config, device, seed):
        super().__init__(obs_space, action_space, config, device, seed)
        cfg = config
        if cfg.rep_loss not in ("cosine", "mse"):
            raise UserError(f"bad iqrl rep_loss {cfg.rep_loss!r}; valid: cosine, mse")
        obs_dim, self.action_dim = obs_space.shape[0], action_space.shape[0]
        self.act_low = torch.as_tensor(action_space.low, dtype=torch.float32, device=self.device)
        self.act_high = torch.as_tensor(action_space.high, dtype=torch.float32, device=self.device)
        scaler = ActionScaler(action_space.low, action_space.high)  # the actor scales tanh onto the bounds
        scale, bias = (torch.as_tensor(x, dtype=torch.float32) for x in (scaler.scale, scaler.bias))
        self.act_scale = scale.to(self.device)
        # the release doubles its group count in place only with FSQ (Encoder.__init__, spec 1a)
        width = (
            cfg.latent_dim if cfg.use_fsq or not cfg.official_latent_groups else cfg.latent_dim // len(cfg.fsq_levels)
        )
        if cfg.use_fsq and width % len(cfg.fsq_levels):
            raise UserError(f"iqrl latent_dim {width} must be a multiple of len(fsq_levels) = {len(cfg.fsq_levels)}")
        self.latent_width = width
        self.fsq = FSQ(cfg.fsq_levels).to(self.device) if cfg.use_fsq else None

        self.encoder = Encoder(obs_dim, cfg.enc_hidden, width, self.fsq).to(self.device)
        self.encoder_target = copy.deepcopy(self.encoder).requires_grad_(False)
        self.dynamics = Dynamics(width, self.action_dim, cfg.hidden, self.fsq).to(self.device)
        rep_modules = [self.encoder, self.dynamics]
        if cfg.use_projection:
            self.projection = normed_mlp(width, cfg.hidden, cfg.proj_dim or width // 16).to(self.device)
            self.projection_target = copy.deepcopy(self.projection).requires_grad_(False)
            rep_modules.append(self.projection)
        if cfg.use_rew_loss:
            self.reward_head = normed_mlp(width + self.action_dim, cfg.hidden, 1).to(self.device)
            rep_modules.append(self.reward_head)
        if cfg.use_rec_loss:
            self.decoder = normed_mlp(width, cfg.hidden, obs_dim).to(self.device)
            rep_modules.append(self.decoder)
        self.rep_params = [p for m in rep_modules for p in m.parameters()]

        self.actor = Actor(width, self.action_dim, cfg.hidden, scale, bias).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        # num_critics critics [z, a] -> 512 (LN, Mish) -> 512 (LN, Mish) -> 1; utils/helper.py orthogonal_init
        # is intended (a no-op in the release: official_noop_init)
        self.critic = EnsembleQ(
            cfg.num_critics,
            width,
            self.action_dim,
            cfg.hidden,
            activation=nn.Mish,
            layer_norm=True,
            init=None if cfg.official_noop_init else orthogonal(),
        ).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)

        self.rep_opt = adamw(self.rep_params, cfg.enc_lr, cfg.enc_weight_decay)
        self.actor_opt = adam(self.actor.parameters(), cfg.lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.lr)

        self.seq_len = max(cfg.nstep, cfg.horizon)  # release: slices of max(nstep, horizon)
        # uniform windows inside an episode or across a terminal (masked by alive below), never across a timeout
        self.replay = SequenceReplay(
            obs_space.shape, self.action_dim, cfg.buffer_size, self.seq_len, self.device, boundary="mask"
        )
        self.rho_weights = cfg.rho ** torch.arange(cfg.horizon, dtype=torch.float32, device=self.device)
        self.episodes = 0
        self.critic_updates = 0
        self.diagnostic_calls = 0
        if cfg.init_representation_from:
            self._load_representation(cfg.init_representation_from)

    # -- acting ---------------------------------------------------------------------------------
    @property
    def exploration_std(self) -> float:
        """Std of the exploration noise (x action scale): advances once per episode after the warm-up episodes."""
        cfg = self.config  # np.linspace(start, end, decay_episodes) indexed by the episodes since the warm-up
        return linear_schedule(
            cfg.exploration_noise_start,
            cfg.exploration_noise_end,
            cfg.exploration_decay_episodes - 1,
            max(0, self.episodes - cfg.random_episodes),
        )

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        z = self.encoder(torch.as_tensor(obs, dtype=torch.float32, device=self.device)[None])
        action = self.actor(z)[0]
        if explore:
            noise = torch.randn(self.action_dim, generator=self.explore_gen, device=self.device)
            action = action + noise * self.act_scale * self.exploration_std
        return torch.maximum(torch.minimum(action, self.act_high), self.act_low).cpu().numpy().astype(np.float32)

    def observe(self, t: Transition) -> None:
        self.replay.add(t.obs, t.action, t.next_obs, t.reward, t.terminated, t.truncated)
        if t.terminated or t.truncated:
            self.episodes += 1

    # -- learning -------------------------------------------------------------------------------
    def representation_loss(
        self,
        obs0: torch.Tensor,
        actions: torch.Tensor,
        next_obs: torch.Tensor,
        rewards: torch.Tensor,
        alive: torch.Tensor,
        obs_seq: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Self-prediction over the horizon. obs0 (B, obs); actions/next_obs/obs_seq (B, H, .); rewards, alive (B, H).

        ``alive[:, t]`` is 1 while no terminal occurred before step t (the weight of step t's terms).
        """
        cfg = self.config
        with torch.no_grad():
            target = self.encoder_target(next_obs)  # zbar_t = FSQ(e_tar(s_{t+1}))
            if cfg.use_projection:
                target = self.projection_target(target)
        z = self.encoder(obs0)
        predictions, rew_terms, rec_terms = [], [], []
        for t in range(cfg.horizon):
            if cfg.use_rew_loss:
                r_hat = self.reward_head(torch.cat([z, actions[:, t]], -1)).squeeze(-1)
                rew_terms.append((r_hat - rewards[:, t]) ** 2)
            if cfg.use_rec_loss:
                rec_terms.append(((self.decoder(z) - obs_seq[:, t]) ** 2).mean(-1))
            z = self.dynamics(z, actions[:, t])
            predictions.append(z)
        zhat = torch.stack(predictions, 1)  # (B, H, D)
        if cfg.use_projection:
            zhat = self.projection(zhat)
        if cfg.rep_loss == "cosine":
            cos = F.cosine_similarity(zhat, target, dim=-1, eps=1e-6)  # (B, H)
            per_step = cos if cfg.official_cosine_sign else -cos
        else:
            per_step = ((zhat - target) ** 2).mean(-1)

        def weighted(x: torch.Tensor) -> torch.Tensor:  # mean_t rho^t mean_b (release)
            return ((x * alive).mean(0) * self.rho_weights).mean()

        losses = {"consistency_loss": weighted(per_step)}
        if cfg.use_rew_loss:
            losses["reward_loss"] = weighted(torch.stack(rew_terms, 1))
        if cfg.use_rec_loss:
            losses["reconstruction_loss"] = weighted(torch.stack(rec_terms, 1))
        return losses

    def nstep_return(self, rewards: torch.Tensor, not_done: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S) rewards and not_done -> the shared corrected n-step return of the first n steps:
        R = sum_{k<n} gamma^k r_k (until a terminal), G = gamma^n (0 after a terminal)."""
        cfg, n = self.config, self.config.nstep
        ret, bootstrap = nstep_return(rewards[:, :n], not_done[:, :n], cfg.discount)
        if n == 1 and cfg.official_nstep1_no_discount:  # spec 3.3: the release bootstraps with discount 1.0
            bootstrap = not_done[:, :1]
        return ret, bootstrap

    def update(self, step: int) -> dict[str, torch.Tensor]:
        cfg = self.config
        if self.episodes < cfg.random_episodes or not self.replay.ready:
            return {}  # TrainConfig.random_episodes: no updates in the warm-up episodes
        b = self.replay.sample(cfg.batch_size, self.seq_len, self.torch_gen)
        not_done = torch.ones_like(b.not_done) if cfg.official_ignore_done else b.not_done
        alive = torch.cumprod(torch.cat([torch.ones_like(not_done[:, :1]), not_done[:, :-1]], 1), 1)  # (B, S)
        H = cfg.horizon

        # 1. representation step (AdamW, grad clip), then EMA of the momentum encoder (and projection)
        losses = self.representation_loss(
            b.state[:, 0], b.action[:, :H], b.next_state[:, :H], b.reward[:, :H], alive[:, :H], b.state[:, :H]
        )
        rep_loss = sum(losses.values())
        self.rep_opt.zero_grad(set_to_none=True)
        rep_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.rep_params, cfg.grad_clip_norm)
        self.rep_opt.step()
        polyak_update(self.encoder, self.encoder_target, cfg.enc_tau)
        if cfg.use_projection:
            polyak_update(self.projection, self.projection_target, cfg.enc_tau)

        # 2. critic step on the online encoder's latents (after this iteration's representation step)
        n = cfg.nstep
        with torch.no_grad():
            z = self.encoder(b.state[:, 0])
            next_z = self.encoder(b.next_state[:, n - 1])
            ret, bootstrap = self.nstep_return(b.reward, not_done)
            noise = torch.randn(b.action[:, 0].shape, generator=self.torch_gen, device=self.device)
            noise = (noise * cfg.policy_noise).clamp(-cfg.noise_clip, cfg.noise_clip) * self.act_scale
            next_action = torch.maximum(torch.minimum(self.actor_target(next_z) + noise, self.act_high), self.act_low)
            pair = self._sample_critics()
            next_q = self.critic_target(next_z, next_action, pair).min(0).values  # (B, 1)
            target_q = ret + bootstrap * next_q
        q = self.critic(z, b.action[:, 0])  # (num_critics, B, 1)
        critic_loss = F.mse_loss(q, target_q.expand_as(q))
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        polyak_update(self.critic, self.critic_target, cfg.tau)
        self.critic_updates += 1
        metrics = {
            "critic_loss": critic_loss.detach(),
            "q": q.detach().mean(),
            **{k: v.detach() for k, v in losses.items()},
        }

        # 3. delayed actor step: the average of two sampled online critics
        if self.critic_updates % cfg.actor_update_freq == 0:
            q_pi = self.critic(z, self.actor(z), self._sample_critics()).mean(0)
            actor_loss = -q_pi.mean()
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_opt.step()
            polyak_update(self.actor, self.actor_target, cfg.tau)
            metrics["actor_loss"] = actor_loss.detach()
        return metrics

    def _sample_critics(self) -> torch.Tensor:
        """Critic.forward: torch.randperm(num_critics)[:q_sample_size], one draw for the whole batch."""
        return torch.randperm(self.config.num_critics, generator=self.torch_gen, device=self.device)[
            : self.config.q_sample_size
        ]

    # -- diagnostics (logged with each evaluation) -----------------------------------------------
    @torch.no_grad()
    def diagnostics(self) -> dict[str, float]:
        """Rank of a batch of D online latents at three tolerances, its condition number, FSQ code usage."""
        if len(self.replay) == 0:
            return {}
        n = self.config.diagnostics_batch or self.latent_width
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.seed * 1_000_003 + self.diagnostic_calls)  # own stream: training RNG untouched
        self.diagnostic_calls += 1
        idx = torch.randint(0, len(self.replay), (n,), generator=gen, device=self.device)
        z = self.encoder(self.replay.frames[idx])
        out = {f"latent_rank_tol{tol:g}": float(r) for tol, r in zip(RANK_TOLERANCES, latent_rank(z))}
        s = torch.linalg.svdvals(z.float())
        out["latent_condition_number"] = float(s.max() / s.min().clamp_min(1e-12))
        out["latent_width"] = float(self.latent_width)
        if self.fsq is not None:
            usage = codebook_usage(self.fsq.indices(z), self.fsq.codebook_size)
            out.update(
                codebook_usage_mean=float(usage.mean()),
                codebook_usage_min=float(usage.min()),
                codebook_usage_max=float(usage.max()),
            )
        return out

    # -- state ----------------------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {
            "episodes": self.episodes,
            "critic_updates": self.critic_updates,
            "diagnostic_calls": self.diagnostic_calls,
        }

    def load_extra_state(self, state: dict) -> None:
        self.episodes, self.critic_updates = state["episodes"], state["critic_updates"]
        self.diagnostic_calls = state["diagnostic_calls"]

    def _load_representation(self, path: str) -> None:
        saved = load_state(
            path,
            self.device,
            what="init_representation_from file",
            remedy="; valid: the agent_final.pt or checkpoint/state.pt of an iqrl run",
        )
        if not isinstance(saved, dict):
            raise UserError(
                f"{path} holds no iqrl encoder; valid: the agent_final.pt or checkpoint/state.pt of an iqrl run"
            )
        modules = saved.get("modules") or saved.get("agent", {}).get("modules")
        if not modules or "encoder" not in modules:
            raise UserError(
                f"{path} holds no iqrl encoder; valid: the agent_final.pt or checkpoint/state.pt of an iqrl run"
            )
        names = ["encoder", "encoder_target", "dynamics"] + (
            ["reward_head"] if "reward_head" in modules and self.config.use_rew_loss else []
        )
        try:
            for name in names:
                getattr(self, name).load_state_dict(modules[name])
        except RuntimeError as exc:
            raise UserError(
                f"{path}: representation shapes differ from this task's ({str(exc).splitlines()[0]}); "
                f"valid: a run on a task with the same observation and action spaces and latent_dim"
            ) from None
