"""The spec's data files ship in the wheel: every one matches a package-data pattern."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "exchange_spec"


def test_every_data_file_is_covered_by_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = config["tool"]["setuptools"]["package-data"]
    anywhere, own = package_data["*"], package_data.get("exchange_spec", [])
    data_files = [p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl")]
    assert len(data_files) > 30
    for path in data_files:
        rel = path.relative_to(PACKAGE)
        # setuptools finds folders with identifier names as (namespace) packages, where the
        # "*" patterns apply; other folders ("1.0") need a pattern of the package itself
        in_a_package = all(part.isidentifier() for part in rel.parts[:-1])
        covered = (in_a_package and any(fnmatch(rel.name, pat) for pat in anywhere)) or any(
            fnmatch(rel.as_posix(), pat) for pat in own
        )
        assert covered, f"{rel} would be missing from the wheel: add a package-data pattern"
