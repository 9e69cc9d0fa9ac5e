"""`s3doctor demo`: the whole flow on a local moto server, with no AWS account and no network.

1. Start a moto server on a free loopback port; point every boto3 client of this process at it.
2. Create the findings table, the alert topic and an SQS queue subscribed to the topic.
3. Seed an account with classic same-account causes of a 403 (`scenarios.py`).
   Also a chat topic (as AWS Chatbot would subscribe to it) with an SQS queue, and Security Hub.
4. Send each denial's EventBridge event through the real Chalice handler of `app.py`.
5. Print what the SQS subscriber received, the chat message as a chat user would see it, the
   Security Hub findings, what `GET /findings` returns, and where the alarms and dashboard of
   a deployment are (`ALARMS`, `DASHBOARD`: created by the template, not on moto).
"""

from __future__ import annotations

import contextlib
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from chalice.test import Client

from .. import wiring
from ..model import Finding, Json
from ..publish.message import subject
from ..publish.securityhub import ID_PREFIX
from ..publish.store import create_table
from ..publish.timestamps import format_utc
from .cloudtrail import demo_id, eventbridge_envelope
from .scenarios import SCENARIOS, DemoAccount, Scenario

if TYPE_CHECKING:
    from chalice.app import Chalice
    from mypy_boto3_sqs import SQSClient

PROJECT = Path(__file__).resolve().parents[2]
FIRST_ACCOUNT_ID = 111122223333
# moto servers of one process share their state: each run gets an account of its own (the
# first one is the documentation placeholder), so a run never sees another's resources.
_RUNS = itertools.count()
REGION = "us-east-1"
TABLE_NAME = "s3-403-doctor-demo-findings"
TOPIC_NAME = "s3-403-doctor-demo-findings"
QUEUE_NAME = "s3-403-doctor-demo-subscriber"
CHAT_TOPIC_NAME = "s3-403-doctor-demo-chat"
CHAT_QUEUE_NAME = "s3-403-doctor-demo-chat-subscriber"
# The deployment's CloudWatch alarms and dashboard (names fixed by the deploy template).
ALARMS = ("s3-403-doctor-dlq-depth", "s3-403-doctor-errors", "s3-403-doctor-throttles")
DASHBOARD = "s3-403-doctor"
_SHOWN_ATTRIBUTES = ("decision", "blocked_by", "severity")  # bucket: in the subject
_QUIET = ("werkzeug", "moto", "botocore", "urllib3")


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One message as the SQS subscriber received it."""

    subject: str | None
    attributes: Mapping[str, str]
    finding: Json


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoReport:
    """What the demo saw: the events it sent, the alerts received, the API's listing."""

    scenarios: tuple[Scenario, ...]
    events: tuple[Json, ...]
    deliveries: tuple[Delivery, ...]
    api_status: int
    api_findings: tuple[Finding, ...]
    chat: tuple[Json, ...] = ()  # custom notifications the chat topic's subscriber received
    security_hub: tuple[Json, ...] = ()  # ASFF findings Security Hub holds

    def finding_for(self, scenario: Scenario) -> Finding | None:
        """The listed finding whose event is the scenario's."""
        event_id = self.events[self.scenarios.index(scenario)]["detail"]["eventID"]
        for finding in self.api_findings:
            if finding.event_id == event_id or finding.request.event_id == event_id:
                return finding
        return None


def run_demo(*, out: TextIO | None = None) -> int:
    """Run the flow and print it for a person; 0 when every scenario got its finding."""
    out = out or sys.stdout
    out.write("Starting a local moto server and seeding a demo account...\n")
    report = run_flow()
    out.write(render(report))
    missing = [s for s in report.scenarios if report.finding_for(s) is None]
    return 1 if missing or report.api_status != 200 else 0


def run_flow(*, now: datetime | None = None) -> DemoReport:
    """Steps 1-5 of the module docstring; returns what was seen instead of printing it."""
    run_id = format_utc(now or datetime.now(UTC))
    run = next(_RUNS)
    account_id = str(FIRST_ACCOUNT_ID + run)
    with (
        _quiet_logs(),
        moto_endpoint() as endpoint,
        _environment({**_demo_env(endpoint), "MOTO_ACCOUNT_ID": account_id}),
    ):
        session = boto3.Session(region_name=REGION)
        dynamodb, sns, sqs = (
            session.client("dynamodb"),
            session.client("sns"),
            session.client("sqs"),
        )
        create_table(dynamodb, TABLE_NAME)
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
        chat_url = _chat_subscriber(sns, sqs)
        securityhub = session.client("securityhub")
        securityhub.enable_security_hub(EnableDefaultStandards=False)
        os.environ["SECURITY_HUB"] = "enabled"
        account = DemoAccount(
            account_id=account_id,
            bucket_suffix=f"-{run}" if run else "",
            region=REGION,
            event_time=run_id,
            run_id=run_id,
            iam=session.client("iam"),
            s3=session.client("s3"),
            kms=session.client("kms"),
            ec2=session.client("ec2"),
        )
        events = tuple(
            eventbridge_envelope(s.seed(account), envelope_id=demo_id(run_id, "envelope", s.name))
            for s in SCENARIOS
        )
        wiring.reset()  # settings and clients for this environment
        app = load_app()
        with (
            Client(app, stage_name="dev", project_dir=str(PROJECT)) as client,
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),  # the handler's EMF metric lines
        ):
            warnings.filterwarnings("ignore", "IAMAuthorizer is not a supported in local mode")
            handler = event_handler_name(app)
            for event in events:
                client.lambda_.invoke(handler, event)
            deliveries = _drain(sqs, queue_url)
            chat = _drain_chat(sqs, chat_url)
            hub = _security_hub_findings(securityhub)
            response = client.http.get("/findings?limit=100")
        wiring.reset()
        listed = json.loads(response.body or b"{}").get("findings", [])
        return DemoReport(
            scenarios=SCENARIOS,
            events=events,
            deliveries=deliveries,
            api_status=response.status_code,
            api_findings=tuple(Finding.from_dict(f) for f in listed),
            chat=chat,
            security_hub=hub,
        )


def render(report: DemoReport) -> str:
    """The demo's story for a person: each cause, its alert, and the API's view."""
    lines = [f"Sent {len(report.events)} AccessDenied events through the Chalice handler.", ""]
    lines.append(f"The SQS subscriber received {len(report.deliveries)} alert(s):")
    for delivery in report.deliveries:
        attrs = ", ".join(
            f"{k}={v}" for k, v in sorted(delivery.attributes.items()) if k in _SHOWN_ATTRIBUTES
        )
        lines.append(f"  - {delivery.subject or '(no subject)'}")
        lines.append(f"      {attrs}")
    lines.append("")
    lines += _chat_story(report.chat)
    lines += _security_hub_story(report.security_hub)
    lines += _watch_story()
    lines.append(
        f"GET /findings returned {report.api_status} with {len(report.api_findings)} finding(s)."
    )
    lines.append("Per seeded cause:")
    for scenario in report.scenarios:
        finding = report.finding_for(scenario)
        lines.append("")
        lines.append(f"* {scenario.name}: {scenario.title}")
        if finding is None:
            lines.append("    NO FINDING (the handler did not store one)")
            continue
        request = finding.request
        lines.append(f"    {request.principal.requester_arn}")
        lines.append(f"    {request.action} on {request.resource_arn}")
        blocked = ", ".join(b.value for b in finding.blocked_by) or "-"
        lines.append(f"    decision {finding.decision.value}, blocked by {blocked}")
        for cause in finding.causes:
            lines += _wrapped(f"cause {cause.code}: {cause.message}")
        for remedy in finding.remedies[:1]:
            lines += _wrapped(f"fix: {remedy.summary}")
    return "\n".join(lines) + "\n"


def _wrapped(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(
        text,
        width=100,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
    )


def _chat_story(chat: tuple[Json, ...]) -> list[str]:
    """The first chat message as a chat user sees it (markup applied), the others' titles."""
    lines = [f"The chat topic (AWS Chatbot custom notifications) received {len(chat)} message(s)."]
    if not chat:
        return [*lines, ""]
    content = chat[0].get("content", {})
    lines.append("As the chat channel shows the first one:")
    lines += _wrapped(f"| {as_chat_user_sees(content.get('title', ''))}", "  ")
    for line in str(content.get("description", "")).split("\n"):
        lines += _wrapped(f"| {as_chat_user_sees(line)}", "  ")
    for step in content.get("nextSteps", []):
        lines += _wrapped(f"| > {as_chat_user_sees(step)}", "  ")
    tags = " ".join(f"[{as_chat_user_sees(k)}]" for k in content.get("keywords", []))
    lines += _wrapped(f"| {tags}", "  ")
    lines += _wrapped(f"(thread {chat[0].get('metadata', {}).get('threadId', '-')})", "  ")
    lines.append("and the others:")
    for document in chat[1:]:
        lines += _wrapped(f"- {as_chat_user_sees(document.get('content', {}).get('title', ''))}")
    return [*lines, ""]


def as_chat_user_sees(markdown: object) -> str:
    """Client-markdown as plain text: bold and code markers dropped, entities decoded."""
    shown = re.sub(r"`([^`]*)`", r"\1", str(markdown))
    shown = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", shown)
    shown = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", shown)
    return shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _security_hub_story(findings: tuple[Json, ...]) -> list[str]:
    lines = [f"Security Hub holds {len(findings)} finding(s) from s3-403-doctor (ASFF)."]
    if not findings:
        return [*lines, ""]
    first = findings[0]
    resources = ", ".join(
        f"{r.get('Type')} {r.get('Id')} ({r.get('ResourceRole', '-')})"
        for r in first.get("Resources", [])
    )
    fields = (
        ("Id", first.get("Id")),
        ("ProductArn", first.get("ProductArn")),
        ("Title", first.get("Title")),
        ("Severity", first.get("Severity", {}).get("Label")),
        ("Types", ", ".join(first.get("Types", []))),
        ("Workflow", first.get("Workflow", {}).get("Status")),
        ("RecordState", first.get("RecordState")),
        ("Resources", resources),
        ("Remediation", first.get("Remediation", {}).get("Recommendation", {}).get("Text")),
        ("Occurrences", first.get("ProductFields", {}).get("s3doctor/Occurrences")),
    )
    lines.append("The first one:")
    for name, value in fields:
        lines += _wrapped(f"{name}: {value}")
    lines.append("and the others:")
    for finding in findings[1:]:
        lines += _wrapped(f"- {finding.get('Severity', {}).get('Label')} {finding.get('Title')}")
    return [*lines, ""]


def _watch_story() -> list[str]:
    return [
        "Where a deployment is watched (CloudWatch, created by the template; not on moto):",
        f"  alarms    {', '.join(ALARMS)}",
        f"  dashboard {DASHBOARD}",
        "",
    ]


def load_app() -> Chalice:
    """The Chalice app of `app.py` at the project root (not an installed module)."""
    spec = importlib.util.spec_from_file_location("app", PROJECT / "app.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(PROJECT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: Chalice = module.app
    return app


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
    """Set environment variables for the block, then restore the previous ones."""
    saved = dict(os.environ)
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
