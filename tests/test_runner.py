"""The local runner and planner: skipping, divergence handling, worker processes, protocol safety."""

import json

import pytest
import torch

from algorithms.td3 import TD3
from bench.cli import build_parser, main
from core.errors import UserError
from results.store import Cell, Store
from runners.grid import RunSpec, make_plan
from runners.local import _threads_per_worker, cell_threads, run_local


def test_default_run_is_smoke_with_td3():
    args = build_parser().parse_args(["run"])
    assert (args.suite, args.algos, args.seeds, args.device) == ("smoke", "td3", "0", "auto")


def test_plan_skips_unsupported_cells_with_a_reason(tmp_path):
    plan = make_plan("smoke", ["td3"], None, [0, 1], Store(tmp_path))
    assert {c.task for c in plan.todo} == {"Pendulum-v1", "cartpole-balance"} and len(plan.todo) == 4
    assert {c.task for c, _ in plan.skipped} == {"CartPole-v1"}
    assert "discrete" in plan.skipped[0][1]


def test_diverged_cell_is_stored_failed_and_sweep_goes_on(tmp_path, monkeypatch):
    store = Store(tmp_path)
    original = TD3.update

    def nan_update(self, step):
        metrics = original(self, step)
        if self.obs_space.shape == (3,):  # only the Pendulum cell diverges
            metrics["critic_loss"] = torch.tensor(float("nan"))
        return metrics

    monkeypatch.setattr(TD3, "update", nan_update)
    cells = [Cell("smoke", "Pendulum-v1", "td3", 0), Cell("smoke", "cartpole-balance", "td3", 0)]
    summary = run_local([RunSpec(c, agent_steps=1200, progress=False) for c in cells], store)
    assert [c.task for c, _ in summary.failed] == ["Pendulum-v1"]
    assert [c.task for c in summary.completed] == ["cartpole-balance"]
    failed = store.read_manifest(cells[0])
    assert failed["status"] == "failed" and "non-finite critic_loss" in failed["reason"]


def test_other_protocol_in_store_is_refused_not_overwritten(tmp_path, capsys):
    store = Store(tmp_path)
    cell = Cell("smoke", "Pendulum-v1", "td3", 0)
    assert main(["run", "--tasks", "Pendulum-v1", "--steps", "300", "--out", str(tmp_path), "--quiet"]) == 0
    capsys.readouterr()
    before = store.manifest_path(cell).read_text()
    assert main(["run", "--tasks", "Pendulum-v1", "--steps", "400", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "another protocol (agent_steps 300, wanted 400)" in err
    assert store.manifest_path(cell).read_text() == before
    with pytest.raises(UserError):
        make_plan("smoke", ["td3"], ["Pendulum-v1"], [0], store, agent_steps=400)


@pytest.mark.slow
def test_workers_run_cells_in_spawned_processes(tmp_path):
    assert main(["run", "--steps", "300", "--seeds", "0,1", "--workers", "2", "--out", str(tmp_path), "--quiet"]) == 0
    store = Store(tmp_path)
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/*/*/*/manifest.json")]
    assert len(manifests) == 4 and all(m["status"] == "complete" for m in manifests)
    assert all(m["hardware"]["torch_threads"] == cell_threads("td3", _threads_per_worker(2)) for m in manifests)
    assert len(store.read_evals(Cell("smoke", "cartpole-balance", "td3", 1))) == 6


def test_threads_per_worker_divides_the_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert [_threads_per_worker(w) for w in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert _threads_per_worker(1) == 1


def test_small_agents_cap_their_torch_threads():
    assert (
        cell_threads("td3", 8)
        == cell_threads("td3@paper2018", 2)
        == cell_threads("omd", 4)
        == cell_threads("mrq", 2)
        == 1
    )
    assert cell_threads("alm", 8) == 8 and cell_threads("iqrl", 2) == 2 and cell_threads("td3", 0) == 1
