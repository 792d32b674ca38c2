"""Who may call what: every API route × every role, keys, revocation, scoping, principals.

The matrix is built from the app's own routes, so a route added later is covered without
a line here: each must declare the action it performs, and each role is allowed or
refused exactly as ``domain.access.may`` says.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from access_keys import OTHER_PROVIDER, bearer
from conftest import ALICE
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.domain.access import Action, Role, may, parse_key
from vasguard.services.keys import authenticate, revoke_key
from vasguard.store import tables

OPEN_PATHS = {"/health", "/ready", "/metrics"}
ROLE_KEYS = {
    Role.OPERATOR: "operator",
    Role.CARE: "care",
    Role.PARTNER: "partner",
    Role.GATEWAY: "gateway",
}


@pytest.fixture
def client(rt) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as c:
        yield c


def _action(route: APIRoute) -> Action | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("requires_"):
            return Action(name.removeprefix("requires_"))
        pending.extend(dependency.dependencies)
    return None


def _api_routes(rt: Runtime) -> list[tuple[str, str, Action | None]]:
    """Every API route of the app, routers included: (method, full path, its action)."""
    app = create_app(rt)
    return [
        (method, context.path, _action(context.original_route))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path not in OPEN_PATHS
        for method in sorted(context.original_route.methods)
    ]


def _concrete(path: str) -> str:
    """A path with every parameter filled by a value of the right shape."""
    return re.sub(r"\{[^}]+\}", "1", path)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    kwargs: dict[str, object] = {"headers": headers}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    return client.request(method, _concrete(path), **kwargs).status_code  # type: ignore[arg-type]


def test_every_api_route_declares_the_action_it_performs(rt):
    routes = _api_routes(rt)
    assert len(routes) >= 8
    undeclared = [f"{m} {p}" for m, p, action in routes if action is None]
    assert undeclared == []


def test_every_route_refuses_a_request_without_a_usable_key(rt, client, keys):
    revoke_key(rt.uow(), rt.clock(), name="care")
    wrong_secret = keys["operator"][:-4] + "abcd"
    for method, path, _ in _api_routes(rt):
        for headers in (
            {},
            bearer("not-a-key"),
            bearer(wrong_secret),
            bearer(keys["care"]),  # revoked
            {"Authorization": f"Basic {keys['operator']}"},
        ):
            status = _call(client, method, path, headers)
            assert status == 401, (method, path, headers, status)


def test_every_route_allows_exactly_the_roles_that_hold_its_action(rt, client, keys):
    for method, path, action in _api_routes(rt):
        assert action is not None
        for role, name in ROLE_KEYS.items():
            status = _call(client, method, path, bearer(keys[name]))
            assert status != 401, (method, path, role)
            if may(role, action):
                assert status != 403, (method, path, role, status)
            else:
                assert status == 403, (method, path, role, status)


def test_the_gateway_alone_posts_mos_because_an_mo_is_consent():
    assert [r for r in Role if may(r, Action.POST_MO)] == [Role.GATEWAY]
    assert [r for r in Role if may(r, Action.POST_RECEIPT)] == [Role.GATEWAY]


def test_a_401_tells_how_to_authenticate(client):
    answer = client.get("/api/v1/subscribers/" + ALICE)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.headers["content-type"] == "application/problem+json"
    assert "vasguard keys create" in answer.json()["detail"]


def test_a_403_names_the_roles_that_may(client, keys):
    answer = client.post(
        "/api/v1/sms/mo", json={"from": ALICE, "text": "0000"}, headers=bearer(keys["operator"])
    )
    assert answer.status_code == 403
    assert answer.json()["detail"] == "a operator key may not post mo (allowed: gateway)"


def test_a_revoked_key_stops_working_at_once(rt, client, keys, world):
    path = f"/api/v1/subscribers/{ALICE}"
    assert client.get(path, headers=bearer(keys["care"])).status_code == 200
    revoke_key(rt.uow(), rt.clock(), name="care")
    assert client.get(path, headers=bearer(keys["care"])).status_code == 401
    assert client.get(path, headers=bearer(keys["operator"])).status_code == 200


def test_only_a_hash_of_the_secret_is_stored(world, keys):
    stored = world.rows(tables.api_keys)
    for token in keys.values():
        presented = parse_key(token)
        assert presented is not None
        row = next(r for r in stored if r["key_id"] == presented.key_id)
        assert bytes(row["secret_sha256"]) == presented.secret_sha256
        assert presented.secret.encode() not in repr(row).encode()


def test_a_provincial_care_key_sees_only_its_province(client, keys, world):
    path = f"/api/v1/subscribers/{ALICE}"
    assert client.get(path, headers=bearer(keys["care-home"])).status_code == 200
    elsewhere = client.get(path, headers=bearer(keys["care-elsewhere"]))
    assert elsewhere.status_code == 404 and elsewhere.json()["type"].endswith("unknown-subscriber")
    messages = client.get(path + "/messages", headers=bearer(keys["care-elsewhere"]))
    assert messages.status_code == 404


def test_a_partner_orders_only_its_own_services_and_nothing_changes_otherwise(client, keys, world):
    before = world.rows(tables.subscriptions)
    other = client.post(
        "/api/v1/orders",
        json={"msisdn": ALICE, "service": "80200002"},
        headers=bearer(keys["partner"]),
    )
    assert other.status_code == 403 and other.json()["type"].endswith("not-your-service")
    assert world.rows(tables.subscriptions) == before
    own = client.post(
        "/api/v1/orders",
        json={"msisdn": ALICE, "service": "80200002"},
        headers=bearer(keys["partner-other"]),
    )
    assert own.status_code == 201, own.text
    assert OTHER_PROVIDER == "802001"


def test_the_principal_is_recorded_in_the_events_of_its_changes(client, keys, world):
    made = client.post(
        "/api/v1/orders",
        json={"msisdn": ALICE, "service": "80100001", "channel": "web"},
        headers=bearer(keys["partner"]),
    )
    assert made.status_code == 201, made.text
    sid = made.json()["subscription_id"]
    e = tables.events.c
    with world.engine.connect() as conn:
        cause = conn.execute(
            select(e.cause_kind, e.cause_ref).where(
                e.entity == "subscription", e.entity_id == sid, e.kind == "ordered"
            )
        ).one()
    assert tuple(cause) == ("api", "partner")
    channel = world.rows(tables.subscriptions, tables.subscriptions.c.id == sid)[0]["channel"]
    assert channel == "partner"  # the key's channel, not the one the body claims


def test_the_grants_follow_the_roles_of_the_issue():
    care_may_not = {Action.EDIT_CATALOGUE, Action.BILL_RUN, Action.REPORTS, Action.POST_MO}
    assert not any(may(Role.CARE, a) for a in care_may_not)
    for action in (Action.CANCEL, Action.COMPLAIN, Action.REFUND, Action.RESOLVE_COMPLAINT):
        assert may(Role.CARE, action)
    partner = {a for a in Action if may(Role.PARTNER, a)}
    assert Action.READ_SUBSCRIBER not in partner and Action.REFUND not in partner
    assert {Action.ORDER, Action.READ_SUBSCRIPTIONS, Action.PARTNER_FEED} <= partner
    gateway_or_partner_only = {Action.POST_MO, Action.POST_RECEIPT, Action.PARTNER_FEED}
    assert {a for a in Action if not may(Role.OPERATOR, a)} == gateway_or_partner_only


def test_a_key_check_does_not_wait_for_a_writer(rt, keys, world):
    """A bill run on SQLite holds the one writer for minutes: requests must still be let in."""
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with rt.uow() as uow:
            uow.keys.revoke(-1, world.clock.now())  # a write: SQLite's lock is taken now
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(30)
        principal = authenticate(rt.reader(), keys["care"])
        assert principal is not None and principal.name == "care"
        assert not release.is_set() and thread.is_alive()  # checked while the writer held on
    finally:
        release.set()
        thread.join(30)
