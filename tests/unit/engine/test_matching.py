"""Action and resource matching: the truth-table rows of `chalicelib.engine.matching`.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html ·
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
"""

from __future__ import annotations

import pytest

from chalicelib.engine.context import RequestContext
from chalicelib.engine.matching import ActionMatcher, ResourceMatcher, arn_matches
from chalicelib.engine.variables import parse_template

EMPTY = RequestContext({})


@pytest.mark.parametrize(
    ("patterns", "action", "expected"),
    [
        (["*"], "s3:GetObject", True),
        (["s3:GetObject"], "s3:GetObject", True),
        (["s3:getobject"], "S3:GETOBJECT", True),  # case-insensitive
        (["s3:Get*"], "s3:GetObjectAcl", True),
        (["s3:Get*"], "s3:PutObject", False),
        (["s3:*Object"], "s3:DeleteObject", True),
        (["s3:*Object"], "s3:DeleteObjectTagging", False),
        (["s3:Get?bject"], "s3:GetObject", True),
        (["s3:Get?bject"], "s3:GetObject2", False),
        (["s3:*"], "kms:Decrypt", False),
        (["s3:List*", "kms:Decrypt"], "kms:decrypt", True),
        (["iam:PassRole"], "s3:PassRole", False),
    ],
)
def test_action_matching(patterns: list[str], action: str, expected: bool) -> None:
    assert ActionMatcher.compile(patterns).matches(action) is expected


def resource_matches(patterns: list[str], arn: str, ctx: RequestContext = EMPTY) -> bool:
    templates = [parse_template(p, variables=True) for p in patterns]
    return ResourceMatcher.compile(templates).matches(arn, ctx)


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("*", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3:::b", "arn:aws:s3:::b", True),
        ("arn:aws:s3:::b", "arn:aws:s3:::b/k", False),  # bucket ARN does not cover objects
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b", False),  # nor does /* cover the bucket
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c.txt", True),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a:b", True),  # '*' in the resource part crosses ':'
        ("arn:aws:s3:::b/*/test/*", "arn:aws:s3:::b/1/2/test/x.jpg", True),
        ("arn:aws:s3:::b/*/test/*", "arn:aws:s3:::b/1-test/x.jpg", False),
        ("arn:aws:s3:::B/*", "arn:aws:s3:::b/k", False),  # case-sensitive
        ("arn:aws:s3:::example?bucket/*", "arn:aws:s3:::example1bucket/k", True),
        ("arn:aws:s3:::example?bucket/*", "arn:aws:s3:::example12bucket/k", False),
        ("arn:*:s3:::b", "arn:aws-cn:s3:::b", True),
        ("arn:aws:s3:::b", "arn:aws-us-gov:s3:::b", False),
        ("arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:eu-west-1:111122223333:key/k", True),
        ("arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:eu-west-1:444455556666:key/k", False),
        # '?' stays inside its segment; a trailing '*' may cross the colon (AWS docs)
        ("arn:aws:ec2:us-?:*", "arn:aws:ec2:us-east-1:1:x", False),
        ("arn:aws:ec2:us-*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", True),
        ("arn:aws:ec2:us-*1:111122223333:*", "arn:aws:ec2:us-east-1:111122223333:instance/i", True),
        ("arn:aws:ec2:*-1:1:*", "arn:aws:ec2:us:east-1:1:x", False),  # inner '*' keeps to its part
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/", True),  # a final '*' matches nothing too
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a\nb", True),  # and a line break
        ("arn:aws:s3:::b/k*", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3:::b/k*", "arn:aws:s3:::bb/k", False),
        ("arn:aws:s3:::*", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3*", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3:::b/*?", "arn:aws:s3:::b/", False),  # a '?' before it: one character
    ],
)
def test_resource_matching(pattern: str, arn: str, expected: bool) -> None:
    assert resource_matches([pattern], arn) is expected


_PATTERNS = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/k*",
    "arn:aws:s3:::b*",
    "arn:aws:s3*",
    "arn:*",
    "arn:aws:s3:::b/*/x*",
    "arn:aws:s3:::b/?*",
    "arn:aws:s3:::b/k?",
    "arn:*:s3:::b/*",
    "b/*",
    "arn:aws:s3:::b/${aws:username}*",
    "arn:aws:s3:::b/${aws:username}/*",
]
_ARNS = [
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b/k1",
    "arn:aws:s3:::bb/k",
    "arn:aws:s3:::b/a?/x",
    "arn:aws:s3:::b/a?x",
    "arn:aws:s3:::b/abx",
    "arn:aws:s3:::b/a\n/x",
    "arn:aws-cn:s3:::b/k",
    "b/k",
]


@pytest.mark.parametrize("username", ["a?", "k", "*"])
def test_the_matcher_answers_as_each_patterns_own_regex(username: str) -> None:
    """The matcher's exact set, heads of a final `*` and merged regex against the regex of
    each pattern alone (`arn_regex`), patterns and their pairs, variables resolved."""
    ctx = RequestContext({"aws:username": [username]})
    singles = [[p] for p in _PATTERNS]
    pairs = [[p, q] for p in _PATTERNS for q in _PATTERNS[::3] if p != q]
    for patterns in singles + pairs:
        templates = [parse_template(p, variables=True) for p in patterns]
        matcher = ResourceMatcher.compile(templates)
        for arn in _ARNS:
            one_by_one = any(
                (pieces := t.resolve(ctx)) is not None and arn_matches(pieces, arn)
                for t in templates
            )
            assert matcher.matches(arn, ctx) is one_by_one, (patterns, arn)


def test_several_resources_are_ored() -> None:
    patterns = ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]
    assert resource_matches(patterns, "arn:aws:s3:::b/k")
    assert not resource_matches(patterns, "arn:aws:s3:::c/k")


def test_resource_variable_is_substituted_per_request() -> None:
    pattern = ["arn:aws:s3:::b/home/${aws:username}/*"]
    assert resource_matches(
        pattern, "arn:aws:s3:::b/home/alice/x", RequestContext({"aws:username": ["alice"]})
    )
    assert not resource_matches(
        pattern, "arn:aws:s3:::b/home/alice/x", RequestContext({"aws:username": ["bob"]})
    )


def test_resource_variable_missing_means_no_match_and_wildcards_in_values_are_literal() -> None:
    pattern = ["arn:aws:s3:::b/home/${aws:username}/*"]
    assert not resource_matches(pattern, "arn:aws:s3:::b/home/alice/x")
    assert not resource_matches(
        pattern, "arn:aws:s3:::b/home/alice/x", RequestContext({"aws:username": ["*"]})
    )


def test_matching_lists_the_patterns_that_apply() -> None:
    templates = [parse_template(p, variables=True) for p in ["arn:aws:s3:::a/*", "*"]]
    matcher = ResourceMatcher.compile(templates)
    assert matcher.matching("arn:aws:s3:::a/k", EMPTY) == ("arn:aws:s3:::a/*", "*")
