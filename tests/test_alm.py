"""ALM: distribution helpers and losses against hand computations, the window replay, the truncated
MBPO observations of the alm-locomotion suite, and a learning test with a crippled agent."""

import copy
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.distributions as td
import torch.nn.functional as F

from algorithms import resolve
from algorithms.alm.agent import linear_schedule
from algorithms.alm.networks import Classifier, DiagGaussian, gaussian_kl, lambda_returns, truncated_normal_sample
from algorithms.base import Transition
from algorithms.common.sequence_replay import SequenceReplay
from suites import get_suite


def _agent(obs_dim=3, act_dim=2, seed=0, **overrides):
    obs_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    act_space = gym.spaces.Box(-1, 1, (act_dim,), np.float32)
    cfg = dict(latent_dim=4, hidden_dim=16, model_hidden_dim=16, batch_size=8, buffer_size=64)
    cls, config = resolve("alm", {**cfg, **overrides})
    torch.manual_seed(seed)
    return cls(obs_space, act_space, config, "cpu", seed=seed)


# -- distribution helpers -----------------------------------------------------------------------------


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    s1, s2 = torch.rand(5, 7, generator=g) + 0.1, torch.rand(5, 7, generator=g) + 0.1
    ours = gaussian_kl(DiagGaussian(m1, s1), DiagGaussian(m2, s2))
    ref = td.kl_divergence(td.Independent(td.Normal(m1, s1), 1), td.Independent(td.Normal(m2, s2), 1))
    torch.testing.assert_close(ours, ref)
    assert torch.all(gaussian_kl(DiagGaussian(m1, s1), DiagGaussian(m1, s1)).abs() < 1e-6)


def test_lambda_returns_match_hand_computation():
    gamma, lam = 0.9, 0.5
    r = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1)
    v = torch.tensor([10.0, 20.0, 30.0]).reshape(3, 1, 1)  # V(z_1), V(z_2), V(z_3)
    r2 = 3.0 + gamma * 30.0  # R_2 = r_2 + gamma V_3
    r1 = 2.0 + gamma * ((1 - lam) * 20.0 + lam * r2)  # V(z_2) = 20
    r0 = 1.0 + gamma * ((1 - lam) * 10.0 + lam * r1)  # V(z_1) = 10
    torch.testing.assert_close(lambda_returns(r, v, gamma, lam).flatten(), torch.tensor([r0, r1, r2]))
    # lambda = 1: Monte Carlo over the horizon with bootstrap; lambda = 0: one-step TD targets
    torch.testing.assert_close(
        lambda_returns(r, v, gamma, 1.0)[0, 0, 0], torch.tensor(1 + gamma * 2 + gamma**2 * 3 + gamma**3 * 30)
    )
    torch.testing.assert_close(lambda_returns(r, v, gamma, 0.0).flatten(), r.flatten() + gamma * v.flatten())


def test_truncated_normal_sample_clips_noise_then_clamps_straight_through():
    mean = torch.tensor([0.0, 0.9, -0.95, 0.2], requires_grad=True)
    std = torch.full((4,), 0.5)
    noise = torch.tensor([0.4, 1.0, -2.0, -1.0])
    x = truncated_normal_sample(mean, std, noise, -1.0, 1.0, clip=0.3)
    # eps = noise * std = [0.2, 0.5, -1.0, -0.5], clipped to +-0.3, then clamped to [-1 + 1e-6, 1 - 1e-6]
    torch.testing.assert_close(x, torch.tensor([0.2, 1 - 1e-6, -1 + 1e-6, -0.1]))
    x.sum().backward()
    torch.testing.assert_close(mean.grad, torch.ones(4))  # the clamp passes the gradient straight through
    free = truncated_normal_sample(torch.zeros(1), torch.ones(1), torch.tensor([0.8]), -0.4, 0.4, clip=None)
    torch.testing.assert_close(free, torch.tensor([0.4 - 1e-6]))  # no clip when acting; scalar bounds (Humanoid +-0.4)


def test_classifier_log_odds_is_logit_difference():
    torch.manual_seed(0)
    clf = Classifier(latent=3, action_dim=2, hidden=8)
    z, a, z2 = torch.randn(6, 3), torch.randn(6, 2), torch.randn(6, 3)
    logits = clf(z, a, z2)
    p_real = F.softmax(logits, -1)[:, 1]
    torch.testing.assert_close(clf.log_odds(z, a, z2)[:, 0], torch.log(p_real / (1 - p_real)), rtol=1e-4, atol=1e-5)


def test_exploration_schedule_counts_agent_steps_after_warmup():
    assert linear_schedule(1.0, 0.1, 100_000, 0) == 1.0
    assert linear_schedule(1.0, 0.1, 100_000, 50_000) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 100_000, 250_000) == pytest.approx(0.1)
    agent = _agent()
    _fill(agent, 20)
    metrics = agent.update(step=12_345)  # the loop's step (warm-up included) does not drive the schedule
    assert agent.agent_steps == 1 and metrics["expl_std"].item() == pytest.approx(linear_schedule(1.0, 0.1, 100_000, 1))


# -- replay windows ---------------------------------------------------------------------------------


def _fill(agent, n, episode=5, terminal=False, rng=None):
    rng = rng or np.random.default_rng(0)
    obs_dim, act_dim = agent.obs_space.shape[0], agent.action_dim
    for i in range(n):
        end = (i + 1) % episode == 0
        agent.observe(
            Transition(
                rng.normal(size=obs_dim).astype(np.float32),
                rng.uniform(-1, 1, act_dim).astype(np.float32),
                float(rng.normal()),
                rng.normal(size=obs_dim).astype(np.float32),
                terminated=end and terminal,
                truncated=end and not terminal,
            )
        )


def _windows_from(replay, n=4000, seed=0):
    w = replay.sample(n, replay.horizon, torch.Generator().manual_seed(seed))
    return w.state[:, :, 0].T  # (K, B): obs[0] holds the transition's write index below


@pytest.mark.parametrize("cross_timeouts", [False, True])
def test_windows_respect_episode_ends_and_the_write_pointer(cross_timeouts):
    k, cap = 3, 20
    replay = SequenceReplay((1,), 1, cap, k, torch.device("cpu"), boundary="forbid", cross_truncations=cross_timeouts)
    for i in range(47):  # wraps twice; episodes of 5 ending by time limit, every third one by a terminal
        end = (i + 1) % 5 == 0
        terminal = end and ((i + 1) // 5) % 3 == 0
        replay.add(
            np.array([i], np.float32), np.zeros(1), np.array([i + 1], np.float32), 0.0, terminal, end and not terminal
        )
    ids = _windows_from(replay).long()
    assert torch.all(ids[1:] - ids[:-1] == 1)  # consecutive writes: never across the write pointer
    first_held = 30  # the last 20 slots hold transitions 30..46 and 3 final frames (one slot per episode end)
    assert ids.min() >= first_held  # only transitions still in the buffer
    for j in range(k - 1):  # no episode end inside a window except at its last transition
        ends = (ids[j] + 1) % 5 == 0
        terminals = ends & (((ids[j] + 1) // 5) % 3 == 0)
        assert not terminals.any()
        assert ends.any() == cross_timeouts  # timeouts are crossed only in the official mode
    valid = {
        s
        for s in range(first_held, 47 - k + 1)
        if all(((s + j + 1) % 5 != 0) or (cross_timeouts and ((s + j + 1) // 5) % 3 != 0) for j in range(k - 1))
    }
    assert set(ids[0].tolist()) == valid  # and every valid start is sampled


def test_window_replay_state_round_trip():
    replay = SequenceReplay((2,), 1, 16, 2, torch.device("cpu"), boundary="forbid")
    for i in range(21):
        replay.add(np.full(2, i, np.float32), np.zeros(1), np.full(2, i + 1, np.float32), float(i), False, i % 7 == 6)
    other = SequenceReplay((2,), 1, 16, 2, torch.device("cpu"), boundary="forbid")
    other.load_state_dict(copy.deepcopy(replay.state_dict()))
    a, b = _windows_from(replay, 64), _windows_from(other, 64)
    assert torch.equal(a, b) and torch.equal(replay.valid, other.valid) and other.segment_len == replay.segment_len


# -- the encoder/model loss against a hand computation --------------------------------------------------


def test_representation_loss_matches_hand_computation():
    agent = _agent(seq_len=2, batch_size=4)
    s0, s1, s2 = (np.array(v, np.float32) for v in ([0.1, 0.2, 0.3], [0.0, -0.5, 0.4], [0.3, 0.3, -0.2]))
    a0, a1 = np.array([0.5, -0.5], np.float32), np.array([-0.2, 0.9], np.float32)
    agent.observe(Transition(s0, a0, 1.0, s1, False, False))
    agent.observe(Transition(s1, a1, 2.0, s2, False, True))  # the only length-2 window
    gen = copy.deepcopy(agent.torch_gen.get_state())
    nets = copy.deepcopy(
        {k: getattr(agent, k) for k in ("encoder", "encoder_target", "model", "reward", "critic", "actor")}
    )
    metrics = agent.update(0)

    g = torch.Generator().manual_seed(0)
    g.set_state(gen)
    std = linear_schedule(1.0, 0.1, 100_000, 1)
    torch.rand(4, generator=g)  # the window sampler's draw
    S0, S1, S2 = (torch.tensor(v).expand(4, 3) for v in (s0, s1, s2))
    A0, A1 = torch.tensor(a0).expand(4, 2), torch.tensor(a1).expand(4, 2)
    with torch.no_grad():
        z = nets["encoder"](S0).rsample(g)
        loss = 0
        for a, s_next in ((A0, S1), (A1, S2)):
            prior = nets["model"](z, a)
            kl = td.kl_divergence(
                td.Independent(td.Normal(*prior), 1), td.Independent(td.Normal(*nets["encoder_target"](s_next)), 1)
            )
            loss = loss + kl - nets["reward"](z, a)[:, 0]
            z = prior.rsample(g)
        mean, _ = nets["actor"](z, std)
        action = (mean + (torch.randn(mean.shape, generator=g) * std).clamp(-0.3, 0.3)).clamp(-1 + 1e-6, 1 - 1e-6)
        loss = (loss - torch.min(*nets["critic"](z, action))[:, 0]).mean()
    torch.testing.assert_close(metrics["alm_loss"], loss)


def test_crippled_switches_change_only_their_term():
    base = _agent()
    _fill(base, 30)
    for overrides, key in ((dict(kl_coef=0.0), "kl"), (dict(value_coef=0.0), None)):
        agent = _agent(**overrides)
        _fill(agent, 30)
        m_base, m = base.update(0), agent.update(0)
        base = _agent()
        _fill(base, 30)
        assert not torch.equal(m_base["alm_loss"], m["alm_loss"])
        if key:
            torch.testing.assert_close(m_base[key], m[key])  # the KL is still measured, only its weight is 0


# -- the alm-locomotion suite ------------------------------------------------------------------------


@pytest.mark.parametrize("task_name,base,dim,nq", [("T-Humanoid", "Humanoid-v5", 45, 24), ("T-Ant", "Ant-v5", 27, 15)])
def test_truncated_observations_are_qpos_without_xy_and_qvel(task_name, base, dim, nq):
    env = get_suite("alm-locomotion").task(task_name).make(0)
    full = gym.make(base)
    assert env.observation_space.shape == (dim,)
    obs, _ = env.reset(seed=3)
    full_obs, _ = full.reset(seed=3)
    data = env.unwrapped.data
    assert data.qpos.size == nq
    np.testing.assert_array_equal(obs, np.concatenate([data.qpos[2:], data.qvel]))
    np.testing.assert_array_equal(obs, full_obs[:dim])  # the standard task's leading entries (qpos[2:], qvel)
    rng = np.random.default_rng(0)
    for _ in range(20):  # reward, termination and dynamics are the standard task's
        action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        obs, r, te, tr, _ = env.step(action)
        full_obs, fr, fte, ftr, _ = full.step(action)
        assert r == fr and te == fte and tr == ftr
        np.testing.assert_array_equal(obs, full_obs[:dim])


def test_alm_locomotion_protocol():
    suite = get_suite("alm-locomotion")
    assert suite.task_names == ["T-Humanoid", "T-Ant", "HalfCheetah-v5", "Walker2d-v5", "Hopper-v5"]
    for task in suite.tasks:
        proto = task.protocol()
        # Table 1's point: 4,999 warm-up + 200k training steps (the released files' Step 200000)
        assert (proto["agent_steps"], proto["eval_every_agent_steps"], proto["eval_episodes"]) == (204_999, 5_000, 5)
        assert proto["library"] == "gymnasium" and "mujoco" in proto["library_version"]
        assert proto["env_id"].endswith("-v5")


# -- learning ----------------------------------------------------------------------------------------

# CI scale: 64/128-wide networks, batch 64, Adam 1e-3, exploration schedule over 2k agent steps, actions
# rescaled to Pendulum's +-2 torque, 1000 random warm-up steps (the smoke suite's), 4000 steps in all.
CI_SCALE = dict(
    hidden_dim=64,
    model_hidden_dim=128,
    batch_size=64,
    model_lr=1e-3,
    reward_lr=1e-3,
    critic_lr=1e-3,
    actor_lr=1e-3,
    exploration_decay_steps=2_000,
    rescale_actions=True,
)


@pytest.mark.slow
def test_alm_learns_pendulum(tmp_path):
    """Random play scores about -1200 to -1500. Measured (seed 0, evaluations every 800 steps):
    ALM                              -1519 -1419 -1303  -177  -195  -195
    crippled: kl_coef=0, model_lr=0  -1519 -1419 -1278 -1591 -1588 -1419  (no KL term, encoder and model frozen)
    so the threshold -600 separates them by a wide margin. (measured under the seeding before core/seeding.py's
    named streams; not re-measured since, threshold unchanged)"""
    from results.store import Cell, Store
    from runners.loop import train

    torch.set_num_threads(1)
    cell = Cell("smoke", "Pendulum-v1", "alm", 0)
    manifest = train(cell, Store(tmp_path), agent_steps=4000, progress=False, config_overrides=CI_SCALE)
    cell = Cell(**manifest["cell"])  # with the config id of CI_SCALE: its own folder
    assert manifest["status"] == "complete", manifest["reason"]
    returns = [float(r["return_mean"]) for r in Store(tmp_path).read_evals(cell)]
    assert returns[-1] > -600, returns


@pytest.mark.slow
def test_alm_runs_through_the_cli_on_both_suites(tmp_path):
    """Two ids through ``bench run`` (every variant's update is covered by the conformance tests; each CLI cell
    costs ~60 evaluation episodes) and the alm-locomotion suite at a reduced budget (Hopper: short episodes)."""
    from bench.cli import main

    small = [
        "--steps",
        "300",
        "--out",
        str(tmp_path),
        "--set",
        "start_steps=200",
        "--set",
        "hidden_dim=16",
        "--set",
        "model_hidden_dim=16",
        "--set",
        "batch_size=16",
    ]
    assert main(["run", "--suite", "smoke", "--tasks", "Pendulum-v1", "--algos", "alm,alm@ent", *small]) == 0
    assert main(["run", "--suite", "alm-locomotion", "--tasks", "Hopper-v5", "--algos", "alm", *small]) == 0


def test_alm_ent_entropy_is_that_of_the_noise_clipped_policy():
    """ALM-ENT's H is the entropy of N(mean, sigma^2) truncated to mean +- 0.3 (the losses clip the noise
    there): scipy's truncnorm by hand, log(0.6) per dimension for a wide std (the old, unclipped Gaussian
    entropy grew as log sigma: 3.72 nats per dimension at sigma = 10)."""
    from scipy.stats import truncnorm

    from algorithms.alm.agent import clipped_policy_entropy

    sigma = torch.tensor([[0.05, 0.2, 1.0, 10.0]], dtype=torch.float64)
    got = clipped_policy_entropy(sigma, 0.3)
    expected = sum(truncnorm(-0.3 / s, 0.3 / s, scale=s).entropy() for s in sigma[0].tolist())
    assert got.shape == (1, 1) and got.item() == pytest.approx(expected, rel=1e-9)
    assert clipped_policy_entropy(torch.tensor([[0.05]]), 0.3).item() == pytest.approx(
        0.5 * math.log(2 * math.pi * math.e * 0.05**2), abs=1e-6
    )  # narrow: the Gaussian's (b = 6)
    assert clipped_policy_entropy(torch.tensor([[1e3]], dtype=torch.float64), 0.3).item() == pytest.approx(
        math.log(0.6), abs=1e-6
    )
    # in an update: the entropy the temperature sees is at most log(0.6) per action dimension
    agent = _agent(entropy_bonus=True)
    _fill(agent, 20)
    metrics = agent.update(step=0)
    assert metrics["entropy"].item() <= 2 * math.log(0.6) + 1e-6
