"""The OpenAPI declares every answer a route can give, problems included.

A route declares its success. The problems every keyed route can answer come from
handlers shared by all of them — 401 (no usable key) and 403 (the role or scope may
not) from ``auth``, 404 and 409 from a ``Refused`` (``problems._STATUS``), 422 for input
the schema or the domain refuses, 429 from the rate limit, and for a route with a body
400 (not JSON) and 413 (over the limit) — so they are declared here, once, on every
operation they can come from, as ``application/problem+json`` (RFC 9457) in the shape
``problems.problem_body`` gives them. FastAPI's own 422 (``HTTPValidationError``,
``application/json``) is not what the API sends, so it is replaced. A route declaring a
status of its own keeps it, and the problem is added beside it; ``problem_responses``
is for a route to declare more (``/ready``'s 503).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM_JSON = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "what kind of problem: a URI"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string", "description": "this occurrence, for a person"},
        "errors": {
            "type": "array",
            "description": "invalid input: each field and what is wrong with it",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "retry_after_seconds": {"type": "integer"},
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    400: "the request body is not JSON",
    401: "no usable key: missing, malformed, unknown, wrong or revoked",
    403: "the key's role or scope may not do this",
    404: "a code, number, ticket or id named by the request does not exist (for this key)",
    409: "the state of things refuses the request",
    413: "the request body is over the size limit",
    422: "the request is not valid: the fields in 'errors', or a value the domain refuses",
    429: "this key's rate limit is reached: retry after 'Retry-After' seconds",
    503: "not able to serve now: retry later",
}

_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
}

_REF = {"$ref": "#/components/schemas/Problem"}
KEYED = (401, 403, 404, 409, 422, 429)
"""What any route behind a key can answer."""


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: these statuses, answered as problems."""
    return {status: _problem(status) for status in statuses}


def _problem(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS.get(status, "a problem"),
        "content": {PROBLEM_JSON: {"schema": _REF}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def declare_problems(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI declare the problems of each operation (built once)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_problems(build())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_problems(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            statuses: set[int] = set()
            if "422" in responses or operation.get("parameters") or "requestBody" in operation:
                statuses.add(422)
            if operation.get("security"):
                statuses.update(KEYED)
            if "requestBody" in operation:
                statuses.update((400, 413))
            for status in sorted(statuses):
                declared = responses.get(str(status))
                if declared is None or _is_fastapi_validation_error(declared):
                    responses[str(status)] = _problem(status)
                else:
                    declared.setdefault("content", {})[PROBLEM_JSON] = {"schema": _REF}
    schemas = schema["components"]["schemas"]
    if "HTTPValidationError" in schemas and "HTTPValidationError" not in str(schema["paths"]):
        del schemas["HTTPValidationError"]
        schemas.pop("ValidationError", None)


def _is_fastapi_validation_error(response: dict[str, Any]) -> bool:
    content = response.get("content", {}).get("application/json", {})
    return bool(content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"))
