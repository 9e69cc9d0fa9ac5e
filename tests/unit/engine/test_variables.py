"""Policy variables: parsing once, substitution, defaults, escapes and the Version rule.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

import pytest

from chalicelib.engine.context import RequestContext
from chalicelib.engine.policy import PolicyKind, compile_policy
from chalicelib.engine.variables import parse_template


@pytest.mark.parametrize(
    ("text", "entries", "rendered"),
    [
        ("home/${aws:username}/", {"aws:username": ["alice"]}, "home/alice/"),
        ("${AWS:UserName}", {"aws:username": ["alice"]}, "alice"),  # key names ignore case
        ("${aws:PrincipalTag/team}", {"aws:principaltag/TEAM": ["data"]}, "data"),
        ("${s3:prefix}", {"s3:prefix": ["logs/"]}, "logs/"),
        ("${aws:userid}", {"aws:userid": ["AROAEXAMPLE:s"]}, "AROAEXAMPLE:s"),
        ("${aws:username, 'nobody'}", {}, "nobody"),
        ("${aws:username, 'nobody'}", {"aws:username": ["alice"]}, "alice"),
        ("${ aws:username , 'it''s' }", {}, "it's"),
        ("a${*}b${?}c${$}", {}, "a*b?c$"),
        ("${aws:username", {}, "${aws:username"),  # unterminated: literal text
        ("${not valid key}", {}, "${not valid key}"),
        ("plain", {}, "plain"),
    ],
)
def test_render(text: str, entries: dict[str, list[str]], rendered: str) -> None:
    assert parse_template(text, variables=True).render(RequestContext(entries)) == rendered


def test_missing_key_without_default_cannot_be_rendered() -> None:
    assert parse_template("home/${aws:username}", variables=True).render(RequestContext({})) is None


def test_multi_valued_key_cannot_be_substituted() -> None:
    ctx = RequestContext({"aws:PrincipalTag/team": ["a", "b"]})
    assert parse_template("${aws:PrincipalTag/team}", variables=True).render(ctx) is None


def test_without_variables_the_text_is_literal() -> None:
    template = parse_template("home/${aws:username}", variables=False)
    assert not template.has_variables
    assert template.render(RequestContext({})) == "home/${aws:username}"


def test_escaped_and_substituted_text_is_not_wild() -> None:
    pieces = parse_template("a*${*}${k}", variables=True).resolve(RequestContext({"k": ["?"]}))
    assert pieces is not None
    assert [(p.text, p.wild) for p in pieces] == [("a*", True), ("*", False), ("?", False)]


def _home_policy(version: str | None) -> dict[str, object]:
    doc: dict[str, object] = {
        "Statement": {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/home/${aws:username}/*",
        }
    }
    if version is not None:
        doc["Version"] = version
    return doc


@pytest.mark.parametrize(
    ("version", "arn", "expected"),
    [
        ("2012-10-17", "arn:aws:s3:::b/home/alice/x", True),
        ("2012-10-17", "arn:aws:s3:::b/home/${aws:username}/x", False),
        ("2008-10-17", "arn:aws:s3:::b/home/alice/x", False),  # variables are literal text
        ("2008-10-17", "arn:aws:s3:::b/home/${aws:username}/x", True),
        (None, "arn:aws:s3:::b/home/alice/x", False),  # no Version: 2008 rules
    ],
)
def test_version_decides_whether_variables_are_substituted(
    version: str | None, arn: str, expected: bool
) -> None:
    policy = compile_policy(_home_policy(version), policy_id="p", kind=PolicyKind.IDENTITY)
    ctx = RequestContext({"aws:username": ["alice"]})
    assert policy.statements[0].matches_resource(arn, ctx) is expected


def test_condition_variables_follow_the_version_too() -> None:
    def doc(version: str) -> dict[str, object]:
        return {
            "Version": version,
            "Statement": {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
            },
        }

    ctx = RequestContext({"aws:username": ["alice"], "s3:prefix": ["home/alice/docs"]})
    new = compile_policy(doc("2012-10-17"), policy_id="p", kind=PolicyKind.IDENTITY)
    old = compile_policy(doc("2008-10-17"), policy_id="p", kind=PolicyKind.IDENTITY)
    assert new.statements[0].evaluate_conditions(ctx).matched
    assert not old.statements[0].evaluate_conditions(ctx).matched
