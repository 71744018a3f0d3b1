#!/usr/bin/env bash
# Set up paperbot in ./.venv (idempotent). Usage: bash scripts/setup.sh [--dev]
#   --dev  also installs the test tools, and PostgreSQL server binaries and Chromium (the browser tests,
#          driven by Playwright; never `playwright install`) if they are missing (apt, as root).
# torch is installed first and pinned to the CPU build: an unpinned torch would pull GBs of CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

python=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# Machines here keep the CPU torch wheel on disk; elsewhere pip resolves it from PyPI.
[[ -d /opt/wheels ]] && pip+=(--find-links /opt/wheels)

"${pip[@]}" --upgrade pip
"${pip[@]}" torch==2.13.0
if (( dev )); then
  "${pip[@]}" -e ".[dev]"
  missing=()
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  if (( ${#missing[@]} )) && [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  "${pip[@]}" -e .
fi
echo "paperbot is installed in .venv (run .venv/bin/paperbot --help)"
