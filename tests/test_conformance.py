"""Conformance of every registered algorithm and variant, on every action/observation kind it supports.

New algorithms are checked here automatically: actions lie in the action space, updates are finite,
and a state_dict saved to bytes and loaded into a fresh agent gives identical next actions and an
identical next update.
"""

import io

import numpy as np
import pytest
import torch

from algorithms import all_algo_ids, resolve
from algorithms.common.safe_state import load_state, save_state
from runners.loop import Stepper
from suites import get_suite

# one cheap task per (action kind, observation kind)
SAMPLE_TASKS = {("continuous", "state"): ("smoke", "Pendulum-v1"), ("discrete", "state"): ("smoke", "CartPole-v1")}
FILL = 300  # random transitions before the first update

CASES = []
for algo_id in all_algo_ids():
    cls, _ = resolve(algo_id)
    for (act, obs), (suite, task) in SAMPLE_TASKS.items():
        if act in cls.action_kinds and obs in cls.observation_kinds:
            CASES.append((algo_id, suite, task))


def test_every_algorithm_has_a_conformance_case():
    covered = {c[0] for c in CASES}
    assert covered == set(all_algo_ids())


def _build(algo_id, suite, task_name, seed):
    cls, cfg = resolve(algo_id, getattr(resolve(algo_id)[0], "conformance_overrides", {}))
    env = get_suite(suite).task(task_name).make(seed)
    torch.manual_seed(seed)
    return cls(env.observation_space, env.action_space, cfg, "cpu", seed), env


def _fill(agent, env, n, seed):
    """``n`` random steps through the loop's stepping core; the observations seen."""
    env.action_space.seed(seed)
    stepper = Stepper(env, agent, warmup=n, reset_seed=seed)
    observations = []
    for t in range(n):
        stepper.step(t)
        observations.append(stepper.obs)
    return observations


def _params(agent):
    return {f"{m}.{k}": v.detach().clone() for m, mod in agent.modules().items() for k, v in mod.state_dict().items()}


@pytest.mark.parametrize("algo_id,suite,task", CASES)
def test_actions_in_range_and_updates_finite(algo_id, suite, task):
    agent, env = _build(algo_id, suite, task, seed=0)
    observations = _fill(agent, env, FILL, seed=0)
    for obs in observations[:20]:
        for explore in (True, False):
            action = agent.act(obs, explore=explore)
            assert env.action_space.contains(np.asarray(action, dtype=env.action_space.dtype)), action
    for step in range(4):
        metrics = agent.update(FILL + step)
        assert metrics and all(torch.isfinite(torch.as_tensor(v)).all() for v in metrics.values()), metrics
    assert all(torch.isfinite(p).all() for p in _params(agent).values() if p.is_floating_point())
    assert agent.num_parameters() > 0


@pytest.mark.parametrize("algo_id,suite,task", CASES)
def test_state_dict_round_trip_gives_identical_actions_and_update(algo_id, suite, task):
    agent, env = _build(algo_id, suite, task, seed=0)
    observations = _fill(agent, env, FILL, seed=0)
    for step in range(3):
        agent.update(FILL + step)

    buf = io.BytesIO()
    save_state(agent.state_dict(), buf)  # through bytes, as a checkpoint on disk: plain data, read back weights_only
    buf.seek(0)
    saved = load_state(buf)

    def next_actions_and_update(a):
        acts = [np.asarray(a.act(o, explore=True)) for o in observations[:5]]
        acts += [np.asarray(a.act(o, explore=False)) for o in observations[:5]]
        metrics = {k: torch.as_tensor(v).clone() for k, v in a.update(FILL + 3).items()}
        return acts, metrics, _params(a)

    acts_a, metrics_a, params_a = next_actions_and_update(agent)
    fresh, _ = _build(algo_id, suite, task, seed=123)  # different init: everything must come from the state_dict
    fresh.load_state_dict(saved)
    acts_b, metrics_b, params_b = next_actions_and_update(fresh)

    for a, b in zip(acts_a, acts_b):
        np.testing.assert_array_equal(a, b)
    assert metrics_a.keys() == metrics_b.keys()
    for k in metrics_a:
        assert torch.equal(metrics_a[k], metrics_b[k]), k
    for k in params_a:
        assert torch.equal(params_a[k], params_b[k]), k


LOOP_WARMUP, LOOP_STEPS = 300, 310  # as FILL: random steps first, then 10 agent steps with updates


@pytest.fixture
def tiny_tasks(monkeypatch):
    """Every task at a 310-step budget with a 300-step warm-up, one evaluation episode at step 0 and at the end."""
    import dataclasses

    import runners.grid
    import suites

    original = suites.get_task

    def tiny(suite, name):
        task = original(suite, name)
        return dataclasses.replace(
            task, agent_steps=LOOP_STEPS, eval_episodes=1, eval_every=LOOP_STEPS, warmup_steps=LOOP_WARMUP
        )

    monkeypatch.setattr(suites, "get_task", tiny)
    monkeypatch.setattr(runners.grid, "get_task", tiny)


@pytest.mark.parametrize("algo_id,suite,task", CASES)
def test_runs_through_the_real_loop(algo_id, suite, task, tiny_tasks, tmp_path):
    from results.store import Cell, Store
    from runners.loop import train

    overrides = dict(getattr(resolve(algo_id)[0], "conformance_overrides", {}))
    manifest = train(Cell(suite, task, algo_id, 0), Store(tmp_path), progress=False, config_overrides=overrides)
    assert manifest["status"] == "complete", manifest.get("reason")
    assert manifest["warmup_steps"] == LOOP_WARMUP and manifest["updates"] == LOOP_STEPS - LOOP_WARMUP
    store = Store(tmp_path)
    cell = Cell(**manifest["cell"])
    rows = store.read_evals(cell)
    assert [int(r["step"]) for r in rows] == [0, LOOP_STEPS] and all(np.isfinite(float(r["return_mean"])) for r in rows)
    assert (store.cell_dir(cell) / "agent_final.pt").exists() and not store.checkpoint_path(cell).exists()
