"""Analysis: the store as a tidy table, importers on fixtures, aggregates and seeded bootstrap CIs."""
import numpy as np
import pandas as pd
import pytest

from analysis.importers import import_mrq_results, import_td3_curves
from analysis.load import COLUMNS, load_runs
from analysis.scores import AGGREGATES, add_normalized, aggregate_with_ci, final_scores, score_matrix, seeded, task_ci
from bench.errors import UserError
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
    store.write_manifest(cell, {"status": "complete", "cell": {"suite": "smoke", "task": "Pendulum-v1",
                                "algo": "td3@paper2018", "seed": 2}, "protocol": {"protocol_id": "abc"}})
    for step in (0, 100):
        store.append_eval(cell, {"step": step, "env_frames": step, "return_mean": -5.0 + step, "return_std": 0,
                                 "returns": "", "wall_time": 1.0})
    table = load_runs(tmp_path)
    assert table["return"].tolist() == [-5.0, 95.0] and set(table.variant) == {"paper2018"}
    with pytest.raises(UserError, match="no results store"):
        load_runs(tmp_path / "nowhere")


def test_aggregates_on_hand_checkable_matrix():
    m = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0]])  # 2 seeds x 4 tasks
    assert AGGREGATES["mean"](m) == 1.5 and AGGREGATES["median"](m) == 1.5
    assert AGGREGATES["iqm"](m) == 1.5  # trims one task from each end: mean of 1 and 2
    assert AGGREGATES["optimality_gap"](m) == pytest.approx((1.0 + 0.0 + 0 + 0) / 4)
    skewed = np.array([[0.0, 1.0, 2.0, 100.0]])
    assert AGGREGATES["iqm"](skewed) == 1.5 and AGGREGATES["mean"](skewed) == 25.75


def test_bootstrap_is_seeded_and_does_not_touch_global_state():
    rng = np.random.default_rng(0)
    m = rng.normal(1.0, 0.3, size=(10, 6))
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = aggregate_with_ci(m, seed=7, reps=300)
    np.random.seed(999)  # different global state: same seed must give the same intervals
    b = aggregate_with_ci(m, seed=7, reps=300)
    assert a == b
    assert aggregate_with_ci(m, seed=8, reps=300) != a
    low, point, high = a["mean"][1], a["mean"][0], a["mean"][2]
    assert low < point < high
    np.random.seed(123)
    with seeded(1):
        pass
    assert (np.random.get_state()[1] == before).all()


def test_rliable_random_state_alone_does_not_control_resampling():
    """Documents why ``seeded`` exists (rliable 1.2.0 resamples with the global np.random)."""
    from rliable import library as rly

    m = np.random.default_rng(0).normal(size=(5, 4))

    def run(global_seed):
        np.random.seed(global_seed)
        _, ci = rly.get_interval_estimates({"a": m}, lambda x: np.array([x.mean()]), reps=200,
                                           random_state=np.random.RandomState(0))
        return ci["a"]

    assert not np.array_equal(run(1), run(2))


def test_task_ci_and_final_scores():
    mean, low, high = task_ci(np.array([1.0, 2.0, 3.0, 4.0]), seed=0)
    assert mean == 2.5 and 1.0 <= low < 2.5 < high <= 4.0
    table = pd.DataFrame({"suite": "gym", "task": "Hopper-v4", "algo": "x", "seed": [0, 0, 1, 1],
                          "step": [0, 10, 0, 10], "return": [18.791, 3226.0, 18.791, 18.791]})
    scores = add_normalized(final_scores(table), {"gym": "gym-td3"})
    assert scores["normalized"].tolist() == pytest.approx([1.0, 0.0])
    matrix, tasks = score_matrix(scores, "x")
    assert matrix.shape == (2, 1) and tasks == ["Hopper-v4"]
