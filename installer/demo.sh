#!/usr/bin/env bash
# Sets up this checkout and runs the demo on the embedded defaults.
# Usage: bash installer/demo.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash installer/setup.sh dev
exec "$here/.venv/bin/python" -m installer.demo "$@"
