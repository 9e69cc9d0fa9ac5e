"""One test per userIdentity type: who the requester is and whose policies apply."""

from __future__ import annotations

import pytest

from chalicelib.events import parse_event
from chalicelib.model import PrincipalType, Scope
from tests.unit.events.eventdata import load, parsed

ACCT = "111122223333"


@pytest.mark.parametrize(
    ("scenario", "kind", "requester_arn", "principal_arn", "session_name", "scope"),
    [
        pytest.param(
            "01-iamuser-getobject-version-vpce-explicit-deny",
            PrincipalType.IAM_USER,
            f"arn:aws:iam::{ACCT}:user/etl-batch",
            f"arn:aws:iam::{ACCT}:user/etl-batch",
            None,
            Scope.SAME_ACCOUNT,
            id="iam-user",
        ),
        pytest.param(
            "07-assumedrole-lambda-deleteobject-version-scp-deny",
            PrincipalType.ASSUMED_ROLE,
            f"arn:aws:sts::{ACCT}:assumed-role/cleanup-lambda-role/cleanup-function",
            f"arn:aws:iam::{ACCT}:role/service-role/cleanup-lambda-role",
            "cleanup-function",
            Scope.SAME_ACCOUNT,
            id="assumed-role-keeps-role-path",
        ),
        pytest.param(
            "03-root-putbucketpolicy-blockpublicpolicy",
            PrincipalType.ROOT,
            f"arn:aws:iam::{ACCT}:root",
            f"arn:aws:iam::{ACCT}:root",
            None,
            Scope.SAME_ACCOUNT,
            id="root",
        ),
        pytest.param(
            "04-federateduser-listobjectsv2-session-policy",
            PrincipalType.FEDERATED_USER,
            f"arn:aws:sts::{ACCT}:federated-user/partner-portal-jdoe",
            f"arn:aws:iam::{ACCT}:user/federation-broker",
            "partner-portal-jdoe",
            Scope.SAME_ACCOUNT,
            id="federated-user-parent",
        ),
        pytest.param(
            "06-sso-assumedrole-getbucketpolicy-identity-implicit",
            PrincipalType.ASSUMED_ROLE,
            f"arn:aws:sts::{ACCT}:assumed-role/AWSReservedSSO_DataAnalyst_0a1b2c3d4e5f6a7b/"
            "jane.doe@example.com",
            f"arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
            "AWSReservedSSO_DataAnalyst_0a1b2c3d4e5f6a7b",
            "jane.doe@example.com",
            Scope.SAME_ACCOUNT,
            id="identity-center",
        ),
        pytest.param(
            "awsservice-cloudtrail-putobject-log-delivery",
            PrincipalType.AWS_SERVICE,
            "cloudtrail.amazonaws.com",
            "cloudtrail.amazonaws.com",
            None,
            Scope.SERVICE,
            id="aws-service",
        ),
        pytest.param(
            "awsaccount-cross-account-getobject",
            PrincipalType.AWS_ACCOUNT,
            "arn:aws:iam::444455556666:root",
            "arn:aws:iam::444455556666:root",
            None,
            Scope.CROSS_ACCOUNT,
            id="aws-account-cross-account",
        ),
        pytest.param(
            "assumedrole-cross-account-getobject",
            PrincipalType.ASSUMED_ROLE,
            "arn:aws:sts::444455556666:assumed-role/reporting-role/batch-7",
            "arn:aws:iam::444455556666:role/reporting-role",
            "batch-7",
            Scope.CROSS_ACCOUNT,
            id="role-of-another-account",
        ),
        pytest.param(
            "05-anonymous-headobject",
            PrincipalType.ANONYMOUS,
            "anonymous",
            "anonymous",
            None,
            Scope.ANONYMOUS,
            id="anonymous",
        ),
        pytest.param(
            "anonymous-principal-legacy-getobject",
            PrincipalType.ANONYMOUS,
            "anonymous",
            "anonymous",
            None,
            Scope.ANONYMOUS,
            id="anonymous-legacy-ANONYMOUS_PRINCIPAL",
        ),
        pytest.param(
            "unknown-identity-getobject",
            PrincipalType.UNKNOWN,
            "",
            "",
            None,
            Scope.OUT_OF_SCOPE,
            id="unknown",
        ),
    ],
)
def test_identity_type_gives_requester_principal_and_scope(
    scenario: str,
    kind: PrincipalType,
    requester_arn: str,
    principal_arn: str,
    session_name: str | None,
    scope: Scope,
) -> None:
    request = parsed(scenario)

    assert request.principal.type is kind
    assert request.principal.requester_arn == requester_arn
    assert request.principal.principal_arn == principal_arn
    assert request.principal.session_name == session_name
    assert request.scope is scope
    if scope is not Scope.SAME_ACCOUNT:
        assert request.scope_reason


def test_identity_center_session_names_the_permission_set() -> None:
    request = parsed("06-sso-assumedrole-getbucketpolicy-identity-implicit")

    assert any("permission set DataAnalyst" in note for note in request.notes)


def test_cross_account_reason_says_requester_policies_are_unchecked() -> None:
    request = parsed("assumedrole-cross-account-getobject")

    assert request.bucket_account == ACCT
    assert request.principal.account_id == "444455556666"
    assert request.scope_reason is not None
    assert "not checked" in request.scope_reason


def test_session_without_issuer_falls_back_to_role_without_path_and_says_so() -> None:
    request = parsed("assumedrole-no-session-issuer-getobject")

    assert request.principal.principal_arn == f"arn:aws:iam::{ACCT}:role/reporting-role"
    assert request.principal.session_name == "batch-7"
    assert any("without its path" in note for note in request.notes)


def test_unknown_identity_type_is_noted() -> None:
    request = parsed("unknown-identity-getobject")

    assert any("'Unknown'" in note for note in request.notes)


def test_an_account_caller_with_no_principal_id_is_that_accounts_not_anonymous() -> None:
    """A record naming a caller's 12-digit account with an empty principalId is a signed
    request of that account: it was taken as anonymous, the account dropped (anonymous records
    say accountId "anonymous")."""
    record = load("05-anonymous-headobject")
    record["detail"]["userIdentity"] = {
        "type": "AWSAccount",
        "principalId": "",
        "accountId": "444455556666",
    }

    request = parse_event(record)

    assert request.principal.type is PrincipalType.AWS_ACCOUNT
    assert request.principal.account_id == "444455556666"
    assert request.scope is not Scope.ANONYMOUS
