"""Principal / NotPrincipal: forms, what each requester presents, and the most specific match.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html ·
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.engine.principals import (
    PrincipalForm,
    PrincipalIdentity,
    compile_principal,
    identity_for,
)
from chalicelib.model import MalformedPolicyError, Principal, PrincipalType

ACCT = "111122223333"
OTHER = "444455556666"
USER = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/app/Reader"
ROLE_NO_PATH = f"arn:aws:iam::{ACCT}:role/Reader"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Reader/job-1"
FED = f"arn:aws:sts::{ACCT}:federated-user/bob"
ROOT = f"arn:aws:iam::{ACCT}:root"
ROLE_ID = "AROAEXAMPLEEXAMPLE123"


def principal(kind: PrincipalType, **fields: Any) -> Principal:
    defaults: dict[str, Any] = {
        "requester_arn": "",
        "principal_arn": "",
        "account_id": ACCT,
    }
    return Principal(type=kind, **{**defaults, **fields})


USER_P = principal(
    PrincipalType.IAM_USER, requester_arn=USER, principal_arn=USER, user_id="AIDAEXAMPLEEXAMPLE12"
)
SESSION_P = principal(
    PrincipalType.ASSUMED_ROLE,
    requester_arn=SESSION,
    principal_arn=ROLE,
    user_id=f"{ROLE_ID}:job-1",
)
ROLE_P = principal(PrincipalType.ROLE, requester_arn=ROLE, principal_arn=ROLE)
FED_P = principal(PrincipalType.FEDERATED_USER, requester_arn=FED, principal_arn=USER)
ROOT_P = principal(PrincipalType.ROOT, requester_arn=ROOT, principal_arn=ROOT)
ANON_P = principal(
    PrincipalType.ANONYMOUS, requester_arn="anonymous", principal_arn="", account_id=""
)
SERVICE_P = principal(
    PrincipalType.AWS_SERVICE,
    requester_arn="cloudtrail.amazonaws.com",
    principal_arn="",
    account_id="",
    service="cloudtrail.amazonaws.com",
)


def form(element: Any, who: Principal, **kw: Any) -> PrincipalForm | None:
    compiled = compile_principal(element, policy_id="p")
    return compiled.match(identity_for(who, **kw))


@pytest.mark.parametrize(
    ("element", "who", "expected"),
    [
        ("*", ANON_P, PrincipalForm.ANY),
        ({"AWS": "*"}, USER_P, PrincipalForm.ANY),
        ({"AWS": USER}, USER_P, PrincipalForm.USER),
        ({"AWS": ACCT}, USER_P, PrincipalForm.ACCOUNT),
        ({"AWS": ROOT}, USER_P, PrincipalForm.ACCOUNT),
        ({"AWS": f"arn:aws:iam::{OTHER}:root"}, USER_P, None),
        ({"AWS": USER}, SESSION_P, None),
        ({"AWS": ROLE}, SESSION_P, PrincipalForm.ROLE),  # any session of the role
        ({"AWS": ROLE_NO_PATH}, SESSION_P, None),  # the path is part of the role ARN
        ({"AWS": SESSION}, SESSION_P, PrincipalForm.ROLE_SESSION),
        ({"AWS": f"arn:aws:sts::{ACCT}:assumed-role/Reader/other"}, SESSION_P, None),
        ({"AWS": [ACCT, ROLE, SESSION]}, SESSION_P, PrincipalForm.ROLE_SESSION),  # most specific
        ({"AWS": [ACCT, ROLE]}, SESSION_P, PrincipalForm.ROLE),
        ({"AWS": ROLE}, ROLE_P, PrincipalForm.ROLE),
        ({"AWS": ACCT}, ROLE_P, PrincipalForm.ACCOUNT),
        ({"AWS": FED}, FED_P, PrincipalForm.FEDERATED_USER),
        ({"AWS": USER}, FED_P, PrincipalForm.USER),  # the parent user
        ({"AWS": ROOT}, ROOT_P, PrincipalForm.ACCOUNT),
        ({"AWS": ACCT}, ANON_P, None),  # anonymous presents only "*"
        ({"Service": "cloudtrail.amazonaws.com"}, SERVICE_P, PrincipalForm.SERVICE),
        ({"Service": "logging.s3.amazonaws.com"}, SERVICE_P, None),
        ({"AWS": ACCT}, SERVICE_P, None),
        ({"AWS": ROLE_ID}, SESSION_P, PrincipalForm.UNIQUE_ID),  # same id: matches
        ({"AWS": "AROAOTHEREXAMPLE12345"}, SESSION_P, None),  # deleted and recreated role
        ({"Federated": "cognito-identity.amazonaws.com"}, USER_P, None),
    ],
)
def test_principal_forms(element: Any, who: Principal, expected: PrincipalForm | None) -> None:
    assert form(element, who) is expected


def test_canonical_user_matches_the_given_canonical_id() -> None:
    canonical = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    element = {"CanonicalUser": canonical}
    assert form(element, USER_P, canonical_id=canonical) is PrincipalForm.CANONICAL_USER
    assert form(element, USER_P) is None


@pytest.mark.parametrize(
    ("listed", "who", "expected"),
    [
        ([ROLE], USER_P, PrincipalForm.ANY),  # not listed: the Deny applies
        ([USER], USER_P, None),  # listed: exempt
        ([ROLE], SESSION_P, None),
        ([SESSION, ROLE, ROOT], SESSION_P, None),
        ([ROOT], ROOT_P, None),
        ([ROOT], SESSION_P, PrincipalForm.ANY),  # the account ARN exempts only the account
    ],
)
def test_not_principal_applies_to_everyone_not_listed(
    listed: list[str], who: Principal, expected: PrincipalForm | None
) -> None:
    compiled = compile_principal({"AWS": listed}, policy_id="p", element_name="NotPrincipal")
    assert compiled.match(identity_for(who)) is expected


def test_identity_of_a_role_session() -> None:
    identity = identity_for(SESSION_P)
    assert identity.presents(PrincipalForm.ROLE_SESSION, SESSION)
    assert identity.presents(PrincipalForm.ROLE, ROLE)
    assert identity.presents(PrincipalForm.ACCOUNT, ACCT)
    assert identity.presents(PrincipalForm.UNIQUE_ID, ROLE_ID)
    assert not identity.anonymous


def test_identity_of_anonymous_presents_nothing() -> None:
    assert identity_for(ANON_P) == PrincipalIdentity(presented=frozenset(), anonymous=True)


@pytest.mark.parametrize(
    "element",
    [
        "someone",
        {},
        {"AWS": []},
        {"AWS": 123},
        {"AWS": "not-an-arn"},
        {"AWS": f"arn:aws:iam::{ACCT}:group/admins"},
        {"AWS": f"arn:aws:sts::{ACCT}:assumed-role/Reader"},
        {"Users": "alice"},
        {"CanonicalUser": "abc"},
    ],
)
def test_malformed_principal_names_the_element(element: Any) -> None:
    with pytest.raises(MalformedPolicyError) as info:
        compile_principal(element, policy_id="p", element_name="NotPrincipal")
    assert info.value.element == "NotPrincipal"
