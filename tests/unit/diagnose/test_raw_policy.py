"""Finding a policy in a snapshot document whose parts on the way may be `$unreadable` markers."""

from __future__ import annotations

from chalicelib.diagnose.patches import raw_policy

UNREADABLE = {"$unreadable": "AccessDenied"}


def test_a_marker_on_the_path_reads_as_no_document() -> None:
    doc = {"iam": {"UserDetailList": [{"UserName": "alice", "UserPolicyList": UNREADABLE}]}}
    assert raw_policy(doc, "inline:user/alice/read") is None
    policies = {
        "iam": {"Policies": [{"Arn": "arn:aws:iam::1:policy/p", "PolicyVersionList": UNREADABLE}]}
    }
    assert raw_policy(policies, "arn:aws:iam::1:policy/p") is None


def test_a_readable_path_gives_the_document_as_stored() -> None:
    document = {"Version": "2012-10-17", "Statement": []}
    doc = {
        "iam": {
            "UserDetailList": [
                {
                    "UserName": "alice",
                    "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": document}],
                }
            ]
        }
    }
    assert raw_policy(doc, "inline:user/alice/read") == document
