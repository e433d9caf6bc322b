"""iQRL: FSQ, representation-loss sign, n-step targets, collapse diagnostics, suite, and learning."""

import math

import numpy as np
import pytest
import torch

from algorithms import resolve
from algorithms.base import Transition
from algorithms.iqrl.agent import FSQ, RANK_TOLERANCES, codebook_usage, latent_rank
from results.store import Cell, Store
from runners.loop import Stepper, resolve_config, train
from suites import get_suite

SMALL = dict(hidden=(32, 32), enc_hidden=(32,), latent_dim=16, batch_size=32, buffer_size=5_000, random_episodes=0)


def make_agent(seed=0, **overrides):
    env = get_suite("smoke").task("Pendulum-v1").make(seed)
    torch.manual_seed(seed)
    cls, cfg = resolve("iqrl", {**SMALL, **overrides})
    return cls(env.observation_space, env.action_space, cfg, "cpu", seed), env


def fill(agent, env, n, seed=0):
    env.action_space.seed(seed)
    Stepper(env, agent, warmup=n, reset_seed=seed).run(n)  # n random steps through the loop's stepping core


# -- FSQ ---------------------------------------------------------------------------------------------


def test_fsq_codes_lie_on_the_8_level_grid():
    fsq = FSQ((8, 8))
    z = torch.randn(1000, 6) * 5
    codes = fsq(z)
    grid = torch.arange(-4, 4) / 4  # {-1, -0.75, ..., 0.75}: vector-quantize-pytorch 1.15.6, L = 8
    assert torch.isin(codes, grid).all()
    assert set(codes.unique().tolist()) == set(grid.tolist())  # every level is reachable
    # hand value: bound(0) = tanh(atanh(0.5 / 3.5035)) * 3.5035 - 0.5 = 0 -> code 0; large inputs saturate
    assert fsq(torch.zeros(1, 2)).tolist() == [[0.0, 0.0]]
    assert fsq(torch.tensor([[50.0, -50.0]])).tolist() == [[0.75, -1.0]]
    # indices enumerate the 64 codes of a group
    idx = fsq.indices(codes)
    assert idx.shape == (1000, 3) and idx.min() >= 0 and idx.max() < 64
    assert fsq.indices(torch.tensor([[-1.0, -1.0, 0.75, 0.75, -0.75, -1.0]])).tolist() == [[0, 63, 1]]


def test_fsq_gradient_passes_straight_through_the_rounding():
    fsq = FSQ((8, 8))
    z = torch.randn(64, 4, requires_grad=True)
    fsq(z).sum().backward()
    shift = torch.atanh(torch.tensor(0.5 / 3.5035))
    # d/dz [ (tanh(z + shift) * half_l - offset) / 4 ] with the rounding treated as identity
    expected = (1 - torch.tanh(z.detach() + shift) ** 2) * 3.5035 / 4
    torch.testing.assert_close(z.grad, expected, rtol=1e-4, atol=1e-6)


# -- representation loss -------------------------------------------------------------------------------


def _rep_batch(agent, seed=1):
    b = agent.replay.sample(64, agent.seq_len, torch.Generator().manual_seed(seed))
    H = agent.config.horizon
    alive = torch.ones_like(b.reward[:, :H])
    return (b.state[:, 0], b.action[:, :H], b.next_state[:, :H], b.reward[:, :H], alive, b.state[:, :H])


def test_representation_loss_is_minus_rho_weighted_cosine():
    agent, env = make_agent()
    fill(agent, env, 300)
    batch = _rep_batch(agent)
    loss = agent.representation_loss(*batch)["consistency_loss"]
    with torch.no_grad():  # hand computation: rollout, then -mean_t rho^t mean_b cos
        obs0, actions, next_obs = batch[:3]
        z, total = agent.encoder(obs0), 0.0
        for t in range(5):
            z = agent.dynamics(z, actions[:, t])
            target = agent.encoder_target(next_obs[:, t])
            cos = (z * target).sum(-1) / (z.norm(dim=-1).clamp_min(1e-6) * target.norm(dim=-1).clamp_min(1e-6))
            total += 0.9**t * cos.mean()
    torch.testing.assert_close(loss, -total / 5, rtol=1e-5, atol=1e-6)
    official, _ = make_agent(official_cosine_sign=True)
    official.replay = agent.replay
    torch.testing.assert_close(official.representation_loss(*batch)["consistency_loss"], -loss, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("official_sign", [False, True])
def test_representation_steps_align_predictions_with_targets_unless_the_sign_is_flipped(official_sign):
    """Minimising the default loss raises cos(zhat, zbar); the release's +cos sign lowers it (spec 3.1)."""
    agent, env = make_agent(seed=3, official_cosine_sign=official_sign, use_fsq=False)  # no rounding: smooth cos
    fill(agent, env, 400, seed=3)
    batch = _rep_batch(agent)

    def cos() -> float:
        return -agent.representation_loss(*batch)["consistency_loss"].item() * (-1 if official_sign else 1)

    before = cos()
    for _ in range(30):
        loss = agent.representation_loss(*batch)["consistency_loss"]
        agent.rep_opt.zero_grad()
        loss.backward()
        agent.rep_opt.step()
    after = cos()
    assert (after > before + 0.05) if not official_sign else (after < before - 0.05), (before, after)


def test_alive_mask_zeroes_steps_after_a_terminal():
    agent, env = make_agent()
    fill(agent, env, 300)
    batch = list(_rep_batch(agent))
    full = agent.representation_loss(*batch)["consistency_loss"]
    batch[4] = torch.zeros_like(batch[4])
    assert agent.representation_loss(*batch)["consistency_loss"].item() == 0.0
    assert full.item() != 0.0


# -- n-step TD target ---------------------------------------------------------------------------------


def test_nstep_return_with_gamma_matches_hand_computation():
    agent, _ = make_agent(nstep=3, discount=0.9)
    rewards = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    not_done = torch.tensor([[1.0, 1, 1, 1, 1], [1.0, 0, 1, 1, 1], [1.0, 1, 0, 1, 1]])
    ret, boot = agent.nstep_return(rewards, not_done)
    # row 0: 1 + .9*2 + .81*3; bootstrap .9^3.  row 1: terminal at step 1: 1 + .9*2, no bootstrap.
    # row 2: terminal at step 2: all three rewards, no bootstrap
    torch.testing.assert_close(ret[:, 0], torch.tensor([1 + 1.8 + 2.43, 1 + 1.8, 1 + 1.8 + 2.43]))
    torch.testing.assert_close(boot[:, 0], torch.tensor([0.729, 0.0, 0.0]))


def test_one_step_target_discounts_unless_the_official_quirk_is_on():
    rewards, not_done = torch.tensor([[2.0, 9.0]]), torch.ones(1, 2)
    agent, _ = make_agent(nstep=1, discount=0.99)
    ret, boot = agent.nstep_return(rewards, not_done)
    assert (ret.item(), boot.item()) == (2.0, pytest.approx(0.99))
    quirk, _ = make_agent(nstep=1, discount=0.99, official_nstep1_no_discount=True)
    assert quirk.nstep_return(rewards, not_done)[1].item() == 1.0  # spec 3.3: discount 1.0 at n = 1


# -- collapse diagnostics -----------------------------------------------------------------------------


def test_rank_of_constructed_matrices():
    g = torch.Generator().manual_seed(0)
    for r in (1, 5, 16):
        m = torch.randn(64, r, generator=g) @ torch.randn(r, 32, generator=g)
        assert latent_rank(m) == [min(r, 32)] * 3
    # singular values 1, .5, .05, .005, .0005: rank 2 / 3 / 4 at tolerances 1e-1 / 1e-2 / 1e-3
    u, _ = torch.linalg.qr(torch.randn(20, 5, generator=g))
    v, _ = torch.linalg.qr(torch.randn(8, 5, generator=g))
    m = u @ torch.diag(torch.tensor([1.0, 0.5, 0.05, 0.005, 0.0005])) @ v.T
    assert RANK_TOLERANCES == (1e-1, 1e-2, 1e-3)
    assert latent_rank(m) == [2, 3, 4]
    assert latent_rank(torch.zeros(10, 4)) == [0, 0, 0]


def test_codebook_usage_counts_distinct_codes_per_group():
    idx = torch.tensor([[0, 5], [1, 5], [0, 5], [63, 5]])
    torch.testing.assert_close(codebook_usage(idx, 64), torch.tensor([3 / 64, 1 / 64]))


def test_agent_diagnostics_report_rank_and_code_usage():
    agent, env = make_agent(diagnostics_batch=64)
    assert agent.diagnostics() == {}
    fill(agent, env, 300)
    d = agent.diagnostics()
    assert set(d) >= {
        "latent_rank_tol0.1",
        "latent_rank_tol0.01",
        "latent_rank_tol0.001",
        "latent_condition_number",
        "codebook_usage_mean",
        "codebook_usage_min",
        "codebook_usage_max",
    }
    assert 0 < d["latent_rank_tol0.1"] <= d["latent_rank_tol0.001"] <= 16
    assert 0 < d["codebook_usage_min"] <= d["codebook_usage_mean"] <= d["codebook_usage_max"] <= 1
    plain, env = make_agent(use_fsq=False, diagnostics_batch=64)
    fill(plain, env, 50)
    assert "latent_rank_tol0.1" in plain.diagnostics() and "codebook_usage_mean" not in plain.diagnostics()


def test_diagnostics_csv_is_written_per_evaluation_and_truncated_on_resume(tmp_path):
    store = Store(tmp_path)
    cell = Cell("smoke", "Pendulum-v1", "iqrl", 0)
    manifest = train(
        cell,
        store,
        agent_steps=400,
        progress=False,
        config_overrides={**SMALL, "start_steps": 100, "diagnostics_batch": 32},
    )
    assert manifest["status"] == "complete"
    cell = Cell(**manifest["cell"])  # with the config id of its --set values: its own folder
    rows = store.read_diagnostics(cell)
    evals = [int(r["step"]) for r in store.read_evals(cell)]
    assert evals == [0, 80, 160, 240, 320, 400]
    assert sorted({int(r["step"]) for r in rows}) == evals[1:]  # the replay is empty at step 0: nothing to measure
    assert {r["metric"] for r in rows if r["step"] == "400"} >= {"latent_rank_tol0.1", "codebook_usage_mean"}
    assert all(math.isfinite(float(r["value"])) for r in rows)
    assert store.truncate_diagnostics(cell, 160) == sum(int(r["step"]) <= 160 for r in rows)
    assert max(int(r["step"]) for r in store.read_diagnostics(cell)) == 160


# -- suite ---------------------------------------------------------------------------------------------


def test_iqrl_dmc_suite_protocol_and_task_overrides():
    from dm_control import suite as dmc

    s = get_suite("iqrl-dmc")
    assert len(s.tasks) == 27 and {"dog-run", "humanoid-run", "ball_in_cup-catch"} <= set(s.task_names)
    for t in s.tasks:
        assert (t.action_repeat, t.eval_every, t.eval_episodes, t.env_frames) == (2, 10_000, 10, 3_000_000)
        assert tuple(t.env_id.split("/")) in dmc.ALL_TASKS  # incl. dog, present in the installed dm_control
    _, dog = resolve_config("iqrl-dmc", "iqrl", task="dog-run")
    assert (dog.latent_dim, dog.nstep, dog.exploration_decay_episodes) == (2048, 3, 500)
    _, acro = resolve_config("iqrl-dmc", "iqrl@no-fsq", {"nstep": 1}, task="acrobot-swingup")
    assert (acro.enc_tau, acro.nstep, acro.use_fsq) == (0.0005, 1, False)  # --set wins over the task
    _, walker = resolve_config("iqrl-dmc", "iqrl", task="walker-walk")
    assert (walker.latent_dim, walker.nstep, walker.exploration_decay_episodes, walker.start_steps) == (1024, 1, 50, 0)


def test_exploration_schedule_is_per_episode_after_the_warmup_episodes():
    agent, _ = make_agent(random_episodes=2, exploration_decay_episodes=10)
    stds = []
    for _episode in range(14):
        stds.append(agent.exploration_std)
        agent.observe(Transition(np.zeros(3), np.zeros(1), 0.0, np.zeros(3), False, True))
    assert stds[:3] == [1.0, 1.0, 1.0] and stds[3] == pytest.approx(0.9) and stds[11:] == [pytest.approx(0.1)] * 3
    assert agent.update(0) == {}  # replay too short to sample: no update


def test_param_count_matches_the_spec_for_walker():
    from suites.dmc import dmc_task

    env = dmc_task("walker-walk", pixels=False).make(0)
    cls, cfg = resolve_config("iqrl-dmc", "iqrl", task="walker-walk")
    agent = cls(env.observation_space, env.action_space, cfg, "cpu", 0)
    assert agent.num_parameters() == pytest.approx(6.35e6, rel=0.01)  # spec section 2: walker about 6.35M


# -- learning ------------------------------------------------------------------------------------------


def with_distractors(env, k: int, seed: int):
    """``env`` with ``k`` i.i.d. N(0, 1) observation dims appended: only a learned representation filters them."""
    import gymnasium as gym

    class Distractors(gym.ObservationWrapper):
        def __init__(self):
            super().__init__(env)
            self.rng = np.random.default_rng(seed)
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (env.observation_space.shape[0] + k,), np.float32)

        def observation(self, obs):
            return np.concatenate([obs, self.rng.normal(size=k)]).astype(np.float32)

    return Distractors()


def _distracted_pendulum_return(steps=6000, warmup=1000, seed=0, distractors=30, **overrides):
    """Train on Pendulum-v1 + 30 noise dims (64-wide networks, latent 64), then 5 deterministic episodes."""
    from runners.loop import evaluate

    torch.set_num_threads(1)  # as measured below (small matmuls: one thread is as fast and bit-reproducible)
    task = get_suite("smoke").task("Pendulum-v1")
    env, eval_env = (
        with_distractors(task.make(seed), distractors, seed),
        with_distractors(task.make(seed + 100), distractors, seed + 100),
    )
    config = dict(
        SMALL, hidden=(64, 64), enc_hidden=(64,), latent_dim=64, batch_size=128, buffer_size=10_000, **overrides
    )
    torch.manual_seed(seed)
    cls, cfg = resolve("iqrl", config)
    agent = cls(env.observation_space, env.action_space, cfg, "cpu", seed)
    env.action_space.seed(seed)
    Stepper(env, agent, warmup, reset_seed=seed).run(steps)
    return float(np.mean(evaluate(agent, eval_env, 5, seed + 100)))


@pytest.mark.slow
def test_iqrl_learns_pendulum_through_distractors():
    """Random play scores about -1300 to -1650. Measured under the named seeding streams (core/seeding.py;
    6000 steps, 1 thread): iQRL -1021 / -1027 / -878 on seeds 0 / 1 / 2; a frozen random encoder (enc_lr=1e-12:
    no representation learning) -1278 / -1372 on seeds 0 / 1: the mean over seeds 0 and 1 (-1024 vs -1325)
    separates them. (Under the seeding before the named streams, seed 0 alone gave iQRL -633 and the frozen
    encoder -1609.) The release's +cos sign still self-predicts (up to a sign), so it is not the cripple this
    test rejects; on plain Pendulum (no distractors) the frozen encoder learns too, so the distractors are
    what makes the representation matter."""
    assert np.mean([_distracted_pendulum_return(seed=seed) for seed in (0, 1)]) > -1150


def test_official_variant_sets_every_release_behaviour_the_readme_lists():
    import dataclasses
    import pathlib
    import re

    from algorithms import variants

    flags = {f.name for f in dataclasses.fields(resolve("iqrl")[1]) if f.name.startswith("official_")}
    assert len(flags) == 5
    assert variants("iqrl")["official"].overrides == {name: True for name in flags}
    readme = pathlib.Path(__file__).resolve().parents[1].joinpath("README.md").read_text()
    section = readme[readme.index("iQRL's released code contradicts") : readme.index("Per-task settings")]
    assert set(re.findall(r"`(official_\w+)`", section)) == flags and "turns\nall five on" in section


@pytest.mark.parametrize(
    "algo, task, width",
    [
        ("iqrl", "walker-walk", 1024),
        ("iqrl@no-fsq", "walker-walk", 512),
        ("iqrl@no-fsq", "humanoid-run", 1024),
        ("iqrl@tcrl", "walker-walk", 512),
        ("iqrl@official", "walker-walk", 1024),
        ("iqrl@official", "dog-run", 2048),
    ],
)
def test_latent_width_follows_the_release_which_doubles_its_groups_only_with_fsq(algo, task, width):
    from suites.dmc import dmc_task

    env = dmc_task(task, pixels=False).make(0)
    cls, cfg = resolve_config("iqrl-dmc", algo, task=task)
    agent = cls(env.observation_space, env.action_space, cfg, "cpu", 0)
    assert (
        agent.latent_width == width
        and agent.encoder_target(torch.zeros(1, env.observation_space.shape[0])).shape[-1] == width
    )
