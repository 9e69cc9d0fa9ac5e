"""The findings REST API: a Chalice blueprint with IAM (SigV4) authorization on every route.

    GET  /findings                 ?bucket= &principal= &decision= &since= &limit= &next_token=
    GET  /findings/{finding_id}
    POST /diagnose                 body: the runbook's inputs (DESIGN 3.1), diagnosed live

Bad input is a 400 whose JSON body names the parameter; an unknown id is a 404. Ports come
from `wiring`; the diagnosis itself from `service`. This module only translates HTTP.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalice.app import Blueprint, IAMAuthorizer, Response

from chalicelib import service, wiring
from chalicelib.commands.timespec import parse_since
from chalicelib.model import DiagnoserError, InputError, Json, Verdict
from chalicelib.publish.ports import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, FindingQuery
from chalicelib.request import request_from_runbook

logger = logging.getLogger(__name__)

api = Blueprint(__name__)
_authorizer = IAMAuthorizer()

LIST_PARAMETERS = frozenset({"bucket", "principal", "decision", "since", "limit", "next_token"})


@api.route("/findings", methods=["GET"], authorizer=_authorizer)
def list_findings() -> Response:
    """One page of findings, newest first, with the token of the next page."""
    try:
        query = finding_query(api.current_request.query_params or {}, now=datetime.now(UTC))
        page = wiring.finding_store().list(query)
    except InputError as error:
        return bad_request(error)
    return _json(
        200,
        {"findings": [f.to_dict() for f in page.findings], "next_token": page.next_token},
    )


@api.route("/findings/{finding_id}", methods=["GET"], authorizer=_authorizer)
def get_finding(finding_id: str) -> Response:
    """One finding by id; 404 when there is none."""
    finding = wiring.finding_store().get(finding_id)
    if finding is None:
        return _json(
            404,
            {
                "error": "NotFound",
                "parameter": "finding_id",
                "message": f"no finding with id {finding_id!r}",
            },
        )
    return _json(200, finding.to_dict())


@api.route(
    "/diagnose",
    methods=["POST"],
    authorizer=_authorizer,
    content_types=["application/json"],
)
def diagnose() -> Response:
    """Diagnose the runbook's inputs against the live account, without storing or alerting."""
    try:
        request = request_from_runbook(_body(api.current_request.raw_body))
        finding = service.diagnose_request(request, **wiring.diagnosis_ports())
    except InputError as error:
        return bad_request(error)
    except DiagnoserError as error:
        logger.warning("diagnosis failed: %s", error)
        return _json(500, {"error": "DiagnosisFailed", "message": str(error)})
    return _json(200, finding.to_dict())


def finding_query(params: Mapping[str, str], *, now: datetime) -> FindingQuery:
    """The store query for `GET /findings` parameters; InputError names the bad one."""
    unknown = sorted(set(params) - LIST_PARAMETERS)
    if unknown:
        raise InputError(
            unknown[0], f"unknown parameter; expected one of {', '.join(sorted(LIST_PARAMETERS))}"
        )
    decision = params.get("decision")
    if decision is not None and decision not in {v.value for v in Verdict}:
        raise InputError(
            "decision", f"{decision!r} is not one of {', '.join(v.value for v in Verdict)}"
        )
    since = params.get("since")
    return FindingQuery(
        bucket=params.get("bucket") or None,
        principal_arn=params.get("principal") or None,
        decision=decision,
        since=parse_since(since, now=now) if since else None,
        limit=_limit(params.get("limit")),
        next_token=params.get("next_token") or None,
    )


def bad_request(error: InputError) -> Response:
    """A 400 whose body names the parameter (or body field) and says what is wrong."""
    return _json(
        400, {"error": "BadRequest", "parameter": error.field_path, "message": error.message}
    )


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE_SIZE
    try:
        value = int(text)
    except ValueError:
        raise InputError("limit", f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise InputError("limit", f"must be between 1 and {MAX_PAGE_SIZE}, got {value}")
    return value


def _body(raw: str | bytes) -> Json:
    try:
        body: Any = json.loads(raw or b"null")
    except ValueError as error:
        raise InputError("body", f"not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise InputError("body", "must be a JSON object with requester_arn, action, resource_arn")
    return body


def _json(status: int, body: Json) -> Response:
    return Response(
        body=json.dumps(body, sort_keys=True),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )
