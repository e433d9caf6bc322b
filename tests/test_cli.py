"""CLI: bad input gets one line naming what was wrong and what is valid, exit code 2, no traceback."""

import subprocess
import sys

import pytest

from algorithms import algorithms
from bench.cli import main, parse_seeds, parse_steps

VALID_ALGOS = "valid: " + ", ".join(sorted(algorithms()))  # every registered algorithm, whichever branches are merged

BAD = [
    (["run", "--algos", "nope"], "unknown algorithm 'nope'", VALID_ALGOS),
    (["run", "--algos", "td3@nope"], "unknown variant 'nope' of td3", "paper2018"),
    (["run", "--suite", "nope"], "unknown suite 'nope'", "smoke"),
    (["run", "--tasks", "Pendulum"], "unknown task 'Pendulum'", "Pendulum-v1"),
    (["run", "--steps", "12q"], "bad --steps value", "100k"),
    (["run", "--steps", "0"], "bad --steps value", "positive"),
    (["run", "--seeds", "x"], "bad --seeds value", "0-4"),
    (["run", "--seeds", "4-1"], "bad --seeds range", "LOW <= HIGH"),
    (["run", "--workers", "0"], "bad --workers value", ">= 1"),
    (["run", "--workers", "two"], "invalid int value", "'two'"),
    (["run", "--device", "tpu"], "bad --device value", "auto, cpu"),
    (["list", "everything"], "invalid choice", "algos"),
]


@pytest.mark.parametrize("argv,what,valid", BAD)
def test_bad_input_one_line_exit_2(argv, what, valid, capsys, tmp_path):
    code = main(argv + (["--out", str(tmp_path)] if argv[0] == "run" else []))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert what in err and valid in err
    assert not (tmp_path / "runs").exists()  # nothing written on bad input


def test_console_script_prints_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--algos", "sac", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"bench: error: unknown algorithm 'sac'; {VALID_ALGOS}"


def test_parsers():
    assert parse_steps("100k") == 100_000 and parse_steps("1M") == 1_000_000 and parse_steps("2500") == 2500
    assert parse_steps("1.5k") == 1500
    assert parse_seeds("0-2,5") == [0, 1, 2, 5]


def test_list_shows_variants(capsys):
    assert main(["list", "algos"]) == 0
    out = capsys.readouterr().out
    assert "td3@paper2018" in out


def test_list_tasks_of_a_suite(capsys):
    assert main(["list", "tasks", "--suite", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "cartpole-balance" in out and "env frames" in out


@pytest.mark.parametrize("argv", [["list"], ["run", "--algos", "nope"], ["show-config", "--algo", "td3@paper2018"]])
def test_answers_without_importing_the_heavy_stacks(argv, tmp_path):
    """bench list, show-config and input errors check names against the torch-free registry (issue 14, item 7)."""
    code = (
        "import sys\nfrom bench.cli import main\nmain(sys.argv[1:])\n"
        "print(' '.join(m for m in ('torch', 'dm_control', 'ray') if m in sys.modules) or 'none')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv, *(["--out", str(tmp_path)] if argv[0] == "run" else [])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip().splitlines()[-1] == "none"


def test_bench_list_describes_every_variant_with_what_it_changes_and_its_source(capsys):
    """One line per variant: its description names a source (a paper table/figure/appendix, the official code or
    release, a commit), or says it is ours or a reconstruction."""
    import re

    from algorithms import algorithms, variants

    source = re.compile(
        r"Table \d|Fig\. ?\d|App\. [A-Z]|official|release|paper|\b[0-9a-f]{7}\b|RECONSTRUCTION|\bours\b"
    )
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    count = 0
    for algo in algorithms():
        for name, variant in variants(algo).items():
            count += 1
            assert len(variant.description) > 30 and source.search(variant.description), (
                f"{algo}@{name}: {variant.description}"
            )
            assert f"{algo}@{name}" in out and variant.description in out
    assert count >= 38  # 11 ALM, 8 iQRL, 14 MR.Q, 4 OMD, 1 TD3 today
    assert "alm@ent" in out and "RECONSTRUCTION" in out.split("alm@ent")[1].splitlines()[0]
