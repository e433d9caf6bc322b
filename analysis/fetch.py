"""``bench reference fetch <source>``: published result files, downloaded at pinned commits into a cache.

Each source is a public GitHub repository, a commit (the one its spec in ``shared/specs`` read) and
the folder holding the data. The whole-repository archive of that commit is streamed from
codeload.github.com, only the data folder is extracted, and the result is moved into place in one
rename, so an interrupted fetch never leaves a half-filled cache. ``SOURCE.json`` beside the data
records the repository, commit, URL, the archive's SHA-256 and the file count. The cache root is
``$BENCH_CACHE`` or ``~/.cache/latentbench``; tests replace ``_open_url`` and need no network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError


@dataclass(frozen=True)
class Source:
    repo: str
    commit: str
    folder: str  # inside the repository
    description: str
    license: str


SOURCES: dict[str, Source] = {
    # mrq.md section 0: HEAD of main in the spec's snapshot (results/ unchanged since)
    "mrq": Source(
        "facebookresearch/MRQ",
        "8a44a7d4b1cf117e5da4bf8214d35b02aa68d68b",
        "results",
        "MR.Q learning curves, 10 seeds (Gym, DMC, DMC-visual, Atari)",
        "CC BY-NC 4.0",
    ),
    # td3.md section 0: the camera-ready commit, where learning_curves/ last changed
    "td3": Source(
        "sfujim/TD3",
        "bc98e6260e4e35e1a2afc1c78b6925251dd0a1e9",
        "learning_curves",
        "TD3 paper learning curves (gym -v1, 10 seeds)",
        "MIT",
    ),
    # iqrl.md section 0/8: the parent of the commit that deleted the paper's plotting data
    "iqrl": Source(
        "aidanscannell/iqrl-minimal",
        "d8e6c321de4a91b310935ad2bb34050dc0837f07",
        "paper/figs/plotting",
        "iQRL paper-draft curves and ablations (pre-release agent)",
        "none stated: reference use only",
    ),
    # alm.md section 0/7: HEAD of the official repository
    "alm": Source(
        "RajGhugare19/alm",
        "3b70f5b8c3c11b3222b9a288ef6dd370c95d973f",
        "scores",
        "ALM evaluation curves, 5 seeds (gym -v2 incl. truncated Ant/Humanoid)",
        "MIT",
    ),
}


def cache_root() -> Path:
    return Path(os.environ.get("BENCH_CACHE") or Path.home() / ".cache" / "latentbench") / "reference"


def source_dir(name: str) -> Path:
    src = _source(name)
    return cache_root() / f"{name}@{src.commit[:7]}"


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise UserError(f"unknown reference source {name!r}; valid: {', '.join(SOURCES)}")
    return SOURCES[name]


def archive_url(src: Source) -> str:
    return f"https://codeload.github.com/{src.repo}/tar.gz/{src.commit}"


def _open_url(url: str):  # replaced in tests
    return urllib.request.urlopen(url, timeout=60)


def fetch(name: str, *, force: bool = False, progress: bool = True) -> Path:
    """Download one source into the cache (no-op when present) and return its data folder."""
    src = _source(name)
    dest = source_dir(name)
    if (dest / "SOURCE.json").exists() and not force:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = archive_url(src)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{name}.") as tmp:
        archive = Path(tmp) / "archive.tar.gz"
        digest = _download(url, archive, progress)
        out = Path(tmp) / "data"
        count = _extract(archive, src.folder, out)
        if count == 0:
            raise UserError(f"{url}: the archive has no files under {src.folder}/")
        meta = {
            "source": name,
            "repo": src.repo,
            "commit": src.commit,
            "folder": src.folder,
            "url": url,
            "sha256": digest,
            "files": count,
            "license": src.license,
        }
        (out / "SOURCE.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(out, dest)
    return dest


def _download(url: str, path: Path, progress: bool) -> str:
    from tqdm import tqdm

    sha = hashlib.sha256()
    try:
        response = _open_url(url)
    except OSError as exc:
        raise UserError(
            f"cannot download {url} ({exc}); check the network, or pass a local copy with --reference DIR"
        ) from None
    total = int(getattr(response, "headers", {}).get("Content-Length") or 0) or None
    with (
        response,
        open(path, "wb") as f,
        tqdm(total=total, unit="B", unit_scale=True, disable=not progress, desc=url.rsplit("/", 3)[-3]) as bar,
    ):
        while chunk := response.read(1 << 16):
            f.write(chunk)
            sha.update(chunk)
            bar.update(len(chunk))
    return sha.hexdigest()


def _extract(archive: Path, folder: str, out: Path) -> int:
    """Extract regular files under ``<top>/<folder>/`` into ``out`` (no links, no absolute paths)."""
    count = 0
    prefix = folder.strip("/").split("/")
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or parts[1 : 1 + len(prefix)] != prefix or ".." in parts:
                continue
            target = out.joinpath(*parts[1 + len(prefix) :])
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            count += 1
    return count
