#!/usr/bin/env bash
# The checks CI runs, in order of speed: the dependency rule, lint and format, types, then the tests.
# Usage: bash scripts/check.sh [pytest arguments]   (after bash scripts/setup.sh --dev)
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/lint-imports
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
