#!/usr/bin/env bash
# Runs the whole test suite: lint and format check (ruff), types (mypy), then pytest.
# PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) must be running: tests that need
# them fail, never skip, when they are missing.
# Usage: bash installer/test.sh [PYTEST-ARGS...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash installer/setup.sh dev
venv="$here/.venv/bin"
echo "== ruff (lint)";   "$venv/ruff" check .
echo "== ruff (format)"; "$venv/ruff" format --check .
echo "== mypy";          "$venv/mypy" exchange_spec collector/clock agent
echo "== pytest";        "$venv/pytest" "$@"
