"""The ASFF document of a finding: required fields, limits, workflow, updates (no AWS)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from chalicelib import pipeline
from chalicelib.aggregation import (
    OUTSIDE_ATTEMPTS,
    MemberRoleUnavailable,
    health_finding,
    member_role_finding,
)
from chalicelib.diagnose.detail import Detail
from chalicelib.model import Finding, Principal, PrincipalType, Remedy, Verdict
from chalicelib.publish.securityhub import (
    CONFIGURATION_TYPE,
    NOT_DIAGNOSED_TYPE,
    OUTSIDER_TYPE,
    REQUIRED_FIELDS,
    asff_finding,
    asff_id,
    is_due,
)
from chalicelib.request import request_from_runbook
from tests.unit.diagnose.test_render import hostile_finding

from .builders import build_finding

DATA = Path(__file__).resolve().parents[2] / "data"
SCHEMA = json.loads((DATA / "asff-finding.schema.json").read_text())
GOLDEN = sorted(DATA.glob("scenarios/*/golden.json"))
ACCOUNT = "123456789012"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def asff(finding: Finding, **kwargs: object) -> dict:
    document = asff_finding(finding, account_id=ACCOUNT, region="eu-west-1", now=NOW, **kwargs)  # type: ignore[arg-type]
    jsonschema.validate(document, SCHEMA)
    assert set(REQUIRED_FIELDS) <= set(document)
    return document


@pytest.mark.parametrize("path", GOLDEN, ids=[p.parent.name for p in GOLDEN])
def test_every_golden_finding_is_a_valid_asff_finding(path) -> None:
    finding = Finding.from_dict(json.loads(path.read_text(encoding="utf-8")))
    for detail in Detail:
        document = asff(finding, detail=detail)
        assert document["Id"] == f"s3-403-doctor/{finding.finding_id}"
        assert document["ProductArn"] == (
            f"arn:aws:securityhub:eu-west-1:{ACCOUNT}:product/{ACCOUNT}/default"
        )


def test_fields_come_from_the_finding() -> None:
    finding = replace(
        build_finding(
            "e-1",
            occurrences=3,
            remedies=(Remedy(code="FIX_STATEMENT", target="t", summary="Allow it."),),
        ),
        last_seen="2025-03-01T10:05:00Z",
    )
    document = asff(finding, detail=Detail.FULL)
    assert document["Severity"] == {"Label": "HIGH"}
    assert document["FindingProviderFields"] == {
        "Severity": {"Label": "HIGH"},
        "Types": [CONFIGURATION_TYPE],
    }
    assert document["Types"] == [CONFIGURATION_TYPE]
    assert document["Workflow"] == {"Status": "NEW"} and document["RecordState"] == "ACTIVE"
    assert document["CreatedAt"] == "2025-03-01T10:00:00Z"
    assert document["UpdatedAt"] == "2025-03-01T12:00:00Z"
    assert document["LastObservedAt"] == "2025-03-01T10:05:00Z"
    assert document["Remediation"]["Recommendation"]["Text"] == "Allow it."
    assert document["ProductFields"]["s3doctor/Occurrences"] == "3"
    assert "Seen 3 time(s)" in document["Description"]
    assert "s3doctor findings get e-1" in document["Description"]
    assert [(r["Type"], r["Id"], r["ResourceRole"]) for r in document["Resources"]] == [
        ("AwsS3Bucket", "arn:aws:s3:::reports", "Target"),
        ("AwsS3Object", "arn:aws:s3:::reports/data/report.csv", "Target"),
        ("AwsIamUser", "arn:aws:iam::111122223333:user/alice", "Actor"),
    ]
    assert "SourceUrl" not in document and "Note" not in document


def test_a_finding_made_by_the_cli_has_no_time_span_in_its_description() -> None:
    """`s3doctor diagnose` sets no `first_seen`/`last_seen`: the description said "Seen 1
    time(s), ? to ?."; it leaves the span out. A stored finding keeps its span."""
    scenario = DATA / "scenarios" / "scp-no-allow"
    request = request_from_runbook(json.loads((scenario / "request.json").read_text()))
    finding = pipeline.diagnose(request, json.loads((scenario / "snapshot.json").read_text()))
    assert finding.first_seen is None and finding.last_seen is None

    text = asff(finding)["Description"]

    assert " Seen 1 time(s). Whole finding: s3doctor findings get " in text
    assert "?" not in text
    stored = replace(finding, first_seen="2025-03-01T10:00:00Z", last_seen="2025-03-01T10:05:00Z")
    span = " Seen 1 time(s), 2025-03-01T10:00:00Z to 2025-03-01T10:05:00Z. "
    assert span in asff(stored)["Description"]


def test_an_update_never_carries_a_workflow_status() -> None:
    assert "Workflow" not in asff(build_finding(), new=False)


def test_severity_roles_and_types_follow_the_finding() -> None:
    role = "arn:aws:iam::111122223333:role/app"
    who = Principal(
        type=PrincipalType.ASSUMED_ROLE,
        requester_arn="arn:aws:sts::111122223333:assumed-role/app/s",
        principal_arn=role,
        account_id="111122223333",
    )
    base = build_finding(decision=Verdict.IMPLICIT_DENY)
    finding = Finding.from_dict(
        {**base.to_dict(), "request": {**base.request.to_dict(), "principal": who.to_dict()}}
    )
    document = asff(finding)
    assert document["Severity"]["Label"] == "MEDIUM"
    assert document["Resources"][-1]["Type"] == "AwsIamRole"
    assert document["Resources"][-1]["Id"] == role
    outsider = asff(build_finding(extra={OUTSIDE_ATTEMPTS: {"origin": "anonymous"}}))
    assert outsider["Types"] == [OUTSIDER_TYPE]


def test_a_finding_about_the_deployment_is_informational_not_a_configuration_check() -> None:
    """A denial of the diagnoser's own read, or a member role it could not assume, judges no
    configuration: it was MEDIUM and typed like a diagnosis ("AWS Security Best Practices")."""
    request = build_finding().request
    unavailable = MemberRoleUnavailable(
        account="444455556666",
        role_arn="arn:aws:iam::444455556666:role/s3-403-doctor-member-read",
        code="AccessDenied",
    )
    made = (
        health_finding(request, finding_id="h", now="2025-03-01T10:00:00Z"),
        member_role_finding(request, unavailable, finding_id="m", now="2025-03-01T10:00:00Z"),
    )
    for finding in made:
        for detail in Detail:
            document = asff(finding, detail=detail)
            assert document["Severity"] == {"Label": "INFORMATIONAL"}
            assert (
                document["Types"] == [NOT_DIAGNOSED_TYPE] == ["Software and Configuration Checks"]
            )
            assert document["FindingProviderFields"] == {
                "Severity": {"Label": "INFORMATIONAL"},
                "Types": [NOT_DIAGNOSED_TYPE],
            }


@pytest.mark.parametrize("partition", ["aws-iso", "aws-iso-b", "aws-iso-f", "aws-eusc"])
def test_a_partition_asff_does_not_take_is_left_out_of_the_resources(partition: str) -> None:
    """ASFF's `Resources[].Partition` takes aws, aws-cn and aws-us-gov only: the ARN's other
    partition was copied there and Security Hub refused the whole finding."""
    finding = _in_partition(build_finding(), partition)

    document = asff(finding)  # the schema holds the values ASFF takes

    assert [r["Id"] for r in document["Resources"][:2]] == [
        f"arn:{partition}:s3:::reports",
        f"arn:{partition}:s3:::reports/data/report.csv",
    ]
    assert all("Partition" not in r for r in document["Resources"])


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_a_partition_asff_takes_is_kept_in_the_resources(partition: str) -> None:
    document = asff(_in_partition(build_finding(), partition))
    assert [r["Partition"] for r in document["Resources"]] == [partition] * 3


def _in_partition(finding: Finding, partition: str) -> Finding:
    """`finding` with its object ARN in `partition`."""
    [operation] = finding.request.operations
    arn = operation.resource_arn.replace("arn:aws:", f"arn:{partition}:", 1)
    request = replace(finding.request, operations=(replace(operation, resource_arn=arn),))
    return replace(finding, request=request)


def test_hostile_and_huge_values_are_cut_to_the_documented_limits() -> None:
    huge = build_finding(
        "x" * 600,
        remedies=(Remedy(code="FIX_STATEMENT", target="t", summary="y" * 5_000),),
    )
    for finding in (hostile_finding(), huge):
        for detail in Detail:
            asff(finding, detail=detail)  # the schema holds the limits
    assert len(asff_id("x" * 600)) <= 512
    assert asff_id("x" * 600) == asff_id("x" * 600)


def test_repeats_re_import_at_powers_of_two_only() -> None:
    assert [n for n in range(1, 40) if is_due(n)] == [2, 4, 8, 16, 32]


def test_texts_people_read_hold_no_control_line_break_or_bidi_character() -> None:
    """The Description and the recommendation quoted the object key, session name and policy
    text raw (a newline, ESC, an RTL override), where the Title escaped them: Security Hub's
    console and its chat and ticketing integrations show them as they are."""
    for detail in Detail:
        document = asff(hostile_finding(), detail=detail)
        texts = [
            document["Title"],
            document["Description"],
            document["Remediation"]["Recommendation"]["Text"],
        ]
        for value in texts:
            assert value.isprintable(), (detail, value)
    assert ".." not in asff(build_finding())["Description"]
