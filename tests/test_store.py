"""The results store: atomic whole-file writes, flushed evaluation rows, resume truncation."""

import json

import pytest

from results.store import Cell, Store, atomic_write, atomic_write_json

CELL = Cell("smoke", "Pendulum-v1", "td3", 0)


def _row(step):
    return {
        "step": step,
        "env_frames": step,
        "return_mean": -1.5,
        "return_std": 0.1,
        "returns": "-1.4 -1.6",
        "wall_time": 1.0,
    }


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "manifest.json"
    atomic_write_json(path, {"status": "running"})

    def broken(p):
        p.write_text('{"status": "compl')  # half written, then the writer dies
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, broken)
    assert json.loads(path.read_text()) == {"status": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp file left behind


def test_unserialisable_manifest_writes_nothing(tmp_path):
    path = tmp_path / "m.json"
    atomic_write_json(path, {"a": 1})
    with pytest.raises(ValueError):
        atomic_write_json(path, {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1}


def test_evals_append_truncate_and_partial_line(tmp_path):
    store = Store(tmp_path)
    for step in (0, 100, 200, 300):
        store.append_eval(CELL, _row(step))
    assert [int(r["step"]) for r in store.read_evals(CELL)] == [0, 100, 200, 300]
    with open(store.evals_path(CELL), "a") as f:
        f.write("400,400,-1.2")  # a kill in the middle of a row
    assert [int(r["step"]) for r in store.read_evals(CELL)] == [0, 100, 200, 300]
    assert store.truncate_evals(CELL, 200) == 3
    assert [int(r["step"]) for r in store.read_evals(CELL)] == [0, 100, 200]


def test_cell_layout_and_discovery(tmp_path):
    store = Store(tmp_path)
    cell = Cell("smoke", "cartpole-balance", "td3@paper2018", 3)
    store.write_manifest(cell, {"status": "complete"})
    assert store.manifest_path(cell) == tmp_path / "runs/smoke/cartpole-balance/td3@paper2018/3/manifest.json"
    assert list(store.iter_cells()) == [cell]
    assert store.is_complete(cell)
