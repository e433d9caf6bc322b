"""SIGKILL a run mid-way, re-run the same command: it resumes from the checkpoint, loses and duplicates
no evaluation row, completes its manifest, and gives exactly the evaluations of an uninterrupted run."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CMD = [
    sys.executable,
    "-m",
    "bench.cli",
    "run",
    "--suite",
    "smoke",
    "--tasks",
    "Pendulum-v1",
    "--algos",
    "td3",
    "--steps",
    "2400",
    "--quiet",
]
CELL = Path("runs/smoke/Pendulum-v1/td3/0")


def _run(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(CMD + ["--out", str(out)], capture_output=True, text=True, timeout=600)


def _evals(out: Path) -> list[dict]:
    with open(out / CELL / "evals.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_exactly(tmp_path):
    reference = _run(tmp_path / "uninterrupted")
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen(CMD + ["--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / CELL / "manifest.json"
    deadline = time.time() + 300
    while time.time() < deadline:  # kill once a checkpoint after the warm-up exists
        try:
            if (json.loads(manifest.read_text()).get("checkpoint_step") or 0) >= 1000:
                break
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, "run finished before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(manifest.read_text())
    assert killed_at["status"] == "running"

    resumed = _run(out)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(manifest.read_text())
    assert final["status"] == "complete" and final["resumes"] == 1
    for key in ("wall_clock_s", "steps_per_sec", "updates_per_sec", "num_parameters", "end_time", "git", "packages"):
        assert final.get(key) is not None, key
    assert not (out / CELL / "checkpoint").exists() and (out / CELL / "agent_final.pt").exists()

    rows, ref_rows = _evals(out), _evals(tmp_path / "uninterrupted")
    steps = [int(r["step"]) for r in rows]
    assert steps == [0, 480, 960, 1440, 1920, 2400]  # none lost, none duplicated
    assert [r["returns"] for r in rows] == [r["returns"] for r in ref_rows]  # the resumed run is the same run

    again = _run(out)  # a third run finds the cell complete and trains nothing
    assert again.returncode == 0 and "0 cell(s)" in again.stderr
