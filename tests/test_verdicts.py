"""Issue 13's defects, each as a test that failed before the fix: aggregate claims from our own store,
tables that never pool budgets or protocols, diverged seeds counted, seeds not paired across tasks,
one seed without an interval, "final" at the budget, both IQMs labelled."""

import numpy as np
import pandas as pd
import pytest

from analysis.claims import CLAIM_COLUMNS, check, load_claims
from analysis.normalize import _table as normalization_table
from analysis.report import Inputs, build, gather
from analysis.scores import final_scores
from results.store import Cell, Store
from suites import get_suite, get_task

GYM_TASKS = ["Ant-v4", "HalfCheetah-v4", "Hopper-v4", "Humanoid-v4", "Walker2d-v4"]
TARGET = {"Ant-v4": 1.2, "HalfCheetah-v4": 1.6, "Hopper-v4": 0.9, "Humanoid-v4": 1.5, "Walker2d-v4": 1.3}  # normalized


def _raw(task: str, normalized: float) -> float:
    row = normalization_table("gym_td3_random.csv")[task]
    random, td3 = float(row["random"]), float(row["td3"])
    return random + normalized * (td3 - random)


def _gym_store(root, scale: float = 1.0, seeds=range(5)):
    """Our runs of 'mrq' on the 5 gym tasks (real gym protocols), normalized scores TARGET x scale (+- 5% noise)."""
    store = Store(root)
    rng = np.random.default_rng(42)
    suite = get_suite("gym")
    for task in GYM_TASKS:
        protocol = get_task(suite, task).protocol()
        for seed in seeds:
            cell = Cell("gym", task, "mrq", seed)
            store.write_manifest(
                cell,
                {
                    "status": "complete",
                    "cell": {"suite": "gym", "task": task, "algo": "mrq", "seed": seed},
                    "protocol": protocol,
                },
            )
            final = _raw(task, TARGET[task] * scale * (1 + 0.05 * rng.normal()))
            for step in (0, protocol["agent_steps"]):
                store.append_eval(
                    cell,
                    {
                        "step": step,
                        "env_frames": step,
                        "return_mean": final if step else 0.0,
                        "return_std": 0.0,
                        "returns": "",
                        "wall_time": 1.0,
                    },
                )
    return root


def _claims(path, rows):
    base = {
        "paper": "P",
        "table": "T",
        "cell": "c",
        "suite": "gym",
        "task": "*",
        "algo": "mrq",
        "baseline": "",
        "protocol": "env_version=v4;action_repeat=1;eval_episodes=10",
        "step": 1_000_000,
        "metric": "normalized",
        "aggregation": "mean",
        "spread_kind": "ci95",
        "n_seeds": 10,
        "source": "test",
    }
    pd.DataFrame([{**base, **r} for r in rows], columns=CLAIM_COLUMNS).to_csv(path, index=False)
    return load_claims([path])


def test_aggregate_claims_are_checkable_from_our_own_store(tmp_path):
    true_mean = float(np.mean(list(TARGET.values())))  # 1.30
    claims = _claims(
        tmp_path / "c.csv",
        [
            {
                "claim_id": "mean",
                "value": f"{true_mean:.2f}",
                "spread": f"{true_mean - 0.03:.2f};{true_mean + 0.03:.2f}",
            },
            {"claim_id": "median", "aggregation": "median", "value": "1.30", "spread": "1.25;1.35"},
            {"claim_id": "iqm", "aggregation": "iqm-task-mean", "value": "1.33", "spread": "1.29;1.37"},
        ],
    )
    for scale, expected in ((1.0, "consistent"), (0.8, "inconsistent")):
        inputs = gather([_gym_store(tmp_path / f"store{scale}", scale)], None)
        verdicts = check(claims, inputs.data, inputs.protocols, reps=1000)
        assert len(verdicts) == 3 and len({v.evidence for v in verdicts}) == 1  # the 5 tasks are one body of evidence
        assert [v.verdict for v in verdicts] == [expected] * 3, [v.detail for v in verdicts]
        assert all(v.n_seeds == 5 and "over 5 tasks" in v.detail for v in verdicts)


def _rows(algo, task, values, steps=(0, 1000), budget=1000, protocol="p-full", source="runs", seeds=None):
    rows = []
    for i, v in enumerate(values):
        seed = seeds[i] if seeds else i
        for step in steps:
            rows.append(
                {
                    "source": source,
                    "suite": "gym",
                    "task": task,
                    "algo": algo,
                    "variant": "",
                    "seed": seed,
                    "step": step,
                    "env_frames": step,
                    "return": v if step else 0.0,
                    "protocol_id": protocol,
                    "budget": budget,
                    "step_inferred": False,
                }
            )
    return rows


PROTOCOLS = {
    "p-full": {
        "env_version": "v4",
        "action_repeat": "1",
        "eval_episodes": "10",
        "suite_protocol": "full",
        "reduced_budget": "False",
    },
    "p-100": {
        "env_version": "v4",
        "action_repeat": "1",
        "eval_episodes": "10",
        "suite_protocol": "reduced",
        "reduced_budget": "True",
    },
}


def _report(tmp_path, rows, protocols=PROTOCOLS, failed=()):
    build(Inputs(pd.DataFrame(rows), [], protocols, failed=list(failed)), tmp_path, reps=200, progress=False)
    return pd.read_csv(tmp_path / "gym" / "scores.csv", dtype=str).set_index("task")


def test_runs_at_another_budget_get_their_own_row_never_an_average(tmp_path):
    rows = _rows("td3", "Hopper-v4", [3000.0, 3100.0, 3200.0])
    rows += _rows("td3", "Hopper-v4", [500.0, 600.0, 700.0], steps=(0, 100), budget=100, protocol="p-100")
    table = _report(tmp_path, rows)
    assert table.loc["Hopper-v4", "td3"].startswith("3100 [") and table.loc["Hopper-v4", "td3 [100]"].startswith(
        "600 ["
    )


def test_final_is_the_budget_step_never_a_later_evaluation():
    rows = pd.DataFrame(_rows("td3", "Hopper-v4", [10.0, 20.0], steps=(0, 1000, 2000)))
    rows.loc[rows["step"] == 2000, "return"] = 999.0
    assert final_scores(rows)["return"].tolist() == [10.0, 20.0]
    unknown = rows.assign(budget=np.nan)  # imported data without a known budget: the last step every seed reached
    unknown = unknown[~((unknown["seed"] == 1) & (unknown["step"] == 2000))]
    assert final_scores(unknown)["step"].tolist() == [1000, 1000]


def test_a_nan_seed_is_counted_as_diverged_and_never_enters_an_interval(tmp_path):
    rows = _rows("td3", "Hopper-v4", [3000.0, float("nan"), 3200.0])
    table = _report(
        tmp_path,
        rows,
        failed=[{"cell": {"suite": "gym", "task": "Hopper-v4", "algo": "td3", "seed": 9}, "status": "failed"}],
    )
    cell = table.loc["Hopper-v4", "td3"]
    assert "n=2, 2 diverged" in cell and "nan" not in cell
    claims = load_claims([_claims_file_single(tmp_path)])
    (v,) = check(claims, pd.DataFrame(rows + _rows("td3", "Hopper-v4", [3100.0], seeds=[5])), PROTOCOLS)
    assert "1 non-finite seed value(s) excluded" in v.detail and "nan" not in v.detail and v.n_seeds == 3


def _claims_file_single(tmp_path):
    path = tmp_path / "single.csv"
    pd.DataFrame(
        [
            {
                "claim_id": "hop",
                "paper": "P",
                "table": "T",
                "cell": "c",
                "suite": "gym",
                "task": "Hopper-v4",
                "algo": "td3",
                "baseline": "",
                "protocol": "env_version=v4",
                "step": 1000,
                "metric": "return",
                "aggregation": "seed-mean",
                "value": "3100",
                "spread_kind": "std",
                "spread": "100",
                "n_seeds": 5,
                "source": "t",
            }
        ],
        columns=CLAIM_COLUMNS,
    ).to_csv(path, index=False)
    return path


def test_seeds_are_not_paired_by_id_across_tasks(tmp_path):
    rows = []
    for i, task in enumerate(GYM_TASKS):
        rows += _rows(
            "mrq", task, [_raw(task, 1.0 + 0.01 * k) for k in range(3)], seeds=[10 * i, 10 * i + 1, 10 * i + 2]
        )
    _report(tmp_path, rows)
    agg = pd.read_csv(tmp_path / "gym" / "aggregates.csv")
    assert set(agg["algo"]) == {"mrq"} and agg.loc[agg["metric"] == "mean", "point"].item() == pytest.approx(
        1.01, abs=1e-3
    )


def test_one_seed_shows_no_interval_and_its_claims_are_inconclusive(tmp_path):
    rows = _rows("td3", "Hopper-v4", [3000.0])
    assert _report(tmp_path, rows).loc["Hopper-v4", "td3"] == "3000 (n=1)"
    (v,) = check(load_claims([_claims_file_single(tmp_path)]), pd.DataFrame(rows), PROTOCOLS, min_seeds=1)
    assert v.verdict == "inconclusive" and "1 finite seed(s)" in v.detail


def test_both_iqms_are_labelled(tmp_path):
    rows = []
    for task in GYM_TASKS:
        rows += _rows("mrq", task, [_raw(task, TARGET[task] * (1 + 0.1 * k)) for k in range(4)])
    table = _report(tmp_path, rows)
    assert "IQM of task means (MR.Q)" in table.index
    labels = set(pd.read_csv(tmp_path / "gym" / "aggregates.csv")["label"])
    assert {"IQM", "IQM of task means (MR.Q)", "Optimality gap", "Optimality gap of task means (MR.Q)"} <= labels
    page = (tmp_path / "index.html").read_text()
    assert "IQM (gym-td3)" in page and "IQM of task means (MR.Q) (gym-td3)" in page


def test_numbers_print_without_minus_zero_and_with_decimals_per_task_scale(tmp_path):
    from analysis.tables import digits_for, fmt

    assert fmt(-0.4, 0) == "0" and fmt(-0.0004, 3) == "0.000" and fmt(-1.5, 0) == "-2"
    assert [digits_for(v) for v in ([5000.0], [55.0], [2.5], [0.25])] == [0, 1, 2, 3]
    rows = _rows("td3", "Hopper-v4", [3000.4, 3100.2, 3200.9]) + _rows("td3", "Walker2d-v4", [0.21, 0.25, 0.3])
    table = _report(tmp_path, rows)
    assert table.loc["Hopper-v4", "td3"].startswith("3100 [") and table.loc["Walker2d-v4", "td3"].startswith("0.253 [")


def test_report_and_check_share_one_bootstrap(tmp_path, monkeypatch):
    from analysis import stats

    calls = []
    real = stats._metrics
    monkeypatch.setattr(stats, "_metrics", lambda values: calls.append(values[0].shape) or real(values))
    stats._CACHE.clear()
    rows = []
    for task in GYM_TASKS:
        rows += _rows(
            "mrq",
            task,
            [_raw(task, TARGET[task] * (1 + 0.1 * k)) for k in range(4)],
            budget=1_000_000,
            steps=(0, 1_000_000),
        )
    claims = _claims(
        tmp_path / "c.csv",
        [
            {"claim_id": "m", "value": "1.30", "spread": "1.25;1.35"},
            {"claim_id": "q", "aggregation": "iqm", "value": "1.30", "spread": "1.25;1.35"},
        ],
    )
    data = pd.DataFrame(rows)
    inputs = Inputs(data, [], PROTOCOLS)
    build(inputs, tmp_path / "r", reps=200, progress=False)
    before = sum(shape[0] == 200 for shape in calls)
    check(claims, data, PROTOCOLS, reps=200)
    assert sum(shape[0] == 200 for shape in calls) == before  # the check's aggregate bootstraps were already computed
