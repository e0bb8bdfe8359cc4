#!/usr/bin/env bash
# Prepares this checkout: the Debian packages the agent and collector need (ODBC driver
# manager and drivers, CJK fonts) and a virtual environment in .venv with esupervision
# installed in it. Safe to run again: it only installs what is missing.
# Usage: bash installer/setup.sh [EXTRAS]    (EXTRAS defaults to "dev")
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-dev}"

# Debian packages: the ODBC driver manager, the drivers for SQLite, PostgreSQL and MariaDB,
# and Noto CJK fonts so Chinese text renders in generated documents; Pango/HarfBuzz for
# WeasyPrint (notices as PDF) and poppler-utils (pdftotext/pdffonts check those PDFs).
debs=(unixodbc unixodbc-dev odbc-postgresql odbc-mariadb libsqliteodbc fonts-noto-cjk
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "esupervision setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "esupervision setup: these system packages are missing: ${missing[*]}" >&2
    echo "  Install them as root, then run this command again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 3
  fi
fi

py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "esupervision setup: Python 3.11 or newer is required ($py is $("$py" -V 2>&1))." >&2
  exit 3
fi
if [ ! -x "$here/.venv/bin/python" ]; then
  "$py" -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$here/.venv/bin/python" -m pip install -q -e "$here[$extras]"
