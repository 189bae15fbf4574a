"""Schemathesis over the hub's own OpenAPI schema, with valid tokens: every operation gets generated
requests (bounded: 25 examples each, positive and negative data), and every answer must be no 5xx and
must match the schema the hub declares for that status. Runs against the ASGI app in process (a real
SQLite file, the real app with its middleware).

Edge operations are called with an edge token of edge-01, everything else with an admin token, so
requests get past authentication and reach the handlers. The feed (an endless event stream) is left
out: a generated request would hold it open forever. schemathesis' own pytest plugin does not run
under this pytest, so each operation's strategy is driven by hypothesis directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation import GenerationMode

from central.app import create_app
from central.settings import HubConfig
from gridwatch.config import load_town
from tests.support.hub import SAMPLE_TOWN, make_token

pytestmark = pytest.mark.slow
EDGE_PATHS = ("/api/v1/alerts", "/api/v1/heartbeats")
SKIPPED = ("/api/v1/feed",)
EXAMPLES = 25


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    root = tmp_path_factory.mktemp("schemathesis")
    db = f"sqlite:///{root / 'hub.db'}"
    tokens = {"admin": make_token(db, "admin", name="admin-1"),
              "edge": make_token(db, "edge", node="edge-01")}
    app = create_app(load_town(SAMPLE_TOWN), HubConfig(db_url=db, media_dir=root / "media",
                                                       watch_interval_s=0, live_relay_timeout_s=1.0))
    with TestClient(app) as client:  # runs the lifespan: migrations
        yield client, tokens


def fuzz(op: schemathesis.APIOperation, mode: GenerationMode, token: str, failures: list[str],
         statuses: dict[int, int]) -> int:
    """Run ``EXAMPLES`` generated cases of one operation; returns how many calls were made."""
    calls = 0

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    def run(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        try:
            response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                              checks=[not_a_server_error, response_schema_conformance])
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis raises a FailureGroup
            failures.append(f"{op.label} [{mode.value}]: {str(exc)[:800]}")

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (an operation without parameters or body)
        if mode is GenerationMode.POSITIVE:
            raise
    return calls


def test_no_5xx_and_responses_match_the_schema(hub: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = hub
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    calls = operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path.startswith(SKIPPED):
            continue
        operations += 1
        token = tokens["edge"] if op.path in EDGE_PATHS else tokens["admin"]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            calls += fuzz(op, mode, token, failures, statuses)
    out = Path(__file__).resolve().parents[2] / "var" / "reliability"
    out.mkdir(parents=True, exist_ok=True)
    figures = {"operations": operations, "calls": calls, "statuses": dict(sorted(statuses.items())),
               "failures": len(failures)}
    (out / "schemathesis.json").write_text(json.dumps(figures, indent=1))
    (out / "schemathesis_failures.txt").write_text("\n\n".join(failures))
    print(f"\nRELIABILITY schemathesis: {json.dumps(figures)}")
    assert not failures, "\n\n".join(failures[:12])
