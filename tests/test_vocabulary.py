"""One config vocabulary: a shared field has one name and meaning in every agent's Config; old names are
mapped with a one-line note; stores written under the old names stay complete and readable; a value of
the wrong type is one line naming the field, the value and the type wanted."""

import dataclasses
import json
import warnings

import pytest

from algorithms.registry import infos, register_variant, resolve_config
from bench.cli import main
from core import vocabulary
from core.errors import UserError
from core.vocabulary import OLD_NAMES, RENAMED, SHARED, RenamedFieldWarning, current_names, old_names
from results.store import Cell, Store, run_label
from runners.config import config_id, resolve_run_config
from runners.grid import make_plan, resolve_task
from suites import registry as suite_registry

ALGOS = ("td3", "iqrl", "mrq", "alm", "omd")


@pytest.fixture(autouse=True)
def fresh_notes(monkeypatch):
    monkeypatch.setattr(vocabulary, "_NOTED", set())  # each test sees the first use of an old name


def _fields(algo: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(infos()[algo].config)}


def test_every_shared_name_is_in_exactly_its_agents_with_one_type():
    assert set(infos()) == set(ALGOS)
    for name, (meaning, agents) in SHARED.items():
        have = {algo for algo in ALGOS if name in _fields(algo)}
        assert have == set(agents), (name, meaning)
        assert len({_fields(algo)[name].type for algo in agents}) == 1, name  # one type everywhere
    for name in ("discount", "batch_size", "buffer_size", "start_steps"):  # every agent speaks these
        assert set(SHARED[name][1]) == set(ALGOS)


def test_a_name_two_agents_share_is_in_the_vocabulary():
    seen: dict[str, list[str]] = {}
    for algo in ALGOS:
        for name in _fields(algo):
            seen.setdefault(name, []).append(algo)
    shared = {name for name, agents in seen.items() if len(agents) > 1}
    assert shared <= set(SHARED), sorted(shared - set(SHARED))  # no homonym, no unlisted synonym


def test_old_names_are_gone_and_map_to_current_fields():
    for algo, table in RENAMED.items():
        fields = _fields(algo)
        for old, new in table.items():
            assert old not in fields and new in fields, (algo, old, new)
    assert OLD_NAMES["gamma"] == "discount" and OLD_NAMES["expl_noise"] == "exploration_noise"
    assert old_names("iqrl", current_names("iqrl", {"gamma": 0.9, "lr": 1e-3})) == {"gamma": 0.9, "lr": 1e-3}


def test_defaults_are_unchanged_under_the_new_names():
    """The paper defaults, read under the old names, are what the configs held before the rename."""
    before = {
        "td3": {"expl_noise": 0.1, "policy_freq": 2},
        "mrq": {"target_policy_noise": 0.2, "enc_hdim": 512, "value_hdim": 512, "policy_hdim": 512, "alpha": 0.4},
        "iqrl": {"gamma": 0.99},
        "alm": {"expl_start": 1.0, "expl_end": 0.1, "expl_duration": 100_000},
        "omd": {"model_hidden": 32, "sac_model_hidden": 64},
    }
    for algo, values in before.items():
        config = old_names(algo, dataclasses.asdict(resolve_config(algo)[1]))
        assert {k: config[k] for k in values} == values
    for algo in ALGOS:
        assert resolve_run_config("smoke", algo, "Pendulum-v1").config_id == ""  # a default run has no suffix


def test_an_old_name_is_mapped_with_one_note():
    with pytest.warns(RenamedFieldWarning, match="'gamma' is now 'discount'"):
        _, config = resolve_config("iqrl", {"gamma": 0.9})
    assert config.discount == 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_config("iqrl", {"gamma": 0.8})[1].discount == 0.8  # noted once per process
    with pytest.raises(UserError, match="'gamma' is the old name of 'discount' and both are given"):
        resolve_config("iqrl", {"gamma": 0.9, "discount": 0.9})


def test_set_old_and_new_name_are_one_folder_and_one_label():
    with pytest.warns(RenamedFieldWarning):
        old = resolve_run_config("smoke", "iqrl", "Pendulum-v1", {"gamma": 0.9})
    new = resolve_run_config("smoke", "iqrl", "Pendulum-v1", {"discount": 0.9})
    assert old.overrides == new.overrides == {"discount": 0.9} and old.sources["discount"] == "--set"
    assert old.config_id == new.config_id == config_id({"discount": 0.9})
    assert config_id({"gamma": 0.9}) in new.legacy_config_ids  # where the old code put it


def test_cli_prints_the_note_once_on_its_note_channel(capsys):
    assert main(["show-config", "--suite", "smoke", "--algo", "alm", "--set", "expl_duration=2000"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "note   config field 'expl_duration' is now 'exploration_decay_steps' (--set, alm); "
        "the old name is accepted until latentbench 0.2"
    ]  # three tasks, one note


def test_old_names_in_variants_and_suite_and_task_overrides(monkeypatch):
    with pytest.warns(RenamedFieldWarning, match="variant td3@old-style"):
        register_variant("td3", "old-style", "test only", expl_noise=0.3, policy_freq=3)
    from algorithms.registry import _VARIANTS

    try:
        assert _VARIANTS["td3"]["old-style"].overrides == {"exploration_noise": 0.3, "actor_update_freq": 3}
        config = resolve_config("td3@old-style")[1]
        assert (config.exploration_noise, config.actor_update_freq) == (0.3, 3)
    finally:
        del _VARIANTS["td3"]["old-style"]

    smoke = suite_registry.get_suite("smoke")
    tasks = tuple(dataclasses.replace(t, agent_overrides={"mrq": {"enc_hdim": 64}}) for t in smoke.tasks)
    old = dataclasses.replace(smoke, name="old-style", tasks=tasks, agent_overrides={"iqrl": {"gamma": 0.95}})
    monkeypatch.setitem(suite_registry._SUITES, "old-style", old)
    with pytest.warns(RenamedFieldWarning):
        iqrl = resolve_run_config("old-style", "iqrl", "Pendulum-v1")
        mrq = resolve_run_config("old-style", "mrq", "Pendulum-v1")
    assert (iqrl.config.discount, iqrl.sources["discount"], iqrl.config_id) == (0.95, "suite", "")
    assert (mrq.config.enc_hidden_dim, mrq.sources["enc_hidden_dim"]) == (64, "task")


def _stored(store: Store, cell: Cell, algo: str, config: dict, overrides: dict, steps: int = 300) -> None:
    """A complete manifest as the code before the rename wrote it: its config and overrides under old names."""
    store.write_manifest(
        cell,
        {
            "status": "complete",
            "cell": dataclasses.asdict(cell),
            "algo": algo,
            "config": old_names(algo, config),
            "config_sources": old_names(algo, {k: "paper default" for k in config}),
            "config_id": cell.config_id,
            "overrides": old_names(algo, overrides),
            "config_overrides": old_names(algo, overrides),
            "protocol": resolve_task(cell, steps).protocol(),
        },
    )


def test_an_old_manifest_is_still_complete_and_reads_as_today(tmp_path):
    store = Store(tmp_path)
    for algo in ALGOS:
        cell = Cell("smoke", "Pendulum-v1", algo, 0)
        _stored(store, cell, algo, resolve_run_config("smoke", algo, "Pendulum-v1").as_dict(), {})
    plan = make_plan("smoke", list(ALGOS), ["Pendulum-v1"], [0], store, agent_steps=300)
    assert plan.todo == [] and sorted(c.algo for c in plan.done) == sorted(ALGOS)
    manifest = json.loads((tmp_path / "runs/smoke/Pendulum-v1/iqrl/0/manifest.json").read_text())
    assert "gamma" in manifest["config"]  # nothing in the store was rewritten


def test_an_old_set_run_is_found_in_its_old_folder_and_labelled_as_today(tmp_path, capsys):
    store = Store(tmp_path)
    resolved = resolve_run_config("smoke", "iqrl", "Pendulum-v1", {"discount": 0.9})
    old_cell = Cell("smoke", "Pendulum-v1", "iqrl", 0, config_id({"gamma": 0.9}))  # the folder the old code made
    _stored(store, old_cell, "iqrl", resolved.as_dict(), {"discount": 0.9})
    plan = make_plan(
        "smoke", ["iqrl"], ["Pendulum-v1"], [0], store, agent_steps=300, config_overrides={"discount": 0.9}
    )
    assert plan.done == [old_cell] and plan.todo == []
    with pytest.warns(RenamedFieldWarning):
        plan = make_plan(
            "smoke", ["iqrl"], ["Pendulum-v1"], [0], store, agent_steps=300, config_overrides={"gamma": 0.9}
        )
    assert plan.done == [old_cell] and plan.todo == []
    manifest = store.read_manifest(old_cell)
    assert (
        run_label(manifest)
        == "iqrl [discount=0.9]"
        == run_label({"cell": {"algo": "iqrl"}, "overrides": {"discount": 0.9}})
    )
    # an int given for a float field before floats were enforced: the same folder as then
    resolved = resolve_run_config("smoke", "td3", "Pendulum-v1", {"tau": 1})
    assert resolved.config.tau == 1.0 and isinstance(resolved.config.tau, float)
    assert config_id({"tau": 1}) in resolved.legacy_config_ids


def test_plan_specs_carry_current_names(tmp_path):
    with pytest.warns(RenamedFieldWarning):
        plan = make_plan(
            "smoke",
            ["td3", "mrq"],
            ["Pendulum-v1"],
            [0],
            Store(tmp_path),
            agent_steps=300,
            config_overrides={"expl_noise": 0.3},
        )
    assert {s.cell.algo: s.config_overrides for s in plan.specs("cpu")} == {
        "td3": {"exploration_noise": 0.3},
        "mrq": {"exploration_noise": 0.3},
    }
    assert len({c.config_id for c in plan.todo}) == 1


def test_set_discount_resolves_for_every_agent(tmp_path):
    plan = make_plan(
        "smoke", list(ALGOS), None, [0], Store(tmp_path), agent_steps=300, config_overrides={"discount": 0.98}
    )
    assert {algo for algo, _ in plan.configs} == set(ALGOS)
    for (algo, task), resolved in plan.configs.items():
        assert resolved.config.discount == 0.98 and resolved.sources["discount"] == "--set", (algo, task)
        assert resolved.config_id == config_id({"discount": 0.98})
    assert {c.algo for c in plan.todo} == set(ALGOS)


@pytest.mark.parametrize(
    "argv, what",
    [
        (
            ["--set", "batch_size=abc"],
            "bad td3 config value batch_size='abc' (str); valid: an int (a whole number), e.g. batch_size=256",
        ),
        (
            ["--set", "discount=true"],
            "bad td3 config value discount='true' (str); valid: a float (a number), e.g. discount=0.99",
        ),
        (["--set", "discount=True"], "discount=True (bool); valid: a float"),
        (["--set", "batch_size=2.5"], "batch_size=2.5 (float); valid: an int"),
        (["--set", "noise_scaled_by_max_action=1"], "noise_scaled_by_max_action=1 (int); valid: a bool"),
        (["--set", "hidden=(64, 'a')"], "valid: a tuple of ints, e.g. hidden=(256, 256)"),
        (["--algos", "iqrl", "--set", "gamma=abc"], "bad iqrl config value discount='abc' (str); valid: a float"),
    ],
)
def test_a_value_of_the_wrong_type_is_one_line(argv, what, tmp_path, capsys):
    code = main(["run", "--tasks", "Pendulum-v1", "--steps", "300", "--quiet", "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and what in err[-1], err
    assert len(err) == 1 + ("gamma=abc" in argv[-1])  # the error (after the old name's note)
    assert not (tmp_path / "runs").exists()


def test_types_are_checked_at_construction_and_ints_become_floats():
    config_cls = infos()["td3"].config
    with pytest.raises(UserError, match="batch_size='abc' \\(str\\); valid: an int"):
        config_cls(batch_size="abc")
    config = config_cls(discount=1, hidden=[64, 64])
    assert config.discount == 1.0 and isinstance(config.discount, float) and config.hidden == (64, 64)


def test_a_report_reproduces_an_old_run_with_current_names():
    from analysis.report import _command

    manifest = {
        "cell": {"suite": "smoke", "task": "Pendulum-v1", "algo": "alm", "seed": 0},
        "protocol": {},
        "config_overrides": {"expl_duration": 2000},
    }
    assert _command(manifest, [0]).endswith("--set exploration_decay_steps=2000")
