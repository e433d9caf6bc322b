"""Hardening: checkpoints are plain data, values from files never become paths unchecked, one writer per
cell, every bad input a one-line error that touches nothing."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from algorithms.common.replay import TransitionReplay
from algorithms.common.safe_state import decode, encode, load_state, save_state
from bench.cli import main
from core.errors import UserError
from results.store import Cell, Store

SMOKE = ["--suite", "smoke", "--tasks", "Pendulum-v1", "--algos", "td3", "--quiet"]
CELL = Cell("smoke", "Pendulum-v1", "td3", 0)


class _Evil:
    """A pickle that runs a command when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    store = Store(tmp_path / "store")
    ckpt = store.checkpoint_path(CELL)
    ckpt.parent.mkdir(parents=True)
    torch.save({"agent": _Evil(marker), "loop": {}}, ckpt)
    with pytest.raises(UserError, match=r"refused checkpoint .*state\.pt: it is not plain data"):
        load_state(ckpt)
    assert main(["run", *SMOKE, "--steps", "300", "--out", str(store.root)]) == 1
    err = capsys.readouterr().err
    assert f"refused checkpoint {ckpt}" in err
    assert not marker.exists()
    assert store.read_manifest(CELL) is None and not store.evals_path(CELL).exists()  # nothing written


def test_crafted_representation_file_is_refused(tmp_path):
    from algorithms import resolve
    from suites import get_suite, get_task

    marker, path = tmp_path / "pwned", tmp_path / "agent_final.pt"
    torch.save({"modules": _Evil(marker)}, path)
    task = get_task(get_suite("smoke"), "Pendulum-v1")
    env = task.make(0)
    cls, cfg = resolve("iqrl", {"init_representation_from": str(path)})
    with pytest.raises(UserError, match=rf"refused init_representation_from file {path}"):
        cls(env.observation_space, env.action_space, cfg, "cpu", 0)
    assert not marker.exists()


def test_corrupt_checkpoint_names_the_file_and_how_to_restart(tmp_path):
    path = tmp_path / "state.pt"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match=rf"corrupt checkpoint {path} .*; delete it"):
        load_state(path, remedy="; delete it")


def test_rng_states_round_trip_as_plain_data():
    legacy = np.random.RandomState(3)
    legacy.standard_normal(5)  # a cached gaussian in the state
    gen = np.random.default_rng(7)
    state = {
        "legacy": legacy.get_state(),
        "global": np.random.get_state(),
        "pcg": gen.bit_generator.state,
        "scalar": np.float32(1.5),
        "f64": np.arange(4.0),
    }
    buf = io.BytesIO()
    save_state(state, buf)
    buf.seek(0)
    back = load_state(buf)
    restored = np.random.RandomState()
    restored.set_state(back["legacy"])
    assert np.array_equal(restored.standard_normal(10), legacy.standard_normal(10))
    assert back["pcg"] == gen.bit_generator.state and back["scalar"] == 1.5
    assert back["f64"].dtype == np.float64 and np.array_equal(back["f64"], np.arange(4.0))
    assert decode(encode(state["global"]))[1].dtype == np.uint32


def test_replay_checkpoint_holds_only_the_filled_part_as_copies():
    replay = TransitionReplay((3,), 1, 1_000_000, torch.device("cpu"))
    for i in range(600):
        replay.add(np.full(3, i, np.float32), np.zeros(1), 1.0, np.zeros(3), False)
    state = replay.state_dict()
    buf = io.BytesIO()
    save_state(state, buf)
    assert len(buf.getvalue()) < 100_000  # 600 x (3 + 3 + 1 + 1 + 1) floats, not the 1M-slot storage (36 MB)
    replay.obs[0] = -1.0
    assert state["obs"][0, 0] == 0.0  # a copy, not a view of the live buffer


# ------------------------------------------------------------------------------ one writer per cell


def test_a_second_writer_is_told_who_holds_the_cell_and_writes_nothing(tmp_path, capsys):
    from results.lock import CellLock

    store = Store(tmp_path / "store")
    with CellLock(store.cell_dir(CELL)):  # another writer (this pid) holds the cell
        assert main(["run", *SMOKE, "--steps", "300", "--out", str(store.root)]) == 1
        err = capsys.readouterr().err
        assert f"busy   {CELL.label}: {store.cell_dir(CELL)} is being written by pid {os.getpid()}" in err
        assert "1 busy" in err
        assert sorted(p.name for p in store.cell_dir(CELL).iterdir()) == [".lock"]
    assert main(["run", *SMOKE, "--steps", "300", "--out", str(store.root)]) == 0  # released: it runs
    assert [r["step"] for r in store.read_evals(CELL)] == [str(s) for s in range(0, 301, 60)]


def test_two_writers_started_together_write_each_row_once(tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "bench.cli", "run", *SMOKE, "--steps", "300", "--out", str(tmp_path)]
    first = subprocess.Popen(cmd + ["--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(cmd + ["--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    assert [r["step"] for r in Store(tmp_path).read_evals(CELL)] == [
        str(s) for s in range(0, 301, 60)
    ]  # once each, whoever ran it
    assert Store(tmp_path).read_manifest(CELL)["resumes"] == 0


def test_stale_temp_files_are_removed_when_a_cell_starts(tmp_path):
    store = Store(tmp_path)
    stale = store.checkpoint_path(CELL).parent / ".state.pt.abc123.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a checkpoint")
    assert main(["run", *SMOKE, "--steps", "300", "--out", str(tmp_path)]) == 0
    assert not stale.exists() and not list(store.cell_dir(CELL).rglob("*.tmp"))


def test_store_files_follow_the_umask(tmp_path):
    from results.store import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o600


def test_disk_full_marks_the_cell_failed_with_the_reason(tmp_path, monkeypatch):
    import errno
    import tempfile

    import runners.loop

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def checkpoint_then_disk_full(state, path):  # the checkpoint write fills the disk: no new file can be made
        monkeypatch.setattr(tempfile, "mkstemp", full)
        full()

    monkeypatch.setattr(runners.loop, "save_state", checkpoint_then_disk_full)
    store = Store(tmp_path)
    code = main(["run", *SMOKE, "--steps", "1500", "--out", str(tmp_path)])
    monkeypatch.undo()
    manifest = store.read_manifest(CELL)
    assert code == 1
    assert manifest["status"] == "failed" and "No space left on device" in manifest["reason"], manifest


# ------------------------------------------------------------------------------ paths from data


@pytest.mark.parametrize("name", ["../../outside", "/tmp/outside", "a/b", "..", ".hidden", "", "x\x00y"])
def test_names_from_files_never_become_paths(name):
    from results.names import safe_name

    with pytest.raises(UserError, match="cannot name a file or folder"):
        safe_name(name, "suite", "manifest.json")


@pytest.mark.parametrize(
    "name", ["smoke", "dmc-proprio", "Pendulum-v1", "mrq@no-lap", "td3 [lr=0.001]", "latent_rank_tol0.01"]
)
def test_names_of_real_suites_tasks_and_algorithms_are_accepted(name):
    from results.names import safe_name

    assert safe_name(name, "suite") == name


def test_report_refuses_a_traversal_suite_from_published_data(tmp_path):
    import pandas as pd

    from analysis.load import COLUMNS
    from analysis.report import Inputs, build

    data = pd.DataFrame(
        [
            {
                "source": "published:x.csv",
                "suite": "../../outside",
                "task": "t",
                "algo": "a@published",
                "variant": "published",
                "seed": 0,
                "step": 0,
                "env_frames": 0,
                "return": 1.0,
                "protocol_id": "p",
            }
        ],
        columns=COLUMNS,
    )
    out = tmp_path / "a" / "b" / "report"
    with pytest.raises(
        UserError, match=r"data from published:x.csv: suite '../../outside' cannot name a file or folder"
    ):
        build(Inputs(data, [], {}), out, reps=10, progress=False)
    assert [p.name for p in tmp_path.rglob("*")] == ["a", "b", "report"]  # only --out itself, nothing outside it


def test_traversal_manifest_is_refused_and_nothing_is_written_outside_out(tmp_path, capsys):
    import json

    store = Store(tmp_path / "store")
    store.write_manifest(
        CELL,
        {
            "status": "complete",
            "cell": {"suite": "../../../../outside", "task": "Pendulum-v1", "algo": "td3", "seed": 0},
            "protocol": {"protocol_id": "p"},
        },
    )
    store.append_eval(
        CELL, {"step": 0, "env_frames": 0, "return_mean": 1.0, "return_std": 0.0, "returns": "", "wall_time": 1.0}
    )
    out = tmp_path / "r" / "e" / "p" / "o"
    assert main(["report", "--runs", str(store.root), "--out", str(out), "--quiet"]) == 2
    assert "cell suite '../../../../outside' cannot name a file or folder" in capsys.readouterr().err
    assert not (tmp_path / "outside").exists() and not out.exists()
    assert json.loads(store.manifest_path(CELL).read_text())["status"] == "complete"


# ------------------------------------------------------------------------------ workers die with their parent

_PARENT = """
import concurrent.futures as cf, multiprocessing as mp, os, sys, time
from runners.local import die_with_parent

def report_pid(path):
    open(path, "w").write(str(os.getpid()))
    time.sleep(600)

if __name__ == "__main__":
    pool = cf.ProcessPoolExecutor(
        1, mp_context=mp.get_context("spawn"), initializer=die_with_parent, initargs=(os.getpid(),)
    )
    pool.submit(report_pid, sys.argv[1])
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.05)
    os.kill(os.getpid(), 9)  # the parent is SIGKILLed (no cleanup runs)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc")
def test_spawned_workers_die_with_a_sigkilled_parent(tmp_path):
    import subprocess
    import sys
    import time

    script, pid_file = tmp_path / "parent.py", tmp_path / "worker.pid"
    script.write_text(_PARENT)
    parent = subprocess.run([sys.executable, str(script), str(pid_file)], timeout=300)
    assert parent.returncode == -9
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 120  # an upper bound only: the kernel kills it at once
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)


def test_an_iqrl_final_file_initialises_a_representation_through_weights_only(tmp_path):
    import dataclasses

    from runners.loop import resolve_config
    from suites import get_suite, get_task

    env = get_task(get_suite("smoke"), "Pendulum-v1").make(0)
    cls, cfg = resolve_config("smoke", "iqrl", None, task="Pendulum-v1")
    source = cls(env.observation_space, env.action_space, cfg, "cpu", 0)
    path = tmp_path / "agent_final.pt"  # as loop.train writes it
    save_state(
        {"modules": {k: m.state_dict() for k, m in source.modules().items()}, "config": dataclasses.asdict(cfg)}, path
    )
    _, cfg2 = resolve_config("smoke", "iqrl", {"init_representation_from": str(path)}, task="Pendulum-v1")
    target = cls(env.observation_space, env.action_space, cfg2, "cpu", 1)
    for a, b in zip(source.encoder.parameters(), target.encoder.parameters()):
        assert torch.equal(a, b)
    fresh = cls(env.observation_space, env.action_space, cfg, "cpu", 1)
    assert not all(torch.equal(a, b) for a, b in zip(source.encoder.parameters(), fresh.encoder.parameters()))


# ------------------------------------------------------------------------------ config values


def test_every_shipped_config_passes_its_own_validation():
    from algorithms import all_algo_ids
    from runners.loop import resolve_config
    from suites import suites

    for suite in suites().values():
        for algo in all_algo_ids():
            for task in suite.tasks:
                resolve_config(suite.name, algo, None, task=task.name)  # defaults <- variant <- suite <- task


@pytest.mark.parametrize(
    "algo,overrides,what",
    [
        ("iqrl", {"q_sample_size": 6}, "q_sample_size=6; valid: q_sample_size <= num_critics (5)"),
        ("iqrl", {"rho": 0.0}, "rho=0.0; valid: 0 < rho <= 1"),
        ("alm", {"td_lambda": 1.5}, "td_lambda=1.5; valid: 0 <= td_lambda <= 1"),
        ("omd", {"epsilon": -0.1}, "epsilon=-0.1"),
        ("omd", {"q_hidden": ()}, "q_hidden=()"),
        ("mrq", {"lower": 10.0, "upper": -10.0}, "lower=10.0; valid: lower <= upper"),
        (
            "td3@paper2018",
            {"buffer_size": 50},
            "bad td3@paper2018 config value batch_size=100; valid: batch_size <= buffer_size (50)",
        ),
    ],
)
def test_each_agent_owns_its_ranges(algo, overrides, what):
    from algorithms import resolve

    with pytest.raises(UserError) as info:
        resolve(algo, overrides)
    assert what in str(info.value) and "\n" not in str(info.value)


def _td3_agent():
    from algorithms import resolve
    from suites import get_suite, get_task

    env = get_task(get_suite("smoke"), "Pendulum-v1").make(0)
    cls, cfg = resolve("td3", {})
    return cls(env.observation_space, env.action_space, cfg, "cpu", 0)


@pytest.mark.parametrize("written_by", [None, "0123456789abcdef" * 2 + "01234567"])
def test_checkpoint_from_another_version_says_so_not_corrupt(tmp_path, written_by):
    """A checkpoint whose agent state no longer fits (a renamed module) names the commit that wrote it;
    one written by this very commit that does not fit is corrupt."""
    from core.provenance import git_state
    from runners.loop import Checkpoint

    agent = _td3_agent()
    state = agent.state_dict()
    state["modules"] = {"renamed_" + k: v for k, v in state["modules"].items()}
    ckpt = Checkpoint(tmp_path / "checkpoint.pt")
    saved = {"agent": state} if written_by is None else {"agent": state, "written_by": written_by}
    with pytest.raises(UserError) as err:
        ckpt.restore(agent, None, None, {}, state=saved)
    msg = str(err.value)
    assert "corrupt" not in msg and "state layout changed" in msg and f"rm {ckpt.path}" in msg
    assert ("at commit 0123456789" if written_by else "before checkpoints recorded their version") in msg
    if git_state()["sha"] is not None:
        with pytest.raises(UserError, match=rf"corrupt checkpoint {ckpt.path} \(ValueError: checkpoint holds"):
            ckpt.restore(agent, None, None, {}, state={"agent": state, "written_by": git_state()["sha"]})
