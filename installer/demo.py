"""The demo: for now, validates the spec's sample data (agent and collector come next)."""

from __future__ import annotations

import sys
from importlib import resources

from exchange_spec.cli import main as spec_main


def main() -> int:
    samples = resources.files("exchange_spec") / "samples" / "valid"
    files = sorted(str(p) for p in samples.iterdir() if p.name.endswith(".jsonl"))
    print("esupervision demo: validating the spec's sample cases:")
    for f in files:
        print("  ", f)
    spec_main(["validate", *files], standalone_mode=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
