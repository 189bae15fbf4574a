#!/usr/bin/env bash
# Everything CI checks, in order: lint (ruff), the type check (mypy, configured in pyproject.toml),
# then the tests (arguments go to pytest). The README's test command and .ci/run both run this.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest "$@"
