"""The OpenAPI 3.0 description of the HTTP API, served at GET /openapi.json.

Built here as plain data next to the code it describes: the error codes come from
domain/errors.py and the filter choices from the domain, so they cannot drift. Every /api/v2
path also answers with a trailing slash and answers OPTIONS preflights; tests/fuzz checks
that this document and the app's route table name the same endpoints.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.errors import (
    AlreadyMasked,
    Code,
    InvalidParameters,
    InvalidToken,
    MaskingError,
    PoolExhausted,
)
from callmask.domain.paging import MAX_LIMIT
from callmask.domain.reports import CALL_STATUSES, CSV_COLUMNS
from callmask.domain.webhooks import KINDS, OUTCOMES
from callmask.http import envelope

Schema = dict[str, Any]

PATH = "/openapi.json"
PREFIX = "/api/v2"

# When each code is answered; a code without an entry is described by its class's message.
WHEN: dict[Code, str] = {
    Code.INVALID_PARAMETERS: "a missing or invalid field (the message names it), both kinds of "
    "credentials, an expiry out of range, nothing matched on unset; also an unknown path "
    "(HTTP 404) or method (HTTP 405)",
    Code.SOMETHING_WENT_WRONG: "an unexpected failure (logged without phone numbers)",
    Code.DATABASE_UNAVAILABLE: "the database is unreachable or locked",
    Code.INVALID_TOKEN: "wrong or missing token, unknown user, invalid or expired ssid",
    Code.PERMISSION_DENIED: "the user lacks the endpoint's permission or role",
    Code.INVALID_REQUEST_DATA: "an empty, unparsable or oversized (over 64 KiB) body",
    Code.SAME_NUMBERS: "m1 and m2 are the same number after normalisation",
    Code.EXPIRY_NOT_INTEGER: "expiry_time or expiry_duration is not an integer (or ISO-8601)",
    Code.ALREADY_MASKED: "a live masking exists for the pair",
    Code.NOT_INSERTED: "the database failed while writing the masking",
    Code.POOL_EXHAUSTED: "no pool number is free for both parties",
    # RATE_LIMITED: the rate-limit work adds its sentence here; the Error schema's enum and
    # the code table pick its Code member up from domain/errors.py by themselves.
}


def _error_codes() -> list[int]:
    return [int(code) for code in Code if code is not Code.OK]


def _code_table() -> str:
    messages = {cls.code: cls.message for cls in _error_classes()}
    rows = [
        f"| {int(code)} | {messages.get(code, '')} | {WHEN.get(code, messages.get(code, ''))} |"
        for code in Code
        if code is not Code.OK
    ]
    return "\n".join(["| code | message | when |", "|---|---|---|", *rows])


def _error_classes() -> list[type[MaskingError]]:
    found: list[type[MaskingError]] = []
    pending: list[type[MaskingError]] = [MaskingError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


# -- parameter shapes ---------------------------------------------------------------------

NUMBER: Schema = {
    "description": "A phone number: E.164, national or international digits, as a string or "
    "a bare JSON number; parsed in CALLMASK_DEFAULT_REGION (IN).",
    "anyOf": [{"type": "string", "maxLength": 40}, {"type": "integer", "minimum": 0}],
    "example": 919876543210,
}
INSTANT: Schema = {
    "description": "Unix seconds, Unix milliseconds (13 or more digits) or ISO-8601 with an "
    "offset; an integer or a string.",
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "example": "2026-01-01T10:00:00+05:30",
}
MINUTES: Schema = {
    "description": "Whole minutes, an integer or a digit string.",
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "example": 120,
}
TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 255}


def _count(low: int, high: int, about: str) -> Schema:
    return {
        "description": f"{about}: an integer from {low} to {high}, or its digit string.",
        "anyOf": [
            {"type": "integer", "minimum": low, "maximum": high},
            {"type": "string", "pattern": "^[0-9]+$"},
        ],
    }


def _choice(values: tuple[str, ...], about: str) -> Schema:
    return {
        "description": f"{about}: one of {', '.join(values)}; several as a JSON list or "
        "comma-separated where the endpoint allows it.",
        "anyOf": [
            {"type": "string", "enum": list(values)},
            {"type": "array", "items": {"type": "string", "enum": list(values)}, "minItems": 1},
        ],
    }


PAGING: Schema = {
    "limit": _count(1, MAX_LIMIT, "page size (default 100)"),
    "cursor": {"type": "string", "description": "nextCursor of the previous page"},
    "order": {"type": "string", "enum": ["desc", "asc"], "description": "default desc"},
}
CREDENTIALS: Schema = {
    "userId": {**TEXT, "description": "with token; never together with ssid (1000)"},
    "token": {**TEXT, "description": "the user's token, shown once at `callmask user add`"},
    "ssid": {**TEXT, "description": "a session from /api/v2/auth/ssid, instead of userId+token"},
}


def _body(properties: Schema, required: list[str] | None = None) -> Schema:
    schema: Schema = {
        "type": "object",
        "properties": {**CREDENTIALS, **properties},
        "additionalProperties": True,
    }
    if required:
        schema["required"] = required
    return schema


BODIES: dict[str, Schema] = {
    "SetBody": _body(
        {
            "m1": NUMBER,
            "m2": NUMBER,
            "eventId": {**TEXT, "description": "yours; an exact retry with it answers the same"},
            "expiry_time": INSTANT,
            "expiry_duration": MINUTES,
        },
        ["m1", "m2"],
    ),
    "UnsetBody": _body(
        {
            "m1": NUMBER,
            "m2": NUMBER,
            "mask": NUMBER,
            "expiry_time": INSTANT,
            "expiry_duration": {
                **MINUTES,
                "description": "whole minutes from now; negative ends the maskings now",
            },
        }
    ),
    "RouteBody": _body({"caller": NUMBER, "mask": NUMBER}, ["mask"]),
    "MaskingGetBody": _body({"maskingId": TEXT, "eventId": TEXT}),
    "MaskingListBody": _body(
        {
            "status": {"type": "string", "enum": ["active", "ended", "expired", "all"]},
            "party": NUMBER,
            "mask": NUMBER,
            "eventId": TEXT,
            "maskingId": TEXT,
            "createdFrom": INSTANT,
            "createdTo": INSTANT,
            "expiryFrom": INSTANT,
            "expiryTo": INSTANT,
            **PAGING,
        }
    ),
    "MasklistBody": _body(
        {
            "startTime": INSTANT,
            "endTime": INSTANT,
            "mask": NUMBER,
            "party": NUMBER,
            "eventId": TEXT,
            "maskingId": TEXT,
            "status": _choice(CALL_STATUSES, "call status"),
            "minDuration": _count(0, 2**31 - 1, "talk time in seconds"),
            "maxDuration": _count(0, 2**31 - 1, "talk time in seconds"),
            **PAGING,
            "format": {"type": "string", "enum": ["json", "csv"], "description": "default json"},
        }
    ),
    "DeliveriesBody": _body(
        {
            "id": TEXT,
            "type": _choice(KINDS, "event type"),
            "outcome": _choice(OUTCOMES, "attempt outcome"),
            "startTime": INSTANT,
            "endTime": INSTANT,
            **PAGING,
        }
    ),
    "SsidBody": _body({}, ["userId", "token"]),
}

# -- answers ------------------------------------------------------------------------------

E164: Schema = {"type": "string", "pattern": r"^\+[1-9][0-9]{6,15}$", "example": "+919876543210"}
NULLABLE_TEXT: Schema = {"type": "string", "nullable": True}
NULLABLE_INT: Schema = {"type": "integer", "nullable": True}
NULLABLE_TIME: Schema = {"type": "string", "format": "date-time", "nullable": True}
SECONDS: Schema = {"type": "integer", "description": "Unix seconds"}


def _success(fields: Schema, required: list[str]) -> Schema:
    return {
        "allOf": [
            {"$ref": "#/components/schemas/Success"},
            {"type": "object", "properties": fields, "required": required},
        ]
    }


MASKING: Schema = {
    "type": "object",
    "properties": {
        "maskingId": {"type": "string"},
        "mask": E164,
        "m1": E164,
        "m2": E164,
        "eventId": NULLABLE_TEXT,
        "expiry_time": SECONDS,
    },
    "required": ["maskingId", "mask", "m1", "m2", "eventId", "expiry_time"],
}
MASKING_VIEW: Schema = {
    "type": "object",
    "properties": {
        **MASKING["properties"],
        "created_time": SECONDS,
        "status": {"type": "string", "enum": ["active", "ended"]},
        "ended_time": NULLABLE_INT,
        "endReason": {
            "type": "string",
            "nullable": True,
            "enum": ["unset", "expired", "number removed", None],
        },
    },
    "required": [*MASKING["required"], "created_time", "status", "ended_time", "endReason"],
}
CALL_VIEW: Schema = {
    "type": "object",
    "properties": {
        "callId": {"type": "string"},
        "maskingId": NULLABLE_TEXT,
        "eventId": NULLABLE_TEXT,
        "mask": E164,
        "caller": NULLABLE_TEXT,
        "callee": NULLABLE_TEXT,
        "startTime": NULLABLE_TIME,
        "answerTime": NULLABLE_TIME,
        "endTime": NULLABLE_TIME,
        "duration": NULLABLE_INT,
        "sipStatus": NULLABLE_INT,
        "status": {"type": "string", "enum": list(CALL_STATUSES)},
    },
    "required": ["callId", "status"],
}
DELIVERY: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": list(KINDS)},
        "attempt": {"type": "integer"},
        "attemptTime": NULLABLE_TIME,
        "url": {"type": "string"},
        "httpStatus": NULLABLE_INT,
        "error": NULLABLE_TEXT,
        "durationMs": NULLABLE_INT,
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
    },
    "required": ["id", "type", "attempt", "outcome"],
}
NEXT_CURSOR: Schema = {"type": "string", "nullable": True, "description": "null on the last page"}

ANSWERS: dict[str, Schema] = {
    "Success": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["success"]},
            "code": {"type": "integer", "enum": [int(Code.OK)]},
            "message": {"type": "string"},
        },
        "required": ["status", "code", "message"],
    },
    "Error": {
        "type": "object",
        "description": "Every error, HTTP 200 as DeepCall answers them (404/405 for an unknown "
        "path or method).",
        "properties": {
            "status": {"type": "string", "enum": ["error"]},
            "code": {"type": "integer", "enum": _error_codes()},
            "message": {"type": "string"},
        },
        "required": ["status", "code", "message"],
        "additionalProperties": False,
    },
    "Masking": MASKING,
    "MaskingView": MASKING_VIEW,
    "Call": CALL_VIEW,
    "Delivery": DELIVERY,
    "SetAnswer": _success(MASKING["properties"], MASKING["required"]),
    "UnsetAnswer": _success(
        {
            "count": {"type": "integer", "minimum": 1},
            "maskings": {"type": "array", "items": {"$ref": "#/components/schemas/Masking"}},
        },
        ["count", "maskings"],
    ),
    "RouteAnswer": _success(
        {
            "action": {"type": "string", "enum": ["connect", "reject"]},
            "caller": E164,
            "to": E164,
            "callerId": E164,
            "maskingId": NULLABLE_TEXT,
            "eventId": NULLABLE_TEXT,
            "sipCode": {"type": "integer", "enum": [403, 404]},
            "reason": {"type": "string"},
        },
        ["action"],
    ),
    "SsidAnswer": _success(
        {"ssid": {"type": "string"}, "expiry_time": SECONDS}, ["ssid", "expiry_time"]
    ),
    "MaskingGetAnswer": _success(
        {
            "count": {"type": "integer"},
            "maskings": {"type": "array", "items": {"$ref": "#/components/schemas/MaskingView"}},
        },
        ["count", "maskings"],
    ),
    "MaskingListAnswer": _success(
        {
            "count": {"type": "integer"},
            "nextCursor": NEXT_CURSOR,
            "maskings": {"type": "array", "items": {"$ref": "#/components/schemas/MaskingView"}},
        },
        ["count", "nextCursor", "maskings"],
    ),
    "MasklistAnswer": _success(
        {
            "count": {"type": "integer"},
            "startTime": {"type": "string", "format": "date-time"},
            "endTime": {"type": "string", "format": "date-time"},
            "nextCursor": NEXT_CURSOR,
            "calls": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}},
        },
        ["count", "startTime", "endTime", "nextCursor", "calls"],
    ),
    "DeliveriesAnswer": _success(
        {
            "count": {"type": "integer"},
            "nextCursor": NEXT_CURSOR,
            "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}},
        },
        ["count", "nextCursor", "deliveries"],
    ),
}

# -- examples -----------------------------------------------------------------------------

AUTH = {"userId": "acme", "token": "TOKEN"}
MASKING_EXAMPLE = {
    "maskingId": "3f2c9a0e7b5d4c1a8e6f2b3c4d5e6f70",
    "mask": "+918040001000",
    "m1": "+919876543210",
    "m2": "+919812345678",
    "eventId": "order-42",
    "expiry_time": 1767233000,
}


def _ok(summary: str, message: str, **fields: Any) -> Schema:
    return {
        "summary": summary,
        "value": {"status": "success", "code": int(Code.OK), "message": message, **fields},
    }


def _failed(summary: str, failure: MaskingError) -> Schema:
    return {
        "summary": summary,
        "value": {"status": "error", "message": failure.detail, "code": int(failure.code)},
    }


def _sent(summary: str, **fields: Any) -> Schema:
    return {"summary": summary, "value": fields}


# -- operations ---------------------------------------------------------------------------

CORS_HEADERS: Schema = {
    "Access-Control-Allow-Origin": {
        "description": "`*`, as the vendor answers",
        "schema": {"type": "string"},
    }
}


# RATE_LIMITED: the rate limits answer HTTP 429 with Retry-After and the Error envelope;
# documented on every /api/v2 operation once domain/errors.py has the code.
_RATE_LIMIT_CODE: Code | None = getattr(Code, "TOO_MANY_REQUESTS", None)
RATE_LIMITED: Schema = (
    {}
    if _RATE_LIMIT_CODE is None
    else {
        "429": {
            "description": "A rate limit or a failed-authentication lockout: wait Retry-After "
            f"seconds (code {int(_RATE_LIMIT_CODE)}).",
            "headers": {
                **CORS_HEADERS,
                "Retry-After": {"description": "whole seconds", "schema": {"type": "integer"}},
            },
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    }
)


def _answer(schema: str, examples: dict[str, Schema]) -> Schema:
    examples = {**examples, "invalidToken": _failed("a wrong token", InvalidToken())}
    return {
        "description": "The JSON envelope: success, or an error with its code (HTTP 200).",
        "headers": CORS_HEADERS,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": f"#/components/schemas/{schema}"},
                        {"$ref": "#/components/schemas/Error"},
                    ]
                },
                "examples": examples,
            }
        },
    }


def _with_csv(path: Schema) -> Schema:
    """The report's 200 may also be the CSV export (`format=csv`)."""
    content = path["post"]["responses"]["200"]["content"]
    content["text/csv"] = {
        "schema": {"type": "string"},
        "example": ",".join(CSV_COLUMNS) + "\r\n",
    }
    return path


def _request(body: str, examples: dict[str, Schema]) -> Schema:
    as_text = {
        name: {"summary": example["summary"], "value": orjson.dumps(example["value"]).decode()}
        for name, example in examples.items()
    }
    return {
        "required": True,
        "description": "A JSON object whatever the Content-Type says (curl --data-raw sends it "
        "as a form, axios as text/plain), or real form fields. Query-string parameters are read "
        "too; the body's win. At most 64 KiB, else 1047.",
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{body}"},
                "examples": examples,
            },
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": f"#/components/schemas/{body}"}
            },
            "text/plain": {
                "schema": {"type": "string", "description": "the JSON object, as text"},
                "examples": as_text,
            },
        },
    }


def _preflight(name: str) -> Schema:
    return {
        "operationId": f"{name}_preflight",
        "tags": ["cors"],
        "summary": "CORS preflight",
        "responses": {
            "204": {
                "description": "No content, with the vendor's CORS headers.",
                "headers": CORS_HEADERS,
            }
        },
    }


def _post(
    name: str,
    tag: str,
    summary: str,
    description: str,
    body: str,
    answer: str,
    sent: dict[str, Schema],
    answered: dict[str, Schema],
) -> Schema:
    return {
        "post": {
            "operationId": name,
            "tags": [tag],
            "summary": summary,
            "description": description,
            "requestBody": _request(body, sent),
            "responses": {"200": _answer(answer, answered), **RATE_LIMITED},
        },
        "options": _preflight(name),
    }


ROUTE_QUERY = [
    {
        "name": name,
        "in": "query",
        "required": name == "mask",
        "description": about,
        "schema": {"type": "string", "maxLength": 255},
        "example": example,
    }
    for name, about, example in (
        ("mask", "the dialled pool number (DID)", "+918040001000"),
        ("caller", "the caller's number as the trunk presents it", "+919876543210"),
        ("userId", "with token, instead of the bearer token", "sip"),
        ("token", "with userId", "ROUTER_TOKEN"),
        ("ssid", "instead of userId and token", "SSID"),
    )
]
ROUTE_ANSWERS: dict[str, Schema] = {
    "connect": _ok(
        "the caller has a live masking on this DID",
        "connect",
        action="connect",
        caller="+919876543210",
        to="+919812345678",
        callerId="+918040001000",
        maskingId=MASKING_EXAMPLE["maskingId"],
        eventId="order-42",
    ),
    "reject": _ok(
        "no live masking for this caller on this DID",
        "caller has no masking on this number",
        action="reject",
        sipCode=403,
        reason="caller has no masking on this number",
        maskingId=None,
    ),
}


def _route() -> Schema:
    common: Schema = {
        "tags": ["masking"],
        "summary": "Route a call",
        "description": "What the SIP proxy asks on each INVITE to a DID: connect (to the other "
        "party, showing the DID) or reject (sipCode 403 or 404). Router users only: "
        "`Authorization: Bearer <token>`, userId+token or ssid.",
        "security": [{"bearer": []}, {}],
        "responses": {"200": _answer("RouteAnswer", ROUTE_ANSWERS), **RATE_LIMITED},
    }
    body = _request(
        "RouteBody",
        {
            "route": _sent(
                "caller and DID",
                userId="sip",
                token="ROUTER_TOKEN",
                caller="+919876543210",
                mask="+918040001000",
            )
        },
    )
    return {
        "get": {"operationId": "route", **common, "parameters": ROUTE_QUERY},
        "post": {"operationId": "route_post", **common, "requestBody": body},
        "options": _preflight("route"),
    }


def _api_paths() -> dict[str, Schema]:
    return {
        "/Masking/set": _post(
            "set",
            "masking",
            "Set a masking",
            "Needs SET_MASKING. One live masking per pair (in either order) per account, else "
            "1503, except an exact retry (same pair, same non-empty eventId), which answers the "
            "existing masking. `expiry_time` wins over `expiry_duration`; neither means the "
            "default expiry.",
            "SetBody",
            "SetAnswer",
            {
                "vendorSample": _sent(
                    "the vendor's sample: bare numbers",
                    **AUTH,
                    m1=919876543210,
                    m2=919812345678,
                    eventId="order-42",
                    expiry_duration=120,
                )
            },
            {
                "set": _ok("a masking", "Masking set successfully", **MASKING_EXAMPLE),
                "alreadyMasked": _failed("a live masking exists for the pair", AlreadyMasked()),
                "poolExhausted": _failed("no DID is free for both", PoolExhausted()),
            },
        ),
        "/Masking/unset": _post(
            "unset",
            "masking",
            "End maskings, or move their end",
            "Needs SET_MASKING. `m1`, `m2` (parties in either position) and `mask` select live "
            "maskings with AND; at least one. A negative `expiry_duration`, a past "
            "`expiry_time` or neither ends them now; a future one moves their end.",
            "UnsetBody",
            "UnsetAnswer",
            {"byDid": _sent("end every live masking on a DID", **AUTH, mask=918040001000)},
            {
                "unset": _ok(
                    "ended", "Masking unset successfully", count=1, maskings=[MASKING_EXAMPLE]
                ),
                "nothing": _failed("nothing matched", InvalidParameters("no live masking matches")),
            },
        ),
        "/Masking/route": _route(),
        "/Masking/get": _post(
            "masking_get",
            "queries",
            "Maskings by maskingId or eventId",
            "Needs LIST_MASKING. Every masking of the account that matches (both given: AND), "
            "up to 500, newest first; 1000 if none.",
            "MaskingGetBody",
            "MaskingGetAnswer",
            {"byEvent": _sent("by eventId", **AUTH, eventId="order-42")},
            {
                "found": _ok(
                    "found",
                    "Masking found",
                    count=1,
                    maskings=[
                        {
                            **MASKING_EXAMPLE,
                            "created_time": 1767226000,
                            "status": "ended",
                            "ended_time": 1767226720,
                            "endReason": "unset",
                        }
                    ],
                )
            },
        ),
        "/Masking/list": _post(
            "masking_list",
            "queries",
            "List maskings",
            "Needs LIST_MASKING. Filters combine with AND; pages follow `nextCursor`.",
            "MaskingListBody",
            "MaskingListAnswer",
            {"live": _sent("the live ones", **AUTH, status="active", limit=50)},
            {"page": _ok("a page", "Masking list", count=0, nextCursor=None, maskings=[])},
        ),
        "/callreport/masklist": _with_csv(
            _post(
                "masklist",
                "reports",
                "The masked-call report",
                "Needs LIST_CALL_LOG. The account's calls started in `[startTime, endTime)` "
                "(default: the 24 hours before now, at most 31 days), newest first. `format=csv` "
                "answers text/csv with every matching call from the cursor on; errors are the JSON "
                "envelope either way.",
                "MasklistBody",
                "MasklistAnswer",
                {"day": _sent("the last 24 hours", **AUTH, limit=100)},
                {
                    "page": _ok(
                        "a page",
                        "Masked call list",
                        count=0,
                        startTime="2025-12-31T10:00:00.000Z",
                        endTime="2026-01-01T10:00:00.000Z",
                        nextCursor=None,
                        calls=[],
                    )
                },
            ),
        ),
        "/webhooks/deliveries": _post(
            "deliveries",
            "webhooks",
            "The webhook delivery log",
            "Needs LIST_WEBHOOK_LOG. The latest delivery attempts of the account's webhook.",
            "DeliveriesBody",
            "DeliveriesAnswer",
            {"failed": _sent("failed attempts", **AUTH, outcome="failed")},
            {"page": _ok("a page", "Webhook deliveries", count=0, nextCursor=None, deliveries=[])},
        ),
        "/auth/ssid": _post(
            "ssid",
            "auth",
            "Create an ssid",
            "A session made from userId and token, usable instead of them until it expires.",
            "SsidBody",
            "SsidAnswer",
            {"pair": _sent("userId and token", **AUTH)},
            {"ssid": _ok("a session", "ssid created", ssid="SSID", expiry_time=1767312000)},
        ),
    }


def _plain(name: str, summary: str, description: str, responses: Schema) -> Schema:
    return {
        "get": {
            "operationId": name,
            "tags": ["operations"],
            "summary": summary,
            "description": description,
            "responses": responses,
        }
    }


STATUS_OBJECT: Schema = {
    "type": "object",
    "properties": {"status": {"type": "string"}},
    "required": ["status"],
}


def _operation_paths() -> dict[str, Schema]:
    return {
        "/healthz": _plain(
            "healthz",
            "Liveness",
            "The process answers; no database work.",
            {
                "200": {
                    "description": "alive",
                    "content": {
                        "application/json": {
                            "schema": STATUS_OBJECT,
                            "example": {"status": "ok"},
                        }
                    },
                }
            },
        ),
        "/readyz": _plain(
            "readyz",
            "Readiness",
            "Whether this process can serve requests now (its database answers).",
            {
                code: {
                    "description": about,
                    "content": {"application/json": {"schema": STATUS_OBJECT, "example": example}},
                }
                for code, about, example in (
                    ("200", "ready", {"status": "ok"}),
                    ("503", "not ready", {"status": "unavailable"}),
                )
            },
        ),
        "/metrics": _plain(
            "metrics",
            "Metrics",
            "Prometheus text exposition format.",
            {
                "200": {
                    "description": "the metrics",
                    "content": {
                        "text/plain": {
                            "schema": {"type": "string"},
                            "example": "# TYPE callmask_requests_total counter\n",
                        }
                    },
                }
            },
        ),
        PATH: _plain(
            "openapi",
            "This document",
            "The OpenAPI 3.0 description of the API.",
            {
                "200": {
                    "description": "this document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        ),
    }


DESCRIPTION = """\
Self-hosted phone-number masking, compatible with DeepCall's Masking API v2.

Every endpoint under `/api/v2` answers `application/json; charset=utf-8` with the vendor's
CORS headers, also with a trailing slash on its path, and answers `OPTIONS` preflights.
Success is `{"status": "success", "code": 200, "message": ..., ...}`; every error is HTTP 200
with `{"status": "error", "message": ..., "code": N}`, except an unknown path (HTTP 404) or
method (HTTP 405), which carry the same body with code 1000.

Parameters come from the body (a JSON object whatever the Content-Type, or form fields) and
the query string; the body wins. Numbers may be bare JSON numbers or strings. Authentication
is `userId` + `token` or `ssid`, never both (1000); route also takes a bearer token.

## Error codes

"""


def document() -> Schema:
    """The OpenAPI document, as data."""
    paths = {PREFIX + path: item for path, item in _api_paths().items()}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "callmask",
            "version": "2",
            "description": DESCRIPTION + _code_table(),
        },
        "tags": [
            {"name": "masking", "description": "set, unset and route (DeepCall's API)"},
            {"name": "queries", "description": "the account's maskings"},
            {"name": "reports", "description": "the masked-call report"},
            {"name": "webhooks", "description": "the webhook delivery log"},
            {"name": "auth", "description": "sessions"},
            {"name": "cors", "description": "browser preflights"},
            {"name": "operations", "description": "for operators and their tools"},
        ],
        "paths": {**paths, **_operation_paths()},
        "components": {
            "schemas": {**BODIES, **ANSWERS},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a router's token"}
            },
        },
    }


@cache
def _rendered() -> bytes:
    return orjson.dumps(document())


async def serve(request: Request) -> Response:
    return Response(_rendered(), media_type=envelope.MEDIA_TYPE)
