"""Importers (iQRL, ALM), reference fetch (no network), claims and their verdicts, the protocol guard,
``bench report`` determinism and errors, and the leaderboard in a real headless browser."""

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import fetch, stats
from analysis.claims import CLAIM_COLUMNS, check, load_claims
from analysis.importers import import_alm_scores, import_iqrl_csvs, import_reference
from analysis.load import protocol_fields
from analysis.report import build, gather
from bench.cli import main
from core.errors import UserError
from results.store import Cell, Store

# ------------------------------------------------------------------------------------ importers


def test_iqrl_importer_on_a_fixture(tmp_path):
    fig = tmp_path / "plotting" / "norm-ablation"
    fig.mkdir(parents=True)
    (fig / "iqrl.csv").write_text(
        ",_step,env_step,episode,episode_reward,env,seed,name,utd_ratio\n"
        "0,120,15000.0,0,86.1,quadruped-run,1,iQRL-no-normalization,1\n"
        "1,232,20000.0,0,132.5,quadruped-run,1,iQRL-no-normalization,1\n"
        "2,120,15000.0,0,90.0,quadruped-run,1,iQRL,1\n"
    )
    base = tmp_path / "plotting" / "baseline-comparison"
    base.mkdir()
    (base / "redq_utd10_main.csv").write_text(
        ",step,env_step,episode,episode_reward,time,env,seed,agent\n0,1,25000.0,0,10.5,0,fish-swim,3,REDQ\n"
    )
    t = import_iqrl_csvs(tmp_path / "plotting")
    assert sorted(t.algo.unique()) == ["iqrl-no-normalization@iqrl-draft", "iqrl@iqrl-draft", "redq-utd10@iqrl-draft"]
    row = t[(t.algo == "iqrl-no-normalization@iqrl-draft") & (t.env_frames == 20000)].iloc[0]
    assert (row.step, row["return"], row.task, row.seed, row.suite) == (
        10000,
        132.5,
        "quadruped-run",
        1,
        "iqrl-dmc",
    )  # action repeat 2
    assert set(t.source) == {
        "published:iqrl-draft/norm-ablation/iqrl.csv",
        "published:iqrl-draft/baseline-comparison/redq_utd10_main.csv",
    }
    (base / "bad.csv").write_text(",env_step,env\n0,1,x\n")
    with pytest.raises(
        UserError, match=r"bad.csv: not an iQRL plotting CSV \(missing columns: episode_reward, seed, agent\|name\)"
    ):
        import_iqrl_csvs(tmp_path / "plotting")


def test_alm_importer_handles_duplicate_columns_and_a_missing_step(tmp_path):
    scores = tmp_path / "scores"
    scores.mkdir()
    (scores / "gym_half_cheetah.csv").write_text(
        "Step," + ",".join(["eval_episodic_return"] * 3) + "\n5000,1,2,3\n10000,4,5,6\n"
    )
    (scores / "gym_truncated_humanoid.csv").write_text(",".join(["eval_episodic_return"] * 2) + "\n7,8\n9,10\n")
    t = import_alm_scores(scores)
    hc = t[t.task == "HalfCheetah"]
    # Step counts after the 4,999 warm-up steps; our x-axis (step = env_frames) counts them: Step 10000 -> 14999
    assert hc[hc.step == 14999].sort_values("seed")["return"].tolist() == [
        4.0,
        5.0,
        6.0,
    ]  # three seeds, not one deduplicated column
    assert sorted(hc.step.unique()) == sorted(hc.env_frames.unique()) == [9999, 14999]
    th = t[t.task == "T-Humanoid"]
    assert (
        sorted(th.step.unique()) == [9999, 14999] and th[(th.step == 14999) & (th.seed == 1)]["return"].item() == 10.0
    )
    (scores / "gym_walker2d.csv").write_text("Step,eval_episodic_return\n5000,oops\n")
    with pytest.raises(UserError, match="gym_walker2d.csv:2: expected 2 numeric fields"):
        import_alm_scores(scores)
    (scores / "gym_walker2d.csv").unlink()
    (scores / "other.csv").write_text("Step,x\n")
    with pytest.raises(UserError, match="other.csv: unknown ALM score file"):
        import_alm_scores(scores)


def test_import_reference_recognises_formats_by_content(tmp_path):
    (tmp_path / "alm" / "scores").mkdir(parents=True)
    (tmp_path / "alm" / "scores" / "gym_hopper.csv").write_text("Step,eval_episodic_return\n5000,1\n")
    (tmp_path / "mrq").mkdir()
    (tmp_path / "mrq" / "gym_results.txt").write_text("Env: Gym-Hopper-v4\nTimestep\tSeed 0\n0\t10.0\n")
    t = import_reference(tmp_path)
    assert set(t.protocol_id) == {"alm-paper:gym-v2", "mrq-paper:gym"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no published data recognised"):
        import_reference(tmp_path / "empty")


# ------------------------------------------------------------------------------------ fetch


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_reference_fetch_extracts_the_pinned_folder_into_the_cache(tmp_path, monkeypatch):
    archive = _tarball(
        {
            "MRQ-8a44a7d/results/gym_results.txt": b"Env: Gym-Hopper-v4\nTimestep\tSeed 0\n0\t1.0\n",
            "MRQ-8a44a7d/MRQ/main.py": b"code",
            "MRQ-8a44a7d/results/../../evil": b"x",
        }
    )
    urls = []

    def fake_open(url):
        urls.append(url)
        return io.BytesIO(archive)

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch, "_open_url", fake_open)
    assert main(["reference", "fetch", "mrq", "--quiet"]) == 0
    dest = fetch.source_dir("mrq")
    assert urls == ["https://codeload.github.com/facebookresearch/MRQ/tar.gz/8a44a7d4b1cf117e5da4bf8214d35b02aa68d68b"]
    assert sorted(p.name for p in dest.iterdir()) == [
        "SOURCE.json",
        "gym_results.txt",
    ]  # only results/, nothing escapes
    assert '"sha256": "' + hashlib.sha256(archive).hexdigest() in (dest / "SOURCE.json").read_text()
    assert main(["reference", "fetch", "mrq", "--quiet"]) == 0 and len(urls) == 1  # cached: no second download
    assert len(gather(None, [str(dest)]).data) == 1  # the cached folder imports
    assert main(["reference", "fetch", "nope"]) == 2

    def offline(url):
        raise OSError("network unreachable")

    monkeypatch.setattr(fetch, "_open_url", offline)
    with pytest.raises(UserError, match=r"cannot download .* \(network unreachable\)"):
        fetch.fetch("alm", progress=False)
    assert not fetch.source_dir("alm").exists() and not [
        p for p in fetch.cache_root().iterdir() if p.name.startswith(".")
    ]


# ------------------------------------------------------------------------------------ claims

PROTO = {"env_version": "v1", "observation": "state", "action_repeat": "1", "eval_episodes": "10"}


def _claims_file(path: Path, rows: list[dict]) -> Path:
    base = {
        "paper": "P",
        "table": "T1",
        "cell": "c",
        "suite": "smoke",
        "task": "Pendulum-v1",
        "algo": "td3",
        "baseline": "",
        "protocol": "env_version=v1;action_repeat=1",
        "step": 1000,
        "metric": "return",
        "aggregation": "seed-mean",
        "spread_kind": "std",
        "spread": "1",
        "n_seeds": 5,
        "source": "test",
    }
    pd.DataFrame([{**base, **r} for r in rows], columns=CLAIM_COLUMNS).to_csv(path, index=False)
    return path


def _table(values: dict[tuple[str, str], list[float]], step: int = 1000, protocol_id: str = "p1") -> pd.DataFrame:
    rows = []
    for (algo, task), vals in values.items():
        for seed, v in enumerate(vals):
            rows.append(
                {
                    "source": "runs",
                    "suite": "smoke",
                    "task": task,
                    "algo": algo,
                    "variant": algo.partition("@")[2],
                    "seed": seed,
                    "step": step,
                    "env_frames": step,
                    "return": v,
                    "protocol_id": protocol_id,
                }
            )
    return pd.DataFrame(rows)


def test_claim_verdicts_consistent_inconsistent_inconclusive(tmp_path):
    claims = load_claims(
        [
            _claims_file(
                tmp_path / "c.csv",
                [
                    {"claim_id": "near", "value": "-200"},  # our mean -200.4, CI about [-201.3, -199.6]
                    {"claim_id": "far", "value": "-150"},
                    {"claim_id": "late", "value": "-200", "step": 5000},
                    {"claim_id": "other-task", "value": "1", "task": "CartPole-v1"},
                ],
            )
        ]
    )
    data = _table(
        {("td3", "Pendulum-v1"): [-199.0, -201.0, -200.5, -201.5, -199.8], ("td3", "CartPole-v1"): [10.0, 11.0]}
    )
    verdicts = {v.claim.claim_id: v for v in check(claims, data, {"p1": PROTO}, reps=500)}
    assert verdicts["near"].verdict == "consistent" and verdicts["near"].n_seeds == 5
    assert verdicts["near"].estimate == pytest.approx(-200.36)
    assert verdicts["far"].verdict == "inconsistent" and "- claimed 150 = -50.36" in verdicts["far"].detail.replace(
        "-150", "150"
    )
    assert (
        verdicts["late"].verdict == "inconclusive"
        and "budget not reached: last evaluation at step 1000 < 5000" in verdicts["late"].detail
    )
    assert (
        verdicts["other-task"].verdict == "inconclusive"
        and "2 finite seed(s) at step 1,000, need 3" in verdicts["other-task"].detail
    )


def test_printed_precision_widens_the_claim(tmp_path):
    data = _table({("td3", "Pendulum-v1"): [6901.8] * 4})
    claims = load_claims(
        [
            _claims_file(
                tmp_path / "c.csv",
                [
                    {"claim_id": "a", "value": "6901", "spread_kind": "", "spread": ""},
                    {"claim_id": "b", "value": "6901.0", "spread_kind": "", "spread": ""},
                ],
            )
        ]
    )
    v = {x.claim.claim_id: x.verdict for x in check(claims, data, {"p1": PROTO}, reps=200)}
    assert v == {
        "a": "consistent",
        "b": "inconsistent",
    }  # "6901" is a truncated mean (+-1); "6901.0" claims one decimal


def test_protocol_guard_names_the_differing_fields(tmp_path):
    claims = load_claims(
        [
            _claims_file(
                tmp_path / "c.csv", [{"claim_id": "x", "value": "-200", "protocol": "env_version=v4;action_repeat=2"}]
            )
        ]
    )
    data = _table({("td3", "Pendulum-v1"): [-200.0] * 3})
    (v,) = check(claims, data, {"p1": PROTO})
    assert (
        v.verdict == "refused"
        and v.detail == "protocol differs: action_repeat: claim 2, data 1; env_version: claim v4, data v1"
    )
    (v,) = check(claims, data, {"p1": PROTO}, allow_protocol_mismatch=True)
    assert v.verdict == "consistent"


def test_protocol_fields_from_a_manifest_protocol():
    assert (
        protocol_fields(
            {
                "env_id": "Hopper-v4",
                "library": "gymnasium",
                "observation": "state",
                "action_repeat": 1,
                "eval_episodes": 10,
                "eval_epsilon": 0.0,
                "agent_steps": 1000,
            }
        )["env_version"]
        == "v4"
    )
    assert protocol_fields({"env_id": "cheetah-run", "library": "dm_control"})["env_version"] == "dm_control"


def test_difference_aggregate_on_hand_checkable_matrices():
    variant = np.array([[1.0, 2.0, 3.0, 10.0], [1.0, 2.0, 3.0, 10.0]])
    baseline = np.array([[0.0, 0.0, 0.0, 0.0]] * 3)
    for name, expected in (("mean", 4.0), ("median", 2.5), ("iqm_task_mean", 2.5)):
        for method in ("t", "percentile"):
            e = stats.difference_interval(list(variant.T), list(baseline.T), name, reps=200, method=method)
            assert (
                e.point == pytest.approx(expected)
                and e.low == pytest.approx(expected)
                and e.high == pytest.approx(expected)
            )


def test_shipped_claims_parse_and_malformed_files_get_one_line_errors(tmp_path, capsys):
    claims = load_claims()
    tables = {(c.paper.split()[0], c.table) for c in claims}
    assert {
        ("MR.Q", "Table 2"),
        ("MR.Q", "Table 4"),
        ("MR.Q", "Table 7"),
        ("ALM", "Table 1"),
        ("OMD", "Figure 2 (notebook)"),
    } <= tables
    assert sum(c.table == "Table 4" for c in claims) == 8 and sum(c.table == "Table 2" for c in claims) == 144
    bad = _claims_file(tmp_path / "bad.csv", [{"claim_id": "x", "value": "1", "metric": "score"}])
    assert (
        main(["check", "--claims", str(bad), "--runs", str(tmp_path)]) == 2
    )  # not a store either: the store error comes first
    Store(tmp_path).root.joinpath("runs").mkdir()
    assert main(["check", "--claims", str(bad), "--runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "bench: error: bad.csv:2: metric 'score'; valid: return, normalized"
    (tmp_path / "cols.csv").write_text("claim_id,value\nx,1\n")
    assert main(["check", "--claims", str(tmp_path / "cols.csv"), "--runs", str(tmp_path)]) == 2
    assert "cols.csv: missing columns paper, table" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ report


def _fake_store(root: Path) -> Path:
    """A tiny store: two algorithms x two smoke tasks x three seeds, written through the Store API."""
    store = Store(root)
    rng = np.random.default_rng(0)
    for algo, shift in (("td3", 0.0), ("td3@paper2018", 50.0)):
        for task, env_id in (("Pendulum-v1", "Pendulum-v1"), ("CartPole-v1", "CartPole-v1")):
            for seed in range(3):
                cell = Cell("smoke", task, algo, seed)
                store.write_manifest(
                    cell,
                    {
                        "status": "complete",
                        "cell": {"suite": "smoke", "task": task, "algo": algo, "seed": seed},
                        "protocol": {
                            "protocol_id": f"proto-{task}",
                            "env_id": env_id,
                            "library": "gymnasium",
                            "observation": "state",
                            "action_repeat": 1,
                            "eval_episodes": 10,
                            "eval_epsilon": 0.0,
                            "agent_steps": 200,
                            "reduced_budget": True,
                        },
                        "num_parameters": 1234,
                        "updates_per_sec": 99.5,
                        "wall_clock_s": 12.0,
                        "config_overrides": {"batch_size": 64},
                    },
                )
                for step in (0, 100, 200):
                    value = float(step + shift + rng.normal())
                    store.append_eval(
                        cell,
                        {
                            "step": step,
                            "env_frames": step,
                            "return_mean": value,
                            "return_std": 0.0,
                            "returns": "",
                            "wall_time": 1.0,
                        },
                    )
                    if algo == "td3" and step:
                        store.append_diagnostics(
                            cell, step, step, {"latent_rank_tol0.01": 10.0 + seed, "code_usage": 0.5}
                        )
    return root


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_report_is_byte_for_byte_deterministic(tmp_path):
    store = _fake_store(tmp_path / "store")
    for out in ("a", "b"):
        assert main(["report", "--runs", str(store), "--out", str(tmp_path / out), "--reps", "200", "--quiet"]) == 0
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b
    assert {
        "index.html",
        "claims.csv",
        "smoke/scores.md",
        "smoke/scores.tex",
        "smoke/curves.png",
        "smoke/curves.svg",
        "smoke/diagnostics.csv",
        "smoke/diagnostics_latent_rank_tol0.01.svg",
    } <= set(a)
    md = (tmp_path / "a" / "smoke" / "scores.md").read_text()
    assert "| source | our runs | our runs |" in md and "(n=3)" in md
    page = (tmp_path / "a" / "index.html").read_text()
    assert (
        "bench run --suite smoke --tasks CartPole-v1 --algos td3 --seeds 0,1,2 --steps 200 --set batch_size=64" in page
    )
    assert 'href="../store/runs/smoke/CartPole-v1/td3/0/manifest.json"' in page


def test_report_over_an_empty_store_says_so(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    assert main(["report", "--runs", str(tmp_path), "--out", str(tmp_path / "report")]) == 2
    assert "nothing to report: no complete runs in" in capsys.readouterr().err
    assert not (tmp_path / "report").exists() or not any((tmp_path / "report").iterdir())
    assert main(["report", "--runs", str(tmp_path / "missing")]) == 2
    assert main(["report", "--reference", "not-a-folder"]) == 2


def test_report_on_normalized_suites_writes_aggregates_profiles_and_design_study(tmp_path):
    rows = []
    rng = np.random.default_rng(1)
    for algo, level in (("mrq", 1.0), ("mrq@no-lap", 0.8)):
        for task in ("Ant-v4", "HalfCheetah-v4", "Hopper-v4", "Humanoid-v4", "Walker2d-v4"):
            for seed in range(3):
                for step in (0, 500_000, 1_000_000):
                    rows.append(
                        {
                            "source": "published:x",
                            "suite": "gym",
                            "task": task,
                            "algo": algo,
                            "variant": "",
                            "seed": seed,
                            "step": step,
                            "env_frames": step,
                            "return": 4000 * level * step / 1e6 + rng.normal() * 50,
                            "protocol_id": "mrq-paper:gym",
                        }
                    )
    from analysis.report import Inputs

    build(Inputs(pd.DataFrame(rows), [], {}), tmp_path, reps=100, progress=False)
    files = {p.name for p in (tmp_path / "gym").iterdir()}
    assert {
        "aggregates.png",
        "sample_efficiency.svg",
        "profile.png",
        "probability_of_improvement.csv",
        "design_study_mrq.md",
    } <= files
    design = pd.read_csv(tmp_path / "gym" / "design_study_mrq.csv")
    assert design["variant"].tolist() == ["mrq@no-lap"] and design["mean diff"].iloc[0].startswith("-")
    poi = pd.read_csv(tmp_path / "gym" / "probability_of_improvement.csv")
    assert (poi["x"].item(), poi["y"].item(), poi["P(X>Y)"].item()) == (
        "mrq",
        "mrq@no-lap",
        1.0,
    )  # mrq beats every no-lap run on every task


# ------------------------------------------------------------------------------------ browser

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("BENCH_REQUIRE_BROWSER"),
    reason="Debian chromium + chromium-driver not installed (.ci/run installs them)",
)
def test_leaderboard_in_headless_chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    store = _fake_store(tmp_path / "store")
    assert main(["report", "--runs", str(store), "--out", str(tmp_path / "report"), "--reps", "100", "--quiet"]) == 0
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get((tmp_path / "report" / "index.html").as_uri())
        assert driver.title == "latentbench leaderboard"
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        table = driver.find_element(By.ID, "cells-smoke")

        def column(i):
            return [
                r.find_elements(By.TAG_NAME, "td")[i].text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")
            ]

        header = table.find_elements(By.TAG_NAME, "th")[2]
        assert header.text == "return (mean ± std)"
        header.click()
        asc = [float(t.split(" ± ")[0]) for t in column(2)]
        assert asc == sorted(asc) and header.get_attribute("aria-sort") == "ascending"
        header.click()
        desc = [float(t.split(" ± ")[0]) for t in column(2)]
        assert desc == sorted(desc, reverse=True) and desc != asc
        captions = [c.text for c in driver.find_elements(By.TAG_NAME, "figcaption")]
        assert captions and all(" " in c and "/" not in c for c in captions)  # words, not file paths
        if os.environ.get("BENCH_SCREENSHOT"):
            driver.save_screenshot(os.environ["BENCH_SCREENSHOT"])
        link = table.find_element(By.LINK_TEXT, "seed 0")
        link.click()
        assert (
            driver.current_url.endswith("/manifest.json")
            and '"status": "complete"' in driver.find_element(By.TAG_NAME, "body").text
        )
    finally:
        driver.quit()


def test_omd_tabular_study_rows_feed_claims_and_figures(tmp_path):
    study = tmp_path / "store" / "studies" / "omd-tabular"
    study.mkdir(parents=True)
    rows = []
    for agent, j in (
        ("omd", 1.02726),
        ("mle", 1.0100),
    ):  # OMD at the optimum; this MLE well below the notebook's 1.0198
        for bound in (0.0, 6.0):
            for seed in range(1, 11):
                for experiment in ("returns", "bellman"):
                    rows.append(
                        {
                            "experiment": experiment,
                            "agent": agent,
                            "norm_bound": bound,
                            "seed": seed,
                            "J": j - (0.01 if bound == 0 else 0) + 1e-6 * seed,
                            "q_error": 0.1,
                            "bound": 0.5,
                        }
                    )
    pd.DataFrame(rows).to_csv(study / "omd_tabular_runs.csv", index=False)
    inputs = gather([tmp_path / "store"], None)
    assert set(inputs.data.algo) == {"omd", "omd@mle"} and set(inputs.data.task) == {"norm-bound-0", "norm-bound-6"}
    verdicts = {
        (v.claim.claim_id, v.evidence.rsplit(":", 1)[1]): v.verdict
        for v in check(load_claims(), inputs.data, inputs.protocols, reps=200)
        if v.claim.suite == "omd-tabular"
    }
    assert verdicts == {
        ("omd-tabular-omd-J-norm6", "returns"): "consistent",
        ("omd-tabular-mle-J-norm6", "returns"): "inconsistent",
        ("omd-tabular-omd-J-norm6", "bellman"): "refused",
        ("omd-tabular-mle-J-norm6", "bellman"): "refused",
    }
    build(inputs, tmp_path / "report", reps=100, progress=False)
    files = {p.name for p in (tmp_path / "report" / "omd-tabular").iterdir()}
    assert {"omd_tabular_returns.png", "omd_tabular_tightness.svg", "scores.md"} <= files and "curves.png" not in files
    page = (tmp_path / "report" / "index.html").read_text()
    assert (
        'href="../store/studies/omd-tabular/omd_tabular_runs.csv">study data</a>' in page
        and "our study (omd-tabular)" in page
    )


def test_claims_match_tasks_across_version_suffixes_and_the_guard_compares_versions(tmp_path):
    claims = load_claims(
        [
            _claims_file(
                tmp_path / "c.csv",
                [{"claim_id": "hc", "value": "100", "task": "HalfCheetah", "protocol": "env_version=v2"}],
            )
        ]
    )
    data = _table({("td3", "HalfCheetah-v5"): [100.0] * 3})
    (v,) = check(claims, data, {"p1": {**PROTO, "env_version": "v5"}})
    assert v.verdict == "refused" and v.detail == "protocol differs: env_version: claim v2, data v5"


def test_alm_table1_claims_against_released_curves_find_the_t_humanoid_disagreement(tmp_path):
    """alm.md section 7: the released T-Humanoid curves give 4177 +- 1017 at 200k, the paper prints 5306 +- 437."""
    scores = tmp_path / "scores"
    scores.mkdir()
    header = ",".join(["eval_episodic_return"] * 5)
    rows = [",".join(["100"] * 5)] * 39 + ["3000,3500,4200,4700,5485"]  # rows are 5k, 10k, ..., 200k (no Step column)
    (scores / "gym_truncated_humanoid.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    (scores / "gym_half_cheetah.csv").write_text("Step," + header + "\n200000,10300,10600,10789,11000,11256\n")
    verdicts = {
        v.claim.claim_id: v for v in check(load_claims(), import_alm_scores(scores), reps=1000) if v.evidence != "-"
    }
    assert set(verdicts) == {"alm-table1-T-Humanoid", "alm-table1-HalfCheetah"}
    # ALM's own released runs: exact mode (recompute the printed mean), the inferred step named in the verdict
    humanoid = verdicts["alm-table1-T-Humanoid"]
    assert humanoid.verdict == "does not reproduce" and humanoid.estimate == pytest.approx(4177)
    assert "step inferred by the importer" in humanoid.detail
    assert (
        verdicts["alm-table1-HalfCheetah"].verdict == "reproduces"
        and "inferred" not in verdicts["alm-table1-HalfCheetah"].detail
    )


def test_alm_step_alignment_puts_the_released_table1_row_on_our_final_evaluation(tmp_path):
    """The released Step 200000 row (Table 1's point) and our alm-locomotion run's last evaluation are the same
    env step, 4,999 + 200,000; the file's Step 195000 row is env step 199,999, not 200,000."""
    from analysis.importers import ALM_TABLE1_STEP
    from suites import get_suite

    scores = tmp_path / "scores"
    scores.mkdir()
    (scores / "gym_half_cheetah.csv").write_text("Step,eval_episodic_return\n195000,1.0\n200000,2.0\n")
    t = import_alm_scores(scores)
    assert dict(zip(t.step, t["return"])) == {199_999: 1.0, 204_999: 2.0}
    assert ALM_TABLE1_STEP == 204_999 == get_suite("alm-locomotion").task("HalfCheetah-v5").agent_steps
    assert {c.step for c in load_claims() if c.paper.startswith("ALM")} == {ALM_TABLE1_STEP}


def test_malformed_store_files_get_one_line_errors_naming_the_file(tmp_path, capsys):
    store = _fake_store(tmp_path / "store")
    evals = store / "runs" / "smoke" / "CartPole-v1" / "td3" / "1" / "evals.csv"
    evals.write_text(evals.read_text().replace("\n100,100,", "\n100,100,oops", 1))
    assert main(["report", "--runs", str(store), "--out", str(tmp_path / "r")]) == 2
    assert (
        capsys.readouterr().err.strip() == f"bench: error: {evals}:3: expected numeric step, env_frames and return_mean"
    )
    manifest = evals.parent / "manifest.json"
    manifest.write_text('{"status": "complete"}')
    assert main(["check", "--runs", str(store)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"bench: error: {manifest}: not a latentbench manifest (missing or bad 'cell')"
    )
