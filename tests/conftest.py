import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _two_threads():
    """Tests run with the machine's 2 torch threads unless they say otherwise."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _outside_the_working_tree(tmp_path_factory, monkeypatch):
    """Every test runs in an empty folder, so none reads or writes the working tree's ``results/`` (the
    default store of ``bench run`` / ``bench report``); subprocesses still import this checkout."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
