"""The shared sequence replay (algorithms/common/sequence_replay.py): for MR.Q, iQRL and ALM it offers exactly the
window starts their own replays did (frozen below as reference functions of the rules at c9f341e), on a recorded
stream with terminals, truncations, short episodes and several wrap-arounds; the wrap-around fix on its own; the
sampler draws every valid start and nothing else; the shared n-step return; exact resume."""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from algorithms import resolve
from algorithms.base import Transition
from algorithms.common.returns import nstep_return
from algorithms.common.safe_state import load_state, save_state
from algorithms.common.sequence_replay import SequenceReplay

CPU = torch.device("cpu")


# -- the old rules, frozen (copied from the classes this replay replaced, at c9f341e) ----------------


def old_mrq_valid_starts(stream, capacity, horizon):
    """MRQReplay (algorithms/mrq/buffer.py, also iQRL's replay): after each add, the set of sampleable start slots
    (mask 1 within [0, size); priorities are always positive). Its wrap-around masked only the overwritten slot."""
    mask, ptr, size, ep_len = [0] * capacity, 0, 0, 0

    def advance():
        nonlocal ptr, size
        slot = ptr
        mask[slot] = 0
        ptr, size = (ptr + 1) % capacity, min(size + 1, capacity)
        return slot

    for terminated, truncated in stream:
        slot = advance()
        ep_len += 1
        if ep_len > horizon:
            mask[(slot - horizon) % capacity] = 1
        if terminated or truncated:
            advance()
            for back in range(min(ep_len, horizon)):
                mask[(slot - back) % capacity] = 1 if terminated else 0
            ep_len = 0
        yield {s for s in range(size) if mask[s]}


def old_iqrl_windows_ready(stream, seq_len):
    """IQRL.observe: windows_ready |= replay.ep_len >= seq_len or terminated (before the add)."""
    ready, ep_len = False, 0
    for terminated, truncated in stream:
        ready |= ep_len >= seq_len or terminated
        ep_len = 0 if terminated or truncated else ep_len + 1
        yield ready


def old_alm_valid_starts(stream, capacity, window, cross_timeouts):
    """WindowReplay (algorithms/alm/replay.py): one slot per transition (obs and next_obs both stored); after each
    add, the stream positions (0-based transition counts) of the valid window starts."""
    ok, ptr, size, ep_len, n = [0] * capacity, 0, 0, 0, 0
    for terminated, truncated in stream:
        slot = ptr
        ptr, size, n = (ptr + 1) % capacity, min(size + 1, capacity), n + 1
        ep_len += 1
        for back in range(window - 1):
            ok[(slot - back) % capacity] = 0
        if size >= window:
            ok[(slot - window + 1) % capacity] = 1 if ep_len >= window else 0
        if terminated or (truncated and not cross_timeouts):
            ep_len = 0
        yield {t for t in range(n - size, n) if ok[t % capacity]}


# -- a recorded stream: episodes of 1..11 steps (some shorter than the windows), ends mixed ------------


def record_stream(episodes=60, seed=0):
    rng = np.random.default_rng(seed)
    stream = []
    for _ in range(episodes):
        length, terminal = int(rng.integers(1, 12)), bool(rng.random() < 0.5)
        stream += [(False, False)] * (length - 1) + [(terminal, not terminal)]
    return stream


STREAM = record_stream()


def _valid(replay):
    return set(torch.nonzero(replay.valid[: replay.size]).flatten().tolist())


def _stream_obs(t, shape):
    return np.full(shape, t, np.float32)


def _feed(add, stream, shape=(2,)):
    """Call add(obs, action, next_obs, reward, terminated, truncated) per step; obs = the stream position t."""
    for t, (terminated, truncated) in enumerate(stream):
        add(_stream_obs(t, shape), np.zeros(1, np.float32), _stream_obs(t + 1, shape), float(t), terminated, truncated)
        yield t


def _written_slots(stream):
    """The shared layout's writes in order: a transition's stream position, or None for a final frame."""
    writes = []
    for t, (terminated, truncated) in enumerate(stream):
        writes.append(t)
        if terminated or truncated:
            writes.append(None)
    return writes


def test_reference_stream_exercises_every_case():
    ends = [(i, s) for i, s in enumerate(STREAM) if any(s)]
    lengths = np.diff([-1] + [i for i, _ in ends])
    assert sum(t for t, _ in STREAM) > 10 and sum(tr for _, tr in STREAM) > 10
    assert (lengths < 5).sum() > 5 and len(STREAM) + len(ends) > 10 * 37  # short episodes; ten wraps of 37 slots


# -- MR.Q ---------------------------------------------------------------------------------------------


def _mrq_replay(capacity, horizon, history, prioritized=True):
    shape = (history, 2, 2) if history > 1 else (2,)
    return SequenceReplay(
        shape,
        1,
        capacity,
        horizon,
        CPU,
        boundary="mask",
        history=history,
        pixels=history > 1,
        max_action=1.0,
        prioritized=prioritized,
    ), shape


@pytest.mark.parametrize("history", [1, 4])
def test_mrq_starts_equal_the_old_rule_except_the_wrap_around_fix(history):
    """Same slots as MRQReplay after every add; with frame history 4 the new one also retires the starts
    ptr .. ptr+history-2 right after each write of slot ptr-1 (their stacks read the overwritten frame)."""
    capacity, horizon = 37, 5
    replay, shape = _mrq_replay(capacity, horizon, history)
    old = old_mrq_valid_starts(STREAM, capacity, horizon)
    fixed_total = 0
    for _ in _feed(replay.add, STREAM, shape):
        expected = next(old)
        fixed = {(replay.ptr + k) % capacity for k in range(history - 1)} & expected
        fixed_total += len(fixed)
        assert _valid(replay) == expected - fixed
    assert (fixed_total > 0) == (history > 1)


def test_mrq_agent_replay_matches_the_old_rule():
    """MR.Q wires the shared replay as its old one: horizon max(enc_horizon, q_horizon) = 5, LAP priorities."""
    cls, cfg = resolve(
        "mrq",
        dict(zs_dim=16, zsa_dim=16, za_dim=8, enc_hdim=16, value_hdim=16, policy_hdim=16, batch_size=4, buffer_size=37),
    )
    agent = cls(gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Box(-1, 1, (1,), np.float32), cfg, "cpu", seed=0)
    old = old_mrq_valid_starts(STREAM, 37, 5)
    add = lambda o, a, n, r, te, tr: agent.observe(Transition(o, a, r, n, te, tr))  # noqa: E731
    for _ in _feed(add, STREAM):
        assert _valid(agent.replay) == next(old)
    assert agent.replay.prioritized and agent.replay.boundary == "mask" and agent.replay.horizon == 5


def test_wrap_around_fix_no_valid_window_reads_a_newer_frame():
    """Frame history 4 over several wrap-arounds: every frame that a valid start's window reads (the stacked
    states of its H + 1 steps and the next states of its H steps, up to a terminal) comes from its own episode and
    no later than the step that reads it. The old rule breaks this (stale starts whose stacks read the overwritten
    frame of newer data), so the check can fail."""
    capacity, horizon, history = 37, 5, 4
    replay, shape = _mrq_replay(capacity, horizon, history)
    stream = STREAM[:250]  # positions stored in uint8 pixel frames; still six wrap-arounds
    ends = [int(any(s)) for s in stream]
    episode_start = [0]  # first stream position of the episode of position t
    for t in range(1, len(stream) + 1):
        episode_start.append(t if ends[t - 1] else episode_start[-1])

    def position(index):  # the stream position a stored frame holds
        return replay.frames[index][..., 0, 0, 0].long().tolist()

    def window_ok(start):
        slots = replay.window_slots(torch.tensor([start]), horizon + 1)[0].tolist()
        t0 = position(replay.state_ind[start, -1])
        first = episode_start[t0]
        for k, slot in enumerate(slots):
            if not all(first <= v <= t0 + k for v in position(replay.state_ind[slot])):
                return False
            if k == horizon:
                return True
            if not all(first <= v <= t0 + k + 1 for v in position(replay.next_ind[slot])):
                return False
            if not replay.not_done[slot]:  # the agent masks the steps after a terminal
                return True

    old = old_mrq_valid_starts(stream, capacity, horizon)
    old_broken = 0
    for _ in _feed(replay.add, stream, shape):
        assert all(window_ok(s) for s in _valid(replay))
        old_broken += sum(not window_ok(s) for s in next(old) - _valid(replay))
    assert old_broken > 0  # the old mask left stale starts sampleable


# -- iQRL ---------------------------------------------------------------------------------------------


def _iqrl_agent(**overrides):
    cls, cfg = resolve(
        "iqrl",
        dict(
            hidden=(16, 16),
            enc_hidden=(16,),
            latent_dim=16,
            batch_size=4,
            buffer_size=37,
            random_episodes=0,
            **overrides,
        ),
    )
    return cls(gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Box(-1, 1, (1,), np.float32), cfg, "cpu", seed=0)


@pytest.mark.parametrize("nstep", [1, 3])
def test_iqrl_starts_and_readiness_equal_the_old_rule(nstep):
    agent = _iqrl_agent(nstep=nstep)  # windows of max(nstep, horizon 5) = 5
    old, old_ready = old_mrq_valid_starts(STREAM, 37, 5), old_iqrl_windows_ready(STREAM, 5)
    add = lambda o, a, n, r, te, tr: agent.observe(Transition(o, a, r, n, te, tr))  # noqa: E731
    for _ in _feed(add, STREAM):
        assert _valid(agent.replay) == next(old)
        assert agent.replay.ready == next(old_ready)
    assert not agent.replay.prioritized and agent.replay.history == 1


# -- ALM ----------------------------------------------------------------------------------------------


def _alm_agent(**overrides):
    cls, cfg = resolve(
        "alm", dict(latent_dim=4, hidden_dim=16, model_hidden_dim=16, batch_size=8, buffer_size=37, **overrides)
    )
    return cls(gym.spaces.Box(-1, 1, (2,), np.float32), gym.spaces.Box(-1, 1, (1,), np.float32), cfg, "cpu", seed=0)


@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("seq_len", [1, 3])
def test_alm_starts_equal_the_old_rule(cross, seq_len):
    """As stream positions: the same starts as WindowReplay after every add, except windows holding a transition
    the shared layout has already overwritten (its final-frame slots take room: 37 slots hold fewer than 37
    transitions). Before the first wrap-around the sets are equal."""
    capacity = 37
    agent = _alm_agent(seq_len=seq_len, windows_cross_timeouts=cross)
    replay = agent.replay
    old = old_alm_valid_starts(STREAM, capacity, seq_len, cross)
    writes = _written_slots(STREAM)
    add = lambda o, a, n, r, te, tr: agent.observe(Transition(o, a, r, n, te, tr))  # noqa: E731
    write_count, compared_after_wrap = 0, 0
    for t in _feed(add, STREAM):
        write_count += 1 + any(STREAM[t])
        held = {w for w in writes[max(0, write_count - capacity) : write_count] if w is not None}
        starts = {int(replay.frames[replay.state_ind[s, -1], 0]) for s in _valid(replay)}  # obs = stream position
        expected = {s for s in next(old) if all(s + k in held for k in range(seq_len))}
        assert starts == expected
        if write_count <= capacity:
            assert len(held) == t + 1  # nothing overwritten yet: the old set itself
        compared_after_wrap += write_count > capacity
    assert compared_after_wrap > 300


@pytest.mark.parametrize("cross", [False, True])
def test_alm_windows_hold_consecutive_transitions_and_cross_only_timeouts(cross):
    """Sampled windows (obs = stream position) are consecutive transitions t..t+K-1 with their own next states;
    a timeout is crossed only in the official mode, a terminal never before the window's last step."""
    agent = _alm_agent(seq_len=3, windows_cross_timeouts=cross)
    list(_feed(lambda o, a, n, r, te, tr: agent.observe(Transition(o, a, r, n, te, tr)), STREAM))
    w = agent.replay.sample(4000, 3, torch.Generator().manual_seed(0))
    t = w.state[..., 0].long()  # (B, K)
    assert torch.all(t[:, 1:] - t[:, :-1] == 1) and torch.all(w.next_state[..., 0].long() == t + 1)
    assert torch.equal(w.reward, t.float())
    interior = [STREAM[int(v)] for v in t[:, :-1].flatten()]
    assert not any(te for te, _ in interior) and any(tr for _, tr in interior) == cross
    valid = {int(agent.replay.frames[agent.replay.state_ind[s, -1], 0]) for s in _valid(agent.replay)}
    assert set(t[:, 0].tolist()) == valid  # every valid start is drawn, nothing else


def test_alm_transitions_are_uniform_over_those_held_and_match_the_old_draw_before_wrap_around():
    replay = SequenceReplay((2,), 1, 64, 3, CPU, boundary="forbid")
    stream = STREAM[:40]  # several episode ends, no wrap-around
    list(_feed(replay.add, stream))
    b = replay.sample_transitions(5000, torch.Generator().manual_seed(1))
    t = b.obs[:, 0].long()
    assert set(t.tolist()) == set(range(40)) and torch.equal(b.next_obs[:, 0].long(), t + 1)
    assert torch.equal(b.reward[:, 0], t.float()) and b.reward.shape == b.not_done.shape == (5000, 1)
    assert torch.equal(b.not_done[:, 0], torch.tensor([0.0 if stream[i][0] else 1.0 for i in t.tolist()]))
    old_draw = torch.randint(0, 40, (5000,), generator=torch.Generator().manual_seed(1))  # TransitionReplay.sample
    assert torch.equal(t, old_draw)


def test_transitions_after_wrap_around_are_those_still_held():
    replay = SequenceReplay((2,), 1, 37, 3, CPU, boundary="forbid")
    list(_feed(replay.add, STREAM))
    writes = _written_slots(STREAM)
    held = {w for w in writes[-37:] if w is not None}
    assert replay.transitions == len(held)
    t = replay.sample_transitions(5000, torch.Generator().manual_seed(2)).obs[:, 0].long()
    assert set(t.tolist()) == held


# -- layout and resume --------------------------------------------------------------------


def test_newest_transition_is_whole_before_the_next_write():
    """Its next state waits in the spare row, then moves into the next transition's slot."""
    replay = SequenceReplay((2,), 1, 8, 1, CPU, boundary="forbid")
    replay.add(np.full(2, 0.0), np.zeros(1), np.full(2, 1.0), 0.0, False, False)
    assert replay.states(torch.tensor([0]), replay.next_ind)[0, 0] == 1.0 and replay.next_ind[0, -1] == 8
    replay.add(np.full(2, 1.0), np.zeros(1), np.full(2, 2.0), 0.0, False, False)
    assert replay.next_ind[0, -1] == 1 and replay.states(torch.tensor([0, 1]), replay.next_ind)[:, 0].tolist() == [1, 2]


@pytest.mark.parametrize("boundary, cross", [("mask", False), ("forbid", True)])
def test_state_round_trip_through_a_plain_data_file_resumes_exactly(tmp_path, boundary, cross):
    def make():
        return SequenceReplay(
            (2,), 1, 37, 3, CPU, boundary=boundary, cross_truncations=cross, prioritized=boundary == "mask"
        )

    a, b = make(), make()
    half = len(STREAM) // 2
    list(_feed(a.add, STREAM[:half]))
    save_state(a.state_dict(), tmp_path / "replay.pt")
    b.load_state_dict(load_state(tmp_path / "replay.pt"))  # weights_only=True
    for replay in (a, b):  # continue both on the same 20 steps: the loaded slots are still read
        for t, (te, tr) in enumerate(STREAM[half : half + 20]):
            replay.add(np.full(2, t, np.float32), np.ones(1), np.full(2, t + 1, np.float32), 1.0, te, tr)
    for name in a._tensors():
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    wa, wb = (r.sample(64, 3, torch.Generator().manual_seed(5)) for r in (a, b))
    assert all(torch.equal(x, y) for x, y in zip(wa, wb))
    ta, tb = (r.sample_transitions(64, torch.Generator().manual_seed(5)) for r in (a, b))
    assert all(torch.equal(x, y) for x, y in zip(ta, tb))
    other = SequenceReplay(
        (2,), 1, 37, 4, CPU, boundary=boundary, cross_truncations=cross, prioritized=boundary == "mask"
    )
    with pytest.raises(ValueError, match="layout"):
        other.load_state_dict(copy.deepcopy(a.state_dict()))


# -- the shared n-step return -------------------------------------------------------------------------


def test_iqrl_and_mrq_share_one_nstep_return():
    """iQRL's target is the shared corrected n-step return of its first n steps (MR.Q's default form)."""
    agent = _iqrl_agent(nstep=3, gamma=0.9)
    g = torch.Generator().manual_seed(0)
    rewards, not_done = torch.randn(64, 5, generator=g), (torch.rand(64, 5, generator=g) > 0.2).float()
    ret, boot = agent.nstep_return(rewards, not_done)
    R, D = nstep_return(rewards[:, :3], not_done[:, :3], 0.9, "corrected")
    assert torch.equal(ret, R) and torch.equal(boot, D)
    alive = torch.cumprod(torch.cat([torch.ones(64, 1), not_done[:, :2]], 1), 1)  # by hand
    torch.testing.assert_close(ret, (rewards[:, :3] * alive * 0.9 ** torch.arange(3.0)).sum(1, keepdim=True))
    torch.testing.assert_close(boot, 0.729 * alive[:, -1:] * not_done[:, 2:3])
    with pytest.raises(ValueError, match="valid: corrected, head, initial"):
        nstep_return(rewards, not_done, 0.9, "other")
