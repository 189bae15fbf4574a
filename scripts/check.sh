#!/usr/bin/env bash
# Everything CI checks, in order: lint (ruff), the type check (mypy, configured in pyproject.toml),
# then the tests (arguments go to pytest). The README's test command and .ci/run both run this.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
# Two workers (GRIDWATCH_TEST_WORKERS to change; 0 runs in this process), a test file's tests on one of
# them so that its module fixtures (a hub, a browser, generated clips) are made once.
.venv/bin/python -m pytest -n "${GRIDWATCH_TEST_WORKERS:-2}" --dist loadfile "$@"
