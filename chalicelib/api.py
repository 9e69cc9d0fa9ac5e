"""The findings REST API: a Chalice blueprint with IAM (SigV4) authorization on every route.

    GET  /findings                 ?bucket= &principal= &account= &decision= &since= &limit=
                                   &next_token=
    GET  /findings/{finding_id}
    POST /diagnose                 body: the runbook's inputs (DESIGN 3.1), diagnosed live

Findings are answered at the `references` detail level unless the caller matches
FULL_DETAIL_PRINCIPALS (DESIGN 3.3); every answer says its `detail`. Bad input is a 400 whose
JSON body names the parameter; a Content-Type other than JSON is a 415 naming it; an unknown id
is a 404; a deployment that is not configured for a route is a 503 naming the variable.
`POST /diagnose` answers 404 unless DIAGNOSE_API is `enabled`. Ports come from `wiring`; the
diagnosis itself from `service`. This module only translates HTTP.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from chalice.app import Blueprint, IAMAuthorizer, Response

from . import service, wiring
from .commands.timespec import parse_since
from .diagnose.detail import Detail, at_detail
from .model import DiagnoserError, Finding, InputError, Json, Verdict
from .publish.ports import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    FindingPage,
    FindingQuery,
    finding_account,
)
from .publish.sizing import STORE_STEPS, fit
from .request import request_from_runbook

logger = logging.getLogger(__name__)

api = Blueprint(__name__)
_authorizer = IAMAuthorizer()

LIST_PARAMETERS = frozenset(
    {"bucket", "principal", "account", "decision", "since", "limit", "next_token"}
)
RESPONSE_BUDGET_BYTES = 5_000_000
"""A page stops before its body (as Lambda returns it, JSON-escaped) would exceed this."""
MAX_VALUE_LENGTH = 1024
MAX_ID_LENGTH = 256
MAX_KEY_BYTES = 1024
_BUCKET = re.compile(r"[A-Za-z0-9._-]{1,255}")  # what S3 clients accept as a bucket name
_ASSUMED_ROLE = re.compile(r"arn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/.+")
JSON_MEDIA_TYPE = "application/json"
View = Callable[..., Response]


def _route(path: str, method: str) -> Callable[[View], View]:
    """`api.route` for a JSON route of the API, behind IAM: Chalice would answer a media type
    other than JSON with its own 415 body (`{"Code", "Message"}`), so every route takes any
    (`*/*`) and answers it with the API's error shape (`unsupported_media_type`) instead."""

    def register(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Response:
            refused = unsupported_media_type()
            return refused if refused is not None else view(*args, **kwargs)

        api.route(path, methods=[method], authorizer=_authorizer, content_types=["*/*"])(checked)
        return view

    return register


@_route("/findings", "GET")
def list_findings() -> Response:
    """One page of findings, newest first, with the token of the next page."""
    try:
        detail = caller_detail()
        query = finding_query(api.current_request.query_params or {}, now=datetime.now(UTC))
        page = wiring.finding_store().list(query)
    except wiring.ConfigError as error:
        return not_configured(error)
    except InputError as error:
        return bad_request(error)
    findings, next_token = fit_page(page, detail, budget=RESPONSE_BUDGET_BYTES)
    return _json(200, {"detail": detail.value, "findings": findings, "next_token": next_token})


@_route("/findings/{finding_id}", "GET")
def get_finding(finding_id: str) -> Response:
    """One finding by id; 404 when there is none."""
    try:
        detail = caller_detail()
        _check_value("finding_id", finding_id, MAX_ID_LENGTH)
        finding = wiring.finding_store().get(finding_id)
    except wiring.ConfigError as error:
        return not_configured(error)
    except InputError as error:
        return bad_request(error)
    if finding is None:
        return _json(
            404,
            {
                "error": "NotFound",
                "parameter": "finding_id",
                "message": f"no finding with id {finding_id!r}",
            },
        )
    return _json(200, render_within(finding, detail, budget=RESPONSE_BUDGET_BYTES)[0])


@_route("/diagnose", "POST")
def diagnose() -> Response:
    """Diagnose the runbook's inputs against the live account, without storing or alerting."""
    try:
        if not wiring.settings().diagnose_api:
            return _json(
                404,
                {
                    "error": "Disabled",
                    "message": "POST /diagnose is disabled in this deployment (DIAGNOSE_API)",
                },
            )
        detail = caller_detail()
        ports = wiring.diagnosis_ports()
    except wiring.ConfigError as error:
        return not_configured(error)
    try:
        request = request_from_runbook(_body(api.current_request.raw_body))
        for operation in request.operations:
            _check_object(operation.bucket, operation.key)
        finding = service.diagnose_request(request, **ports)
    except InputError as error:
        return bad_request(error)
    except DiagnoserError as error:
        logger.warning("diagnosis failed: %s", error)
        return _json(500, {"error": "DiagnosisFailed", "message": str(error)})
    return _json(200, render_within(finding, detail, budget=RESPONSE_BUDGET_BYTES)[0])


def caller_detail() -> Detail:
    """`full` when the caller API Gateway authenticated matches FULL_DETAIL_PRINCIPALS."""
    patterns = wiring.settings().full_detail_principals
    context = api.current_request.context or {}
    identity = context.get("identity") or {}
    user_arn = identity.get("userArn") if isinstance(identity, Mapping) else None
    if not patterns or not isinstance(user_arn, str):
        return Detail.REFERENCES
    names = caller_arns(user_arn)
    if any(_wildcard(p).fullmatch(name) for p in patterns for name in names):
        return Detail.FULL
    return Detail.REFERENCES


def caller_arns(user_arn: str) -> tuple[str, ...]:
    """The caller's ARN, and for a role session also the role's (path-less) ARN."""
    session = _ASSUMED_ROLE.fullmatch(user_arn)
    if session is None:
        return (user_arn,)
    partition, account, role = session.groups()
    return (user_arn, f"arn:{partition}:iam::{account}:role/{role}")


def render(finding: Finding, detail: Detail) -> Json:
    """The finding's JSON at `detail`, which it names in `detail`, with its `account` (stored
    before findings carried one: derived, `ports.finding_account`)."""
    document = at_detail(finding, detail).to_dict()
    document.setdefault("account", finding_account(finding))
    return {**document, "detail": detail.value}


def render_within(finding: Finding, detail: Detail, *, budget: int) -> tuple[Json, int]:
    """`render(finding, detail)` and its size on the wire (`wire_size`); a finding bigger than
    `budget` alone (a stored finding is compressed: it can hold many megabytes of patches and
    policies) is shortened as stored findings are (`sizing.STORE_STEPS`), its `truncated`
    marker naming what was removed, so that no answer passes Lambda's 6 MB."""
    document = render(finding, detail)
    size = wire_size(document)
    if size <= budget:
        return document, size
    kept = {"account": document.get("account"), "detail": document["detail"]}
    fitted, _ = fit(document, STORE_STEPS, lambda d: wire_size({**d, **kept}) <= budget)
    document = {**fitted, **kept}
    return document, wire_size(document)


def wire_size(document: Json) -> int:
    """The bytes `document` takes in Lambda's answer, which carries the body as a JSON string:
    measured escaped, as it will travel."""
    return len(json.dumps(json.dumps(document, sort_keys=True))) + 2


def fit_page(page: FindingPage, detail: Detail, *, budget: int) -> tuple[list[Json], str | None]:
    """The page's findings that fit in `budget` bytes (at least one, shortened if it alone does
    not fit: `render_within`), and the token after them."""
    shown: list[Json] = []
    used = 1024  # the envelope: detail, next_token and punctuation
    for n, finding in enumerate(page.findings):
        if not shown:
            document, size = render_within(finding, detail, budget=budget - used)
        else:
            document = render(finding, detail)
            size = wire_size(document)
        if shown and used + size > budget and n <= len(page.tokens_after):
            return shown, page.tokens_after[n - 1]
        shown.append(document)
        used += size
    return shown, page.next_token


def finding_query(params: Mapping[str, str], *, now: datetime) -> FindingQuery:
    """The store query for `GET /findings` parameters; InputError names the bad one."""
    unknown = sorted(set(params) - LIST_PARAMETERS)
    if unknown:
        raise InputError(
            unknown[0][:MAX_VALUE_LENGTH],
            f"unknown parameter; expected one of {', '.join(sorted(LIST_PARAMETERS))}",
        )
    for name in sorted(params):
        _check_value(name, params[name], MAX_VALUE_LENGTH)
        if not params[name]:  # `bucket=` would otherwise list every bucket's findings
            raise InputError(name, "must not be empty")
    decision = params.get("decision")
    if decision is not None and decision not in {v.value for v in Verdict}:
        raise InputError(
            "decision", f"{decision!r} is not one of {', '.join(v.value for v in Verdict)}"
        )
    since = params.get("since")
    return FindingQuery(
        bucket=params.get("bucket"),
        principal_arn=params.get("principal"),
        account=params.get("account"),
        decision=decision,
        since=parse_since(since, now=now) if since is not None else None,
        limit=_limit(params.get("limit")),
        next_token=params.get("next_token"),
    )


def bad_request(error: InputError) -> Response:
    """A 400 whose body names the parameter (or body field) and says what is wrong."""
    return _json(
        400, {"error": "BadRequest", "parameter": error.field_path, "message": error.message}
    )


def unsupported_media_type() -> Response | None:
    """A 415 naming the Content-Type header when the request declares another media type than
    JSON (parameters such as `charset` aside; no header means JSON, as in Chalice); else None."""
    declared = api.current_request.headers.get("content-type")
    if declared is None or declared.split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE:
        return None
    return _json(
        415,
        {
            "error": "UnsupportedMediaType",
            "parameter": "Content-Type",
            "message": f"{declared[:MAX_VALUE_LENGTH]!r} is not supported: send JSON with "
            f"Content-Type: {JSON_MEDIA_TYPE}",
        },
    )


def not_configured(error: wiring.ConfigError) -> Response:
    """A 503 naming the environment variable the deployment must set or fix (logged)."""
    logger.error("API not configured: %s", error)
    return _json(
        503, {"error": "NotConfigured", "variable": error.field_path, "message": error.message}
    )


def _check_value(name: str, value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise InputError(name, f"longer than {max_length} characters")
    if any(ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InputError(name, "contains control characters")


def _check_object(bucket: str | None, key: str | None) -> None:
    """The bucket and key S3 would accept (InputError naming `resource_arn` otherwise)."""
    if bucket is not None and not _BUCKET.fullmatch(bucket):
        raise InputError("resource_arn", f"{bucket!r} is not a valid bucket name")
    if key is not None and len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InputError("resource_arn", f"the object key is longer than {MAX_KEY_BYTES} bytes")


def _wildcard(pattern: str) -> re.Pattern[str]:
    """A principal ARN pattern: `*` any run of characters, `?` any one; nothing else special."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


_DIGITS = re.compile(r"[0-9]+")


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE_SIZE
    if not _DIGITS.fullmatch(text):  # int() takes "+5", " 5", "1_0" and other scripts' digits
        raise InputError("limit", f"{text[:20]!r} is not a whole number")
    value = int(text[-9:]) if len(text.lstrip("0")) <= 9 else None  # int() refuses 4,300+ digits
    if value is None or not 1 <= value <= MAX_PAGE_SIZE:
        got = "" if value is None else f", got {value}"
        raise InputError("limit", f"must be between 1 and {MAX_PAGE_SIZE}{got}")
    return value


def _body(raw: str | bytes) -> Json:
    try:
        body: Any = json.loads(raw or b"null")
    except (ValueError, RecursionError) as error:
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
