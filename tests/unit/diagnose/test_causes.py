"""Decision -> causes: the layer, statement and failed condition a reader needs."""

from __future__ import annotations

import json

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.causes import find_causes
from chalicelib.diagnose.wording import Miss, MissKind
from chalicelib.model import Layer, NearMiss, Outcome, PrincipalType, Scope, Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.diagnose_builders import (
    OBJECT,
    decision,
    layer,
    principal,
    request,
    statement,
)
from tests.unit.engine.casefile import request_from_case
from tests.unit.engine.test_cases import CASES


def test_bucket_policy_deny_names_statement_and_both_sides_of_the_condition() -> None:
    deny = statement(key="aws:SecureTransport", expected=("false",), actual=("false",))
    found = find_causes(
        request(),
        decision(
            layer(Layer.IDENTITY_POLICY, Outcome.ALLOW),
            layer(Layer.BUCKET_POLICY, Outcome.EXPLICIT_DENY, deny),
            verdict=Verdict.EXPLICIT_DENY,
        ),
    )
    assert [c.code for c in found] == ["EXPLICIT_DENY_BUCKET_POLICY"]
    cause = found[0]
    assert cause.layer is Layer.BUCKET_POLICY
    assert cause.statement == deny
    assert "'DenyInsecure' #0 of bucket-policy:example-bucket" in cause.message
    assert "expected [false], actual [false]" in cause.message


def test_implicit_deny_without_near_miss_is_no_allow_identity() -> None:
    found = find_causes(
        request(),
        decision(
            layer(Layer.IDENTITY_POLICY, Outcome.IMPLICIT_DENY),
            layer(Layer.BUCKET_POLICY, Outcome.IMPLICIT_DENY),
        ),
    )
    assert [c.code for c in found] == ["NO_ALLOW_IDENTITY"]
    assert "arn:aws:iam::111122223333:user/alice" in found[0].message
    assert OBJECT in found[0].message


def _miss(kind: MissKind, why: str) -> Miss:
    nm = NearMiss(policy="inline:user/alice/read", index=0, why=why, layer=Layer.IDENTITY_POLICY)
    return Miss(evaluation=0, kind=kind, near_miss=nm)


def test_a_near_miss_refines_the_implicit_deny_and_points_at_its_statement() -> None:
    miss = _miss(MissKind.RESOURCE_FORM, "Resource arn:aws:s3:::example-bucket names the bucket")
    found = find_causes(
        request(),
        decision(layer(Layer.IDENTITY_POLICY, Outcome.IMPLICIT_DENY)),
        [miss],
    )
    assert [c.code for c in found] == ["WRONG_RESOURCE_OR_ACTION_FORM"]
    assert found[0].statement is not None
    assert found[0].statement.policy == "inline:user/alice/read"
    assert "names the bucket" in found[0].message


def test_root_delegation_near_miss_is_a_grant_that_does_not_reach_the_requester() -> None:
    found = find_causes(
        request(),
        decision(layer(Layer.BUCKET_POLICY, Outcome.IMPLICIT_DENY)),
        [_miss(MissKind.ROOT_DELEGATION, "Principal is the account")],
    )
    assert found[0].code == "RESOURCE_GRANT_NOT_EFFECTIVE"


def test_allow_with_failed_condition_reported_by_the_engine_is_condition_not_met() -> None:
    failed = statement(
        "inline:user/alice/office",
        sid="FromOffice",
        effect="Allow",
        key="aws:SourceIp",
        expected=("203.0.113.0/24",),
        actual=("198.51.100.7",),
    )
    found = find_causes(
        request(), decision(layer(Layer.IDENTITY_POLICY, Outcome.IMPLICIT_DENY, failed))
    )
    assert found[0].code == "CONDITION_NOT_MET"
    assert "expected [203.0.113.0/24], actual [198.51.100.7]" in found[0].message


def test_kms_leg_codes_follow_the_layer_that_failed() -> None:
    key = "arn:aws:kms:us-east-1:111122223333:key/k"
    key_policy = find_causes(
        request(),
        decision(
            layer(Layer.KMS_KEY_POLICY, Outcome.IMPLICIT_DENY), action="kms:Decrypt", resource=key
        ),
    )
    identity = find_causes(
        request(),
        decision(
            layer(Layer.KMS_KEY_POLICY, Outcome.ALLOW),
            layer(Layer.IDENTITY_POLICY, Outcome.IMPLICIT_DENY),
            action="kms:Decrypt",
            resource=key,
        ),
    )
    assert [c.code for c in key_policy] == ["KMS_KEY_POLICY"]
    assert [c.code for c in identity] == ["KMS_IDENTITY"]


def test_network_pinned_deny_on_the_kms_leg_is_a_forward_access_problem() -> None:
    deny = statement(
        "arn:aws:iam::111122223333:policy/OnlyVpc", key="aws:SourceVpce", expected=("vpce-1",)
    )
    found = find_causes(
        request(),
        decision(
            layer(Layer.IDENTITY_POLICY, Outcome.EXPLICIT_DENY, deny),
            verdict=Verdict.EXPLICIT_DENY,
            action="kms:Decrypt",
            resource="arn:aws:kms:us-east-1:111122223333:key/k",
        ),
    )
    assert found[0].code == "KMS_FORWARD_ACCESS_CONDITION"


def test_block_public_access_setting_is_read_from_the_layer_detail() -> None:
    found = find_causes(
        request(action="s3:PutObject"),
        decision(
            layer(
                Layer.BLOCK_PUBLIC_ACCESS,
                Outcome.EXPLICIT_DENY,
                detail="Public ACL public-read rejected by BlockPublicAcls (account)",
            ),
            verdict=Verdict.EXPLICIT_DENY,
        ),
    )
    assert found[0].code == "BPA_BLOCK_PUBLIC_ACLS"
    assert "rejected by BlockPublicAcls" in found[0].message


def test_out_of_scope_requests_say_so_first() -> None:
    who = principal("arn:aws:iam::444455556666:user/bob", kind=PrincipalType.IAM_USER)
    found = find_causes(
        request(who=who, scope=Scope.CROSS_ACCOUNT),
        decision(layer(Layer.BUCKET_POLICY, Outcome.IMPLICIT_DENY)),
    )
    assert found[0].code == "OUT_OF_SCOPE_CROSS_ACCOUNT"


def test_allowed_request_has_no_decision_causes() -> None:
    found = find_causes(
        request(), decision(layer(Layer.IDENTITY_POLICY, Outcome.ALLOW), verdict=Verdict.ALLOWED)
    )
    assert found == ()


def test_unknown_layer_in_a_denied_evaluation_is_a_possible_cause() -> None:
    found = find_causes(
        request(),
        decision(
            layer(Layer.IDENTITY_POLICY, Outcome.ALLOW),
            layer(Layer.SCP, Outcome.UNKNOWN),
            verdict=Verdict.INCONCLUSIVE,
            blocked_by=(Layer.SCP,),
        ),
    )
    assert [(c.code, c.confidence) for c in found] == [("INCONCLUSIVE", "possible")]


def test_the_same_statement_is_reported_once() -> None:
    deny = statement()
    found = find_causes(
        request(),
        decision(
            layer(Layer.BUCKET_POLICY, Outcome.EXPLICIT_DENY, deny, deny),
            verdict=Verdict.EXPLICIT_DENY,
        ),
    )
    assert len(found) == 1


@pytest.mark.parametrize(
    ("case_file", "case_name", "code"),
    [
        (
            "access-points.json",
            "vpc-access-point-refuses-an-endpoint-of-another-vpc",
            "ACCESS_POINT_NETWORK_ORIGIN",
        ),
        (
            "access-points.json",
            "vpc-access-point-refuses-a-request-from-outside-any-vpc",
            "ACCESS_POINT_NETWORK_ORIGIN",
        ),
        (
            "requester-pays.json",
            "requester-pays-refuses-anonymous-requests",
            "REQUESTER_PAYS_ANONYMOUS",
        ),
    ],
)
def test_request_level_refusals_get_their_own_cause(
    case_file: str, case_name: str, code: str
) -> None:
    cases = json.loads((CASES / case_file).read_text())["cases"]
    case = next(c for c in cases if c["name"] == case_name)
    finding = pipeline.diagnose(request_from_case(case["request"]), load_snapshot(case["snapshot"]))
    assert code in [cause.code for cause in finding.causes]
    cause = next(c for c in finding.causes if c.code == code)
    assert cause.layer is Layer.REQUEST and cause.confidence == "definite"
