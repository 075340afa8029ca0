"""`/openapi.json` as the server answers (issue 20, point 5): one pass over FastAPI's schema, in
the app factory, so that every route — today's and those added later — is documented the same way.

For each operation, by the face its path belongs to (`arrears.faces.errors.face_of`):
- FastAPI's default `422 HTTPValidationError` goes (bad input is a 400 in the face's body); a 422
  a route declares itself (the premium face's reused Idempotency-Key) stays;
- the error statuses the server can answer are listed with the face's own error body (a component
  per face, the shapes `arrears.faces.errors` renders): 400 where the request carries input,
  401/403 where a credential is needed, 404 where the path, query or body names something, 409 on writes, 413
  where a body is read, 429 where requests are counted, 503 (an outage: Retry-After) everywhere
  the database is used. A status a route declares (`responses={…}`) keeps its description;
- the security schemes the face admits (one per credential) are named on the operation, unless the
  route says otherwise with `openapi_extra={"security": […]}` (`PUBLIC` for none).

Query parameters the handlers read themselves (strings parsed into numbers, flags, enums) say what
they accept with the helpers below: `Query(None, json_schema_extra=integer(minimum=1))`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI

from arrears.faces.bodylimit import UPLOAD_STATUS
from arrears.faces.errors import face_of

JSON = "application/json"
PUBLIC: dict[str, Any] = {"security": []}  # openapi_extra of a route that takes no credential

# ------------------------------------------------------------------ credentials

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "userJWT": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A user's access token from POST /api/auth/token/ "
                               "(Authorization: Bearer <access>)."},
    "pctApiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "pct_ API key",
                  "description": "A cell captive's API key, `pct_…` (shared/specs/premium-collection-api.md)."},
    "insApiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "ins_ API key",
                  "description": "A partner API key, `ins_…`, with the scopes each route names "
                                 "(shared/specs/partner-api-ecosystem.md; docs/contracts.md#partner-scopes)."},
    "metricsToken": {"type": "http", "scheme": "bearer",
                     "description": "ARREARS_METRICS_TOKEN, when it is set."},
}

# The credentials each face admits: alternatives (any one of them).
FACE_SECURITY: dict[str | None, list[str]] = {
    "repaysync": ["userJWT"],
    "aama": ["userJWT"],
    "pharmacy": ["userJWT"],
    "premium": ["pctApiKey"],
    "collections": ["userJWT", "pctApiKey"],
    "partner": ["userJWT", "insApiKey"],
    None: [],
}

# Paths outside the faces (arrears.ops): what they answer besides 200.
OPERATIONS: dict[str, dict[str, Any]] = {
    "/healthz": {"errors": []},
    "/readyz": {"errors": [], "responses": {  # its 503 is the readiness report, not an error body
        "200": {"description": "Ready, or degraded (Redis away: the fallbacks serve)",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/Readiness"}}}},
        "503": {"description": "The database is unreachable: take this server out of rotation",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/Readiness"}}}}}},
    "/metrics": {"errors": [401], "security": [{"metricsToken": []}, {}],
                 "content": {"text/plain": {"schema": {"type": "string"}}}},
}

# ------------------------------------------------------------------ error bodies

_FIELD_ERRORS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                 "description": "Per field, its messages"}

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "RepaySyncError": {
        "type": "object", "title": "RepaySyncError",
        "description": "RepaySync's error: `{\"error\": message}`, or `{\"errors\": {field: [messages]}}` "
                       "for field errors.",
        "properties": {"error": {"type": "string"}, "errors": _FIELD_ERRORS}},
    "AamaError": {
        "type": "object", "title": "AamaError", "required": ["message", "code", "details"],
        "description": "AAMA's error: a message, a code and `details` (a readable string); structured "
                       "details under keys of their own.",
        "properties": {"message": {"type": "string"}, "code": {"type": "string"},
                       "details": {"type": "string"}, "field_errors": _FIELD_ERRORS,
                       "problems": {"type": "array", "items": {"type": "object"}},
                       "unknown_account_ids": {"type": "array", "items": {"type": "string"}}}},
    "PharmacyError": {
        "type": "object", "title": "PharmacyError", "required": ["detail"],
        "properties": {"detail": {"type": "string"}}},
    "PremiumError": {
        "type": "object", "title": "PremiumError", "required": ["error"],
        "properties": {"error": {"type": "object", "title": "PremiumErrorDetail", "required": ["message", "code"],
                                 "properties": {"message": {"type": "string"}, "code": {"type": "string"}}}}},
    "PartnerError": {
        "type": "object", "title": "PartnerError", "required": ["error", "message"],
        "description": "The partner spec's error: a code, a message and `details` (null, field errors or "
                       "more); a 429 has `retryAfter` (seconds) instead of `details`.",
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "details": {},
                       "retryAfter": {"type": "integer"}}},
    "Readiness": {
        "type": "object", "title": "Readiness", "required": ["status", "database"],
        "properties": {"status": {"type": "string", "enum": ["ready", "degraded", "unavailable"]},
                       "database": {"type": "string"}, "redis": {"type": "string"}, "error": {"type": "string"},
                       "fallbacks": {}}},
    "OperationsError": {
        "type": "object", "title": "OperationsError", "required": ["detail"],
        "properties": {"detail": {"type": "string"}}},
}

FACE_ERROR: dict[str | None, str] = {
    "repaysync": "RepaySyncError", "aama": "AamaError", "pharmacy": "PharmacyError", "premium": "PremiumError",
    "collections": "PremiumError", "partner": "PartnerError", None: "OperationsError",
}

DESCRIPTIONS = {
    400: "Bad input: nothing was changed", 401: "No credential, or not a valid one for this route",
    403: "The credential may not do this (role, scope, access or organisation state)",
    404: "Not found (or not visible to this caller)", 409: "Conflicts with the stored state",
    413: "The request body is larger than this route's limit", 422: "Unprocessable",
    429: "Too many requests: retry after Retry-After seconds",
    503: "The database (or Redis) is briefly unreachable: retry after Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "required": True,
                               "schema": {"type": "integer"}}}
WRITES = {"post", "put", "patch", "delete"}
VALIDATION_REFS = {"#/components/schemas/HTTPValidationError"}


def error_statuses(face: str | None, method: str, path: str, op: dict[str, Any], secured: bool) -> set[int]:
    """The error statuses an operation of this face can answer."""
    if path in OPERATIONS:
        return set(OPERATIONS[path]["errors"])
    body = op.get("requestBody")
    statuses = {503}
    if op.get("parameters") or body:
        statuses.add(400)
    if secured:
        statuses |= {401, 403}
    if "{" in path or (secured and (body or op.get("parameters"))):
        statuses.add(404)  # the path's ids, or ids the query or body refers to
    if secured and method in WRITES:
        statuses.add(409)
    if body and not (face in UPLOAD_STATUS and set(body.get("content", {})) == {"multipart/form-data"}):
        statuses.add(413)  # (AAMA and pharmacy answer an oversized upload with their 400)
    if face in ("partner", "premium"):
        statuses.add(429)
    return statuses


def _error_response(status: int, ref: str, declared: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": (declared or {}).get("description") or DESCRIPTIONS.get(status, "Error"),
                           "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}
    if status in (429, 503):
        out["headers"] = copy.deepcopy(RETRY_AFTER)
    return out


def _is_default_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get(JSON, {}).get("schema", {})
    return schema.get("$ref") in VALIDATION_REFS


def document_operation(path: str, method: str, op: dict[str, Any]) -> None:
    face = face_of(path)
    responses: dict[str, Any] = op.setdefault("responses", {})
    if "422" in responses and _is_default_validation(responses["422"]):
        del responses["422"]
    extra = OPERATIONS.get(path, {})
    if "security" not in op:
        schemes = extra.get("security") or [{name: []} for name in FACE_SECURITY.get(face, [])]
        if schemes:
            op["security"] = schemes
    secured = any(req for req in op.get("security", []))
    ref = FACE_ERROR.get(face, "OperationsError")
    declared = {int(k): v for k, v in responses.items() if k.isdigit() and int(k) >= 400}
    for status in sorted(error_statuses(face, method, path, op, secured) | set(declared)):
        responses[str(status)] = _error_response(status, ref, declared.get(status))
    if "content" in extra and "200" in responses:
        responses["200"]["content"] = copy.deepcopy(extra["content"])
    responses.update(copy.deepcopy(extra.get("responses", {})))


def truthful(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's schema with every operation documented as the server answers."""
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method in WRITES | {"get", "head", "options"}:
                document_operation(path, method, op)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(copy.deepcopy(ERROR_SCHEMAS))
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    return schema


def install(app: FastAPI) -> None:
    """Serve the truthful schema at /openapi.json (built once, on the first request)."""
    build = app.openapi
    done: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if "schema" not in done:
            done["schema"] = truthful(build())
            app.openapi_schema = done["schema"]
        return done["schema"]

    app.openapi = openapi  # type: ignore[method-assign]


# ------------------------------------------------------------------ query parameters read by hand

JsonSchemaExtra = Callable[[dict[str, Any]], None]


def _replace(schema: dict[str, Any]) -> JsonSchemaExtra:
    def extra(generated: dict[str, Any]) -> None:
        title = generated.get("title")
        generated.clear()
        generated.update(copy.deepcopy(schema))
        if title and "title" not in schema:
            generated["title"] = title
    return extra


def integer(*, minimum: int | None = None, maximum: int | None = None, default: int | None = None
            ) -> JsonSchemaExtra:
    """A whole number (the handler reads the text itself and answers 400 on anything else)."""
    schema: dict[str, Any] = {"type": "integer"}
    for key, value in (("minimum", minimum), ("maximum", maximum), ("default", default)):
        if value is not None:
            schema[key] = value
    return _replace(schema)


def number(*, minimum: float | None = None, maximum: float | None = None) -> JsonSchemaExtra:
    schema: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _replace(schema)


def boolean() -> JsonSchemaExtra:
    """true or false (the handler also reads 1/0, yes/no, on/off)."""
    return _replace({"type": "boolean"})


def one_of(values: Iterable[str], *, default: str | None = None) -> JsonSchemaExtra:
    schema: dict[str, Any] = {"type": "string", "enum": list(values)}
    if default is not None:
        schema["default"] = default
    return _replace(schema)


def date_or_datetime() -> JsonSchemaExtra:
    """An ISO 8601 date or date-time (the partner lists' bounds)."""
    return _replace({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]})


def uuid_format() -> JsonSchemaExtra:
    return _replace({"type": "string", "format": "uuid"})


def pattern(regex: str, example: str) -> JsonSchemaExtra:
    return _replace({"type": "string", "pattern": regex, "example": example})


def comma_list(values: Iterable[str], *, signed: bool = False) -> JsonSchemaExtra:
    """Names from `values`, comma-separated in one parameter (`d60,d90`); with `signed`, each may
    start with `-` (descending) or `+`."""
    names = list(values)
    one = ("[-+]?" if signed else "") + "(" + "|".join(names) + ")"
    return _replace({"type": "string", "pattern": rf"^\s*({one}\s*(,\s*{one}\s*)*)?$",
                     "description": "Comma-separated" + (", each with an optional - (descending)" if signed else "")
                                    + f": any of {', '.join(names)}"})


def file_response(*media_types: str, json: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route that answers a file (and JSON when asked for it)."""
    content: dict[str, Any] = {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types}
    if json:
        content[JSON] = {"schema": {"type": "object"}}
    return {200: {"description": "The file" + (" (or JSON with format=json)" if json else ""), "content": content}}
