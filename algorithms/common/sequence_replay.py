"""One replay of windows of consecutive steps, for MR.Q, iQRL and ALM, kept on the training device.

Layout (MR.Q's official buffer.py @8a44a7d, spec shared/specs/mrq.md section 6):

- One *slot* per transition holds the newest frame of its state and (action, reward, not_done);
  an episode's final next-state frame gets an extra slot (no transition: zero action and reward,
  not_done 0), so an episode of L transitions uses L + 1 slots and ``capacity`` counts slots.
  Each frame is stored once (uint8 pixels, float32 vectors); stacked pixel states are rebuilt
  from per-slot frame indices (``state_ind``, ``next_ind``, ``history`` of them), the first frame
  of an episode repeated ``history`` times as env frame stacking does.
- The newest transition's next-state frame waits in a spare row (``frames[capacity]``) until the
  next write puts it in its slot, so a transition is whole, and sampleable, as soon as it is added.
- Actions are stored normalized: continuous divided by ``max_action``, discrete as one-hot.

Windows. The window of H steps from start slot t is the H transitions t, t+1, ... of the stream,
returned batch-major (``Windows``: (B, H, ...)). One boundary policy per agent says which starts
are valid:

- ``"mask"`` (MR.Q, iQRL): a start is valid once H further transitions of its episode follow it
  (its window plus the next step, whose action and state MR.Q reads), or as soon as a terminal
  ends its episode within its window; such windows run on past the terminal (into the final-frame
  slot and beyond) and the agent masks those steps by not_done. The last H starts of a truncated
  episode are never valid.
- ``"forbid"`` (ALM): a start is valid once its H transitions are written and none but the last
  ends its segment (official ALM utils/replay_buffer.py ``_sample_idx``).

A terminal always ends a window's segment; a time-limit truncation ends it unless
``cross_truncations``, where windows run on into the next episode's first transition, stepping
over the final-frame slot between them (ALM's official buffer stores timeouts as not-done, spec
shared/specs/alm.md section 9.5).

Wrap-around: writing slot p invalidates the starts p .. p+history-1 (p's own window is gone, and
the stacked states of the next history-1 slots read frame p), as the official buffer's
``mask[(ind + history - 1) % max_size] = 0`` on every write does.

Sampling. Window starts are drawn by inverse CDF over weight = valid (x LAP priority when
``prioritized``; new transitions get ``max_priority``, no importance weights): one ``torch.rand``
per row, ``cumsum`` + ``searchsorted(right=True)``, on the device, no host sync. Single
transitions (``sample_transitions``) are uniform over the transitions held: one ``torch.randint``
over their count per row, mapped to slots past the final-frame slots.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

import numpy as np
import torch

from algorithms.common.replay import Batch, filled_copy

BOUNDARIES = ("mask", "forbid")


class Windows(NamedTuple):
    """H consecutive steps from each of B start slots, batch-major (time-major callers transpose dims 0 and 1)."""

    state: torch.Tensor  # (B, H, *obs_shape): uint8 stacks for pixels, float32 vectors
    next_state: torch.Tensor  # (B, H, *obs_shape)
    action: torch.Tensor  # (B, H, action_dim), normalized
    reward: torch.Tensor  # (B, H)
    not_done: torch.Tensor  # (B, H): 0 at a true terminal (and at a final-frame slot), never at a time limit
    index: torch.Tensor  # (B,) start slots, for priority updates


def _inverse_cdf(weights: torch.Tensor, u01: torch.Tensor) -> torch.Tensor:
    """Indices drawn with probability proportional to ``weights`` from uniform [0, 1) draws ``u01``."""
    csum = torch.cumsum(weights, 0)
    return torch.searchsorted(csum, u01 * csum[-1], right=True).clamp_max(weights.shape[0] - 1)  # first csum > u


class SequenceReplay:
    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action_dim: int,
        capacity: int,
        horizon: int,
        device: torch.device,
        *,
        boundary: str,
        cross_truncations: bool = False,
        history: int = 1,
        pixels: bool = False,
        discrete: bool = False,
        max_action: float = 1.0,
        prioritized: bool = False,
        min_priority: float = 1.0,
    ):
        if boundary not in BOUNDARIES:
            raise ValueError(f"unknown replay boundary {boundary!r}; valid: {', '.join(BOUNDARIES)}")
        if not 1 <= horizon <= capacity:
            raise ValueError(f"replay horizon {horizon} must lie in [1, capacity {capacity}]")
        self.capacity, self.horizon, self.history, self.device = int(capacity), int(horizon), int(history), device
        self.boundary, self.cross_truncations, self.prioritized = boundary, bool(cross_truncations), bool(prioritized)
        self.obs_shape, self.pixels = tuple(obs_shape), pixels
        self.discrete, self.max_action, self.action_dim = discrete, max_action, action_dim
        frame_shape = (obs_shape[0] // history, *obs_shape[1:]) if pixels else tuple(obs_shape)
        cap = self.capacity
        frame_dtype = torch.uint8 if pixels else torch.float32
        self.frames = torch.zeros((cap + 1, *frame_shape), dtype=frame_dtype, device=device)  # + the spare row
        self.state_ind = torch.zeros((cap, history), dtype=torch.long, device=device)
        self.next_ind = torch.zeros((cap, history), dtype=torch.long, device=device)
        self.action = torch.zeros((cap, action_dim), device=device)
        self.reward = torch.zeros(cap, device=device)
        self.not_done = torch.zeros(cap, device=device)
        self.valid = torch.zeros(cap, device=device)  # 1 = valid window start
        self.transition = torch.zeros(cap, device=device)  # 1 = the slot holds a transition (0: final frame or empty)
        self.priority = torch.zeros(cap, device=device) if prioritized else None
        # 1 at a truncated transition whose window runs on: its successor lies 2 slots on, past the final frame
        self.step_over = torch.zeros(cap, dtype=torch.long, device=device) if self.cross_truncations else None
        self.max_priority = torch.tensor(float(min_priority), device=device)  # a tensor: no host sync
        self.ptr, self.size = 0, 0
        self.ep_len = 0  # transitions of the current episode (frame history)
        self.history_slots: list[int] = []
        self.segment: deque[int] = deque(maxlen=self.horizon + 1)  # newest transition slots of the window segment
        self.segment_len = 0  # transitions since the last segment end
        self.open_slot: int | None = None  # the newest transition, its next frame in the spare row
        self.final_slots: deque[int] = deque()  # final-frame slots held, oldest first
        self.transitions = 0  # transitions held (a host count: sample_transitions draws without a sync)
        self.env_terminates = False  # a terminal has been stored (MR.Q trains its done head only then)
        self.ready = False  # some start has been marked valid (callers check without a host sync)

    def __len__(self) -> int:
        return self.size

    # -- writing -----------------------------------------------------------------------------------
    def _frame(self, obs: np.ndarray) -> torch.Tensor:
        x = obs[-self.frames.shape[1] :] if self.pixels else obs
        return torch.as_tensor(np.asarray(x), device=self.device).to(self.frames.dtype)

    def _write_slot(self) -> int:
        """Take the slot at the write pointer, retiring what it held and the starts whose states read its frame."""
        slot = self.ptr
        if self.size == self.capacity:  # overwriting the oldest slot
            if self.final_slots and self.final_slots[0] == slot:
                self.final_slots.popleft()
            else:
                self.transitions -= 1
        end = slot + self.history  # the official wrap-around mask: starts slot .. slot+history-1
        self.valid[slot : min(end, self.capacity)] = 0
        if end > self.capacity:
            self.valid[: end - self.capacity] = 0
        self.transition[slot] = 0
        if self.priority is not None:
            self.priority[slot] = 0
        if self.step_over is not None:
            self.step_over[slot] = 0
        self.ptr = (slot + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return slot

    def _set_valid(self, slot: int) -> None:
        self.valid[slot] = 1.0
        self.ready = True

    def add(
        self,
        obs: np.ndarray,
        action,
        next_obs: np.ndarray,
        reward: float,
        terminated: bool,
        truncated: bool,
        broadcast_discrete: bool = False,
    ) -> None:
        """Store one transition. ``broadcast_discrete`` stores a discrete action k as ``[k, ..., k] / max_action``
        instead of one-hot: the official MR.Q one_hot_or_normalize does so for every action that is not a Python
        int (the numpy ints of ``env.action_space.sample()`` in the warm-up)."""
        slot = self._write_slot()
        self.frames[slot] = self._frame(obs)
        if self.open_slot is not None:  # the previous transition's next state is this one's state
            self.next_ind[self.open_slot, -1] = slot
        self.history_slots = [slot] * self.history if self.ep_len == 0 else self.history_slots[1:] + [slot]
        self.state_ind[slot] = torch.tensor(self.history_slots, device=self.device)
        ends = terminated or truncated
        next_row = self.ptr if ends else self.capacity  # the final-frame slot, or the spare row
        self.next_ind[slot] = torch.tensor(self.history_slots[1:] + [next_row], device=self.device)
        if self.discrete and broadcast_discrete:
            self.action[slot] = float(action) / self.max_action
        elif self.discrete:
            self.action[slot] = 0
            self.action[slot, int(action)] = 1
        else:
            self.action[slot] = torch.as_tensor(
                np.asarray(action, dtype=np.float32).reshape(-1) / self.max_action, device=self.device
            )
        self.reward[slot] = float(reward)
        self.not_done[slot] = 0.0 if terminated else 1.0
        self.transition[slot] = 1.0
        if self.priority is not None:
            self.priority[slot] = self.max_priority
        self.transitions += 1
        self.ep_len += 1
        self.env_terminates |= bool(terminated)
        self._mark_starts(slot, terminated, truncated)
        if ends:
            final = self._write_slot()  # the final next-state frame in its own slot (no transition)
            self.frames[final] = self._frame(next_obs)
            self.reward[final], self.not_done[final] = 0.0, 0.0
            self.action[final] = 0  # no action is taken at the final frame (MR.Q's zsa targets read a zero action)
            self.final_slots.append(final)
            self.ep_len, self.open_slot = 0, None
        else:
            self.frames[self.capacity] = self._frame(next_obs)
            self.open_slot = slot

    def _mark_starts(self, slot: int, terminated: bool, truncated: bool) -> None:
        """The boundary policy: the starts that ``slot``'s transition completes."""
        self.segment.append(slot)
        self.segment_len += 1
        horizon = self.horizon
        if self.boundary == "mask":
            if self.segment_len > horizon:  # H further transitions follow the start
                self._set_valid(self.segment[0])
            if terminated:  # windows may run past a terminal: the agent masks those steps
                for start in list(self.segment)[-min(self.segment_len, horizon) :]:
                    self._set_valid(start)
        elif self.segment_len >= horizon:  # forbid: the window ends here at the latest
            self._set_valid(self.segment[-horizon])
        if terminated or (truncated and not self.cross_truncations):
            self.segment.clear()
            self.segment_len = 0
        elif truncated:
            self.step_over[slot] = 1

    # -- sampling ----------------------------------------------------------------------------------
    def sample_start(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        weights = self.valid[: self.size]
        if self.priority is not None:
            weights = weights * self.priority[: self.size]
        return _inverse_cdf(weights, torch.rand(batch_size, generator=generator, device=self.device))

    def window_slots(self, start: torch.Tensor, length: int) -> torch.Tensor:
        """(B, length) slots of the steps start, start+1, ... (over a crossed truncation's final-frame slot)."""
        if self.step_over is None:
            return (start[:, None] + torch.arange(length, device=self.device)) % self.capacity
        slots = [start]
        for _ in range(length - 1):
            slots.append((slots[-1] + 1 + self.step_over[slots[-1]]) % self.capacity)
        return torch.stack(slots, 1)

    def states(self, slots: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        """The (stacked) states of ``slots`` from ``which`` = ``state_ind`` or ``next_ind``."""
        if self.pixels:
            return self.frames[which[slots]].reshape(*slots.shape, *self.obs_shape)
        return self.frames[which[slots, -1]]

    def sample(
        self, batch_size: int, horizon: int, generator: torch.Generator, official_next_states: bool = False
    ) -> Windows:
        """``horizon`` (<= the replay's) consecutive steps from each of ``batch_size`` valid start slots.

        ``official_next_states`` (MR.Q): the official encoder batch (buffer.py ``sample(horizon=-1)``) reads the next
        state of step k < H - 1 as the *state* of slot t + k + 1, and only the last step's from ``next_ind``.
        The state indices of an episode's final-frame slot are never written (official ``terminal()``), so a
        terminal transition inside the window gets a stale next state (from the slot's previous use, or slot
        0 on the first pass) as its dynamics target. Default: every step's own next state (``next_ind``).
        """
        start = self.sample_start(batch_size, generator)
        ind = self.window_slots(start, horizon)
        next_state = self.states(ind, self.next_ind)
        if official_next_states and horizon > 1:
            next_state = torch.cat([self.states(ind[:, 1:], self.state_ind), next_state[:, -1:]], 1)
        return Windows(
            self.states(ind, self.state_ind), next_state, self.action[ind], self.reward[ind], self.not_done[ind], start
        )

    def sample_transitions(self, batch_size: int, generator: torch.Generator) -> Batch:
        """Single transitions, uniform over those held (rewards and not_dones shaped (B, 1))."""
        ordinal = torch.randint(0, self.transitions, (batch_size,), device=self.device, generator=generator)
        if self.transitions == self.size:  # no final-frame slot held: transition k sits in slot k
            slot = ordinal
        else:  # the slot holding the (ordinal + 1)-th transition
            slot = torch.searchsorted(torch.cumsum(self.transition[: self.size], 0), ordinal, right=True)
        return Batch(
            self.states(slot, self.state_ind).float(),
            self.action[slot],
            self.reward[slot, None],
            self.states(slot, self.next_ind).float(),
            self.not_done[slot, None],
        )

    def update_priority(self, index: torch.Tensor, priority: torch.Tensor) -> None:
        self.priority[index] = priority
        self.max_priority = torch.maximum(self.max_priority, priority.max())

    def reward_scale(self) -> torch.Tensor:
        """mean |r| over slots [0, size), final-frame slots included (MR.Q buffer.py reward_scale)."""
        return self.reward[: self.size].abs().mean().clamp_min(1e-8)

    # -- checkpointing -----------------------------------------------------------------------------
    def _layout(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "horizon": self.horizon,
            "history": self.history,
            "boundary": self.boundary,
            "cross_truncations": self.cross_truncations,
            "prioritized": self.prioritized,
        }

    def _tensors(self) -> tuple[str, ...]:
        names = ("frames", "state_ind", "next_ind", "action", "reward", "not_done", "valid", "transition")
        return names + ("priority",) * self.prioritized + ("step_over",) * self.cross_truncations

    def state_dict(self) -> dict[str, Any]:
        """Plain data (tensors, numbers, lists): the filled slots as copies, the spare row and the write state."""
        n = self.size
        state: dict[str, Any] = {k: filled_copy(getattr(self, k), n) for k in self._tensors()}
        state.update(
            layout=self._layout(),
            spare_frame=self.frames[self.capacity].to("cpu", copy=True),
            ptr=self.ptr,
            size=n,
            ep_len=self.ep_len,
            history_slots=list(self.history_slots),
            segment=list(self.segment),
            segment_len=self.segment_len,
            open_slot=self.open_slot,
            final_slots=list(self.final_slots),
            transitions=self.transitions,
            max_priority=float(self.max_priority),
            env_terminates=self.env_terminates,
            ready=self.ready,
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        layout = state.get("layout")
        if layout != self._layout():
            raise ValueError(f"replay layout {layout} in checkpoint, {self._layout()} configured")
        n = state["size"]
        for k in self._tensors():
            getattr(self, k)[:n] = state[k].to(self.device)
        self.frames[self.capacity] = state["spare_frame"].to(self.device)
        self.ptr, self.size, self.ep_len = state["ptr"], n, state["ep_len"]
        self.history_slots = list(state["history_slots"])
        self.segment = deque(state["segment"], maxlen=self.horizon + 1)
        self.segment_len, self.open_slot = state["segment_len"], state["open_slot"]
        self.final_slots = deque(state["final_slots"])
        self.transitions = state["transitions"]
        self.max_priority = torch.tensor(state["max_priority"], device=self.device)
        self.env_terminates, self.ready = state["env_terminates"], state["ready"]
