"""schemathesis against ``vasguard serve`` on PostgreSQL: every operation, every role's key.

The server is the real command (a subprocess on a free port, loopback SMSC, no scheduler)
on a PostgreSQL database of its own, seeded with the test world. schemathesis reads the
OpenAPI the server publishes, so every route there is fuzzed, and sends each case it
generates (schema-valid and schema-violating, from the examples, coverage and fuzzing
phases) once with each role's key. Every built-in check is on: no 5xx, every status,
content type, header and body as the OpenAPI declares it, schema-violating input refused
and schema-valid input not refused as malformed, and a route that ignores a missing or
bad key (``ignored_auth``). A failure prints the request as a curl command, and the
server's log says where it broke.

``FUZZ_EXAMPLES`` bounds the fuzzing phase per operation (default 12, so the whole run
stays under two minutes on two cores); ``FUZZ_EXAMPLES=200`` for a longer hunt.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema_rs
import pytest
import schemathesis
from access_keys import issue_keys
from conftest import HOME, T0, private_database, seed_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.hooks import HookContext
from test_serve import START_TIMEOUT, eventually, free_port

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.channels.http.fields import MSISDN_PATTERN
from vasguard.channels.http.partner import WEBHOOK_URL_PATTERN
from vasguard.config import Settings
from vasguard.domain.msisdn import load_segments, normalise
from vasguard.domain.partner_feed import check_webhook
from vasguard.store import tables

pytestmark = pytest.mark.xdist_group("fuzz")  # one server, one worker

VASGUARD = Path(sys.executable).parent / "vasguard"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
# Every role, and the scoped keys (a partner of one provider, a care desk of one province).
ROLES = ["operator", "care", "care-home", "partner", "gateway"]
EXAMPLE_MSISDN = "13800138000"


class Server:
    def __init__(self, url: str, keys: dict[str, str], log: Path) -> None:
        self.url = url
        self.keys = keys
        self.log = log

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def fuzz_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database of its own: the world, and a subscriber with the number the
    schema's examples use, so the examples reach real rows."""
    with private_database("postgresql", "fuzz", tmp_path_factory.mktemp("fuzzdb")) as engine:
        seed_world(engine)
        with engine.begin() as conn:
            conn.execute(
                tables.subscribers.insert(),
                {
                    "id": 4,  # the world sets its ids, so the sequence has not moved
                    "msisdn": EXAMPLE_MSISDN,
                    "province": load_segments().province_of(EXAMPLE_MSISDN),
                    "language": "zh",
                    "status": "active",
                    "created_at": T0,
                },
            )
        yield engine.url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def server(fuzz_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    keys = issue_keys(Runtime(Settings(database_url=fuzz_database)), HOME)
    port = free_port()
    tmp = tmp_path_factory.mktemp("fuzz")
    log = tmp / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VASGUARD_")}
    env |= {
        "VASGUARD_DATABASE_URL": fuzz_database,
        "VASGUARD_HTTP_PORT": str(port),
        "VASGUARD_SCHEDULER": "false",
        "VASGUARD_LOG_LEVEL": "WARNING",
        "VASGUARD_SHUTDOWN_SECONDS": "2",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(VASGUARD), "serve"], env=env, cwd=tmp, stdout=out, stderr=out
        )
    served = Server(f"http://127.0.0.1:{port}", keys, log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{served.log_tail()}")
        try:
            return httpx.get(f"{served.url}/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(ready, "serve is ready", START_TIMEOUT)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def published_openapi() -> dict[str, Any]:
    """The OpenAPI of the app ``serve`` runs; the database is not touched to build it."""
    return create_app(Runtime(Settings(database_url="sqlite://"))).openapi()


# Loaded at collection, so each operation is a test of its own (schemathesis's lazy
# fixture loader does not work with pytest 9); the cases go to the server's URL.
OPENAPI = published_openapi()
schema = schemathesis.openapi.from_dict(copy.deepcopy(OPENAPI))
schema.config.generation.update(max_examples=EXAMPLES)


def fresh_key(case: schemathesis.Case) -> dict[str, str]:
    """A new Idempotency-Key for each request, as a client sends: a key names one request,
    so the fuzzer's "null" for two bodies is a 422 by design (the idempotency tests hold
    that). A case whose headers are the schema-violating part keeps its own."""
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
        return {}
    return {"Idempotency-Key": uuid.uuid4().hex}


@schema.hook
def filter_failure(
    context: HookContext, failure: Failure, case: schemathesis.Case, response: Any
) -> bool:
    """Keep every failure but one the fuzzer makes itself: a "schema-violating" query
    parameter that is valid once on the wire (a boolean ``false`` for a string parameter
    goes as the string "false"). schemathesis allows for this with numeric parameters
    only; here every query value is checked as sent, and only a request that was valid
    throughout is let go."""
    if not isinstance(failure, AcceptedNegativeData) or case.body is not None:
        return True
    meta = case.meta
    if meta is None or any(
        meta.is_negative_at(where) for where in (ParameterLocation.HEADER, ParameterLocation.PATH)
    ):
        return True
    operation = OPENAPI["paths"][case.operation.path][case.method.lower()]
    declared = {
        p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"
    }
    sent = parse_qsl(urlsplit(response.request.url).query, keep_blank_values=True)
    valid = all(n in declared and jsonschema_rs.is_valid(declared[n], v) for n, v in sent)
    return not valid


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_every_operation_with_every_role(case: schemathesis.Case, server: Server) -> None:
    for role in ROLES:
        try:
            case.call_and_validate(
                base_url=server.url,
                headers={"Authorization": f"Bearer {server.keys[role]}", **fresh_key(case)},
                timeout=30,
            )
        except FailureGroup as failed:
            raise AssertionError(
                f"with the {role} key:\n{failed}\n--- serve's log ---\n{server.log_tail()}"
            ) from failed


def test_the_fuzzed_schema_is_what_the_server_publishes(server: Server) -> None:
    """The cases above come from the app's OpenAPI built in the test process: it must be
    the one the running server answers with, every route of it."""
    served = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    assert served == published_openapi()
    fuzzed = {f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()}
    assert fuzzed == {f"{m.upper()} {p}" for p, item in served["paths"].items() for m in item}


# --- what the fuzzer found, held on its own ------------------------------------------


def test_a_method_the_route_lacks_is_a_405_saying_which_it_has(server: Server) -> None:
    path = "/api/v1/orders"
    answer = httpx.request("TRACE", server.url + path, timeout=30)
    assert answer.status_code == 405
    declared = {m.upper() for m in published_openapi()["paths"][path]}
    assert set(answer.headers["allow"].split(", ")) == declared and "POST" in declared
    assert answer.headers["content-type"].startswith("application/problem+json")


@given(st.from_regex(MSISDN_PATTERN, fullmatch=True))
def test_every_number_the_schema_lets_through_is_a_number(raw: str) -> None:
    """The schema's msisdn pattern never passes a text the domain refuses as malformed."""
    assert normalise(raw)[0] == "1"


@pytest.mark.parametrize("raw", ["+86 138 0013 8000", "００８６13800138000", "(138)0013-8000"])
def test_the_forms_of_a_number_the_domain_reads_are_in_the_schema(raw: str) -> None:
    assert re.fullmatch(MSISDN_PATTERN, raw) and normalise(raw) == EXAMPLE_MSISDN


@given(st.from_regex(WEBHOOK_URL_PATTERN, fullmatch=True), st.text(min_size=16, max_size=16))
def test_every_webhook_url_the_schema_lets_through_is_kept(url: str, secret: str) -> None:
    assert check_webhook(url, secret) == url


def test_a_cursor_past_an_integer_id_column_is_an_empty_page(server: Server) -> None:
    """Plans have ``Integer`` ids: PostgreSQL refused the comparison (a 500) before."""
    answer = httpx.get(
        f"{server.url}/api/v1/plans",
        params={"cursor": str(2**31 + 1)},
        headers={"Authorization": f"Bearer {server.keys['operator']}"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/charges", {"period": ""}),  # was taken as no period
        ("/api/v1/services", {"limt": "5"}),  # a parameter the route does not take
    ],
)
def test_query_input_the_schema_refuses_is_a_422(
    server: Server, path: str, params: dict[str, str]
) -> None:
    answer = httpx.get(
        server.url + path,
        params=params,
        headers={"Authorization": f"Bearer {server.keys['operator']}"},
        timeout=30,
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
