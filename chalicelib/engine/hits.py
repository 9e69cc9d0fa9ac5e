"""What one layer's statements say about one authorization: matching every statement once.

Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.engine.context import RequestContext
from chalicelib.engine.evidence import PolicySource
from chalicelib.engine.principals import PrincipalForm, PrincipalIdentity
from chalicelib.model import StatementRef, Unchecked


@dataclass(slots=True)
class Hits:
    """What one layer's statements say about one authorization."""

    denies: list[StatementRef] = field(default_factory=list)
    allows: list[StatementRef] = field(default_factory=list)
    forms: set[PrincipalForm] = field(default_factory=set)
    missed: list[StatementRef] = field(default_factory=list)  # allows whose condition failed
    problems: list[Unchecked] = field(default_factory=list)
    present: bool = False  # at least one policy exists in this layer

    @property
    def unknown(self) -> bool:
        return bool(self.problems)


def scan(
    sources: Iterable[PolicySource],
    *,
    action: str,
    resource: str,
    identity: PrincipalIdentity | None,
    ctx: RequestContext,
    has_boundary: bool = False,
) -> Hits:
    """Match every statement of `sources` against one action on one resource.

    `identity` is given for policies with a Principal element (resource, RCP, endpoint, key
    policies) and None for identity-type policies. A NotPrincipal Deny always denies a principal
    that has a permissions boundary, whatever it lists (`has_boundary`; IAM User Guide,
    access_policies_boundaries.html).
    """
    hits = Hits()
    for source in sources:
        hits.present = True
        if source.compiled is None:
            if source.problem is not None:
                hits.problems.append(source.problem)
            continue
        for st in source.compiled.statements_for_action(action):
            if not st.matches_resource(resource, ctx):
                continue
            form: PrincipalForm | None = None
            note = None
            if identity is not None:
                form = st.principal_match(identity)
                negated = st.principal is not None and st.principal.negated
                if form is None and negated and has_boundary and st.effect == "Deny":
                    form = PrincipalForm.ANY
                    note = "NotPrincipal with Deny denies every principal that has a boundary"
                if form is None:
                    continue
            result = st.evaluate_conditions(ctx)
            ref = StatementRef(
                policy=source.policy_id,
                index=st.index,
                sid=st.sid,
                effect=st.effect,
                failed_condition=result.decisive,
                note=note,
            )
            if not result.matched:
                if st.effect == "Allow":
                    hits.missed.append(ref)
                continue
            if st.effect == "Deny":
                hits.denies.append(ref)
            else:
                hits.allows.append(ref)
                if form is not None:
                    hits.forms.add(form)
    return hits
