"""`lean_dataclass.dataclass` behaves as `dataclasses.dataclass`: each class below is made by
both, and their objects compared on what a user of the model sees (repr, ==, hash, frozen)."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib import lean_dataclass
from chalicelib.model import Cause, Layer, StatementRef

Make = Callable[..., Any]


def _classes(make: Make) -> dict[str, type]:
    @make(frozen=True, slots=True, kw_only=True)
    class Plain:
        name: str
        count: int = 0
        tags: tuple[str, ...] = ()

    @make(frozen=True, slots=True)
    class Hidden:
        shown: str
        secret: str = dataclasses.field(default="", repr=False)
        noted: str = dataclasses.field(default="", compare=False)
        hashed_only: str = dataclasses.field(default="", compare=False, hash=True)
        unhashed: str = dataclasses.field(default="", hash=False)

    @make(slots=True)
    class Mutable:
        items: list[Any] = dataclasses.field(default_factory=list)

    @make(frozen=True, slots=True)
    class Empty:
        pass

    @make(frozen=True, slots=True)
    class OwnMethods:
        value: str

        def __repr__(self) -> str:
            return f"<{self.value}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, OwnMethods) and other.value.lower() == self.value.lower()

        def __hash__(self) -> int:
            return hash(self.value.lower())

    @make(frozen=True, slots=True, eq=False)
    class Identity:
        value: str

    return {c.__name__: c for c in (Plain, Hidden, Mutable, Empty, OwnMethods, Identity)}


def _seen(make: Make) -> list[Any]:
    """What a user sees of objects of each class: reprs, comparisons, hashes, errors."""
    c = _classes(make)
    plain = c["Plain"](name="a\n'b'", count=2, tags=("x",))
    seen: list[Any] = [
        repr(plain),
        plain == c["Plain"](name="a\n'b'", count=2, tags=("x",)),
        plain == c["Plain"](name="a\n'b'", count=3, tags=("x",)),
        plain.__eq__(("a\n'b'", 2, ("x",))),
        hash(plain) == hash(c["Plain"](name="a\n'b'", count=2, tags=("x",))),
        hash(plain) == hash(("a\n'b'", 2, ("x",))),
    ]
    hidden = c["Hidden"]("s", "p", "n1", "h", "u1")
    other = c["Hidden"]("s", "p", "n2", "h", "u2")
    seen += [
        repr(hidden),
        hidden == other,  # differ only in a field not compared, and in one not hashed
        hash(hidden) == hash(("s", "p", "h")),
        hash(hidden) == hash(other),
    ]
    mutable = c["Mutable"]()
    mutable.items.append(mutable)  # a repr of itself: `...`, not a recursion error
    seen += [repr(mutable), c["Mutable"].__hash__ is None, c["Mutable"]() == c["Mutable"]()]
    seen += [repr(c["Empty"]()), c["Empty"]() == c["Empty"](), hash(c["Empty"]()) == hash(())]
    own = c["OwnMethods"]
    seen += [repr(own("A")), own("A") == own("a"), hash(own("A")) == hash("a")]
    identity = c["Identity"]
    seen += [identity("v") == identity("v"), repr(identity("v"))]
    with pytest.raises(dataclasses.FrozenInstanceError) as frozen:
        plain.count = 5  # type: ignore[misc]
    seen.append(str(frozen.value))
    seen.append(
        dataclasses.replace(plain, count=7) == c["Plain"](name="a\n'b'", count=7, tags=("x",))
    )
    return seen


def test_every_class_behaves_as_the_standard_librarys() -> None:
    stdlib, lean = _seen(dataclasses.dataclass), _seen(lean_dataclass.dataclass)
    assert lean == stdlib
    # The comparison is not vacuous: the reprs name fields, equalities go both ways.
    assert "Plain(name=\"a\\n'b'\", count=2, tags=('x',))" in lean[0]
    assert lean[1] is True and lean[2] is False and lean[3] is NotImplemented


def test_model_objects_keep_their_equality_hash_repr_and_pickling() -> None:
    ref = StatementRef(policy="arn:aws:iam::111122223333:policy/p", index=0, sid="S", effect="Deny")
    cause = Cause(code="EXPLICIT_DENY", layer=Layer.BUCKET_POLICY, message="m", statement=ref)
    again = Cause(code="EXPLICIT_DENY", layer=Layer.BUCKET_POLICY, message="m", statement=ref)
    assert cause == again and hash(cause) == hash(again) and len({cause, again}) == 1
    assert cause != dataclasses.replace(cause, message="n")
    assert repr(cause).startswith("Cause(code='EXPLICIT_DENY', layer=<Layer.BUCKET_POLICY")
    assert pickle.loads(pickle.dumps(cause)) == cause
