"""What one layer's statements say about one authorization: matching every statement once.

Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import field
from typing import Protocol, TypeVar

from ..lean_dataclass import dataclass
from ..model import StatementRef, Unchecked
from .context import RequestContext, normalise_key
from .evidence import PolicySource
from .policy import CompiledStatement
from .principals import PrincipalForm, PrincipalIdentity


class Hits:
    """What one layer's statements say about one authorization."""

    __slots__ = ("allows", "denies", "forms", "missed", "present", "problems")

    def __init__(self, *, present: bool = False, problems: list[Unchecked] | None = None) -> None:
        self.denies: list[StatementRef] = []
        self.allows: list[StatementRef] = []
        self.forms: set[PrincipalForm] = set()
        self.missed: list[StatementRef] = []  # allows whose condition failed
        self.problems: list[Unchecked] = problems if problems is not None else []
        self.present = present  # at least one policy exists in this layer

    @property
    def unknown(self) -> bool:
        return bool(self.problems)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A statement that matches the action and names the requester (when it has a Principal)."""

    policy_id: str
    statement: CompiledStatement
    form: PrincipalForm | None
    note: str | None
    ref: StatementRef  # without the condition: what `scan` reports when not explaining


@dataclass(frozen=True, slots=True)
class _Plan:
    candidates: tuple[_Candidate, ...]
    problems: tuple[Unchecked, ...]
    present: bool
    # Candidates whose Resource can fail to match (not a plain "*"): all a resource can change.
    varying: tuple[CompiledStatement, ...] = ()
    # When no candidate has a condition nor a Resource that can fail: (denies, allows, forms),
    # what every scan finds whatever the resource and the context.
    fixed: (
        tuple[tuple[StatementRef, ...], tuple[StatementRef, ...], frozenset[PrincipalForm]] | None
    ) = None


@dataclass(slots=True)
class Trace:
    """What a decision read of its object key and its context, in the order it read it.

    `slots` maps each key-dependent resource string of the request (the object ARN, its access
    point form) to its position. While a trace is active, `scan` appends one `TraceStep` per
    scan of such a resource (the statements whose match could vary, the slot, the results), and
    the decision's `TracingContext` appends a `ConditionStep` per condition evaluated (its
    answer) and a `ReadStep` per other read of a context key (the values read). `opaque` is set
    when the key or the context reached the decision another way (a KMS encryption context, a
    derived context, the context read whole): such a decision cannot be replayed from its steps.
    """

    slots: dict[str, int]
    steps: list[Step] = field(default_factory=list)
    opaque: bool = False


@dataclass(frozen=True, slots=True)
class TraceStep:
    """A scan of a key-bearing resource: which of `statements` matched it."""

    statements: tuple[CompiledStatement, ...]
    slot: int
    matched: tuple[bool, ...]

    @property
    def question(self) -> tuple[object, ...]:
        return ("resource", self.slot, self.statements)

    @property
    def answer(self) -> object:
        return self.matched

    def ask(self, slots: tuple[str, ...], ctx: RequestContext) -> object:
        """The same question put to another request (its resource strings, its context)."""
        resource = slots[self.slot]
        return tuple(st.matches_resource(resource, ctx) for st in self.statements)

    @property
    def reads(self) -> frozenset[str]:
        """The context keys whose values can change the answer (the Resource's variables)."""
        return frozenset(key for st in self.statements for key in st.resources.reads)


class _Condition(Protocol):
    def answer(self, ctx: RequestContext) -> bool: ...

    @property
    def reads(self) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class ConditionStep:
    """One condition evaluated: its answer (whatever context values gave it)."""

    condition: _Condition
    holds: bool

    @property
    def question(self) -> tuple[object, ...]:
        return ("condition", self.condition)

    @property
    def answer(self) -> object:
        return self.holds

    def ask(self, slots: tuple[str, ...], ctx: RequestContext) -> object:
        return self.condition.answer(ctx)

    @property
    def reads(self) -> frozenset[str]:
        return self.condition.reads


@dataclass(frozen=True, slots=True)
class ReadStep:
    """A context key read outside a condition (a policy variable, an S3 rule): its values."""

    key: str  # normalised
    values: tuple[str, ...] | None

    @property
    def question(self) -> tuple[object, ...]:
        return ("read", self.key)

    @property
    def answer(self) -> object:
        return self.values

    def ask(self, slots: tuple[str, ...], ctx: RequestContext) -> object:
        return ctx.lookup(self.key)

    @property
    def reads(self) -> frozenset[str]:
        return frozenset((self.key,))


Step = TraceStep | ConditionStep | ReadStep

TRACE: ContextVar[Trace | None] = ContextVar("s3doctor_trace", default=None)


V = TypeVar("V")


def traced(slots: tuple[str, ...], compute: Callable[[], V]) -> tuple[V, Trace]:
    """`compute()`, and the trace of what it read (the key-bearing resource strings `slots`)."""
    trace = Trace(slots={resource: i for i, resource in enumerate(slots)})
    token = TRACE.set(trace)
    try:
        return compute(), trace
    finally:
        TRACE.reset(token)


class TracingContext(RequestContext):
    """A request context that records, in `trace`, what the decision asked of it.

    A condition's answer is recorded as one step (the keys it reads inside are not: the answer
    is a function of the context alone, `Condition.answer`); any other read is recorded with
    the values it got. Whatever reads the context in another way (whole, or derived from it
    with `with_entries`) makes the trace opaque.
    """

    __slots__ = ("_quiet", "_trace")
    traced = True

    def __init__(self, entries: RequestContext, trace: Trace) -> None:
        super().__init__()
        self._entries = entries._entries
        self._names = entries._names
        self._trace = trace
        self._quiet = 0

    def lookup(self, normalised_key: str) -> tuple[str, ...] | None:
        values = self._entries.get(normalised_key)
        if not self._quiet:
            self._trace.steps.append(ReadStep(normalised_key, values))
        return values

    def get(self, key: str) -> tuple[str, ...] | None:
        return self.lookup(normalise_key(key))

    def traced_answer(self, question: object, answer: Callable[[RequestContext], bool]) -> bool:
        self._quiet += 1
        try:
            result = answer(self)
        finally:
            self._quiet -= 1
        if not self._quiet:
            self._trace.steps.append(ConditionStep(question, result))  # type: ignore[arg-type]
        return result

    def _whole(self) -> None:
        self._trace.opaque = True

    def with_entries(self, entries: Mapping[str, Sequence[str] | None]) -> RequestContext:
        self._whole()
        return RequestContext(dict(self._entries)).with_entries(entries)

    def __contains__(self, key: object) -> bool:
        self._whole()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self._whole()
        return super().__iter__()

    def __len__(self) -> int:
        self._whole()
        return super().__len__()

    def to_dict(self) -> dict[str, list[str]]:
        self._whole()
        return super().to_dict()


def request_context(entries: RequestContext) -> RequestContext:
    """`entries`, or a context recording its reads in the active trace (if any)."""
    trace = TRACE.get()
    return entries if trace is None else TracingContext(entries, trace)


def key_read_elsewhere() -> None:
    """Mark the active trace (if any): the object key reached the decision outside `scan`."""
    trace = TRACE.get()
    if trace is not None:
        trace.opaque = True


# The scans of identity-type policies (no Principal element) while `scans_of` records a
# decision: (action, resource, context). Read only: fix verification (`diagnose.verification`).
Scan = tuple[str, str, RequestContext]
SCANS: ContextVar[list[Scan] | None] = ContextVar("s3doctor_scans", default=None)


def scans_of(compute: Callable[[], V]) -> tuple[V, list[Scan]]:
    """`compute()`, and the identity-type scans it made, in order (a recording around this one
    sees them too)."""
    outer = SCANS.get()
    scans: list[Scan] = []
    token = SCANS.set(scans)
    try:
        return compute(), scans
    finally:
        SCANS.reset(token)
        if outer is not None:
            outer.extend(scans)


PlanMemo = dict[tuple[object, ...], _Plan]


def _plan(
    sources: tuple[PolicySource, ...],
    action: str,
    identity: PrincipalIdentity | None,
    has_boundary: bool,
) -> _Plan:
    """The statements of `sources` that can apply to `action` for this requester.

    A NotPrincipal Deny always denies a principal that has a permissions boundary, whatever it
    lists (IAM User Guide, access_policies_boundaries.html).
    """
    candidates: list[_Candidate] = []
    problems: list[Unchecked] = []
    for source in sources:
        if source.compiled is None:
            if source.problem is not None:
                problems.append(source.problem)
            continue
        for st in source.compiled.statements_for_action(action):
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
            ref = StatementRef(
                policy=source.policy_id, index=st.index, sid=st.sid, effect=st.effect, note=note
            )
            candidates.append(_Candidate(source.policy_id, st, form, note, ref))
    varying = tuple(c.statement for c in candidates if not c.statement.matches_every_resource)
    fixed = None
    if not varying and not any(c.statement.has_condition for c in candidates):
        allows = [c for c in candidates if c.statement.effect != "Deny"]
        fixed = (
            tuple(c.ref for c in candidates if c.statement.effect == "Deny"),
            tuple(c.ref for c in allows),
            frozenset(c.form for c in allows if c.form is not None),
        )
    return _Plan(tuple(candidates), tuple(problems), bool(sources), varying, fixed)


def scan(
    sources: tuple[PolicySource, ...],
    *,
    action: str,
    resource: str,
    identity: PrincipalIdentity | None,
    ctx: RequestContext,
    has_boundary: bool = False,
    memo: PlanMemo | None = None,
    explain: bool = True,
) -> Hits:
    """Match every statement of `sources` against one action on one resource.

    `identity` is given for policies with a Principal element (resource, RCP, endpoint, key
    policies) and None for identity-type policies. With a `memo` (one per snapshot), the
    statements that can apply to an action and requester are found once, so a request only
    matches resources and conditions. Without `explain`, statements are reported without the
    condition that decided them (the verdict is the same).
    """
    if identity is None and (scans := SCANS.get()) is not None:
        scans.append((action, resource, ctx))
    if memo is None:
        plan = _plan(sources, action, identity, has_boundary)
    else:
        key = (sources, action.lower(), identity, has_boundary)
        found = memo.get(key)
        if found is None:
            found = memo[key] = _plan(sources, action, identity, has_boundary)
        plan = found
    if plan.varying:
        trace = TRACE.get()
        if trace is not None and (slot := trace.slots.get(resource)) is not None:
            matched = tuple(st.matches_resource(resource, ctx) for st in plan.varying)
            trace.steps.append(TraceStep(plan.varying, slot, matched))

    hits = Hits(present=plan.present, problems=list(plan.problems))
    if plan.fixed is not None:
        hits.denies.extend(plan.fixed[0])
        hits.allows.extend(plan.fixed[1])
        hits.forms.update(plan.fixed[2])
        return hits
    for candidate in plan.candidates:
        st = candidate.statement
        if not st.matches_resource(resource, ctx):
            continue
        if not explain:
            if not st.conditions.holds(ctx):
                continue
            if st.effect == "Deny":
                hits.denies.append(candidate.ref)
            else:
                hits.allows.append(candidate.ref)
                if candidate.form is not None:
                    hits.forms.add(candidate.form)
            continue
        result = st.evaluate_conditions(ctx)
        if not result.matched and st.effect != "Allow":
            continue  # a Deny whose condition fails is not reported
        ref = candidate.ref  # the same reference, when no condition decided
        if result.decisive is not None:
            ref = StatementRef(
                policy=candidate.policy_id,
                index=st.index,
                sid=st.sid,
                effect=st.effect,
                failed_condition=result.decisive,
                note=candidate.note,
            )
        if not result.matched:
            hits.missed.append(ref)
            continue
        if st.effect == "Deny":
            hits.denies.append(ref)
        else:
            hits.allows.append(ref)
            if candidate.form is not None:
                hits.forms.add(candidate.form)
    return hits
