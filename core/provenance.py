"""Where a result came from: code version, package versions and hardware, for every manifest."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("torch", "numpy", "gymnasium", "mujoco", "dm_control", "ale-py", "latentbench")


@functools.lru_cache(maxsize=1)
def git_state() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return {"sha": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def provenance(device: str) -> dict:
    import os

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "git": git_state(),
        "packages": package_versions(),
        "hardware": {
            "cpu": cpu_model(),
            "cpu_count": os.cpu_count(),
            "gpu": gpu,
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "host": platform.node(),
        },
        # the thread choice of this run: torch threads = cores // workers (runners/local.py), idle OpenMP
        # threads sleeping rather than spinning (OMP_WAIT_POLICY, set by bench before torch loads)
        "threads": {
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
    }
