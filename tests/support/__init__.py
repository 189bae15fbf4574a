"""Test helpers shared by every area: a real PostgreSQL server, a real hub process, tokens.

- :mod:`tests.support.postgres`: ``PostgresServer`` (initdb + pg_ctl on a free port) and the
  session fixture ``postgres_server`` (skips only when the binaries are absent and CI != "true").
- :mod:`tests.support.hub`: ``HubProcess`` (``python -m gridwatch.cli hub`` on a free port, waits for
  /healthz) and ``make_token(db_url, role, node=None)``.
- :mod:`tests.support.net`: ``free_port()``.
"""
