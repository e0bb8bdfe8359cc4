"""The collector's data directory is 0700, its SQLite store, -wal, -shm and key 0600, whatever
the umask; looser modes are tightened with a warning, or the collector refuses to start."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text

from collector.app import create_app
from collector.cli import main
from collector.errors import SettingsError
from collector.settings import CollectorSettings
from collector.store.engine import make_engine
from collector.store.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The worst umask: everything the collector does not restrict itself is world-writable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_new_data_dir_store_and_key_are_for_the_owner_only(
    tmp_path: Path, open_umask: None
) -> None:
    data = tmp_path / "var" / "collector"
    code, out = cli("db", "upgrade", "--data-dir", str(data))
    assert code == 0, out
    code, out = cli("agents", "token", "--data-dir", str(data), "--department", "D1", "--name", "x")
    assert code == 0, out
    assert mode(data) == 0o700
    assert mode(data / "collector.db") == 0o600
    assert mode(data / "collector.key") == 0o600

    # While the store is open SQLite keeps -wal and -shm next to it, with the store's mode.
    engine = make_engine(f"sqlite:///{data / 'collector.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM probe")).scalar()
            for suffix in ("-wal", "-shm"):
                side = data / f"collector.db{suffix}"
                assert side.exists(), suffix
                assert mode(side) == 0o600, suffix
    finally:
        engine.dispose()


def test_a_store_outside_the_data_dir_is_created_owner_only_too(
    tmp_path: Path, open_umask: None
) -> None:
    store = tmp_path / "elsewhere" / "esup.db"
    store.parent.mkdir(mode=0o755)
    engine = make_engine(f"sqlite:///{store}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    assert mode(store) == 0o600
    assert mode(store.parent) == 0o755  # a directory the operator chose is left as it is


def test_looser_modes_from_before_are_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    code, out = cli("db", "upgrade", "--data-dir", str(data))
    assert code == 0, out
    db = data / "collector.db"
    # What an older collector left: 0755 directory, 0644 store, -wal and -shm.
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").write_bytes(b"")
    for path, loose in [(data, 0o755), (db, 0o644), (Path(f"{db}-wal"), 0o644)]:
        path.chmod(loose)
    Path(f"{db}-shm").chmod(0o666)

    settings = CollectorSettings(data_dir=data)
    with caplog.at_level(logging.WARNING, logger="collector"), TestClient(create_app(settings)):
        # (checked while the store is open: SQLite removes -wal and -shm when it closes)
        assert mode(data) == 0o700
        assert mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            assert mode(Path(f"{db}{suffix}")) == 0o600
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert f"data directory {data} was open to other users (mode 0755); changed to 0700" in warned
    assert f"SQLite store {db} was open to other users (mode 0644)" in warned
    assert "SQLite shared-memory index" in warned and "(mode 0666)" in warned


@pytest.fixture
def unchangeable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory open to others whose mode this user cannot change. Root can change any
    mode, except on an immutable inode (chattr +i); anyone else cannot change the mode of the
    system's temporary directory, which root owns."""
    if os.geteuid() != 0:
        yield Path("/tmp")
        return
    locked = tmp_path / "shared"
    locked.mkdir()
    locked.chmod(0o755)
    chattr = shutil.which("chattr")
    assert chattr, "chattr (e2fsprogs) is needed to make a directory root cannot chmod"
    subprocess.run([chattr, "+i", str(locked)], check=True)
    try:
        yield locked
    finally:
        subprocess.run([chattr, "-i", str(locked)], check=True)


def test_a_data_dir_open_to_others_that_cannot_be_tightened_is_refused(
    unchangeable_dir: Path,
) -> None:
    before = sorted(p.name for p in unchangeable_dir.iterdir())
    code, out = cli("db", "upgrade", "--data-dir", str(unchangeable_dir))
    assert code == 1
    assert "is open to other users" in out and f"chmod 700 {unchangeable_dir}" in out
    assert "请由其所有者执行" in out
    with pytest.raises(SettingsError, match="open to other users"):
        create_app(CollectorSettings(data_dir=unchangeable_dir))
    assert sorted(p.name for p in unchangeable_dir.iterdir()) == before  # nothing created
