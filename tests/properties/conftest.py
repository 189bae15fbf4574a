"""The shared real PostgreSQL server, for the property tests that also run on it."""

from __future__ import annotations

from tests.support.postgres import postgres_server  # noqa: F401  (the session fixture)
