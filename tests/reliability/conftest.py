"""Fixtures for the fault tests: the shared real PostgreSQL server (tests.support.postgres)."""

from __future__ import annotations

from tests.edge.conftest import video_file  # noqa: F401  (a generated H.264 file)
from tests.support.postgres import postgres_server  # noqa: F401  (the session fixture)
