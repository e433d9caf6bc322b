"""Analysis: the store as a tidy table, importers on fixtures, aggregates and seeded bootstrap CIs."""

import numpy as np
import pandas as pd
import pytest

from analysis import stats
from analysis.importers import import_mrq_results, import_td3_curves
from analysis.load import COLUMNS, load_runs
from analysis.scores import add_normalized, final_scores, per_task
from core.errors import UserError
from results.store import Cell, Store

MRQ_FIXTURE = (
    "--------------------\n"
    "Env: Gym-Hopper-v4\n"
    "Timestep\tSeed 0\t\tSeed 1\n"
    "0\t\t10.5\t20.25\n"
    "5000\t\t100.0\t\t300.0\n"
    "--------------------\n"
    "Env: Dmc-visual-walker-walk\n"
    "Timestep\tSeed 0\t\tSeed 1\n"
    "0\t\t1.0\t2.0\n"
)


def test_mrq_importer_on_a_fixture(tmp_path):
    path = tmp_path / "gym_results.txt"
    path.write_text(MRQ_FIXTURE)
    table = import_mrq_results(path)
    assert list(table.columns) == COLUMNS and len(table) == 6
    hopper = table[table.task == "Hopper-v4"]
    assert set(hopper.suite) == {"gym"} and hopper[hopper.step == 5000]["return"].tolist() == [100.0, 300.0]
    walker = table[table.task == "walker-walk"]
    assert set(walker.suite) == {"dmc-visual"} and set(walker.env_frames) == {0}


def test_mrq_importer_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "atari_results.txt"
    bad.write_text("Env: Atari-Pong-v5\nTimestep\tSeed 0\n0\t\tabc\n")
    with pytest.raises(UserError, match=r"atari_results.txt:3: non-numeric"):
        import_mrq_results(bad)
    with pytest.raises(UserError, match="unknown MR.Q environment name"):
        (tmp_path / "x_results.txt").write_text("Env: Foo-bar\n")
        import_mrq_results(tmp_path / "x_results.txt")


def test_td3_importer_on_a_fixture(tmp_path):
    folder = tmp_path / "learning_curves" / "Hopper"
    folder.mkdir(parents=True)
    for seed in (0, 1):
        np.save(folder / f"TD3_Hopper-v1_{seed}.npy", np.arange(3, dtype=np.float64) + seed)
    table = import_td3_curves(tmp_path / "learning_curves")
    assert len(table) == 6 and table[(table.seed == 1) & (table.step == 10000)]["return"].item() == 3.0


def test_load_runs_reads_complete_cells(tmp_path):
    store = Store(tmp_path)
    cell = Cell("smoke", "Pendulum-v1", "td3@paper2018", 2)
    store.write_manifest(
        cell,
        {
            "status": "complete",
            "cell": {"suite": "smoke", "task": "Pendulum-v1", "algo": "td3@paper2018", "seed": 2},
            "protocol": {"protocol_id": "abc"},
        },
    )
    for step in (0, 100):
        store.append_eval(
            cell,
            {
                "step": step,
                "env_frames": step,
                "return_mean": -5.0 + step,
                "return_std": 0,
                "returns": "",
                "wall_time": 1.0,
            },
        )
    table = load_runs(tmp_path)
    assert table["return"].tolist() == [-5.0, 95.0] and set(table.variant) == {"paper2018"}
    with pytest.raises(UserError, match="no results store"):
        load_runs(tmp_path / "nowhere")


def test_aggregates_on_hand_checkable_matrix():
    tasks = [
        np.array([0.0, 0.0]),
        np.array([1.0, 1.0]),
        np.array([2.0, 2.0]),
        np.array([3.0, 3.0]),
    ]  # 4 tasks x 2 seeds
    agg = {m: stats.aggregate(tasks, m) for m in stats.METRICS}
    assert agg["mean"] == 1.5 and agg["median"] == 1.5
    assert (
        agg["iqm"] == 1.5 and agg["iqm_task_mean"] == 1.5
    )  # 8 runs: trims 2 from each end; 4 task means: 1 from each end
    assert agg["optimality_gap"] == pytest.approx(0.25) and agg["optimality_gap_task_mean"] == pytest.approx(0.25)
    skewed = [np.array([0.0]), np.array([1.0]), np.array([2.0]), np.array([100.0])]
    assert stats.aggregate(skewed, "iqm") == 1.5 and stats.aggregate(skewed, "mean") == 25.75


def test_run_level_iqm_is_rliables_and_differs_from_the_task_mean_form():
    from rliable import metrics

    rng = np.random.default_rng(3)
    m = rng.lognormal(0.0, 1.0, size=(5, 7))  # seeds x tasks, skewed within tasks
    tasks = list(m.T)
    assert stats.aggregate(tasks, "iqm") == pytest.approx(metrics.aggregate_iqm(m))
    assert stats.aggregate(tasks, "optimality_gap") == pytest.approx(metrics.aggregate_optimality_gap(m))
    assert stats.aggregate(tasks, "mean") == pytest.approx(metrics.aggregate_mean(m))
    assert stats.aggregate(tasks, "median") == pytest.approx(metrics.aggregate_median(m))
    assert abs(stats.aggregate(tasks, "iqm") - stats.aggregate(tasks, "iqm_task_mean")) > 0.01


def test_ragged_seed_counts_weigh_each_task_equally():
    tasks = [np.array([1.0, 1.0, 1.0, 1.0]), np.array([3.0])]  # 4 seeds on one task, 1 on the other
    assert stats.aggregate(tasks, "mean") == 2.0 and stats.aggregate(tasks, "iqm") == pytest.approx(2.0)
    # the same numbers with the single seed repeated: equal weights, the exact trimmed mean
    assert stats.aggregate([np.ones(4), np.full(4, 3.0)], "iqm") == pytest.approx(2.0)


def test_bootstrap_is_seeded_and_does_not_touch_global_state():
    rng = np.random.default_rng(0)
    tasks = list(rng.normal(1.0, 0.3, size=(10, 6)).T)
    np.random.seed(123)
    a = stats.aggregate_interval(tasks, "mean", seed=7, reps=300)
    np.random.seed(999)  # different global state: same seed must give the same intervals
    before = np.random.get_state()[1].copy()
    stats._CACHE.clear()
    b = stats.aggregate_interval(tasks, "mean", seed=7, reps=300)
    assert a == b
    assert stats.aggregate_interval(tasks, "mean", seed=8, reps=300) != a
    assert a.low < a.point < a.high
    assert (np.random.get_state()[1] == before).all()


def test_one_seed_has_no_interval():
    assert not stats.t_interval(np.array([5.0])).has_interval
    assert not stats.aggregate_interval([np.array([1.0]), np.array([1.0, 2.0])], "mean").has_interval


def test_task_ci_and_final_scores():
    e = stats.t_interval(np.array([1.0, 2.0, 3.0, 4.0]))
    assert e.point == 2.5 and (e.low, e.high) == pytest.approx(
        (2.5 - 3.182446 * 0.645497, 2.5 + 3.182446 * 0.645497), abs=1e-5
    )
    table = pd.DataFrame(
        {
            "suite": "gym",
            "task": "Hopper-v4",
            "algo": "x",
            "seed": [0, 0, 1, 1],
            "step": [0, 10, 0, 10],
            "return": [18.791, 3226.0, 18.791, 18.791],
        }
    )
    scores = add_normalized(final_scores(table), {"gym": "gym-td3"})
    assert scores["normalized"].tolist() == pytest.approx([1.0, 0.0])
    tasks, excluded = per_task(scores, "x")
    assert [len(t) for t in tasks] == [2] and excluded == 0
