"""The bad-input table: every input here goes through the real CLI in-process (``bench.cli.main``) and
must give exit code 2, exactly one line on stderr naming what was wrong, no traceback, and leave the
store exactly as it was (its whole tree hashed before and after).

Rows are (id, setup, argv, expected text). ``setup(store, tmp)`` damages a copy of a small valid store
or writes an input file, and returns the extra arguments; ``{store}`` / ``{tmp}`` in argv are filled in.
"""

import csv
import hashlib
import json
from pathlib import Path

import pytest

from analysis.claims import CLAIM_COLUMNS
from bench.cli import main
from results.store import Cell, Store

CELL = Cell("smoke", "Pendulum-v1", "td3", 0)
RUN = [
    "run",
    "--suite",
    "smoke",
    "--tasks",
    "Pendulum-v1",
    "--algos",
    "td3",
    "--steps",
    "300",
    "--seeds",
    "7",
    "--quiet",
]  # a new cell


def _store(root: Path) -> Path:
    """Three complete smoke td3 Pendulum cells with three evaluations each (through the Store API)."""
    store = Store(root)
    for seed in range(3):
        cell = Cell("smoke", "Pendulum-v1", "td3", seed)
        store.write_manifest(
            cell,
            {
                "status": "complete",
                "cell": {"suite": "smoke", "task": "Pendulum-v1", "algo": "td3", "seed": seed},
                "protocol": {
                    "protocol_id": "proto-p",
                    "env_id": "Pendulum-v1",
                    "library": "gymnasium",
                    "observation": "state",
                    "action_repeat": 1,
                    "eval_episodes": 10,
                    "eval_epsilon": 0.0,
                    "agent_steps": 200,
                    "reduced_budget": True,
                },
            },
        )
        for step in (0, 100, 200):
            store.append_eval(
                cell,
                {
                    "step": step,
                    "env_frames": step,
                    "return_mean": -1000.0 + step + seed,
                    "return_std": 0.0,
                    "returns": "",
                    "wall_time": 1.0,
                },
            )
    return root


def _manifest(store: Path, seed: int = 0) -> Path:
    return Store(store).manifest_path(Cell("smoke", "Pendulum-v1", "td3", seed))


def _evals(store: Path, seed: int = 1) -> Path:
    return Store(store).evals_path(Cell("smoke", "Pendulum-v1", "td3", seed))


def _write(path: Path, data) -> None:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def _claims(tmp: Path, **fields) -> Path:
    row = {
        "claim_id": "c1",
        "paper": "P",
        "table": "T1",
        "cell": "c",
        "suite": "smoke",
        "task": "Pendulum-v1",
        "algo": "td3",
        "baseline": "",
        "protocol": "",
        "step": "200",
        "metric": "return",
        "aggregation": "seed-mean",
        "value": "-800",
        "spread_kind": "std",
        "spread": "1",
        "n_seeds": "3",
        "source": "test",
        **fields,
    }
    path = tmp / "claims.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CLAIM_COLUMNS)
        w.writeheader()
        w.writerow(row)
    return path


def _eval_row(value: str):
    def setup(store, tmp):
        path = _evals(store)
        _write(path, path.read_text().replace("\n100,100,-899.0,", f"\n100,100,{value},", 1))

    return setup


def _traversal(suite: str):
    def setup(store, tmp):
        m = json.loads(_manifest(store).read_text())
        m["cell"]["suite"] = suite
        _write(_manifest(store), json.dumps(m))

    return setup


def _claims_with(**fields):
    return lambda store, tmp: ["--claims", str(_claims(tmp, **fields))]


def _unbalanced_quote(store, tmp):
    path = _claims(tmp)
    _write(path, path.read_text().replace(",P,", ',"P,', 1))
    return ["--claims", str(path)]


def _binary_claims(store, tmp):
    _write(tmp / "claims.bin", bytes(range(256)) * 4)
    return ["--claims", str(tmp / "claims.bin")]


def _a_file(store, tmp):
    _write(tmp / "afile", "x")


# (id, setup, argv, what the one line must contain); "clean before" = the state on main before issue 19
CASES = [
    # -- bench run: names and flags (clean before)
    ("run-unknown-algo", None, ["run", "--algos", "nope", "--out", "{store}"], "unknown algorithm 'nope'"),
    ("run-unknown-variant", None, ["run", "--algos", "td3@nope", "--out", "{store}"], "unknown variant 'nope' of td3"),
    ("run-unknown-suite", None, ["run", "--suite", "nope", "--out", "{store}"], "unknown suite 'nope'"),
    ("run-unknown-task", None, ["run", "--tasks", "Pendulum", "--out", "{store}"], "unknown task 'Pendulum'"),
    ("run-steps-12q", None, ["run", "--steps", "12q", "--out", "{store}"], "bad --steps value"),
    ("run-steps-0", None, ["run", "--steps", "0", "--out", "{store}"], "bad --steps value"),
    ("run-seeds-x", None, ["run", "--seeds", "x", "--out", "{store}"], "bad --seeds value"),
    ("run-seeds-4-1", None, ["run", "--seeds", "4-1", "--out", "{store}"], "bad --seeds range"),
    ("run-workers-0", None, ["run", "--workers", "0", "--out", "{store}"], "bad --workers value"),
    ("run-workers-two", None, ["run", "--workers", "two", "--out", "{store}"], "invalid int value"),
    ("run-device-tpu", None, ["run", "--device", "tpu", "--out", "{store}"], "bad --device value"),
    ("run-set-no-equals", None, [*RUN, "--set", "lr", "--out", "{store}"], "bad --set value"),
    ("run-set-unknown-field", None, [*RUN, "--set", "nope=1", "--out", "{store}"], "unknown config field(s) ['nope']"),
    (
        "run-set-wrong-type",
        None,
        [*RUN, "--set", "lr=abc", "--out", "{store}"],
        "bad td3 config value lr='abc' (str); valid: a float",
    ),
    ("run-unknown-flag", None, ["run", "--nope", "--out", "{store}"], "unrecognized arguments"),
    # -- bench run: config values (before: bare exceptions, 'Diverged' runs, or silently accepted)
    (
        "run-set-hidden-0-0",
        None,
        [*RUN, "--set", "hidden=(0,0)", "--out", "{store}"],
        "hidden=(0, 0); valid: a tuple of layer widths > 0",
    ),
    ("run-set-hidden-neg", None, [*RUN, "--set", "hidden=(-5,5)", "--out", "{store}"], "hidden=(-5, 5)"),
    ("run-set-lr-neg", None, [*RUN, "--set", "lr=-1", "--out", "{store}"], "lr=-1.0; valid: lr > 0"),
    ("run-set-lr-inf", None, [*RUN, "--set", "lr=1e999", "--out", "{store}"], "lr=inf; valid: a finite number"),
    (
        "run-set-buffer-0",
        None,
        [*RUN, "--set", "buffer_size=0", "--out", "{store}"],
        "buffer_size=0; valid: a whole number buffer_size >= 1",
    ),
    ("run-set-batch-0", None, [*RUN, "--set", "batch_size=0", "--out", "{store}"], "batch_size=0"),
    (
        "run-set-batch-over-buffer",
        None,
        [*RUN, "--set", "buffer_size=100", "--out", "{store}"],
        "batch_size <= buffer_size (100)",
    ),
    (
        "run-set-actor-update-freq-0",
        None,
        [*RUN, "--set", "actor_update_freq=0", "--out", "{store}"],
        "actor_update_freq=0",
    ),
    (
        "run-set-exploration-noise-neg",
        None,
        [*RUN, "--set", "exploration_noise=-1", "--out", "{store}"],
        "exploration_noise=-1.0; valid: exploration_noise >= 0",
    ),
    (
        "run-set-noise-clip-neg",
        None,
        [*RUN, "--set", "noise_clip=-1", "--out", "{store}"],
        "noise_clip=-1.0; valid: noise_clip >= 0",
    ),
    (
        "run-set-start-steps-neg",
        None,
        [*RUN, "--set", "start_steps=-1", "--out", "{store}"],
        "start_steps=-1; valid: start_steps >= 0",
    ),
    ("run-set-tau-5", None, [*RUN, "--set", "tau=5", "--out", "{store}"], "tau=5.0; valid: 0 < tau <= 1"),
    (
        "run-set-discount-2",
        None,
        [*RUN, "--set", "discount=2", "--out", "{store}"],
        "discount=2.0; valid: 0 < discount <= 1",
    ),
    ("run-set-discount-0", None, [*RUN, "--set", "discount=0", "--out", "{store}"], "discount=0"),
    (
        "run-mrq-set-zs-dim-0",
        None,
        [
            "run",
            "--suite",
            "smoke",
            "--tasks",
            "Pendulum-v1",
            "--algos",
            "mrq",
            "--steps",
            "300",
            "--seeds",
            "7",
            "--quiet",
            "--set",
            "zs_dim=0",
            "--out",
            "{store}",
        ],
        "bad mrq config value zs_dim=0; valid: a whole number zs_dim >= 1",
    ),
    # -- bench run: seeds, store and output folder
    ("run-seeds-100001", None, [*RUN, "--seeds", "0-100000", "--out", "{store}"], "add --yes if you mean it"),
    (
        "run-seeds-too-many",
        None,
        [*RUN, "--seeds", "0-100000000", "--yes", "--out", "{store}"],
        "more than 1,000,000 seeds",
    ),
    (
        "run-ray-max-failures-neg",
        None,
        [*RUN, "--runner", "ray", "--max-failures", "-1", "--out", "{store}"],
        "bad --max-failures",
    ),
    (
        "run-ray-max-concurrent-0",
        None,
        [*RUN, "--runner", "ray", "--max-concurrent", "0", "--out", "{store}"],
        "--max-concurrent >= 1",
    ),
    (
        "run-manifest-truncated",
        lambda s, t: _write(_manifest(s), '{"status": "comp'),
        [*RUN, "--seeds", "0", "--out", "{store}"],
        "unreadable manifest",
    ),
    (
        "run-manifest-list",
        lambda s, t: _write(_manifest(s), "[]"),
        [*RUN, "--seeds", "0", "--out", "{store}"],
        "not a latentbench manifest",
    ),
    (
        "run-manifest-binary",
        lambda s, t: _write(_manifest(s), b"\xff\xfe\x00"),
        [*RUN, "--seeds", "0", "--out", "{store}"],
        "unreadable manifest",
    ),
    ("run-out-a-file", _a_file, [*RUN, "--out", "{tmp}/afile"], "exists and is not a folder"),
    ("run-out-proc", None, [*RUN, "--out", "/proc/x"], "--out /proc/x: cannot create or write this folder"),
    # -- bench report
    ("report-no-store", None, ["report", "--runs", "{tmp}/nowhere", "--out", "{tmp}/r"], "not a results store"),
    (
        "report-unknown-reference",
        None,
        ["report", "--runs", "{store}", "--reference", "nope", "--out", "{tmp}/r"],
        "--reference nope",
    ),
    (
        "report-manifest-list",
        lambda s, t: _write(_manifest(s), "[]"),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "not a latentbench manifest",
    ),
    (
        "report-manifest-truncated",
        lambda s, t: _write(_manifest(s), '{"sta'),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "unreadable manifest",
    ),
    (
        "report-manifest-no-cell",
        lambda s, t: _write(_manifest(s), '{"status": "complete"}'),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "not a latentbench manifest (missing or bad 'cell')",
    ),
    (
        "report-evals-binary",
        lambda s, t: _write(_evals(s), bytes(range(256)) * 8),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "evals.csv",
    ),
    (
        "report-evals-nan",
        _eval_row("nan"),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "evals.csv:3: return_mean nan is not a finite number",
    ),
    (
        "report-evals-inf",
        _eval_row("inf"),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "evals.csv:3: return_mean inf is not a finite number",
    ),
    (
        "report-evals-text",
        _eval_row("oops"),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "evals.csv:3: expected numeric step",
    ),
    (
        "report-evals-wrong-header",
        lambda s, t: _write(_evals(s), "a,b,c\n1,2,3\n"),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "evals.csv:1: header 'a,b,c'",
    ),
    (
        "report-evals-empty",
        lambda s, t: _write(_evals(s), ""),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "evals.csv: empty",
    ),
    (
        "report-evals-header-only",
        lambda s, t: _write(_evals(s), "step,env_frames,return_mean,return_std,returns,wall_time\n"),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "evals.csv: no evaluation rows",
    ),
    (
        "report-suite-traversal",
        _traversal("../../../../outside"),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "cell suite '../../../../outside' cannot name a file or folder",
    ),
    (
        "report-suite-absolute",
        _traversal("/tmp/abs"),
        ["report", "--runs", "{store}", "--out", "{tmp}/r"],
        "cell suite '/tmp/abs'",
    ),
    ("report-reps-0", None, ["report", "--runs", "{store}", "--reps", "0", "--out", "{tmp}/r"], "bad --reps value 0"),
    (
        "report-reps-neg",
        None,
        ["report", "--runs", "{store}", "--reps", "-5", "--out", "{tmp}/r"],
        "bad --reps value -5",
    ),
    (
        "report-reps-0-no-data",
        None,
        ["report", "--runs", "{tmp}/nowhere", "--reps", "0", "--out", "{tmp}/r"],
        "bad --reps value 0",
    ),
    (
        "report-seed-neg",
        None,
        ["report", "--runs", "{store}", "--seed", "-1", "--out", "{tmp}/r"],
        "bad --seed value -1",
    ),
    (
        "report-out-proc",
        None,
        ["report", "--runs", "{store}", "--out", "/proc/x", "--quiet"],
        "--out /proc/x: cannot create",
    ),
    (
        "report-out-a-file",
        _a_file,
        ["report", "--runs", "{store}", "--out", "{tmp}/afile"],
        "exists and is not a folder",
    ),
    # -- bench check
    ("check-reps-0", None, ["check", "--runs", "{store}", "--reps", "0"], "bad --reps value 0"),
    ("check-reps-neg", None, ["check", "--runs", "{store}", "--reps", "-3"], "bad --reps value -3"),
    ("check-min-seeds-neg", None, ["check", "--runs", "{store}", "--min-seeds", "-1"], "bad --min-seeds value -1"),
    ("check-no-claims-file", None, ["check", "--runs", "{store}", "--claims", "{tmp}/none.csv"], "no such claims file"),
    ("check-claims-binary", _binary_claims, ["check", "--runs", "{store}"], "not a text CSV file"),
    (
        "check-claims-missing-column",
        lambda s, t: _write(t / "c.csv", "claim_id,value\nx,1\n") or ["--claims", str(t / "c.csv")],
        ["check", "--runs", "{store}"],
        "missing columns",
    ),
    ("check-claims-unbalanced-quote", _unbalanced_quote, ["check", "--runs", "{store}"], "claims.csv:2: malformed CSV"),
    (
        "check-claims-bad-metric",
        _claims_with(metric="score"),
        ["check", "--runs", "{store}"],
        "metric 'score'; valid: return, normalized",
    ),
    ("check-claims-value-nan", _claims_with(value="nan"), ["check", "--runs", "{store}"], "value 'nan'"),
    ("check-claims-value-text", _claims_with(value="high"), ["check", "--runs", "{store}"], "must be numbers"),
    (
        "check-claims-ci95-oops",
        _claims_with(spread_kind="ci95", spread="oops"),
        ["check", "--runs", "{store}"],
        "spread 'oops' for spread_kind 'ci95'; valid: low;high",
    ),
    (
        "check-claims-std-negative",
        _claims_with(spread="-1"),
        ["check", "--runs", "{store}"],
        "spread '-1' for spread_kind 'std'",
    ),
    (
        "check-claims-bad-aggregation",
        _claims_with(aggregation="max"),
        ["check", "--runs", "{store}"],
        "aggregation 'max'",
    ),
    ("check-evals-nan", _eval_row("nan"), ["check", "--runs", "{store}"], "is not a finite number"),
    # -- other commands
    ("list-unknown", None, ["list", "everything"], "invalid choice"),
    ("list-unknown-suite", None, ["list", "tasks", "--suite", "nope"], "unknown suite 'nope'"),
    ("reference-unknown-source", None, ["reference", "fetch", "nope"], "nope"),
    (
        "study-seeds-0",
        None,
        ["study", "omd-tabular", "--seeds", "0", "--out", "{tmp}/s"],
        "bad --seeds / --max-iter / --bounds",
    ),
]


def _tree(root: Path) -> dict[str, str]:
    """Every folder and file under ``root`` with its content hash and mode."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(case, tmp_path, capsys, monkeypatch):
    _, setup, argv, what = case
    store, tmp = _store(tmp_path / "store"), tmp_path / "in"
    tmp.mkdir()
    extra = (setup(store, tmp) if setup else None) or []
    argv = [a.format(store=store, tmp=tmp) for a in argv] + extra
    monkeypatch.setenv("BENCH_CACHE", str(tmp / "cache"))
    before = _tree(tmp_path)
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, (argv, err)
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in captured.err + captured.out
    assert what in err, err
    assert _tree(tmp_path) == before  # the store, its inputs and any --out: nothing created, changed or removed
    assert not list(tmp_path.parent.rglob("outside"))  # no traversal
