"""The committed evidence (results/evidence, `make evidence`): read by default beside results/, never counted
twice, and summarised in the reproduction status table (`bench status`), from published curves or, where
none is held, the published point claims (TD3's 100k means)."""

import os
from pathlib import Path

import numpy as np
import pytest
from test_curves import _our_store

from analysis.claims import load_claims
from analysis.report import gather, reproduction_status
from bench.cli import STATUS_BEGIN, STATUS_END, main
from core.errors import UserError

REPO = Path(__file__).resolve().parent.parent
TD3_CLAIMS = [c for c in load_claims() if c.claim_id == "td3-curves-HalfCheetah-100k"]


def test_the_default_stores_are_results_and_the_evidence_and_a_cell_is_read_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    _our_store(
        tmp_path / "results" / "evidence", rng, lambda s: 5000 * (1 - np.exp(-s / 40_000)), seeds=3, reduced=True
    )
    inputs = gather(None, None)
    assert sorted(inputs.data["seed"].unique()) == [0, 1, 2] and not inputs.notes and len(inputs.manifests) == 3
    _our_store(
        tmp_path / "results", rng, lambda s: 5000 * (1 - np.exp(-s / 40_000)), seeds=4, reduced=True
    )  # seeds 0-3
    inputs = gather(None, None)
    # seeds 0-2 are in both stores, complete in both: read once (from results/), and the note says so
    assert len(inputs.manifests) == 4 and inputs.data.groupby("step")["seed"].count().max() == 4
    assert inputs.notes == [
        "3 cell(s) of results/evidence also in another store: the complete copy is read, "
        "the first store's when both are"
    ]
    with pytest.raises(UserError, match="the same cell as"):
        gather(["results", "results/evidence"], None)
    # a scratch copy in results/ that did not complete never hides the committed complete one
    manifest = tmp_path / "results" / "runs" / "gym" / "HalfCheetah-v4" / "td3" / "0" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"complete"', '"running"'))
    read = {(m["cell"]["seed"], str(m["_dir"]).startswith("results/evidence")) for m in gather(None, None).manifests}
    assert read == {(0, True), (1, False), (2, False), (3, False)}
    # the same seed under another protocol (the full budget) is another cell: both are read
    _our_store(tmp_path / "other", rng, lambda s: 5000 * (1 - np.exp(-s / 40_000)), seeds=1, reduced=False)
    assert len(gather(["results/evidence", str(tmp_path / "other")], None).manifests) == 4


def test_status_from_point_claims_when_no_published_curve_is_held(tmp_path):
    rng = np.random.default_rng(2)
    near = _our_store(
        tmp_path / "near",
        rng,
        lambda s: 5513.5 * (1 - np.exp(-s / 30_000)) / (1 - np.exp(-100_000 / 30_000)),
        seeds=3,
        reduced=True,
    )
    crippled = _our_store(tmp_path / "bad", rng, lambda s: 0.3 * 5513.5 * s / 100_000, seeds=3, reduced=True)
    inputs = gather([near], None)
    (row,) = reproduction_status(inputs.data, inputs, TD3_CLAIMS).to_dict("records")
    assert row["status"] == "consistent with the published value at step 100,000 (3 seeds)"
    assert "protocol differs: env_version: claim v1, data v4" in row["detail"] and row["published"].startswith("TD3")
    inputs = gather([crippled], None)
    (row,) = reproduction_status(inputs.data, inputs, TD3_CLAIMS).to_dict("records")
    assert row["status"] == "differs at step 100,000 (HalfCheetah-v1)"
    (row,) = reproduction_status(inputs.data, inputs, []).to_dict("records")  # nothing published to compare with
    assert row["status"] == "no published curve or claim" and row["published"] == "-"


def test_bench_status_rewrites_only_its_block_of_the_readme(tmp_path, capsys):
    rng = np.random.default_rng(3)
    store = _our_store(tmp_path / "store", rng, lambda s: 5000 * (1 - np.exp(-s / 40_000)), seeds=3, reduced=True)
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{STATUS_BEGIN}\nold text\n{STATUS_END}\nafter\n")
    assert main(["status", "--runs", str(store), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert (
        text.startswith("# title\n\nbefore\n" + STATUS_BEGIN)
        and text.endswith(STATUS_END + "\nafter\n")
        and "old text" not in text
    )
    assert "| published | suite | our algo | status | detail |" in text and "| gym | td3 |" in text
    readme.write_text("no markers\n")
    assert main(["status", "--runs", str(store), "--readme", str(readme)]) == 2
    assert "needs exactly one" in capsys.readouterr().err and readme.read_text() == "no markers\n"


REFERENCE = os.environ.get("BENCH_REFERENCE_DIR")


@pytest.mark.skipif(not REFERENCE, reason="BENCH_REFERENCE_DIR (MR.Q's published results) not set")
def test_the_readme_status_table_is_what_the_committed_evidence_gives(capsys):
    """README's reproduction-status block is generated (bench status --readme), never edited by hand."""
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index(STATUS_BEGIN) : readme.index(STATUS_END) + len(STATUS_END)]
    assert main(["status", "--runs", str(REPO / "results" / "evidence"), "--reference", REFERENCE]) == 0
    assert capsys.readouterr().out.strip() == block
