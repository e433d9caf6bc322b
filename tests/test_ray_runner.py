"""The Ray Tune runner on a local 2-CPU instance: same store layout as the local runner, retries from
the cell's checkpoint, failures recorded while the sweep completes, driver death, and W&B offline."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from results.store import Cell, Store
from runners.config import config_id

TINY = ["--suite", "smoke", "--tasks", "Pendulum-v1", "--algos", "td3", "--quiet"]
RAY = ["--runner", "ray", "--cpus-per-trial", "1"]


def _files(root: Path) -> set[str]:
    runs = root / "runs"
    return {str(p.relative_to(runs)) for p in runs.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_ray_layout_equals_local_and_failed_trial_is_retried(tmp_path, monkeypatch):
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    args = TINY + ["--seeds", "0,1", "--steps", "2400"]
    assert main(["run", *args, "--out", str(local)]) == 0
    # seed 0 fails once at step 2000 (after its checkpoint at 1600); Tune retries it from that checkpoint
    monkeypatch.setenv("BENCH_INJECT_FAULT", "smoke/Pendulum-v1/td3/seed0@2000")
    assert main(["run", *args, *RAY, "--out", str(ray_out), "--max-failures", "1"]) == 0
    assert _files(local) == _files(ray_out) - {"smoke/Pendulum-v1/td3/0/.fault_injected"}
    store = Store(ray_out)
    manifest = store.read_manifest(Cell("smoke", "Pendulum-v1", "td3", 0))
    assert manifest["status"] == "complete" and manifest["resumes"] == 1
    steps = [int(r["step"]) for r in store.read_evals(Cell("smoke", "Pendulum-v1", "td3", 0))]
    assert steps == [0, 480, 960, 1440, 1920, 2400]  # none lost, none duplicated


@pytest.mark.slow
def test_always_failing_cell_is_recorded_and_the_rest_completes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_INJECT_FAULT", "smoke/Pendulum-v1/td3/seed1@1000:always")
    code = main(
        ["run", *TINY, "--seeds", "0,1", "--steps", "1200", *RAY, "--out", str(tmp_path), "--max-failures", "1"]
    )
    assert code == 1
    assert "1 completed, 0 already complete, 0 skipped (unsupported), 1 failed" in capsys.readouterr().err
    store = Store(tmp_path)
    failed = store.read_manifest(Cell("smoke", "Pendulum-v1", "td3", 1))
    assert failed["status"] == "failed" and "injected fault at agent step 1000" in failed["reason"]
    assert store.is_complete(Cell("smoke", "Pendulum-v1", "td3", 0))


@pytest.mark.slow
def test_rerun_after_driver_killed_completes_only_missing_cells(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "bench.cli",
        "run",
        *TINY,
        "--seeds",
        "0-2",
        "--steps",
        "1500",
        *RAY,
        "--max-concurrent",
        "1",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    store, first = Store(tmp_path), None
    deadline = time.time() + 300
    while time.time() < deadline and first is None:
        done = [c for c in (Cell("smoke", "Pendulum-v1", "td3", s) for s in range(3)) if store.is_complete(c)]
        first = done[0] if done else None
        time.sleep(0.2)
    assert first is not None, "no cell completed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and everything it started
    proc.wait()
    subprocess.run(["ray", "stop", "--force"], capture_output=True, timeout=60, env=_ray_env())
    end_time = store.read_manifest(first)["end_time"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"have   {first.label}" in again.stderr  # the finished cell is not scheduled again
    assert store.read_manifest(first)["end_time"] == end_time
    assert all(store.is_complete(Cell("smoke", "Pendulum-v1", "td3", s)) for s in range(3))


def _ray_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_seed_batched_sweep_on_a_cluster_survives_a_killed_worker(tmp_path):
    """The cluster path: a head and a worker started with `ray start` (one CPU each, separate temp dirs),
    `bench run --runner ray --address auto --seed-batch 2` over seeds 0-3 (two seed groups, one trial each),
    the worker node killed once both groups have a checkpoint. The sweep completes from the store (Tune
    retries the lost group on the head, or a re-run of the command does), every seed is its own complete
    cell, and the store holds exactly the files an unbatched local run writes."""
    import shutil
    import tempfile

    temp = Path(tempfile.mkdtemp(prefix="lb-ray-", dir="/tmp"))  # short: Ray's socket paths must fit 107 chars
    port = _free_port()
    plain = {**_ray_env(), "RAY_AUTH_MODE": "disabled"}  # `ray start` turns token auth on by default (Ray 2.5x)
    env = {**plain, "RAY_ADDRESS": f"127.0.0.1:{port}"}  # what `--address auto` resolves to
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats", "--block"]
    head = subprocess.Popen(
        ["ray", "start", "--head", "--port", str(port), "--temp-dir", str(temp / "head"), *common],
        env=plain,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker = None
    try:
        deadline = time.time() + 120
        while subprocess.run(["ray", "status"], env=env, capture_output=True).returncode != 0:
            assert time.time() < deadline and head.poll() is None, "the head did not start"
            time.sleep(1)
        worker = subprocess.Popen(
            ["ray", "start", "--address", env["RAY_ADDRESS"], "--temp-dir", str(temp / "worker"), *common],
            env=plain,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        while "/2.0 CPU" not in subprocess.run(["ray", "status"], env=env, capture_output=True, text=True).stdout:
            assert time.time() < deadline and worker.poll() is None, "the worker did not join"
            time.sleep(1)
        out, local = tmp_path / "cluster", tmp_path / "local"
        args = [*TINY, "--seeds", "0-3", "--steps", "3000", "--set", "hidden=[16,16]"]
        cmd = [sys.executable, "-m", "bench.cli", "run", *args, "--seed-batch", "2"]
        cmd += [*RAY, "--address", "auto", "--max-failures", "2", "--out", str(out)]
        driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        store = Store(out)
        cells = [Cell("smoke", "Pendulum-v1", "td3", s, config_id({"hidden": [16, 16]})) for s in range(4)]
        while not all((store.read_manifest(c) or {}).get("checkpoint_step") for c in cells):
            assert time.time() < deadline + 300 and driver.poll() is None, "no checkpoint before the run ended"
            time.sleep(0.2)
        assert not any(store.is_complete(c) for c in cells)  # mid-sweep
        os.killpg(worker.pid, signal.SIGKILL)  # the worker node and the trial it runs
        worker.wait()
        driver.communicate(timeout=600)
        if not all(store.is_complete(c) for c in cells):  # the sweep completes from the store on a re-run
            again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            assert again.returncode == 0, again.stderr
        manifests = [store.read_manifest(c) for c in cells]
        assert all(m["status"] == "complete" and m["seed_batch"] == 2 for m in manifests), manifests
        assert [m["seed_batch_members"] for m in manifests] == [[0, 1], [0, 1], [2, 3], [2, 3]]
        assert any(m["resumes"] >= 1 for m in manifests)  # the killed group went on from its checkpoints
        assert main(["run", *args, "--out", str(local)]) == 0
        assert _files(local) == _files(out)
    finally:
        for proc in (worker, head):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_unreachable_address_is_one_line_error(capsys, tmp_path):
    code = main(["run", *TINY, "--runner", "ray", "--address", "127.0.0.1:1", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("bench: error: --address 127.0.0.1:1: cannot reach a Ray head")


@pytest.mark.slow
def test_impossible_resources_are_refused_before_scheduling(capsys, tmp_path):
    code = main(["run", *TINY, "--runner", "ray", "--gpus-per-trial", "1", "--out", str(tmp_path)])
    assert code == 2 and "impossible resources" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_wandb_offline_writes_metrics_to_the_run_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert main(["run", *TINY, "--steps", "2000", "--set", "start_steps=500", "--wandb", "--out", str(tmp_path)]) == 0
    cell_dir = Store(tmp_path).cell_dir(Cell("smoke", "Pendulum-v1", "td3", 0, config_id({"start_steps": 500})))
    manifest = json.loads((cell_dir / "manifest.json").read_text())
    run_id = manifest["wandb"]["run_id"]
    runs = list((cell_dir / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(runs) == 1
    data = list(runs[0].glob("run-*.wandb"))
    assert len(data) == 1
    records = data[0].read_bytes()  # the offline record log (protobuf); metric keys are stored verbatim
    assert b"eval/return_mean" in records and b"train/critic_loss" in records
