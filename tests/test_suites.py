"""Suites: every task constructs, resets and steps as declared; the DMC wrapper follows the DMC protocol."""

import numpy as np
import pytest

from algorithms.base import action_kind, observation_kind
from suites import get_suite, suites
from suites.envs import DMCEnv, get_env_rng_state, set_env_rng_state


def _distinct_envs():
    """(suite, task) per distinct env construction: tasks that build the same env (atari-greedy's games are atari's,
    iqrl-dmc's are dmc-proprio's) are stepped once."""
    seen, out = set(), []
    for s in suites().values():
        for t in s.tasks:
            key = (
                t.make_env,
                t.env_id,
                t.env_kwargs,
                t.observation,
                t.action_repeat,
                t.frame_stack,
                t.max_episode_frames,
            )
            if key not in seen:
                seen.add(key)
                out.append((s.name, t.name))
    return out


ALL_TASKS = _distinct_envs()


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


def test_discrete_evaluation_rule_is_a_protocol_field_that_the_claims_guard_compares():
    from analysis.claims import check, load_claims
    from analysis.load import protocol_fields
    from runners.loop import resolve_config

    sampled, greedy = get_suite("atari").task("Pong"), get_suite("atari-greedy").task("Pong")
    assert (sampled.protocol()["discrete_eval"], greedy.protocol()["discrete_eval"]) == ("sampled", "greedy")
    assert sampled.protocol()["protocol_id"] != greedy.protocol()["protocol_id"]
    assert "discrete_eval" not in get_suite("gym").task("HalfCheetah-v4").protocol()  # continuous: unchanged ids
    assert get_suite("smoke").task("CartPole-v1").protocol()["discrete_eval"] == "greedy"
    # MR.Q follows the suite's rule (the paper's Gumbel-sampled evaluation on atari), whatever the variant
    assert resolve_config("atari", "mrq", task="Pong")[1].discrete_eval_gumbel is True
    assert resolve_config("atari-greedy", "mrq@official-initial", task="Pong")[1].discrete_eval_gumbel is False
    from algorithms import variants  # no MR.Q variant contradicts a discrete task's protocol rule

    for algo in ["mrq"] + [f"mrq@{v}" for v in variants("mrq")]:
        for suite, task, rule in (
            ("smoke", "CartPole-v1", "greedy"),
            ("atari", "Pong", "sampled"),
            ("atari-greedy", "Pong", "greedy"),
        ):
            assert resolve_config(suite, algo, task=task)[1].discrete_eval_gumbel == (rule == "sampled"), (algo, suite)
    # MR.Q's Atari claims refuse greedy-evaluated evidence and accept sampled evidence
    claim = next(c for c in load_claims() if c.suite == "atari" and c.table == "Table 7" and c.task == "Pong")
    import pandas as pd

    rows = pd.DataFrame(
        [
            {
                "source": "ours",
                "suite": "atari",
                "task": "Pong",
                "algo": "mrq",
                "variant": "",
                "seed": s,
                "step": claim.step,
                "env_frames": 4 * claim.step,
                "return": 20.0,
                "protocol_id": pid,
            }
            for pid in ("g", "s")
            for s in range(3)
        ]
    )
    fields = {"g": protocol_fields(greedy.protocol()), "s": protocol_fields(sampled.protocol())}
    verdicts = {v.evidence: v for v in check([claim], rows, fields, reps=200)}
    refused = [v for v in verdicts.values() if v.verdict == "refused"]
    assert len(verdicts) == 2 and len(refused) == 1 and "discrete_eval: claim sampled, data greedy" in refused[0].detail


def test_reduced_budget_evaluates_on_a_grid_that_holds_the_protocols_grid():
    from suites.task import reduced_eval_every

    task = get_suite("dmc-proprio").task("cartpole-balance")  # protocol: every 5000 agent steps
    small = task.with_budget(15_000)
    assert small.eval_every == 2_500  # 6 evaluations after step 0, and 5k, 10k, 15k among them
    assert task.with_budget(100_000).eval_every == 5_000  # enough evaluations already: the protocol's cadence
    assert task.with_budget(4_000).eval_every == 800  # below the protocol's first evaluation: budget // 5
    for every, steps in [(5_000, 15_000), (10_000, 49_999), (3_000, 20_000), (7, 20)]:
        got = reduced_eval_every(every, steps)
        assert every % got == 0 and steps // got >= 5, (every, steps, got)
        coarser = [every // d for d in range(1, every + 1) if every % d == 0 and every // d > got]
        assert all(steps // c < 5 for c in coarser), (every, steps, got)  # the coarsest grid that fits
