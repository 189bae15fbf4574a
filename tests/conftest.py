"""Hooks for every test: the ``needs`` mark (see tests/support/needs.py); fixtures shared across areas."""

from __future__ import annotations

import pytest

from tests.support.democlip import demo_clip  # noqa: F401  (the session's demo clip)
from tests.support.needs import require


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        require(*mark.args)
