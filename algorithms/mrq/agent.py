"""MR.Q (Fujimoto et al., "Towards General-Purpose Model-Free Reinforcement Learning", ICLR 2025).

Faithful to the official code (facebookresearch/MRQ @8a44a7d; spec shared/specs/mrq.md) with the
spec's section 14 choices, each recorded in the config and therefore in every run's manifest:

- n-step return: the corrected form of upstream commit 79abcb1 (``nstep_form="corrected"``);
  ``"head"`` (8a44a7d) and ``"initial"`` (0f0ed0e, likely what produced the published curves)
  reproduce the official variants.
- LAP priority: from the pre-update Q(s, a) (``priority_source="pre_update"``, b1f387e on and the
  paper text); ``"policy_q"`` uses Q(s, pi(s)) after the value step as the initial commit did.
- Discrete evaluation: greedy argmax of the policy logits (``discrete_eval_gumbel=False``); the
  official code samples through the Gumbel-softmax at evaluation too (flag ``True``). The rule is a
  protocol field of discrete tasks (``Task.discrete_eval``): the ``atari`` suite sets ``True``, the
  paper's rule, ``atari-greedy`` ``False``.
- Atari's eval epsilon applies to evaluation only (a Task field), not to training as in HEAD.
- Official bugs fixed, each reproducible by a flag (both on in ``mrq@official-initial``, which leaves the
  discrete evaluation rule to the task's protocol): the stale dynamics
  target of a terminal step inside an encoder window (``official_terminal_target``) and numpy-int warm-up
  discrete actions stored as ``[k, ..., k]`` (``official_warmup_actions``).

Replay: the shared sequence replay (``algorithms/common/sequence_replay.py``) in the official buffer's
layout (frames stored once, one extra slot per episode end), its ``"mask"`` boundary (windows of
max(enc_horizon, q_horizon) steps inside the episode or across a terminal, masked by not_done) and LAP
priorities; n-step returns from ``algorithms/common/returns.py``.

Schedule per training step (after ``start_steps`` random steps): every 250 steps hard-copy the
targets, update the reward scale and run 250 encoder updates on 5-step subtrajectories; then one
value and one policy update on a 3-step return batch, and the LAP priority update.
Known deviations: the warm-up counts transitions, not buffer slots (official quirk 14.8).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from algorithms.base import Agent, Transition, register
from algorithms.common.nets import adamw, compile_step, hard_update
from algorithms.common.returns import nstep_return
from algorithms.common.sequence_replay import SequenceReplay
from algorithms.mrq.config import Config  # the paper defaults and the variants, importable without torch
from algorithms.mrq.networks import Encoder, Policy, TwoHot, Value


def lap_priority(q: torch.Tensor, q_target: torch.Tensor, min_priority: float, alpha: float) -> torch.Tensor:
    """LAP: max over the heads of |Q_i - target|, clamped below at min_priority, to the power alpha."""
    return (q - q_target).abs().max(1).values.clamp(min=min_priority).pow(alpha)


def _one_hot(index: torch.Tensor, n: int) -> torch.Tensor:
    """(B, 1) indices -> (B, n) float32 one-hot; ``F.one_hot(...).float()`` out of place, so it runs under vmap."""
    return torch.zeros(index.shape[0], n, device=index.device).scatter(1, index, 1.0)


def shift_offsets(n: int, generator: torch.Generator, pad: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """The random part of ``shift_augment``: per image, integer offsets (dy, dx) in [0, 2 pad]."""
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=generator.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=generator.device)
    return dy, dx


def shift_augment(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """DrQ random shift: replicate-pad by ``pad`` and crop back at an integer offset in [0, 2 pad], per image."""
    return shift_apply(x, *shift_offsets(x.shape[0], generator, pad), pad)


def shift_apply(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, pad: int = 4) -> torch.Tensor:
    n, c, h, w = x.shape
    padded = F.pad(x.float(), (pad, pad, pad, pad), mode="replicate")
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    return padded[
        torch.arange(n, device=x.device)[:, None, None, None],
        torch.arange(c, device=x.device)[None, :, None, None],
        rows,
        cols,
    ]


@register("mrq")
class MRQ(Agent):
    Config = Config
    action_kinds = ("continuous", "discrete")
    observation_kinds = ("state", "pixels")
    conformance_overrides = {
        "buffer_size": 2_000,
        "zs_dim": 64,
        "zsa_dim": 64,
        "za_dim": 32,
        "enc_hidden_dim": 64,
        "value_hidden_dim": 64,
        "policy_hidden_dim": 64,
        "batch_size": 32,
        "target_update_freq": 4,
    }

    def __init__(self, obs_space, action_space, config: Config, device, seed):
        super().__init__(obs_space, action_space, config, device, seed)
        cfg = config
        self.discrete = hasattr(action_space, "n")
        self.action_dim = int(action_space.n) if self.discrete else int(action_space.shape[0])
        self.max_action = 1.0 if self.discrete else float(action_space.high[0])
        self.pixels = len(obs_space.shape) == 3
        noise = cfg.discrete_noise_scale if self.discrete else 1.0
        self.exploration_noise, self.target_noise, self.noise_clip = (
            cfg.exploration_noise * noise,
            cfg.policy_noise * noise,
            cfg.noise_clip * noise,
        )
        history = 1
        if self.pixels:
            frame_channels = cfg.pixel_frame_channels or (3 if obs_space.shape[0] % 3 == 0 else 1)
            history = obs_space.shape[0] // frame_channels

        self.zsa_target = cfg.dyn_target in ("target_zsa", "online_zsa")
        self.encoder = Encoder(
            obs_space.shape,
            self.action_dim,
            self.pixels,
            cfg.zs_dim,
            cfg.za_dim,
            cfg.zsa_dim,
            cfg.enc_hidden_dim,
            cfg.enc_activ,
            cfg.num_bins,
            cfg.nonlinear_model,
            reward_dim=1 if cfg.reward_loss == "mse" else cfg.num_bins,
            next_dim=cfg.zsa_dim if self.zsa_target else cfg.zs_dim,
        ).to(self.device)
        self.policy = Policy(
            cfg.zs_dim, self.action_dim, self.discrete, cfg.policy_hidden_dim, cfg.policy_activ, cfg.gumbel_tau
        ).to(self.device)
        self.value = Value(cfg.zsa_dim, cfg.value_hidden_dim, cfg.value_activ, linear=cfg.linear_value).to(self.device)
        self.encoder_target = copy.deepcopy(self.encoder).requires_grad_(False)
        self.policy_target = copy.deepcopy(self.policy).requires_grad_(False)
        self.value_target = copy.deepcopy(self.value).requires_grad_(False)
        # AdamW with torch defaults (MRQ.py)
        self.encoder_opt = adamw(self.encoder.parameters(), cfg.enc_lr, cfg.enc_wd)
        self.policy_opt = adamw(self.policy.parameters(), cfg.policy_lr, cfg.policy_wd)
        self.value_opt = adamw(self.value.parameters(), cfg.value_lr, cfg.value_wd)
        self.two_hot = TwoHot(cfg.lower, cfg.upper, cfg.num_bins, self.device)
        # official buffer.py: windows of max(enc_horizon, q_horizon) steps, masked after a terminal, LAP priorities
        self.replay = SequenceReplay(
            obs_space.shape,
            self.action_dim,
            cfg.buffer_size,
            max(cfg.enc_horizon, cfg.q_horizon),
            self.device,
            boundary="mask",
            history=history,
            pixels=self.pixels,
            discrete=self.discrete,
            max_action=self.max_action,
            prioritized=cfg.prioritized,
            min_priority=cfg.min_priority,
        )
        self._acted = False  # act(explore=True) chose the next observed action (else the loop's warm-up sampler did)
        self.reward_scale, self.target_reward_scale = (
            torch.tensor(1.0, device=self.device),
            torch.tensor(0.0, device=self.device),
        )
        self.training_steps = 0

    # -- acting ----------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool):
        state = torch.as_tensor(np.asarray(obs), device=self.device)[None]
        state = state if self.pixels else state.float()
        zs = self.encoder.zs(state)
        action, pre_activ = self.policy(zs, self.explore_gen)
        if self.discrete:
            if explore:  # argmax(gumbel_softmax + N(0, 0.1)) (MRQ.py select_action)
                self._acted = True
                noise = (
                    torch.randn(action.shape, generator=self.explore_gen, device=self.device) * self.exploration_noise
                )
                return int((action + noise).argmax())
            return int((action if self.config.discrete_eval_gumbel else pre_activ).argmax())
        if explore:
            action = (
                action
                + torch.randn(action.shape, generator=self.explore_gen, device=self.device) * self.exploration_noise
            )
        return (action.clamp(-1, 1) * self.max_action)[0].cpu().numpy().astype(np.float32)

    def observe(self, t: Transition) -> None:
        # official quirk: the policy's actions are Python ints (one-hot), the warm-up's numpy ints are broadcast
        broadcast = self.config.official_warmup_actions and not self._acted
        self._acted = False
        self.replay.add(t.obs, t.action, t.next_obs, t.reward, t.terminated, t.truncated, broadcast_discrete=broadcast)

    # -- learning --------------------------------------------------------------------------------
    # Every random draw of an update happens before its tensor work, in the official order, so the tensor work
    # (``_encoder_step``, ``_rl_step``) holds no generator and ``compile_update`` can compile it whole.
    def _shifts(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The pixel augmentation's offsets for ``states`` (..., C, H, W); None without augmentation."""
        if not (self.pixels and self.config.pixel_augs):
            return None
        return shift_offsets(states[..., 0, 0, 0].numel(), self.torch_gen)

    def _augment(self, states: torch.Tensor, shifts: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        if shifts is None:
            return states
        shape = states.shape
        return shift_apply(states.reshape(-1, *shape[-3:]), *shifts).reshape(shape)

    def _gumbel_draw(self, batch: int) -> torch.Tensor | None:
        """Exp(1) draws of the discrete policy's Gumbel-softmax (Policy.forward), or None for continuous actions."""
        if not self.discrete:
            return None
        dtype = torch.bfloat16 if self.config.bf16_autocast else torch.float32  # the logits' dtype under autocast
        return torch.empty((batch, self.action_dim), dtype=dtype, device=self.device).exponential_(
            generator=self.torch_gen
        )

    def update(self, step: int) -> dict[str, torch.Tensor]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16_autocast):
            return self._update()

    def _update(self) -> dict[str, torch.Tensor]:
        cfg = self.config
        self.training_steps += 1
        metrics: dict[str, torch.Tensor] = {}
        if (self.training_steps - 1) % cfg.target_update_freq == 0:
            for online, target in (
                (self.policy, self.policy_target),
                (self.value, self.value_target),
                (self.encoder, self.encoder_target),
            ):
                hard_update(online, target)
            if cfg.reward_scaling:
                self.target_reward_scale = self.reward_scale
                self.reward_scale = self.replay.reward_scale()
            else:  # design study "No reward scaling": both scales stay 1
                self.reward_scale = self.target_reward_scale = torch.tensor(1.0, device=self.device)
            if cfg.model_based_repr:
                for _ in range(cfg.target_update_freq):
                    metrics.update(self.train_encoder())

        batch = self.replay.sample(cfg.batch_size, cfg.q_horizon, self.torch_gen)
        metrics.update(self.train_rl(batch))
        return metrics

    def train_encoder(self) -> dict[str, torch.Tensor]:
        cfg = self.config
        b = self.replay.sample(
            cfg.batch_size, cfg.enc_horizon, self.torch_gen, official_next_states=cfg.official_terminal_target
        )
        shifts = self._shifts(b.state), self._shifts(b.next_state)
        next_action = self._next_actions(b.index, b.reward.shape[1]) if self.zsa_target else None
        return self._encoder_step(b, shifts, next_action)

    def _encoder_step(self, b, shifts, next_action) -> dict[str, torch.Tensor]:
        loss, metrics = self._encoder_loss(b, shifts, next_action)
        self.encoder_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.encoder_opt.step()
        return metrics

    def _encoder_loss(self, b, shifts, next_action) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The encoder's loss on one window batch (and its metrics); a function of the modules' parameters."""
        cfg = self.config
        state, next_state = self._augment(b.state, shifts[0]), self._augment(b.next_state, shifts[1])
        B, H = b.reward.shape
        if self.zsa_target:  # design-study rows with a state-action dynamics target (see _next_zsa)
            with torch.no_grad():
                if cfg.dyn_target == "target_zsa":  # "Dynamics target": zbar_{s'a'} of the target encoder
                    target = self._next_zsa(self.encoder_target, next_state, next_action)
            if cfg.dyn_target == "online_zsa":  # "No target encoder": current encoder's z_{s'a'}, optimized jointly
                target = self._next_zsa(self.encoder, next_state, next_action)
            zsa = self.encoder(self.encoder.zs(state[:, 0]), b.action[:, 0])
        else:
            with torch.no_grad():
                target = self.encoder_target.zs(next_state.flatten(0, 1)).reshape(B, H, -1)
            z = self.encoder.zs(state[:, 0])

        mask = torch.ones(B, device=self.device)
        dyn_loss = reward_loss = done_loss = torch.zeros((), device=self.device)
        for i in range(H):
            if self.zsa_target:  # the rollout stays in zsa space: the prediction of z_{s'a'} is the next step's zsa
                done_pred, zsa, reward_out = self.encoder.predict(zsa)
                pred = zsa
            else:
                done_pred, z, reward_out = self.encoder.model_all(z, b.action[:, i])
                pred = z
            dyn_loss = (
                dyn_loss + ((pred - target[:, i]) ** 2 * mask[:, None]).mean()
            )  # masked in the numerator only (quirk 14.6)
            if cfg.reward_loss == "twohot":
                reward_loss = reward_loss + (self.two_hot.cross_entropy(reward_out, b.reward[:, i]) * mask).mean()
            else:  # design study "MSE reward loss": a scalar reward output regressed on r
                reward_loss = reward_loss + ((reward_out[:, 0] - b.reward[:, i]) ** 2 * mask).mean()
            if self.replay.env_terminates:
                done_loss = done_loss + ((done_pred - (1 - b.not_done[:, i])) ** 2 * mask).mean()
            mask = mask * b.not_done[:, i]
        loss = cfg.dyn_weight * dyn_loss + cfg.reward_weight * reward_loss + cfg.done_weight * done_loss
        return loss, {
            "encoder_loss": loss.detach(),
            "dyn_loss": dyn_loss.detach(),
            "reward_loss": reward_loss.detach(),
            "done_loss": done_loss.detach(),
        }

    def _next_actions(self, start: torch.Tensor, horizon: int) -> torch.Tensor:
        """a_{t+1}, ..., a_{t+H}: the stored action taken at each next state s_{t+k+1} of the window.

        The buffer's mask keeps a window's ``max(enc_horizon, q_horizon)`` + 1 slots inside its episode
        (truncated episodes never offer their last ``horizon`` starts), so slot t + H is a real transition of
        the episode. A terminal step's a' is the zero action stored in the final-frame slot (no action is taken
        at a terminal state); the steps after a terminal read another episode and are masked by not_done.
        """
        return self.replay.action[self.replay.window_slots(start, horizon + 1)[:, 1:]]

    def _next_zsa(self, encoder: Encoder, next_state: torch.Tensor, next_action: torch.Tensor) -> torch.Tensor:
        """z_{s'a'} targets of the design-study rows "Dynamics target", "No target encoder" and "Revert".

        Our reading (the paper gives no code): a' is the action the behaviour actually took at s', i.e. the
        H + 1 stored actions a_{t..t+H} of the sampled window, so z_{s_{t+k+1} a_{t+k+1}} is a well-defined,
        policy-independent target for every unroll step, and the rollout is fed consistently: the model's
        prediction of z_{s_{t+k+1} a_{t+k+1}} is itself the state-action embedding from which step k + 1
        predicts reward r_{t+k+1}, done and z_{s_{t+k+2} a_{t+k+2}}.
        """
        B, H = next_action.shape[:2]
        return encoder(encoder.zs(next_state.flatten(0, 1)), next_action.flatten(0, 1)).reshape(B, H, -1)

    def train_rl(self, b) -> dict[str, torch.Tensor]:
        shifts = self._shifts(b.state[:, 0]), self._shifts(b.next_state[:, -1])
        noise = torch.randn((b.reward.shape[0], self.action_dim), generator=self.torch_gen, device=self.device)
        gumbel_target, gumbel_policy = self._gumbel_draw(b.reward.shape[0]), self._gumbel_draw(b.reward.shape[0])
        metrics, priority = self._rl_step(b, shifts, noise, gumbel_target, gumbel_policy)
        if priority is not None:
            self.replay.update_priority(b.index, priority)
        return metrics

    def _rl_step(self, b, shifts, noise, gumbel_target, gumbel_policy):
        """The value and policy steps on drawn randomness; returns (metrics, the LAP priorities or None)."""
        cfg = self.config
        scales = (self.reward_scale, self.target_reward_scale)
        value_loss, (q, q_target, zs) = self._value_loss(b, shifts, noise, gumbel_target, scales)
        self.value_opt.zero_grad(set_to_none=True)
        if not cfg.model_based_repr:
            self.encoder_opt.zero_grad(set_to_none=True)
        value_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.value.parameters(), cfg.value_grad_clip)
        self.value_opt.step()
        if not cfg.model_based_repr:
            self.encoder_opt.step()
            zs = zs.detach()

        policy_loss, (q_policy, _) = self._policy_loss(zs, gumbel_policy)
        # Only the policy steps here (the official code's stray value/encoder gradients are discarded
        # anyway), so autograd.grad skips the weight gradients of the value and encoder layers.
        policy_params = list(self.policy.parameters())
        for param, grad in zip(policy_params, torch.autograd.grad(policy_loss, policy_params)):
            param.grad = grad
        self.policy_opt.step()

        priority = None
        if cfg.prioritized:
            source = q if cfg.priority_source == "pre_update" else q_policy
            priority = lap_priority(source.detach(), q_target, cfg.min_priority, cfg.priority_exponent)
        metrics = {
            "value_loss": value_loss.detach(),
            "policy_loss": policy_loss.detach(),
            "q": q.detach().mean(),
            "reward_scale": self.reward_scale.detach(),
        }
        return metrics, priority

    def _value_loss(self, b, shifts, noise, gumbel_target, scales):
        """The value loss on one return batch -> (loss, (Q(s, a), its target, zs)); ``scales``: the reward
        scale and the target reward scale."""
        cfg = self.config
        reward_scale, target_reward_scale = scales
        state, next_state = self._augment(b.state[:, 0], shifts[0]), self._augment(b.next_state[:, -1], shifts[1])
        action = b.action[:, 0]
        ret, bootstrap = nstep_return(b.reward, b.not_done, cfg.discount, cfg.nstep_form)
        with torch.no_grad():
            next_zs = self.encoder_target.zs(next_state)
            noise = (noise * self.target_noise).clamp(-self.noise_clip, self.noise_clip)
            next_action = self.policy_target(next_zs, exp_noise=gumbel_target)[0] + noise
            next_action = (
                _one_hot(next_action.argmax(1, keepdim=True), self.action_dim)
                if self.discrete
                else next_action.clamp(-1, 1)
            )
            q_next = self.value_target(self.encoder_target(next_zs, next_action))
            q_next = q_next.min(1, keepdim=True).values if cfg.target_min else q_next.mean(1, keepdim=True)
            q_target = (ret + bootstrap * q_next * target_reward_scale) / reward_scale

        if cfg.model_based_repr:
            with torch.no_grad():
                zs = self.encoder.zs(state)
                zsa = self.encoder(zs, action)
        else:  # design study "No MR": the value loss trains the encoder end to end
            zs = self.encoder.zs(state)
            zsa = self.encoder(zs, action)
        q = self.value(zsa)
        if cfg.prioritized:
            value_loss = F.smooth_l1_loss(q, q_target.expand(-1, 2))  # Huber, beta 1 (LAP)
        else:  # design study "No LAP": uniform sampling and the MSE loss
            value_loss = F.mse_loss(q, q_target.expand(-1, 2))
        return value_loss, (q, q_target, zs)

    def _policy_loss(self, zs, gumbel_policy):
        """The policy loss at ``zs`` -> (loss, (Q(s, pi(s)), the pre-activation))."""
        policy_action, pre_activ = self.policy(zs, exp_noise=gumbel_policy)
        q_policy = self.value(self.encoder(zs, policy_action))
        policy_loss = -q_policy.mean() + self.config.pre_activ_weight * pre_activ.pow(2).mean()
        return policy_loss, (q_policy, pre_activ)

    def compile_update(self, mode: str | None = None) -> None:
        """``bench run --compile``: the encoder step and the value/policy step through ``torch.compile``. The
        250-step schedule (target copies, reward scale), replay sampling, every random draw and the LAP
        priority write stay outside, so the compiled steps hold no generator, branch on data or host sync."""
        self._encoder_step = compile_step(self._encoder_step, mode)
        self._rl_step = compile_step(self._rl_step, mode)

    # -- state beyond networks, optimizers and replay ---------------------------------------------
    def extra_state(self) -> dict:
        return {
            "training_steps": self.training_steps,
            "reward_scale": self.reward_scale.cpu(),
            "target_reward_scale": self.target_reward_scale.cpu(),
        }

    def load_extra_state(self, state: dict) -> None:
        self.training_steps = state["training_steps"]
        self.reward_scale = state["reward_scale"].to(self.device)
        self.target_reward_scale = state["target_reward_scale"].to(self.device)


_NETS = ("encoder", "encoder_target", "policy", "policy_target", "value", "value_target")


class MRQSeedBatch:
    """S MR.Q agents (one task and config, S seeds) updated as one computation (algorithms/common/seed_batch.py).

    ``update(step, mask)`` is ``MRQ.update`` of every seed in ``mask``: each seed keeps its own 250-step
    schedule (target copies, reward scales, encoder burst), samples its batches and draws its randomness
    from its own generator in ``MRQ.update``'s order; the agent's own loss methods (``_encoder_loss``,
    ``_value_loss``, ``_policy_loss``) run once for all seeds under ``torch.func.vmap`` with the seeds'
    stacked parameters (``functional_call``); gradient clipping is per seed; AdamW steps through ``SeedAdam``;
    LAP priorities go back to each seed's replay. Metrics are per seed, shape (S,).
    """

    def __init__(self, agents: list[MRQ]):
        from algorithms.common.seed_batch import Bound, SeedAdam, Stacked, seed_vmap

        first = agents[0]
        if any(a.config != first.config or a.device != first.device for a in agents):
            raise ValueError("a seed batch holds agents of one config on one device")
        self.agents, self.config, cfg = agents, first.config, first.config
        self.stacks = {n: Stacked([getattr(a, n) for a in agents], not n.endswith("_target")) for n in _NETS}
        rates = {"encoder": (cfg.enc_lr, cfg.enc_wd), "policy": (cfg.policy_lr, cfg.policy_wd)}
        rates["value"] = (cfg.value_lr, cfg.value_wd)
        self.opts = {n: SeedAdam(self.stacks[n].tensors(), lr, wd) for n, (lr, wd) in rates.items()}
        for i, a in enumerate(agents):  # a resumed agent brings its moments and step counts
            for n, opt in self.opts.items():
                opt.load(i, getattr(a, f"{n}_opt"))
        self.training_steps = torch.tensor([a.training_steps for a in agents])
        self.reward_scale = torch.stack([a.reward_scale for a in agents])
        self.target_reward_scale = torch.stack([a.target_reward_scale for a in agents])
        nets = {n: getattr(first, n) for n in _NETS}
        vmap, grad = seed_vmap, torch.func.grad_and_value

        def loss(method):
            bound = Bound(nets, method)
            return lambda train, frozen, *args: torch.func.functional_call(bound, {**train, **frozen}, args)

        self._encoder = vmap(grad(loss(first._encoder_loss), has_aux=True))
        self._value = vmap(grad(loss(first._value_loss), has_aux=True))
        self._policy = vmap(grad(loss(first._policy_loss), has_aux=True))

    def _params(self, *names: str, detach: bool = False) -> dict[str, torch.Tensor]:
        return {f"nets.{n}.{k}": (p.detach() if detach else p) for n in names for k, p in self.stacks[n].params.items()}

    def _grads(self, grads: dict[str, torch.Tensor], name: str) -> list[torch.Tensor]:
        return [grads[f"nets.{name}.{k}"] for k in self.stacks[name].params]

    def _draw(self, mask: torch.Tensor, draw) -> list:
        """``draw(agent)`` for each seed in ``mask`` (its own generator, its order); a masked seed computes on a
        stand-in whose results are never applied."""
        drawn = {i: draw(self.agents[i]) for i in torch.nonzero(mask).flatten().tolist()}
        stand_in = next(iter(drawn.values()))
        return [drawn.get(i, stand_in) for i in range(len(self.agents))]

    def update(self, step: int, mask: list[bool] | None = None) -> dict[str, torch.Tensor]:
        cfg = self.config
        with torch.autocast(self.agents[0].device.type, dtype=torch.bfloat16, enabled=cfg.bf16_autocast):
            return self._update(
                torch.ones(len(self.agents), dtype=torch.bool)
                if mask is None
                else torch.as_tensor(mask, dtype=torch.bool)
            )

    def _update(self, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        from algorithms.common.seed_batch import stack_batches, stack_draws

        cfg, metrics = self.config, {}
        self.training_steps += mask.long()
        boundary = mask & ((self.training_steps - 1) % cfg.target_update_freq == 0)
        self.last_boundary = boundary
        with torch.no_grad():
            for i in torch.nonzero(boundary).flatten().tolist():
                for online in ("policy", "value", "encoder"):
                    for k, p in self.stacks[online].params.items():
                        self.stacks[f"{online}_target"].params[k][i].copy_(p[i])
                if cfg.reward_scaling:
                    self.target_reward_scale[i] = self.reward_scale[i]
                    self.reward_scale[i] = self.agents[i].replay.reward_scale()
                else:  # design study "No reward scaling": both scales stay 1
                    self.reward_scale[i] = self.target_reward_scale[i] = 1.0
        if bool(boundary.any()) and cfg.model_based_repr:
            for _ in range(cfg.target_update_freq):

                def encoder_draws(a: MRQ):
                    b = a.replay.sample(
                        cfg.batch_size, cfg.enc_horizon, a.torch_gen, official_next_states=cfg.official_terminal_target
                    )
                    shifts = a._shifts(b.state), a._shifts(b.next_state)
                    return b, shifts, (a._next_actions(b.index, b.reward.shape[1]) if a.zsa_target else None)

                drawn = self._draw(boundary, encoder_draws)
                b = stack_batches([d[0] for d in drawn])
                grads, (_, enc_metrics) = self._encoder(
                    self._params("encoder"),
                    self._params("encoder_target", detach=True),
                    b,
                    stack_draws([d[1] for d in drawn]),
                    stack_draws([d[2] for d in drawn]),
                )
                self.opts["encoder"].step(self._grads(grads, "encoder"), boundary)
                metrics.update(enc_metrics)
        return {**metrics, **self._train_rl(mask)}

    def _train_rl(self, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        from algorithms.common.seed_batch import clip_grad_norms_, stack_batches, stack_draws

        cfg = self.config

        def rl_draws(a: MRQ):  # MRQ._update's sample, then train_rl's draws, in their order
            b = a.replay.sample(cfg.batch_size, cfg.q_horizon, a.torch_gen)
            shifts = a._shifts(b.state[:, 0]), a._shifts(b.next_state[:, -1])
            noise = torch.randn((b.reward.shape[0], a.action_dim), generator=a.torch_gen, device=a.device)
            return b, (shifts, noise, a._gumbel_draw(b.reward.shape[0]), a._gumbel_draw(b.reward.shape[0]))

        drawn = self._draw(mask, rl_draws)
        b = stack_batches([d[0] for d in drawn])
        shifts, noise, gumbel_target, gumbel_policy = stack_draws([d[1] for d in drawn])
        trained = ("value",) if cfg.model_based_repr else ("value", "encoder")
        frozen = [n for n in _NETS if n not in trained]
        grads, (value_loss, (q, q_target, zs)) = self._value(
            self._params(*trained),
            self._params(*frozen, detach=True),
            b,
            shifts,
            noise,
            gumbel_target,
            (self.reward_scale, self.target_reward_scale),
        )
        value_grads = self._grads(grads, "value")
        clip_grad_norms_(value_grads, cfg.value_grad_clip)
        self.opts["value"].step(value_grads, mask)
        if not cfg.model_based_repr:
            self.opts["encoder"].step(self._grads(grads, "encoder"), mask)
        others = [n for n in _NETS if n != "policy"]
        grads, (policy_loss, (q_policy, _)) = self._policy(
            self._params("policy"), self._params(*others, detach=True), zs.detach(), gumbel_policy
        )
        self.opts["policy"].step(self._grads(grads, "policy"), mask)
        if cfg.prioritized:
            source = q if cfg.priority_source == "pre_update" else q_policy
            priority = lap_priority(
                source.detach().flatten(0, 1), q_target.flatten(0, 1), cfg.min_priority, cfg.priority_exponent
            ).view(len(self.agents), -1)
            for i in torch.nonzero(mask).flatten().tolist():
                self.agents[i].replay.update_priority(drawn[i][0].index, priority[i])
        return {
            "value_loss": value_loss.detach(),
            "policy_loss": policy_loss.detach(),
            "q": q.detach().mean(dim=(1, 2)),
            "reward_scale": self.reward_scale.clone(),
        }

    def seed_metrics(self, metrics: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        """Seed ``i``'s metrics of the last ``update``, as its own ``MRQ.update`` would have returned them."""
        encoder = {"encoder_loss", "dyn_loss", "reward_loss", "done_loss"}
        return {k: v[i] for k, v in metrics.items() if k not in encoder or bool(self.last_boundary[i])}

    def export(self, i: int) -> None:
        """Seed ``i``'s optimizer moments, counters and reward scales into its agent (``MRQ.state_dict``)."""
        agent = self.agents[i]
        for n, opt in self.opts.items():
            opt.export(i, getattr(agent, f"{n}_opt"))
        agent.training_steps = int(self.training_steps[i])
        agent.reward_scale = self.reward_scale[i].clone()
        agent.target_reward_scale = self.target_reward_scale[i].clone()

    def release(self, i: int) -> None:
        """Seed ``i`` leaves the batch: its agent gets its own tensors and optimizer state back."""
        self.export(i)
        agent = self.agents[i]
        for n in _NETS:
            opt = getattr(agent, f"{n}_opt", None) if n in self.opts else None
            self.stacks[n].release(i, getattr(agent, n), opt)
