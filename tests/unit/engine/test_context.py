"""The request context: case-insensitive key names, tag keys, derived copies."""

from __future__ import annotations

from chalicelib.engine.context import RequestContext
from chalicelib.model import AccessRequest, ContextEntry, Operation, Principal, PrincipalType


def test_key_names_ignore_case_and_absent_keys_are_none() -> None:
    ctx = RequestContext({"aws:SourceIp": ["10.0.0.1"]})
    assert ctx.get("AWS:SOURCEIP") == ("10.0.0.1",)
    assert ctx.get("aws:SourceVpce") is None


def test_resource_tag_keys_keep_their_case_but_principal_tags_do_not() -> None:
    ctx = RequestContext({"s3:ExistingObjectTag/Project": ["x"], "aws:PrincipalTag/Team": ["y"]})
    assert ctx.get("S3:existingobjecttag/Project") == ("x",)
    assert ctx.get("s3:ExistingObjectTag/project") is None
    assert ctx.get("aws:principaltag/TEAM") == ("y",)


def test_with_entries_replaces_and_removes_without_touching_the_original() -> None:
    ctx = RequestContext({"aws:SourceIp": ["10.0.0.1"], "aws:username": ["a"]})
    derived = ctx.with_entries({"AWS:SourceIp": ["10.0.0.2"], "aws:username": None})
    assert derived.get("aws:sourceip") == ("10.0.0.2",)
    assert derived.get("aws:username") is None
    assert ctx.get("aws:username") == ("a",)


def test_from_request_uses_the_entries_as_given() -> None:
    request = AccessRequest(
        principal=Principal(
            type=PrincipalType.IAM_USER,
            requester_arn="arn:aws:iam::111122223333:user/a",
            principal_arn="arn:aws:iam::111122223333:user/a",
            account_id="111122223333",
        ),
        operations=(Operation(action="s3:GetObject", resource_arn="arn:aws:s3:::b/k"),),
        context=(ContextEntry(name="aws:SecureTransport", values=("true",), type="boolean"),),
    )
    ctx = RequestContext.from_request(request)
    assert ctx.get("aws:securetransport") == ("true",)
    assert list(ctx) == ["aws:SecureTransport"]
