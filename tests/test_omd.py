"""OMD: the implicit gradient against closed forms, the soft double-Q target and loss against hand
computations, the fresh inner Adam, the distractor wrapper, per-task overrides, the exact tabular
study against the official notebook's published numbers, and learning on CartPole."""

import copy
import math

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch

from algorithms import resolve
from algorithms.base import Transition
from algorithms.omd import tabular
from algorithms.omd.agent import soft_double_q_target
from algorithms.omd.implicit import implicit_gradient
from results.store import Cell, Store
from runners.loop import resolve_config, train
from suites import get_suite

# -- the implicit gradient ---------------------------------------------------------------------------


def _ridge_problem():
    """Inner: w*(theta) = argmin 1/2 ||X w - tanh(theta)||^2 + lam/2 ||w||^2 (closed form); outer: 1/2 ||A w - b||^2."""
    gen = torch.Generator().manual_seed(0)
    n, d, lam = 7, 4, 0.5
    X, A = torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randn(3, d, generator=gen, dtype=torch.float64)
    b, theta0 = torch.randn(3, generator=gen, dtype=torch.float64), torch.randn(n, generator=gen, dtype=torch.float64)
    H = X.T @ X + lam * torch.eye(d, dtype=torch.float64)

    def w_star(theta):
        return torch.linalg.solve(H, X.T @ torch.tanh(theta))

    def inner(w, theta):
        return 0.5 * (X @ w - torch.tanh(theta)).pow(2).sum() + 0.5 * lam * w.pow(2).sum()

    def outer(w):
        return 0.5 * (A @ w - b).pow(2).sum()

    return X, H, theta0, w_star, inner, outer


def test_implicit_gradient_with_exact_inverse_equals_the_true_gradient():
    X, H, theta0, w_star, inner, outer = _ridge_problem()
    theta = theta0.clone().requires_grad_(True)
    true_grad = torch.autograd.grad(outer(w_star(theta)), theta)[0]  # through the closed form
    w = w_star(theta0).detach().requires_grad_(True)
    g = torch.autograd.grad(outer(w), w)
    got = implicit_gradient(inner(w, theta), [w], [theta], g, inverse="cg", cg_damping=0.0)[0]
    torch.testing.assert_close(got, true_grad, rtol=1e-6, atol=1e-8)


def test_implicit_gradient_identity_approximation_is_the_formula():
    X, H, theta0, w_star, inner, outer = _ridge_problem()
    theta = theta0.clone().requires_grad_(True)
    w = w_star(theta0).detach().requires_grad_(True)
    g = torch.autograd.grad(outer(w), w)
    got = implicit_gradient(inner(w, theta), [w], [theta], g)[0]
    # -(d^2 L / dtheta dw)^T g with d(grad_w L)/dtheta = -X^T diag(1 - tanh^2): the formula is diag(1 - tanh^2) X g
    expected = (1 - torch.tanh(theta0) ** 2) * (X @ g[0])
    torch.testing.assert_close(got, expected)
    true_grad = torch.autograd.grad(outer(w_star(theta)), theta)[0]
    assert not torch.allclose(got, true_grad, rtol=1e-2)  # the approximation is not the true gradient here


# -- soft double-Q ----------------------------------------------------------------------------------


def test_soft_double_q_target_takes_the_min_per_action_before_the_log_sum_exp():
    next_q = torch.tensor([[[1.0, 2.0]], [[1.5, 1.8]]])  # (heads, B=1, |A|)
    reward, mask = torch.tensor([[0.3]]), torch.tensor([[1.0]])
    # min per action = [1.0, 1.8]; 0.5 * log(e^2 + e^3.6) = 1.8 + 0.5 * log(1 + e^-1.6) = 1.891158...
    y = soft_double_q_target(reward, mask, next_q, discount=0.9, alpha=0.5)
    assert y.item() == pytest.approx(0.3 + 0.9 * (1.8 + 0.5 * math.log1p(math.exp(-1.6))), rel=1e-6)
    assert soft_double_q_target(reward, torch.zeros(1, 1), next_q, 0.9, 0.5).item() == pytest.approx(0.3)
    assert soft_double_q_target(reward, mask, next_q, 0.9, 0.5, hard=True).item() == pytest.approx(0.3 + 0.9 * 1.8)
    # at the default temperature 0.01 the soft value is the max up to 0.01 * log(1 + e^-80)
    assert soft_double_q_target(reward, mask, next_q, 0.9, 0.01).item() == pytest.approx(0.3 + 0.9 * 1.8, abs=1e-6)


def _cartpole_agent(algo="omd", **overrides):
    obs_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    cls, cfg = resolve(algo, dict(batch_size=4, buffer_size=16, **overrides))
    torch.manual_seed(0)
    return cls(obs_space, gym.spaces.Discrete(2), cfg, "cpu", seed=0)


def test_q_loss_matches_hand_computation():
    agent = _cartpole_agent()
    s, s2 = torch.tensor([[0.1, -0.2, 0.3, 0.05]]), torch.tensor([[0.2, 0.0, -0.1, 0.4]])
    with torch.no_grad():
        q, qt = agent.q(s)[:, 0].numpy(), agent.q_target(s2)[:, 0].numpy()  # (heads, |A|)
    v = np.minimum(qt[0], qt[1])
    y = 1.5 + 0.99 * 0.01 * np.log(np.exp(v / 0.01).sum())
    expected = 0.5 * ((q[0, 1] - y) ** 2 + (q[1, 1] - y) ** 2)  # action 1, both heads
    got = agent._q_loss(s, torch.tensor([[1.0]]), torch.tensor([[1.5]]), s2, torch.tensor([[1.0]]))
    assert got.item() == pytest.approx(float(expected), rel=1e-5)


def _fill_same_transition(agent):
    for _ in range(8):  # every batch is copies of this one transition: batches are deterministic
        agent.observe(
            Transition(
                np.array([0.1, -0.2, 0.3, 0.05], np.float32),
                np.asarray(1),
                1.0,
                np.array([0.2, 0.0, -0.1, 0.4], np.float32),
                False,
                False,
            )
        )


@pytest.mark.parametrize("reset", [True, False])
def test_omd_inner_step_is_a_fresh_adam_step_when_reset(reset):
    """Official warm_opt=False: every OMD update re-creates the Q Adam state, so each inner step moves every
    parameter by q_lr * g / (|g| + eps), i.e. ~ q_lr * sign(g). With the state kept, the second step does not."""
    agent = _cartpole_agent(reset_inner_opt=reset)
    _fill_same_transition(agent)
    agent.update(0)
    before = [p.detach().clone() for p in agent.q.parameters()]
    b = agent.replay.sample(4, torch.Generator().manual_seed(0))  # identical transitions: the same batch
    with torch.no_grad():
        next_hat, reward_hat = agent.model(b.obs, agent._model_input(b.action))
    grads = torch.autograd.grad(
        agent._q_loss(b.obs, b.action, reward_hat, next_hat, b.not_done), list(agent.q.parameters())
    )
    agent.update(1)
    step = torch.cat([(p.detach() - p0).flatten() for p, p0 in zip(agent.q.parameters(), before)])
    fresh = torch.cat([(-1e-4 * 3 * g / (g.abs() + 1e-8)).flatten() for g in grads])  # q_lr = 3e-4
    big = torch.cat([g.flatten() for g in grads]).abs() > 1e-5
    assert big.sum() > 50  # one transition: only the active units and action 1 have gradients
    close = torch.allclose(step[big], fresh[big], rtol=1e-3, atol=1e-9)
    assert close == reset


def test_model_gradient_reaches_the_model_and_zero_outer_gradient_gives_none():
    agent = _cartpole_agent()
    _fill_same_transition(agent)
    model_before = copy.deepcopy(agent.model)
    metrics = agent.update(0)
    assert metrics["model_grad_norm"] > 0
    assert any(not torch.equal(p, q) for p, q in zip(agent.model.parameters(), model_before.parameters()))


# -- the CartPole misspecification suite --------------------------------------------------------------


def test_distractor_wrapper_shape_statistics_and_determinism():
    suite = get_suite("omd-cartpole")
    task = suite.task("CartPole-v1-distract64")
    env, twin = task.make(0), task.make(0)
    assert env.observation_space.shape == (68,) and env.observation_space.dtype == np.float32
    obs, _ = env.reset(seed=0)
    twin_obs, _ = twin.reset(seed=0)
    np.testing.assert_array_equal(obs, twin_obs)  # seeded by the env seed
    noise = []
    for _ in range(300):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        np.testing.assert_allclose(obs[:4], env.unwrapped.state, rtol=1e-6)  # the first 4 dims are CartPole's
        noise.append(obs[4:])
        if terminated or truncated:
            env.reset()
    noise = np.stack(noise)  # 300 x 64 i.i.d. N(0, 1) draws
    assert abs(noise.mean()) < 0.02 and abs(noise.std() - 1.0) < 0.02
    assert np.abs(np.corrcoef(noise[:, :8].T) - np.eye(8)).max() < 0.25
    assert suite.task("CartPole-v1").make(0).observation_space.shape == (4,)


def test_model_width_is_a_per_task_override_and_set_wins():
    assert resolve_config("omd-cartpole", "omd", None, "CartPole-v1-width3")[1].model_hidden_dim == 3
    assert resolve_config("omd-cartpole", "omd@vep", None, "CartPole-v1-width1")[1].model_hidden_dim == 1
    assert resolve_config("omd-cartpole", "omd", None, "CartPole-v1-distract16")[1].model_hidden_dim == 32
    assert resolve_config("omd-cartpole", "omd", {"model_hidden_dim": 5}, "CartPole-v1-width3")[1].model_hidden_dim == 5


# -- the tabular study ---------------------------------------------------------------------------------


def test_tabular_mdp_optimum_matches_the_notebook():
    q = tabular.optimal_q()
    torch.testing.assert_close(
        q, torch.tensor([[0.16363807, 0.06282009], [1.89091046, 0.66282009]], dtype=torch.float64), atol=1e-7, rtol=0
    )
    assert tabular.expected_return(q[None]).item() == pytest.approx(1.0272551, abs=1e-6)  # spec section 3.1


def test_tabular_exact_implicit_gradient_matches_finite_differences():
    x0, logits, r_hat = tabular.init_params([3], [1.0])
    logits, r_hat = logits * 0.02, r_hat * 0.3  # a smooth region (soft policy)

    def objective(lg, r):
        x = tabular.solve_fixed_point(torch.softmax(lg / tabular.TEMPERATURE, -1), r, x0, tol=1e-14)
        return -tabular.expected_return(x).sum()

    x_star = tabular.solve_fixed_point(torch.softmax(logits / tabular.TEMPERATURE, -1), r_hat, x0, tol=1e-14)
    g_logits, g_r = tabular.implicit_omd_grad(x_star, logits, r_hat, "returns", exact=True)
    h = 1e-7
    for idx in [(0, 0, 0, 0), (0, 1, 1, 0), (0, 0, 1, 1)]:
        e = torch.zeros_like(logits)
        e[idx] = h
        fd = (objective(logits + e, r_hat) - objective(logits - e, r_hat)) / (2 * h)
        assert g_logits[idx].item() == pytest.approx(fd.item(), rel=1e-4, abs=1e-7)
    for idx in [(0, 0, 0), (0, 1, 1)]:
        e = torch.zeros_like(r_hat)
        e[idx] = h
        fd = (objective(logits, r_hat + e) - objective(logits, r_hat - e)) / (2 * h)
        assert g_r[idx].item() == pytest.approx(fd.item(), rel=1e-4, abs=1e-7)


@pytest.mark.slow
def test_tabular_reproduces_the_notebook_at_the_largest_norm_and_omd_wins_when_misspecified():
    """Published (official notebook, 10 seeds, norm bound 6): MLE mean J = 1.01979, OMD = 1.02721, optimum
    1.0272727. Tolerances: OMD within 1e-3 of the optimum (published per-seed minimum 1.02695); MLE within
    2e-3 of 1.01979 (its constrained optimum is a limit cycle of projected Adam; published per-seed range
    1.01892-1.02174) and at least 4e-3 below the optimum. At bounds 0.632 and 0.947 the figure reads
    MLE ~ -0.73 / -0.48 and OMD ~ -0.33 / 0.13: OMD must lead by > 0.3. 2000 outer steps (notebook: up to
    10000) already settle these means: measured MLE 1.0186, OMD 1.0267 at norm 6; at 0.632 / 0.947:
    MLE -0.718 / -0.467, OMD -0.318 / 0.133 (10000 steps: MLE 1.0197, OMD 1.0272; -0.722 / -0.482, -0.324 / 0.134)."""
    seeds, bounds = list(range(1, 11)), [0.632, 0.947, 6.0]
    mean_j = {}
    for agent in ("mle", "omd"):
        result = tabular.train(agent, "returns", bounds, seeds, max_iter=2000)
        mean_j[agent] = tabular.evaluate(result)["J"].reshape(len(seeds), len(bounds)).mean(0)
    assert mean_j["omd"][2].item() == pytest.approx(tabular.OPTIMAL_VALUE, abs=1e-3)
    assert mean_j["mle"][2].item() == pytest.approx(1.01979, abs=2e-3)
    assert mean_j["mle"][2].item() < tabular.OPTIMAL_VALUE - 4e-3
    assert (mean_j["omd"][:2] - mean_j["mle"][:2] > 0.3).all(), mean_j


def test_tabular_study_writes_csv(tmp_path):
    runs, summary = tabular.main(tmp_path, seeds=[1, 2], max_iter=20, num_bounds=2)
    rows = runs.read_text().splitlines()
    assert rows[0].split(",") == list(tabular.FIELDS)
    assert len(rows) == 1 + 2 * 3 * 2 * 2  # objectives x agents x bounds x seeds
    assert "bound_gap" in summary.read_text().splitlines()[0]


# -- end to end ----------------------------------------------------------------------------------------


def test_runs_end_to_end_on_the_continuous_smoke_task(tmp_path):
    """Continuous actions through the training loop (discrete: the CartPole learning test; variants: conformance)."""
    overrides = {"start_steps": 100, "batch_size": 32, "sac_hidden": (32, 32)}
    manifest = train(
        Cell("smoke", "Pendulum-v1", "omd", 0),
        Store(tmp_path),
        agent_steps=150,
        progress=False,
        config_overrides=overrides,
    )
    assert manifest["status"] == "complete", manifest["reason"]
    assert manifest["updates"] == 50


def _last_evals(store_root, manifest, n):
    rows = Store(store_root).read_evals(Cell(**manifest["cell"]))  # the cell with its config id
    return [float(row["return_mean"]) for row in rows][-n:]


@pytest.mark.slow
@pytest.mark.parametrize("crippled", [False, True])
def test_omd_learns_cartpole_and_fails_without_its_implicit_model_gradient(tmp_path, monkeypatch, crippled):
    """Smoke CartPole-v1: 10k agent steps, 1k random warm-up, evaluation every 2k steps x 5 episodes, Q Adam lr
    1e-3 (from the paper's sweep {3e-4, 1e-3, 3e-3}; the official default 3e-4 learns slower: 63.6 at 10k).
    Measured, seed 0: OMD evaluations 19, 19, 131, 234, 228, 217 (mean of the last two 222); with the model
    gradient zeroed (Q learns from the frozen initial model, r_hat ~ 0, s'_hat ~ 0) 19, 18, 15, 17, 21, 13
    (mean of the last two 17). Threshold 100 on the mean of the last two evaluations.
    (measured under the seeding before core/seeding.py's named streams; not re-measured since, threshold unchanged)"""
    torch.set_num_threads(1)
    if crippled:
        import algorithms.omd.agent as omd_agent

        monkeypatch.setattr(
            omd_agent, "implicit_gradient", lambda loss, phi, theta, g, *a, **k: [torch.zeros_like(t) for t in theta]
        )
    manifest = train(
        Cell("smoke", "CartPole-v1", "omd", 0), Store(tmp_path), progress=False, config_overrides={"q_lr": 1e-3}
    )
    assert manifest["status"] == "complete", manifest["reason"]
    score = float(np.mean(_last_evals(tmp_path, manifest, 2)))
    assert (score > 100) != crippled, score


def test_bad_string_settings_are_one_line_user_errors_at_construction():
    import gymnasium as gym

    from algorithms import resolve
    from core.errors import UserError

    env = gym.make("CartPole-v1")
    for field, value in (("agent_type", "sarsa"), ("inverse_jacobian", "exact")):
        cls, cfg = resolve("omd", {field: value})
        with pytest.raises(UserError, match=f"unknown omd {field} '{value}'; valid: "):
            cls(env.observation_space, env.action_space, cfg, "cpu", 0)


def test_sac_policy_heads_are_orthogonal_with_gain_sqrt2_as_the_official_default_init():
    """jax-rl NormalTanhPolicy's mean / log-std Dense layers take default_init() = orthogonal(sqrt 2): the rows
    of a (action_dim, 256) orthogonal matrix with gain g satisfy W W^T = g^2 I (the old gain 1 gives I)."""
    from algorithms.omd.networks import TanhGaussianPolicy

    torch.manual_seed(0)
    policy = TanhGaussianPolicy(17, 6, (256, 256))
    for head in (policy.mean, policy.log_std):
        w = head.weight.detach().double()
        torch.testing.assert_close(w @ w.T, 2.0 * torch.eye(6, dtype=torch.float64), atol=1e-5, rtol=0)
        assert torch.count_nonzero(head.bias) == 0


def test_omd_halfcheetah_suite_is_the_appendix_f_protocol():
    suite = get_suite("omd-halfcheetah")
    assert len(suite.tasks) == 13
    for task in suite.tasks:
        p = task.protocol()
        assert (p["agent_steps"], p["eval_every_agent_steps"], p["eval_episodes"], p["env_id"]) == (
            1_000_000,
            5_000,
            10,
            "HalfCheetah-v4",
        )
    _, cfg = resolve_config("omd-halfcheetah", "omd@mle", task="HalfCheetah-v4-width8")
    assert (cfg.agent_type, cfg.sac_model_hidden_dim, cfg.start_steps) == ("mle", 8, 10_000)  # start_training 1e4
    _, cfg = resolve_config("omd-halfcheetah", "omd", task="HalfCheetah-v4-distract64")
    assert (cfg.sac_model_hidden_dim, cfg.start_steps) == (64, 10_000)  # model width 64 with distractors (App. F)
    env = suite.task("HalfCheetah-v4-distract64").make(0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (17 + 64,) and env.action_space.shape == (6,)
    assert (
        suite.task("HalfCheetah-v4-distract64").protocol()["protocol_id"]
        != suite.task("HalfCheetah-v4").protocol()["protocol_id"]
    )


def test_cartpole_sweep_suite_selection_rule_and_figure4(tmp_path):
    """The App. D grid is one task per (setting, Q lr, tau); per agent and setting the study picks the configuration
    with the highest seed-mean final return (ties: grid order) and reports its mean and standard error."""
    from analysis.omd_sweep import parse_task
    from bench.cli import main

    suite = get_suite("omd-cartpole-sweep")
    assert len(suite.tasks) == 13 * 3 * 2
    _, cfg = resolve_config("omd-cartpole-sweep", "omd@mle", task="CartPole-v1-width4-qlr0.003-tau0.005")
    assert (cfg.agent_type, cfg.model_hidden_dim, cfg.q_lr, cfg.tau) == ("mle", 4, 3e-3, 0.005)
    assert parse_task("CartPole-v1-distract64-qlr0.0003-tau0.01") == {
        "setting": "CartPole-v1-distract64",
        "q_lr": 3e-4,
        "tau": 0.01,
        "axis": "distractors",
        "x": 64,
    }

    store = Store(tmp_path / "store")
    finals = {  # (algo, task) -> final returns of seeds 0, 1, 2 (seed-means: 300 / 400 / 400 / 50 / 100 / 100)
        ("omd", "CartPole-v1-width2-qlr0.001-tau0.005"): [300, 300, 300],
        ("omd", "CartPole-v1-width2-qlr0.003-tau0.01"): [500, 400, 300],
        ("omd", "CartPole-v1-width2-qlr0.003-tau0.005"): [400, 400, 400],  # ties with the one above: grid order wins
        ("omd@mle", "CartPole-v1-width2-qlr0.001-tau0.005"): [50, 50, 50],
        ("omd@mle", "CartPole-v1-width2-qlr0.0003-tau0.01"): [100, 100, 100],
        ("omd@mle", "CartPole-v1-distract16-qlr0.001-tau0.01"): [90, 100, 110],
    }
    for (algo, task), values in finals.items():
        for seed, value in enumerate(values):
            cell = Cell("omd-cartpole-sweep", task, algo, seed)
            store.write_manifest(
                cell,
                {
                    "status": "complete",
                    "cell": {"suite": cell.suite, "task": task, "algo": algo, "seed": seed},
                    "protocol": {"protocol_id": "p", "env_id": "CartPole-v1"},
                },
            )
            for step, ret in ((0, 9.0), (1000, 20.0), (2000, float(value))):
                store.append_eval(
                    cell,
                    {
                        "step": step,
                        "env_frames": step,
                        "return_mean": ret,
                        "return_std": 0.0,
                        "returns": "",
                        "wall_time": 1.0,
                    },
                )
    out = tmp_path / "study"
    assert main(["study", "omd-cartpole-sweep", "--runs", str(store.root), "--out", str(out)]) == 0
    best = pd.read_csv(out / "omd_cartpole_sweep_best.csv").set_index(["algo", "setting"])
    omd = best.loc[("omd", "CartPole-v1-width2")]
    assert (omd.q_lr, omd.tau, omd["mean"], omd.configs_compared, omd.step) == (0.003, 0.005, 400.0, 3, 2000)
    assert omd["sem"] == 0.0
    mle = best.loc[("omd@mle", "CartPole-v1-width2")]
    assert (mle.q_lr, mle.tau, mle["mean"]) == (0.0003, 0.01, 100.0)
    distract = best.loc[("omd@mle", "CartPole-v1-distract16")]
    assert (distract.axis, distract.x) == ("distractors", 16) and distract["sem"] == pytest.approx(10 / math.sqrt(3))
    assert (out / "figure4.png").stat().st_size > 0 and (out / "figure4.svg").exists()


def test_figure4_says_when_an_axis_has_no_runs():
    """A reduced sweep over model widths only: the distractor panel says it holds no runs (no empty log axes)."""
    from analysis import plots
    from analysis.omd_sweep import figure4

    best = pd.DataFrame(
        [
            {
                "algo": algo,
                "setting": f"CartPole-v1-width{w}",
                "axis": "width",
                "x": w,
                "mean": m,
                "sem": 1.0,
                "step": 20,
            }
            for algo, w, m in (("omd", 3, 100.0), ("omd", 12, 400.0), ("omd@mle", 3, 150.0), ("omd@mle", 12, 350.0))
        ]
    )
    fig = figure4(best)
    width_ax, distract_ax = fig.axes[:2]
    assert len(width_ax.get_lines()) >= 2 and not width_ax.texts
    assert [t.get_text() for t in distract_ax.texts] == ["no runs on this axis"] and not distract_ax.get_lines()
    plots.plt.close(fig)
