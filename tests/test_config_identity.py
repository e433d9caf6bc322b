"""A run is what its config says: --set values give a cell its own folder and report label; the
manifest's config is what ran, each value with its source; seeds come from one SeedSequence scheme."""

import json

from analysis.load import load_runs
from bench.cli import main
from core import seeding
from results.store import Cell, Store, run_label
from runners.config import config_id, resolve_run_config
from runners.grid import make_plan

RUN = ["run", "--tasks", "Pendulum-v1", "--steps", "300", "--quiet"]


def test_set_runs_into_its_own_folder_and_is_reported_apart(tmp_path, capsys):
    store = Store(tmp_path)
    assert main(RUN + ["--out", str(tmp_path)]) == 0
    default = Cell("smoke", "Pendulum-v1", "td3", 0)
    before = {p.name: p.read_bytes() for p in store.cell_dir(default).iterdir() if p.is_file()}
    capsys.readouterr()

    assert main(RUN + ["--out", str(tmp_path), "--set", "lr=1e-3"]) == 0
    err = capsys.readouterr().err
    assert "run    1 cell(s)" in err  # it ran: not taken for the complete default cell
    changed = Cell("smoke", "Pendulum-v1", "td3", 0, config_id({"lr": 0.001}))
    assert store.cell_dir(changed) == tmp_path / f"runs/smoke/Pendulum-v1/td3+{changed.config_id}/0"
    manifest = store.read_manifest(changed)
    assert manifest["status"] == "complete" and manifest["overrides"] == {"lr": 0.001}
    assert manifest["config"]["lr"] == 0.001 and manifest["config_sources"]["lr"] == "--set"
    assert {p.name: p.read_bytes() for p in store.cell_dir(default).iterdir() if p.is_file()} == before  # untouched

    table = load_runs(tmp_path)
    assert sorted(table["algo"].unique()) == ["td3", "td3 [lr=0.001]"]  # two runs, never averaged
    assert len(table[table["algo"] == "td3"]) == len(table[table["algo"] == "td3 [lr=0.001]"]) == 6

    assert main(RUN + ["--out", str(tmp_path), "--set", "lr=1e-3"]) == 0  # the same config again: complete
    assert "run    0 cell(s)" in capsys.readouterr().err


def test_set_to_the_suite_value_is_the_suite_config():
    assert resolve_run_config("smoke", "td3", "Pendulum-v1", {"lr": 3e-4}).config_id == ""
    assert resolve_run_config("smoke", "td3@paper2018", "Pendulum-v1", {"lr": 1e-3}).config_id == ""
    a = resolve_run_config("smoke", "td3", "Pendulum-v1", {"hidden": [64, 64]})
    assert a.config_id == resolve_run_config("smoke", "td3", "Pendulum-v1", {"hidden": (64, 64)}).config_id != ""


def test_legacy_manifest_labels():
    assert run_label({"cell": {"algo": "td3"}, "config_overrides": {}}) == "td3"
    assert run_label({"cell": {"algo": "td3"}, "config_overrides": {"lr": 0.001}}) == "td3 [lr=0.001]"
    assert run_label({"cell": {"algo": "mrq"}, "overrides": {}, "config_overrides": {"zs_dim": 512}}) == "mrq"


def test_stored_run_of_another_config_is_refused_not_skipped(tmp_path):
    store = Store(tmp_path)
    cell = Cell("smoke", "Pendulum-v1", "td3", 0)
    resolved = resolve_run_config("smoke", "td3", "Pendulum-v1")
    from runners.grid import resolve_task

    config = dict(resolved.as_dict(), batch_size=64)  # e.g. a suite override changed since it ran
    store.write_manifest(
        cell,
        {
            "status": "complete",
            "config": config,
            "config_sources": resolved.sources,
            "protocol": resolve_task(cell, 300).protocol(),
        },
    )
    import pytest

    from core.errors import UserError

    with pytest.raises(UserError, match="another config \\(batch_size 64 vs 256\\)"):
        make_plan("smoke", ["td3"], ["Pendulum-v1"], [0], store, agent_steps=300)


def test_paper2018_manifest_states_the_warmup_that_ran_and_its_source(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--algos",
                "td3@paper2018",
                "--tasks",
                "Pendulum-v1",
                "--steps",
                "1100",
                "--quiet",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "note   td3@paper2018 on Pendulum-v1: the task sets start_steps=1000, replacing the variant's 10000" in err
    manifest = Store(tmp_path).read_manifest(Cell("smoke", "Pendulum-v1", "td3@paper2018", 0))
    assert manifest["config"]["start_steps"] == manifest["warmup_steps"] == 1000
    assert manifest["config_sources"]["start_steps"] == manifest["warmup_source"] == "task"
    assert (
        manifest["config_sources"]["batch_size"] == "variant" and manifest["config_sources"]["tau"] == "paper default"
    )
    assert manifest["updates"] == 100  # 1100 steps, the first 1000 random: the warm-up that ran
    assert manifest["budget_dependent_fields"] == []  # declared (analysis.curves accepts its reduced-budget curve)


def test_show_config_prints_values_with_sources(capsys):
    assert main(["show-config", "--suite", "smoke", "--algo", "td3@paper2018", "--tasks", "Pendulum-v1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "td3@paper2018 on smoke/Pendulum-v1: the suite's config"
    fields = {ln.split()[0]: ln.split()[1:] for ln in lines[1:] if not ln.strip().startswith("note")}
    assert fields["start_steps"] == ["1000", "task"] and fields["batch_size"] == ["100", "variant"]
    assert fields["discount"] == ["0.99", "paper", "default"]
    assert lines[-1].strip() == "note: the task sets start_steps=1000, replacing the variant's 10000"


def test_seeding_streams_are_named_distinct_and_recorded(tmp_path):
    seeds = seeding.derived_seeds(0)
    assert set(seeds) == set(seeding.STREAMS) and len(set(seeds.values())) == len(seeds)
    assert seeding.derived_seeds(0) == seeds and seeding.derived_seeds(1) != seeds
    import numpy as np

    children = np.random.SeedSequence(0).spawn(8)  # the k-th spawned child is the stream with spawn key k
    assert seeds["eval_env"] == int(children[2].generate_state(1, np.uint32)[0])
    assert main(RUN + ["--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "runs/smoke/Pendulum-v1/td3/0/manifest.json").read_text())
    assert manifest["seeding"] == json.loads(json.dumps(seeding.record(0)))


def test_a_complete_run_of_an_old_store_is_still_found_complete(tmp_path):
    """Old manifests: no config_sources, the agent's own start_steps in config, the warm-up that ran in warmup_steps."""
    from runners.grid import resolve_task

    store = Store(tmp_path)
    cell = Cell("smoke", "Pendulum-v1", "td3", 0)
    legacy = dict(resolve_run_config("smoke", "td3", "Pendulum-v1").as_dict(), start_steps=25_000)
    store.write_manifest(
        cell,
        {
            "status": "complete",
            "config": legacy,
            "warmup_steps": 1000,
            "config_overrides": {},
            "cell": {"suite": "smoke", "task": "Pendulum-v1", "algo": "td3", "seed": 0},
            "protocol": resolve_task(cell, 300).protocol(),
        },
    )
    plan = make_plan("smoke", ["td3"], ["Pendulum-v1"], [0], store, agent_steps=300)
    assert plan.done == [cell] and plan.todo == []
    assert list(store.iter_cells()) == [cell]
