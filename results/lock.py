"""One writer per cell: an advisory ``fcntl`` lock on ``<cell>/.lock``, held while a cell trains.

The kernel releases the lock when its holder dies (SIGKILL included), so a stale lock cannot block a
re-run; the file itself stays and says who held it last (pid, host, start time). Works the same for
the local runner, its spawned workers and Ray trials on one machine or a shared POSIX filesystem.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

LOCK_NAME = ".lock"


class CellBusy(Exception):
    """Another process is writing this cell."""

    def __init__(self, cell_dir: Path, holder: dict):
        self.cell_dir, self.holder = cell_dir, holder
        who = f"pid {holder.get('pid', '?')}" + (f" on {holder['host']}" if holder.get("host") else "")
        since = f" since {holder['since']}" if holder.get("since") else ""
        super().__init__(f"{cell_dir} is being written by {who}{since}")


class CellLock:
    """``with CellLock(cell_dir, wait=False):`` - exclusive, or ``CellBusy`` (``wait=True`` blocks instead)."""

    def __init__(self, cell_dir: str | os.PathLike, *, wait: bool = False):
        self.cell_dir, self.wait = Path(cell_dir), wait
        self.path = self.cell_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> CellLock:
        self.cell_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(self.path)
            os.close(fd)
            raise CellBusy(self.cell_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        record = json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, (record + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CellLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def read_holder(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
