"""The central hub: where an alert becomes work that gets done.

One job per module:
- ``app``: ``create_app(town, hub_config, clock)``; ``server``: ``gridwatch hub``; ``tokens``: the CLI.
- ``settings``, ``context``: this process's settings and the bundle every part is handed.
- ``db``, ``tables``, ``migrations``: storage (SQLite WAL or PostgreSQL; Alembic).
- ``auth``: bearer tokens and roles. ``limits``: request body cap. ``media``: snapshot files.
- ``intake`` -> ``incidents`` -> ``order_store``: alert in, incident merged, work order made.
- ``routing``, ``order_lifecycle``, ``deadlines.breaches``: the pure rules (who, which transition, late?).
- ``deadlines``, ``health``: escalation and camera health, with watchers that run periodically.
- ``feed``, ``notify``: the persisted event log and its LISTEN/NOTIFY wake-ups.
- ``open311``: GeoReport v2. ``metrics``: Prometheus. ``api/``: the HTTP routers.
"""
