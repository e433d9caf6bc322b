"""Suites: every task constructs, resets and steps as declared; the DMC wrapper follows the DMC protocol."""
import numpy as np
import pytest

from algorithms.base import action_kind, observation_kind
from suites import get_suite, suites
from suites.envs import DMCEnv, get_env_rng_state, set_env_rng_state

ALL_TASKS = [(s.name, t.name) for s in suites().values() for t in s.tasks]


@pytest.mark.parametrize("suite_name,task_name", ALL_TASKS)
def test_task_constructs_resets_and_steps(suite_name, task_name):
    task = get_suite(suite_name).task(task_name)
    env = task.make(seed=0)
    try:
        assert action_kind(env.action_space) == task.action
        assert observation_kind(env.observation_space) == task.observation
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs.astype(env.observation_space.dtype))
        for _ in range(5):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            assert obs.shape == env.observation_space.shape and np.isfinite(reward)
    finally:
        env.close()
    proto = task.protocol()
    assert proto["env_frames"] == task.agent_steps * task.action_repeat
    assert proto["library_version"] != "missing"


def test_dmc_action_repeat_sums_rewards_and_matches_raw_dm_control():
    from dm_control import suite

    raw = suite.load("cartpole", "balance", task_kwargs={"random": 7})
    env = DMCEnv("cartpole", "balance", seed=7, action_repeat=2)
    ts = raw.reset()
    obs, _ = env.reset()
    np.testing.assert_allclose(obs, np.concatenate([np.ravel(v) for v in ts.observation.values()]), rtol=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.uniform(-1, 1, size=1)
        expected = raw.step(a).reward + raw.step(a).reward
        obs, reward, terminated, truncated, _ = env.step(a)
        assert reward == pytest.approx(expected, rel=1e-9)
        assert obs.dtype == np.float32 and not terminated and not truncated


def test_dmc_episode_truncates_after_1000_frames_never_terminates():
    env = DMCEnv("cartpole", "balance", seed=0, action_repeat=2)
    env.reset()
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
    assert (steps, env.frames, terminated, truncated) == (500, 1000, False, True)


def test_dmc_actions_rescaled_from_unit_box_to_spec_bounds():
    env = DMCEnv("cartpole", "balance", seed=0)
    env.reset()
    env._act_low, env._act_high = np.array([0.0]), np.array([4.0])  # pretend the spec is [0, 4]
    sent = []
    inner_step = env._env.step
    env._env.step = lambda a: (sent.append(np.array(a)), inner_step(np.clip(a, -1, 1)))[1]
    for a in (-1.0, 0.0, 0.5, 1.0, 3.0):
        env.step(np.array([a]))
    np.testing.assert_allclose(np.concatenate(sent), [0.0, 2.0, 3.0, 4.0, 4.0])


@pytest.mark.parametrize("task_name", ["Pendulum-v1", "cartpole-balance"])
def test_env_rng_state_round_trip_reproduces_resets(task_name):
    task = get_suite("smoke").task(task_name)
    env = task.make(seed=3)
    env.reset(seed=3)
    state = get_env_rng_state(env)
    first = env.reset()[0]
    set_env_rng_state(env, state)
    np.testing.assert_array_equal(env.reset()[0], first)


def test_reduced_budget_changes_protocol_and_is_flagged():
    task = get_suite("smoke").task("Pendulum-v1")
    small = task.with_budget(2000)
    assert small.protocol()["protocol_id"] != task.protocol()["protocol_id"]
    assert small.protocol()["reduced_budget"] and small.protocol()["full_agent_steps"] == task.agent_steps
    assert not task.protocol()["reduced_budget"]
