"""The role matrix: each endpoint lets in the roles it should, refuses the rest with 403, and anyone
without a valid token with 401. An edge node's token is good for its own cameras only."""

from __future__ import annotations

import pytest

from central.auth import hash_token
from tests.central.conftest import alert
from tests.central.test_health import heartbeat

ROLES = ("dispatcher", "maintainer", "grid_worker", "department", "admin", "edge-01")
USERS = {"dispatcher", "maintainer", "grid_worker", "department", "admin"}
OPS = {"dispatcher", "maintainer", "admin"}
DESK = {"dispatcher", "admin"}


def _matrix(town, oid: int):
    hb = heartbeat(town, "edge-01", __import__("tests.central.conftest").central.conftest.T0)
    return [
        ("POST", "/api/v1/alerts", {"json": alert(event="ev-matrix")}, {"edge-01"}),
        ("POST", "/api/v1/heartbeats", {"json": hb}, {"edge-01"}),
        ("GET", "/api/v1/feed?follow=false", {}, OPS),
        ("GET", "/api/v1/work-orders", {}, USERS),
        ("GET", f"/api/v1/work-orders/{oid}", {}, USERS),
        ("POST", f"/api/v1/work-orders/{oid}/actions", {"json": {"action": "acknowledge"}}, DESK),
        ("GET", "/api/v1/incidents", {}, USERS),
        ("GET", "/api/v1/cameras", {}, OPS),
        ("GET", "/api/v1/cameras/cam-001/health", {}, OPS),
        ("GET", "/api/v1/nodes", {}, OPS),
        ("POST", "/api/v1/cameras/cam-001/live/offer", {"json": {"sdp": "v=0", "type": "offer"}}, OPS),
        ("GET", "/api/v1/town", {}, USERS),
        ("GET", "/api/v1/me", {}, USERS | {"edge-01"}),
        ("GET", "/api/v1/media/" + "0" * 32 + ".jpg", {}, USERS),
    ]


def test_role_matrix(hub, town) -> None:
    oid = hub.post_alert(alert()).json()["work_order_id"]
    for method, path, kw, allowed in _matrix(town, oid):
        r = hub.client.request(method, path, **kw)
        assert r.status_code == 401, (path, "no token", r.status_code)
        assert r.headers.get("www-authenticate") == "Bearer"
        r = hub.client.request(method, path, headers={"Authorization": "Bearer not-a-token"}, **kw)
        assert r.status_code == 401, (path, "bad token")
        r = hub.client.request(method, path, headers={"Authorization": "Basic abc"}, **kw)
        assert r.status_code == 401, (path, "wrong scheme")
        for role in ROLES:
            r = hub.client.request(method, path, headers=hub.auth(role), **kw)
            if role in allowed:
                assert r.status_code not in (401, 403), (path, role, r.status_code, r.text)
            else:
                assert r.status_code == 403, (path, role, r.status_code)
                assert "detail" in r.json()


@pytest.mark.parametrize(
    "path", ["/metrics", "/open311/v2/services.json", "/open311/v2/requests.json", "/healthz"]
)
def test_public_reads(hub, path: str) -> None:
    assert hub.client.get(path).status_code == 200


def test_edge_token_is_scoped_to_its_node(hub, town) -> None:
    theirs = town.cameras_of("edge-02")[0].id
    assert hub.post_alert(alert(camera=theirs, node="edge-02"), who="edge-01").status_code == 403
    assert hub.post_alert(alert(camera=theirs, node="edge-02"), who="edge-02").status_code == 201
    assert hub.post_alert(alert(camera="cam-001", node="edge-01"), who="edge-02").status_code == 403
    hb = heartbeat(town, "edge-01", hub.clock.now)
    assert hub.client.post("/api/v1/heartbeats", json=hb, headers=hub.auth("edge-02")).status_code == 403
    assert hub.client.get("/api/v1/me", headers=hub.auth("edge-02")).json() == {
        "role": "edge",
        "name": "edge-02",
        "node": "edge-02",
    }


def test_node_token_from_config(hub, town, tmp_path, clock, db_url) -> None:
    from gridwatch.config.schema import EdgeNode
    from tests.central.conftest import make_hub

    token = "provisioned-token-for-edge-03-xxxxxxxxxxxx"
    nodes = [
        EdgeNode(id=n.id, name=n.name, token_sha256=hash_token(token) if n.id == "edge-03" else None)
        for n in town.nodes
    ]
    custom = town.model_copy(update={"nodes": nodes})
    for h in make_hub(custom, db_url, tmp_path / "b", clock):
        cam = custom.cameras_of("edge-03")[0].id
        r = h.client.post(
            "/api/v1/alerts",
            json=alert(camera=cam, node="edge-03"),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text


def test_only_hashes_are_stored(hub) -> None:
    from sqlalchemy import select

    from central.tables import Token

    with hub.hub.db.read() as s:
        stored = set(s.execute(select(Token.token_sha256)).scalars())
    assert stored == {hash_token(t) for t in hub.tokens.values()}
    assert not stored & set(hub.tokens.values())


def test_a_nodes_yaml_token_is_found_by_its_hash_and_a_new_list_of_nodes_is_indexed_afresh(town) -> None:
    """The per-request look-up of an edge's nodes.yaml token is a dict built once per list of nodes;
    a town with other nodes (a copy with a new list) answers for its own."""
    from central.auth import authenticate
    from gridwatch.config.schema import EdgeNode

    first = town.model_copy(update={"nodes": [
        EdgeNode(id=n.id, name=n.name, token_sha256=hash_token(f"tok-{n.id}")) for n in town.nodes]})
    node = first.nodes[1]
    assert first.node_by_token(hash_token(f"tok-{node.id}")) is node
    assert first.node_by_token(hash_token("tok-nobody")) is None
    who = authenticate(None, first, f"Bearer tok-{node.id}")  # type: ignore[arg-type]  # no DB asked
    assert who is not None and who.role == "edge" and who.node_id == node.id
    second = first.model_copy(update={"nodes": [first.nodes[0]]})
    assert second.node_by_token(hash_token(f"tok-{node.id}")) is None
    assert second.node_by_token(hash_token(f"tok-{first.nodes[0].id}")) is first.nodes[0]
    assert first.node_by_token(hash_token(f"tok-{node.id}")) is node  # the first keeps its own
