"""`s3doctor demo`: an AWS Organization on a local moto server, with no AWS account, no network.

1. Start a moto server on a free loopback port; point every boto3 client of this process at it.
2. Seed the organization (`organization.py`): management (Organizations, an OU, an SCP on a
   member), security (the central deployment) and two members, each with the member role of
   `.chalice/member.json` trusting the central event function's role.
3. In the security account, as that role: the findings table, the alert topic with an SQS
   subscriber, a chat topic (as AWS Chatbot would subscribe to it) with one, and Security Hub.
4. Seed each member with causes of a 403 (`scenarios.py`), and send each denial's EventBridge
   event through the real Chalice handler of `app.py`, configured for the organization
   (MEMBER_ROLE_NAME, ORGANIZATION_ACCOUNT_IDS, ORG_READ_ROLE_ARN). The cross-account denial is
   sent as CloudTrail delivers it: once to each account, one `sharedEventID`.
5. Print the findings by account as `GET /findings?account=` lists them, then a line each for
   the alerts, the chat, Security Hub, and the alarms and dashboard of a deployment (`ALARMS`,
   `DASHBOARD`: created by the template, not on moto).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import io
import itertools
import json
import logging
import os
import re
import sys
import textwrap
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlencode

import boto3
from chalice.test import Client

from .. import wiring
from ..diagnose.sides import REQUESTER_LAYERS
from ..lean_dataclass import dataclass
from ..model import Finding, Json, Outcome
from ..publish.message import subject
from ..publish.securityhub import ID_PREFIX
from ..publish.store import create_table
from ..publish.timestamps import format_utc
from .cloudtrail import cross_account_copies, demo_id, eventbridge_envelope
from .organization import (
    MEMBERS,
    PERIMETER_NAME,
    PERIMETER_TARGET,
    SCP_NAME,
    SCP_TARGET,
    WORKLOADS_OU,
    DemoOrganization,
    seed_organization,
)
from .organization import session_in as session_in_account
from .scenarios import SCENARIOS, DemoAccount, Scenario

if TYPE_CHECKING:
    from chalice.app import Chalice
    from mypy_boto3_sqs import SQSClient

PROJECT = Path(__file__).resolve().parents[2]
MEMBER_TEMPLATE = PROJECT / ".chalice" / "member.json"
STAGE = "dev"
LIBRARY = __name__.split(".")[0]  # `s3doctor` when installed, `chalicelib` in the source tree
FIRST_ACCOUNT_ID = 111122223333
# moto servers of one process share their state: each run's management account is its own
# (the first one is the documentation placeholder), so a run never sees another's organization.
_RUNS = itertools.count()
REGION = "us-east-1"
TABLE_NAME = "s3-403-doctor-demo-findings"
TOPIC_NAME = "s3-403-doctor-demo-findings"
QUEUE_NAME = "s3-403-doctor-demo-subscriber"
CHAT_TOPIC_NAME = "s3-403-doctor-demo-chat"
CHAT_QUEUE_NAME = "s3-403-doctor-demo-chat-subscriber"
# The deployment's CloudWatch alarms and dashboard (names fixed by the deploy template).
ALARMS = tuple(f"s3-403-doctor-<stage>-{name}" for name in ("dlq-depth", "errors", "throttles"))
DASHBOARD = "s3-403-doctor-<stage>-<region>"
_QUIET = ("werkzeug", "moto", "botocore", "urllib3")
# A shell's own AWS settings must not reach the demo: MOTO_ACCOUNT_ID would put every request of
# every account into one, a profile or session token would sign with other credentials.
_UNSET = ("MOTO_ACCOUNT_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One message as the SQS subscriber received it."""

    subject: str | None
    attributes: Mapping[str, str]
    finding: Json


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoReport:
    """What the demo saw: the organization, the events sent, the alerts, the API's listings."""

    organization: DemoOrganization
    scenarios: tuple[Scenario, ...]
    events: Mapping[str, tuple[Json, ...]]  # scenario name -> its EventBridge events, as sent
    deliveries: tuple[Delivery, ...]
    api_status: int  # the first status of GET /findings that was not 200, else 200
    api_findings: tuple[Finding, ...]  # GET /findings
    by_account: Mapping[str, tuple[Finding, ...]]  # GET /findings?account=, every account
    chat: tuple[Json, ...] = ()  # custom notifications the chat topic's subscriber received
    security_hub: tuple[Json, ...] = ()  # ASFF findings Security Hub holds

    def findings_for(self, scenario: Scenario) -> tuple[Finding, ...]:
        """The listed findings of the scenario's events (one per denial, however many copies)."""
        ids = {event["detail"]["eventID"] for event in self.events[scenario.name]}
        return tuple(
            finding
            for finding in self.api_findings
            if finding.event_id in ids or finding.request.event_id in ids
        )


def run_demo(*, out: TextIO | None = None) -> int:
    """Run the flow and print it for a person; 0 when every denial got its one finding."""
    out = out or sys.stdout
    out.write("Starting a local moto server and seeding an AWS Organization...\n")
    report = run_flow()
    out.write(render(report))
    complete = all(len(report.findings_for(s)) == 1 for s in report.scenarios)
    return 0 if complete and report.api_status == 200 else 1


def run_flow(*, now: datetime | None = None) -> DemoReport:
    """Steps 1-4 of the module docstring; returns what was seen instead of printing it."""
    run_id = format_utc(now or datetime.now(UTC))
    run = next(_RUNS)
    with (
        _quiet_logs(),
        moto_endpoint() as endpoint,
        _environment(_demo_env(endpoint)),
    ):
        org = seed_organization(
            management_account=str(FIRST_ACCOUNT_ID + run),
            region=REGION,
            member_template=MEMBER_TEMPLATE,
            stage=STAGE,
        )
        members = _member_accounts(org, run_id=run_id, suffix=f"-{run}" if run else "")
        events = {s.name: _denial_events(s, members, run_id) for s in SCENARIOS}
        os.environ.update(
            {
                **org.central_credentials,  # the central event function's role, in security
                "MEMBER_ROLE_NAME": org.member_role_name,
                "ORGANIZATION_ACCOUNT_IDS": ",".join(org.account_ids),
                "ORG_READ_ROLE_ARN": org.org_read_role_arn,
            }
        )
        session = boto3.Session(region_name=REGION)
        sqs, queue_url = _central_resources(session)
        chat_url = _chat_subscriber(session.client("sns"), sqs)
        securityhub = session.client("securityhub")
        securityhub.enable_security_hub(EnableDefaultStandards=False)
        os.environ["SECURITY_HUB"] = "enabled"
        wiring.reset()  # settings and clients for this environment
        app = load_app()
        with (
            Client(app, stage_name=STAGE, project_dir=str(PROJECT)) as client,
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),  # the handler's EMF metric lines
        ):
            warnings.filterwarnings("ignore", "IAMAuthorizer is not a supported in local mode")
            handler = event_handler_name(app)
            for sent in events.values():
                for event in sent:
                    client.lambda_.invoke(handler, event)
            deliveries = _drain(sqs, queue_url)
            chat = _drain_chat(sqs, chat_url)
            hub = _security_hub_findings(securityhub)
            status, listed = _list(client, {})
            by_account: dict[str, tuple[Finding, ...]] = {}
            for account in org.account_ids:
                code, by_account[account] = _list(client, {"account": account})
                status = status if status != 200 else code
        wiring.reset()
        return DemoReport(
            organization=org,
            scenarios=SCENARIOS,
            events=events,
            deliveries=deliveries,
            api_status=status,
            api_findings=listed,
            by_account=by_account,
            chat=chat,
            security_hub=hub,
        )


def _member_accounts(org: DemoOrganization, *, run_id: str, suffix: str) -> dict[str, DemoAccount]:
    """Clients in each member (as OrganizationAccountAccessRole), each knowing the others."""
    accounts: dict[str, DemoAccount] = {}
    for name in MEMBERS:
        session = session_in_account(org.accounts[name], REGION)
        accounts[name] = DemoAccount(
            account_id=org.accounts[name],
            bucket_suffix=suffix,
            region=REGION,
            event_time=run_id,
            run_id=run_id,
            iam=session.client("iam"),
            s3=session.client("s3"),
            kms=session.client("kms"),
            ec2=session.client("ec2"),
            peers=accounts,  # filled as the loop goes on: every member before any seed runs
        )
    return accounts


def _denial_events(
    scenario: Scenario, members: Mapping[str, DemoAccount], run_id: str
) -> tuple[Json, ...]:
    """Seed the scenario; its EventBridge events (two copies when the requester is elsewhere)."""
    record = scenario.seed(members[scenario.account])
    records: tuple[Json, ...] = (record,)
    if scenario.requester is not None:
        records = cross_account_copies(
            record, requester_account=members[scenario.requester].account_id
        )
    return tuple(
        eventbridge_envelope(r, envelope_id=demo_id(run_id, "envelope", str(r["eventID"])))
        for r in records
    )


def _central_resources(session: boto3.Session) -> tuple[SQSClient, str]:
    """The findings table, the alert topic and its SQS subscriber; (sqs client, queue URL)."""
    sns, sqs = session.client("sns"), session.client("sqs")
    create_table(session.client("dynamodb"), TABLE_NAME)
    topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    os.environ["FINDINGS_TOPIC_ARN"] = topic_arn
    return sqs, queue_url


def _list(client: Any, params: Mapping[str, str]) -> tuple[int, tuple[Finding, ...]]:
    """`GET /findings` with `params`: its status and findings."""
    response = client.http.get("/findings?" + urlencode({**params, "limit": "100"}))
    listed = json.loads(response.body or b"{}").get("findings", [])
    return int(response.status_code), tuple(Finding.from_dict(f) for f in listed)


def render(report: DemoReport) -> str:
    """The demo's story for a person: the organization, the findings by account, the alerts."""
    org = report.organization
    sent = sum(len(events) for events in report.events.values())
    lines = [
        f"Organization {org.organization_id}, {len(org.account_ids)} accounts on moto:",
        *_accounts_story(org),
        "",
        *_wrapped(
            f"Sent {sent} AccessDenied events to the central handler: {len(report.events)} "
            "denials, the cross-account one as CloudTrail delivers it (a copy to each "
            "account, one sharedEventID).",
            "",
        ),
        "",
        "Findings by account (GET /findings?account=...):",
    ]
    for account in org.account_ids:
        findings = report.by_account.get(account, ())
        if not findings and org.name_of(account) not in MEMBERS:
            continue
        lines.append("")
        lines.append(f"{org.name_of(account)} {account}: {len(findings)} finding(s)")
        for finding in _in_scenario_order(report, findings):
            lines += _finding_story(report, finding)
    lines.append("")
    if report.api_status != 200:
        lines.append(f"GET /findings answered {report.api_status}: some findings are not listed.")
    for scenario in report.scenarios:
        count = len(report.findings_for(scenario))
        if count != 1:
            lines += _wrapped(f"{count} findings (expected 1) for: {scenario.title}", "")
    lines += _alerts_story(report)
    return "\n".join(lines) + "\n"


def _accounts_story(org: DemoOrganization) -> list[str]:
    ou = f"{WORKLOADS_OU} ({org.workloads_ou})"
    rows = [
        (
            org.management,
            "management",
            f"Organizations; SCP {SCP_NAME} on {SCP_TARGET}, {PERIMETER_NAME} on "
            f"{PERIMETER_TARGET}",
        ),
        (org.accounts["security"], "security", "the central deployment: handler, table, topic"),
        *((org.accounts[name], name, f"member, in OU {ou}") for name in MEMBERS),
    ]
    lines = [f"  {account}  {name:<10}  {what}" for account, name, what in rows]
    lines += _wrapped(
        f"Each member has the role {org.member_role_name} of .chalice/member.json, trusting "
        f"only {org.central_role_arn} (the central handler's), which assumes it "
        f"(MEMBER_ROLE_NAME) and reads SCPs as {org.org_read_role_arn}.",
        "  ",
    )
    return lines


def _finding_story(report: DemoReport, finding: Finding) -> list[str]:
    org = report.organization
    scenario = _scenario_of(report, finding)
    request = finding.request
    principal = request.principal
    where = request.bucket or "-"
    if request.key:
        where += f"/{request.key}"
    blocked = ", ".join(b.value for b in finding.blocked_by) or "-"
    causes = ", ".join(c.code for c in finding.causes) or "-"
    lines = [""]
    lines += _wrapped(f"* {scenario.title if scenario else '(not sent by the demo)'}", "  ")
    lines += _wrapped(f"{principal.requester_arn} ({org.name_of(principal.account_id)})")
    lines += _wrapped(f"{request.action} on {where}")
    lines += _wrapped(f"{finding.decision.value}, blocked by {blocked}: {causes}")
    if principal.account_id and principal.account_id != request.bucket_account:
        lines += _sides_story(finding, org)
    if finding.occurrences > 1:
        lines += _wrapped(f"seen {finding.occurrences} times")
    for remedy in finding.remedies[:1]:
        target = "" if remedy.target == "the request" else f" ({remedy.target})"
        lines += _wrapped(f"fix: {remedy.summary}{target}")
    return lines


def _sides_story(finding: Finding, org: DemoOrganization) -> list[str]:
    """A cross-account denial's verdict on each side: the layers that allowed or blocked."""
    evaluation = next((e for e in finding.evaluations if e.blocked_by), None)
    if evaluation is None:
        return []
    requester: list[str] = []
    bucket: list[str] = []
    for result in evaluation.layers:
        if result.outcome is not Outcome.ALLOW and result.layer not in evaluation.blocked_by:
            continue
        side = requester if result.layer in REQUESTER_LAYERS else bucket
        side.append(f"{result.layer.value} {result.outcome.value}")
    principal_account = finding.request.principal.account_id
    bucket_account = finding.request.bucket_account
    return _wrapped(
        f"requester's side ({org.name_of(principal_account)}): "
        f"{', '.join(requester) or 'not judged'}; bucket's side "
        f"({org.name_of(bucket_account)}): {', '.join(bucket) or 'not judged'}"
    )


def _scenario_of(report: DemoReport, finding: Finding) -> Scenario | None:
    return next((s for s in report.scenarios if finding in report.findings_for(s)), None)


def _in_scenario_order(report: DemoReport, findings: tuple[Finding, ...]) -> list[Finding]:
    order = {s.name: n for n, s in enumerate(report.scenarios)}

    def rank(finding: Finding) -> int:
        scenario = _scenario_of(report, finding)
        return order[scenario.name] if scenario else len(order)

    return sorted(findings, key=rank)


def _alerts_story(report: DemoReport) -> list[str]:
    accounts = sorted({d.attributes.get("account", "-") for d in report.deliveries})
    hub_accounts = sorted(
        {str(f.get("ProductFields", {}).get("s3doctor/Account")) for f in report.security_hub}
    )
    importers = sorted({str(f.get("AwsAccountId")) for f in report.security_hub})
    first_chat = report.chat[0].get("content", {}).get("title", "") if report.chat else ""
    lines = _wrapped(
        f"Alerts: the topic's SQS subscriber received {len(report.deliveries)} "
        f"(attribute account: {', '.join(accounts) or '-'}).",
        "",
    )
    lines += _wrapped(
        f"Chat (AWS Chatbot custom notifications): {len(report.chat)} message(s), the first "
        f"titled: {as_chat_user_sees(first_chat)}",
        "",
    )
    lines += _wrapped(
        f"Security Hub: {len(report.security_hub)} finding(s) from s3-403-doctor (ASFF), "
        f"for account(s) {', '.join(hub_accounts) or '-'} (ProductFields s3doctor/Account), "
        f"imported as AwsAccountId {', '.join(importers) or '-'}.",
        "",
    )
    lines += _wrapped(
        f"A deployment is watched by the alarms {', '.join(ALARMS)} and the dashboard "
        f"{DASHBOARD} (CloudWatch, created by the template; not on moto).",
        "",
    )
    return lines


def _wrapped(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(
        text,
        width=100,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
    )


def as_chat_user_sees(markdown: object) -> str:
    """Client-markdown as plain text: bold and code markers dropped, entities decoded."""
    shown = re.sub(r"`([^`]*)`", r"\1", str(markdown))
    shown = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", shown)
    shown = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", shown)
    return shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def load_app() -> Chalice:
    """The Chalice app of `app.py` at the project root (not an installed module)."""
    path = PROJECT / "app.py"
    _library_as_chalicelib(path)
    spec = importlib.util.spec_from_file_location("app", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: Chalice = module.app
    return app


def _library_as_chalicelib(app_path: Path) -> None:
    """Let `app.py`'s `chalicelib` imports (the name Chalice packages the library under) find
    this process's modules when the library runs installed as `s3doctor`: import what app.py
    names under that name, then register every loaded module under `chalicelib` too, so the
    handler and the demo share one `wiring`."""
    if LIBRARY == "chalicelib":
        return
    for node in ast.walk(ast.parse(app_path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name == "chalicelib" or name.startswith("chalicelib."):
                with contextlib.suppress(ImportError):  # `from m import function`
                    importlib.import_module(LIBRARY + name.removeprefix("chalicelib"))
    for name, module in list(sys.modules.items()):
        if name == LIBRARY or name.startswith(LIBRARY + "."):
            sys.modules.setdefault("chalicelib" + name.removeprefix(LIBRARY), module)


def event_handler_name(app: Chalice) -> str:
    """The name of the app's EventBridge (CloudWatch event) handler."""
    for source in app.event_sources:
        if getattr(source, "event_pattern", None) is not None:
            return str(source.name)
    raise LookupError("app.py registers no on_cw_event handler")


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free loopback port, stopped on exit; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        assert server._server is not None  # set by start()
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


def _demo_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "FINDINGS_TABLE_NAME": TABLE_NAME,
        "LOG_LEVEL": "WARNING",  # the handler's INFO lines would drown the story
        "POWERTOOLS_METRICS_DISABLED": "true",
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",  # S3 Control: no `<account>.` host prefix
    }


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block (without `_UNSET`), then restore them."""
    saved = dict(os.environ)
    for name in _UNSET:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _quiet_logs() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in _QUIET}
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _chat_subscriber(sns: Any, sqs: SQSClient) -> str:
    """The chat topic and a queue that receives its messages as Chatbot would (raw)."""
    chat_arn = sns.create_topic(Name=CHAT_TOPIC_NAME)["TopicArn"]
    url = sqs.create_queue(QueueName=CHAT_QUEUE_NAME)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=chat_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    os.environ["CHAT_TOPIC_ARN"] = chat_arn
    return str(url)


def _drain_chat(sqs: SQSClient, queue_url: str) -> tuple[Json, ...]:
    documents: list[Json] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return tuple(documents)
        for message in messages:
            try:
                documents.append(json.loads(message.get("Body", "")))
            except ValueError:
                documents.append({"raw": message.get("Body")})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _security_hub_findings(client: Any) -> tuple[Json, ...]:
    found: list[Json] = []
    token: str | None = None
    while True:
        page = client.get_findings(MaxResults=100, **({"NextToken": token} if token else {}))
        found += [f for f in page.get("Findings", []) if str(f.get("Id", "")).startswith(ID_PREFIX)]
        token = page.get("NextToken")
        if not token:
            return tuple(found)


def _drain(sqs: SQSClient, queue_url: str) -> tuple[Delivery, ...]:
    deliveries: list[Delivery] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return tuple(deliveries)
        for message in messages:
            deliveries.append(_delivery(message))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _delivery(message: Any) -> Delivery:
    attributes = {
        name: str(value.get("StringValue", ""))
        for name, value in message.get("MessageAttributes", {}).items()
    }
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        body = {"raw": message.get("Body")}
    finding = body if isinstance(body, dict) else {"raw": body}
    try:
        title: str | None = subject(Finding.from_dict(finding))
    except (KeyError, TypeError, ValueError):
        title = None
    return Delivery(subject=title, attributes=attributes, finding=finding)
