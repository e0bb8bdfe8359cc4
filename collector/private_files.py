"""Modes of what the collector keeps on disk: its data directory 0700, the SQLite store and its
-wal and -shm files 0600. They hold every department's records and the collector's key.

A mode looser than that (left by an older collector, or by a umask) is tightened with a
warning; where the collector's user cannot change it, the collector refuses to start. The key
itself is created 0600 and refused when others can read it (collector.keys): a key that was
readable may have been copied, so that one is not silently repaired.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from .errors import SettingsError

log = logging.getLogger("collector")

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, what: str = "data directory") -> Path:
    """Create ``path`` (0700), or tighten it to owner-only when it exists."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"the collector's {what} {path} cannot be created: {exc.strerror}. Fix: create it "
            f"for the collector's user with: mkdir -m 700 {path} / 无法创建数据目录"
        ) from exc
    _owner_only(path, what, DIR_MODE)
    return path


def private_file(path: Path, what: str) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; tighten it when it does."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    except OSError as exc:
        raise SettingsError(
            f"the collector's {what} {path} cannot be created: {exc.strerror}. Fix: check that "
            f"its directory exists and the collector's user may write there / 无法创建文件"
        ) from exc
    _owner_only(path, what, FILE_MODE)


def private_files_if_present(paths: list[tuple[Path, str]]) -> None:
    for path, what in paths:
        if path.exists():
            _owner_only(path, what, FILE_MODE)


def _owner_only(path: Path, what: str, mode: int) -> None:
    if os.name != "posix":
        return  # Windows: the ACLs of the service account's profile directory apply
    current = stat.S_IMODE(path.stat().st_mode)
    if not current & 0o077:
        return
    tightened = current & ~0o077
    try:
        os.chmod(path, tightened)
    except OSError as exc:
        raise SettingsError(
            f"the collector's {what} {path} is open to other users (mode {current:04o}) and "
            f"this user cannot change it ({exc.strerror}). Fix, as its owner: chmod "
            f"{mode:o} {path} / 数据文件对其他用户开放且无法更改权限，请由其所有者执行 "
            f"chmod {mode:o}"
        ) from exc
    log.warning(
        "the collector's %s %s was open to other users (mode %04o); changed to %04o / "
        "数据文件权限过宽，已改为仅所有者可读写",
        what,
        path,
        current,
        tightened,
    )
