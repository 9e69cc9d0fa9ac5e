"""Unchecked layers, denials not reproduced, and the errorMessage cross-check."""

from __future__ import annotations

from chalicelib.diagnose.unchecked import hint_mismatch, unchecked_layers, verdict_causes
from chalicelib.model import DenialHint, Layer, Outcome, PrincipalType, Verdict
from tests.unit.diagnose.diagnose_builders import decision, layer, principal, request

ROLE = "arn:aws:iam::111122223333:role/app"
SESSION = "arn:aws:sts::111122223333:assumed-role/app/s1"


def test_unknown_layer_is_listed_with_the_permission_that_would_show_it() -> None:
    dec = decision(
        layer(Layer.IDENTITY_POLICY, Outcome.ALLOW),
        layer(Layer.BUCKET_POLICY, Outcome.UNKNOWN, detail="AccessDenied reading the policy"),
        verdict=Verdict.INCONCLUSIVE,
    )
    found = unchecked_layers(request(), dec)
    assert [(u.layer, u.needs) for u in found] == [(Layer.BUCKET_POLICY, "s3:GetBucketPolicy")]
    causes = verdict_causes(request(), dec, found)
    assert [c.code for c in causes] == ["INCONCLUSIVE"]
    assert "bucket-policy" in causes[0].message


def test_a_denial_not_reproduced_for_a_session_points_at_the_session_policy() -> None:
    who = principal(ROLE, kind=PrincipalType.ASSUMED_ROLE, requester=SESSION)
    req = request(who=who, event_time="2026-01-02T03:04:05Z")
    dec = decision(layer(Layer.IDENTITY_POLICY, Outcome.ALLOW), verdict=Verdict.ALLOWED)
    found = unchecked_layers(req, dec)
    assert [u.layer for u in found] == [Layer.SESSION_POLICY]
    (cause,) = verdict_causes(req, dec, found)
    assert cause.code == "NOT_REPRODUCED" and cause.confidence == "possible"
    assert "session policy" in cause.message
    assert "since 2026-01-02T03:04:05Z" in cause.message


def test_a_user_denial_not_reproduced_does_not_blame_a_session_policy() -> None:
    dec = decision(layer(Layer.IDENTITY_POLICY, Outcome.ALLOW), verdict=Verdict.ALLOWED)
    assert unchecked_layers(request(), dec) == ()
    (cause,) = verdict_causes(request(), dec, ())
    assert "session policy" not in cause.message


def _hint(policy_type: str, *, explicit: bool) -> DenialHint:
    return DenialHint(raw="User: ... is not authorized", policy_type=policy_type, explicit=explicit)


def test_message_naming_the_layer_that_denied_agrees() -> None:
    dec = decision(layer(Layer.BUCKET_POLICY, Outcome.EXPLICIT_DENY), verdict=Verdict.EXPLICIT_DENY)
    hint = _hint("resource-based policy", explicit=True)
    assert hint_mismatch(request(hint=hint), dec) is None


def test_no_identity_allow_message_agrees_with_a_grant_layer_implicit_deny() -> None:
    dec = decision(layer(Layer.BUCKET_POLICY, Outcome.IMPLICIT_DENY))
    hint = _hint("identity-based policy", explicit=False)
    assert hint_mismatch(request(hint=hint), dec) is None


def test_message_naming_another_layer_is_flagged() -> None:
    dec = decision(layer(Layer.BUCKET_POLICY, Outcome.EXPLICIT_DENY), verdict=Verdict.EXPLICIT_DENY)
    cause = hint_mismatch(request(hint=_hint("service control policy", explicit=True)), dec)
    assert cause is not None and cause.code == "MESSAGE_MISMATCH"
    assert "service control policy" in cause.message and "bucket-policy" in cause.message
