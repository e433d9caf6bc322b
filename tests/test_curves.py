"""Curve checks (analysis/curves.py): our stored runs against published curves, step by step, with a
tested per-cell error rate; a crippled agent's stored curve is called 'differs'."""

import numpy as np
import pandas as pd

from analysis import curves
from analysis.report import gather
from bench.cli import main
from results.store import Cell, Store
from suites import get_suite, get_task

STEPS = np.arange(0, 105_000, 5000)


def _published_td3(folder, rng, seeds=10):
    folder.mkdir(parents=True)
    for seed in range(seeds):  # TD3's learning_curves format: one .npy of evaluations every 5000 steps
        np.save(
            folder / f"TD3_HalfCheetah-v1_{seed}.npy",
            5000 * (1 - np.exp(-STEPS / 40_000)) + rng.normal(0, 300, len(STEPS)),
        )
    return folder


def _our_store(root, rng, curve, seeds=5, reduced=False, declared=()):
    store = Store(root)
    task = get_task(get_suite("gym"), "HalfCheetah-v4")
    task = task.with_budget(100_000) if reduced else task
    protocol = task.protocol()
    for seed in range(seeds):
        cell = Cell("gym", "HalfCheetah-v4", "td3", seed)
        manifest = {
            "status": "complete",
            "cell": {"suite": "gym", "task": "HalfCheetah-v4", "algo": "td3", "seed": seed},
            "protocol": protocol,
        }
        if declared is not None:
            manifest["budget_dependent_fields"] = list(declared)
        store.write_manifest(cell, manifest)
        values = curve(STEPS) + rng.normal(0, 300, len(STEPS))
        for step, value in zip(STEPS, values):
            store.append_eval(
                cell,
                {
                    "step": int(step),
                    "env_frames": int(step),
                    "return_mean": float(value),
                    "return_std": 0.0,
                    "returns": "",
                    "wall_time": 1.0,
                },
            )
    return root


def _verdicts(store, published, **kw):
    inputs = gather([store], [published])
    return curves.check_curves(inputs.data, inputs.protocols, curves.declarations(inputs.manifests), **kw)


def test_a_faithful_run_matches_and_a_crippled_one_differs(tmp_path):
    rng = np.random.default_rng(0)
    published = _published_td3(tmp_path / "td3", rng)
    good = _our_store(tmp_path / "good", rng, lambda s: 5000 * (1 - np.exp(-s / 40_000)), reduced=True)
    crippled = _our_store(
        tmp_path / "bad", rng, lambda s: 0.3 * 5000 * (1 - np.exp(-s / 40_000)), reduced=True
    )  # e.g. a frozen critic
    (v,) = _verdicts(good, published)
    assert v.verdict == "refused" and "env_version: ours v4, published v1" in v.detail  # the 2018 runs used -v1
    (v,) = _verdicts(good, published, allow_protocol_mismatch=True)
    assert v.verdict == "matches" and v.step == 100_000 and "protocol differences accepted: env_version" in v.detail
    assert "TD3's entry i taken as agent step 5000 i" in v.detail
    (v,) = _verdicts(crippled, published, allow_protocol_mismatch=True)
    assert v.verdict == "differs" and 0 < v.step < 100_000 and v.interval[1] < 0


def test_a_reduced_budget_run_needs_the_agents_declaration(tmp_path):
    rng = np.random.default_rng(1)
    published = _published_td3(tmp_path / "td3", rng)
    curve = lambda s: 5000 * (1 - np.exp(-s / 40_000))  # noqa: E731
    (v,) = _verdicts(
        _our_store(tmp_path / "undeclared", rng, curve, reduced=True, declared=None),
        published,
        allow_protocol_mismatch=True,
    )
    assert v.verdict == "refused" and "does not declare budget_dependent_fields" in v.detail
    (v,) = _verdicts(
        _our_store(tmp_path / "dependent", rng, curve, reduced=True, declared=("noise_decay_steps",)),
        published,
        allow_protocol_mismatch=True,
    )
    assert v.verdict == "refused" and "noise_decay_steps" in v.detail


def test_identical_curves_are_called_different_at_most_five_percent_per_cell():
    rng = np.random.default_rng(2)
    steps = np.arange(0, 21) * 5000
    mean = 4000 * (1 - np.exp(-steps / 30_000))
    differs = 0
    trials = 400
    for _ in range(trials):

        def runs(n):  # seeds with a persistent offset (curves are correlated across steps) plus per-step noise
            offset = rng.normal(0, 200, (n, 1))
            v = mean + offset + rng.normal(0, 150, (n, len(steps)))
            return pd.DataFrame({"step": np.repeat(steps[None], n, 0).ravel(), "return": v.ravel()})

        verdict, *_ = curves.compare_curves(runs(5), runs(5))
        differs += verdict == "differs"
    assert differs / trials <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / trials)


def test_bench_check_against_prints_per_cell_verdicts(tmp_path, capsys):
    rng = np.random.default_rng(3)
    published = _published_td3(tmp_path / "td3", rng)
    store = _our_store(tmp_path / "bad", rng, lambda s: 0.3 * 5000 * (1 - np.exp(-s / 40_000)), reduced=True)
    assert main(["check", "--runs", str(store), "--against", str(published), "--allow-protocol-mismatch"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert (
        out[0].startswith("differs       gym/HalfCheetah-v4 td3 vs td3-paper:gym-v1: differs from step")
        and out[-1] == "0 matches, 1 differs, 0 inconclusive, 0 refused"
    )
    assert main(["check", "--runs", str(tmp_path / "td3"), "--against", str(published)]) == 2  # not a store


def test_the_leaderboard_has_a_reproduction_status_from_the_evidence(tmp_path):
    from analysis.report import build

    rng = np.random.default_rng(4)
    published = _published_td3(tmp_path / "td3", rng)
    good = _our_store(tmp_path / "good", rng, lambda s: 5000 * (1 - np.exp(-s / 40_000)), reduced=True)
    build(gather([good], [published]), tmp_path / "report", reps=100, progress=False)
    status = pd.read_csv(tmp_path / "report" / "reproduction.csv")
    assert status["status"].tolist() == ["matches published up to step 100,000 (5 seeds)"] and status[
        "our algo"
    ].tolist() == ["td3"]
    assert "Reproduction status" in (tmp_path / "report" / "index.html").read_text()
    build(gather(None, [published]), tmp_path / "report2", reps=100, progress=False)
    assert pd.read_csv(tmp_path / "report2" / "reproduction.csv")["status"].tolist() == ["not yet run"]
