"""TD3: the update against a hand computation, the schedule of actor / target updates, and learning."""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from algorithms import resolve
from algorithms.base import Transition
from results.store import Cell, Store
from runners.loop import train


def _agent(**overrides):
    obs_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    act_space = gym.spaces.Box(-2, 2, (1,), np.float32)
    cls, cfg = resolve("td3", dict(hidden=(8,), batch_size=4, buffer_size=16, **overrides))
    torch.manual_seed(0)
    return cls(obs_space, act_space, cfg, "cpu", seed=0)


def test_critic_loss_matches_hand_computation():
    agent = _agent(policy_noise=0.0)  # no target smoothing noise: the target is fully determined
    s, a, r, s2 = (
        np.array([0.1, -0.2, 0.3], np.float32),
        np.array([0.5], np.float32),
        1.5,
        np.array([0.2, 0.0, -0.1], np.float32),
    )
    agent.observe(Transition(s, a, r, s2, terminated=False, truncated=True))  # a time limit is not terminal
    critic_before, target_critic, target_actor = copy.deepcopy(agent.critic), agent.critic_target, agent.actor_target
    with torch.no_grad():
        st, at, s2t = map(lambda x: torch.tensor(x)[None], (s, a, s2))
        next_a = target_actor(s2t).clamp(-2, 2)
        q1t, q2t = target_critic(s2t, next_a)
        y = r + 0.99 * 1.0 * torch.minimum(q1t, q2t)  # not_done = 1 after a truncation
        q1, q2 = critic_before(st, at)
        expected = ((q1 - y) ** 2).item() + ((q2 - y) ** 2).item()
    metrics = agent.update(0)  # the batch is 4 copies of the one transition: same mean
    assert metrics["critic_loss"].item() == pytest.approx(expected, rel=1e-5)


def test_terminal_transition_does_not_bootstrap():
    agent = _agent(policy_noise=0.0)
    s = np.zeros(3, np.float32)
    agent.observe(Transition(s, np.zeros(1, np.float32), 2.0, s, terminated=True, truncated=False))
    with torch.no_grad():
        q1, q2 = agent.critic(torch.tensor(s)[None], torch.zeros(1, 1))
        expected = ((q1 - 2.0) ** 2).item() + ((q2 - 2.0) ** 2).item()
    assert agent.update(0)["critic_loss"].item() == pytest.approx(expected, rel=1e-5)


def test_actor_and_targets_update_every_second_step_with_tau():
    agent = _agent()
    rng = np.random.default_rng(0)
    for _ in range(8):
        agent.observe(
            Transition(
                rng.normal(size=3).astype(np.float32),
                rng.uniform(-2, 2, 1).astype(np.float32),
                float(rng.normal()),
                rng.normal(size=3).astype(np.float32),
                False,
                False,
            )
        )
    actor0, target0 = copy.deepcopy(agent.actor), copy.deepcopy(agent.critic_target)
    m1 = agent.update(0)
    assert "actor_loss" not in m1
    assert all(torch.equal(p, q) for p, q in zip(agent.actor.parameters(), actor0.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(agent.critic_target.parameters(), target0.parameters()))
    m2 = agent.update(1)
    assert "actor_loss" in m2
    for p, pt, p0 in zip(agent.critic.parameters(), agent.critic_target.parameters(), target0.parameters()):
        torch.testing.assert_close(pt, 0.005 * p + 0.995 * p0)


def test_paper2018_variant_config():
    _, cfg = resolve("td3@paper2018")
    assert (cfg.hidden, cfg.lr, cfg.batch_size, cfg.noise_scaled_by_max_action) == ((400, 300), 1e-3, 100, False)
    _, head = resolve("td3")
    assert (
        head.hidden,
        head.lr,
        head.batch_size,
        head.policy_noise,
        head.noise_clip,
        head.actor_update_freq,
        head.tau,
        head.exploration_noise,
        head.start_steps,
    ) == ((256, 256), 3e-4, 256, 0.2, 0.5, 2, 0.005, 0.1, 25_000)


@pytest.mark.slow
def test_td3_learns_pendulum(tmp_path):
    """Random play scores about -1200; a working TD3 clears -400 within the smoke budget. With the
    critic update disabled the same run ends near -1300 (shown once, see the issue note)."""
    torch.set_num_threads(2)
    manifest = train(Cell("smoke", "Pendulum-v1", "td3", 0), Store(tmp_path), progress=False)
    assert manifest["status"] == "complete", manifest["reason"]
    assert manifest["final_return"] > -400, manifest["final_return"]
