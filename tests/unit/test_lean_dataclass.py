"""`lean_dataclass.dataclass` behaves as `dataclasses.dataclass`: each class below is made by
both, and their objects compared on what a user of the model sees (repr, ==, hash, frozen)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
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

    @make(frozen=True, slots=True)
    class Base:
        first: str
        second: int = 2

    @make(frozen=True, slots=True, kw_only=True)
    class Derived(Base):
        third: list[int] = dataclasses.field(default_factory=list)

    @make(slots=True)
    class Odd:
        self: int  # `dataclasses` renames the instance's own parameter
        other: int = 1

    classes = (Plain, Hidden, Mutable, Empty, OwnMethods, Identity, Base, Derived, Odd)
    return {c.__name__: c for c in classes}


def _error(call: Callable[[], Any]) -> str:
    """The type and text of what `call` raises, its class's scope left out."""
    with pytest.raises(Exception) as raised:
        call()
    return f"{type(raised.value).__name__}: {raised.value}".replace("_classes.<locals>.", "")


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
    seen += [
        _error(lambda: setattr(plain, "count", 5)),
        _error(lambda: delattr(plain, "name")),
        _error(lambda: c["Plain"](count=1)),  # a required keyword missing
        _error(lambda: c["Plain"]("a")),  # keyword-only
        _error(lambda: c["Plain"](name="a", colour="red")),
        _error(lambda: c["Hidden"]()),
        _error(lambda: c["Hidden"]("s", "p", "n", "h", "u", "extra")),
    ]
    derived = c["Derived"]("f", third=[1])
    seen += [
        repr(derived),
        repr(c["Derived"]("f", 3)),
        c["Derived"]("f").third is not c["Derived"]("f").third,  # a fresh list each
        [f.name for f in dataclasses.fields(derived)],
        dataclasses.asdict(derived),
        repr(c["Odd"](self=0)),
        repr(c["Odd"](4, other=5)),
    ]
    for name, cls in c.items():
        seen += [name, cls.__doc__, str(inspect.signature(cls)), cls.__match_args__]
        seen += [cls.__init__.__qualname__.replace("_classes.<locals>.", "")]
    for obj in (plain, hidden, derived, c["Empty"](), c["Mutable"](items=[1])):
        seen += [copy.deepcopy(obj) == obj]  # as pickle takes them apart (these are local)
    changed = dataclasses.replace(plain, count=7)
    seen.append(changed == c["Plain"](name="a\n'b'", count=7, tags=("x",)))
    return seen


def test_every_class_behaves_as_the_standard_librarys() -> None:
    stdlib, lean = _seen(dataclasses.dataclass), _seen(lean_dataclass.dataclass)
    assert lean == stdlib
    # The comparison is not vacuous: the reprs name fields, equalities go both ways.
    assert "Plain(name=\"a\\n'b'\", count=2, tags=('x',))" in lean[0]
    assert lean[1] is True and lean[2] is False and lean[3] is NotImplemented


def _described(make: Make) -> list[Any]:
    """What each class shows before any object of it is made (its docstring, signature and
    `__init__`), and the objects of a subclass the decorator did not make, made first."""
    c = _classes(make)
    seen: list[Any] = []
    for name, cls in c.items():
        seen += [name, cls.__doc__, str(inspect.signature(cls)), cls.__doc__]
        seen += [cls.__init__.__qualname__.replace("_classes.<locals>.", "")]
    c = _classes(make)

    class Sub(c["Derived"]):  # type: ignore[misc, valid-type]
        pass

    seen += [repr(Sub("f", third=[2])), repr(c["Derived"]("g")), repr(c["Base"]("h", 4))]
    seen += [Sub("f") == c["Derived"]("f"), Sub.__doc__, str(inspect.signature(Sub))]
    seen += [_error(lambda: Sub()), _error(lambda: c["Plain"]("a"))]
    return seen


def test_a_class_shows_the_standard_librarys_signature_before_any_object_is_made() -> None:
    lean = _described(lean_dataclass.dataclass)
    assert lean == _described(dataclasses.dataclass)
    assert "Plain(*, name: 'str', count: 'int' = 0, tags: 'tuple[str, ...]' = ())" in lean
    assert "_described.<locals>.Sub(first='f', second=2, third=[2])" in lean


def test_what_it_cannot_make_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match="slotted classes only"):

        @lean_dataclass.dataclass(frozen=True)
        class Unslotted:
            value: str

    with pytest.raises(TypeError, match="no __post_init__"):

        @lean_dataclass.dataclass(slots=True)
        class Checked:
            value: str

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="no init=False"):

        @lean_dataclass.dataclass(slots=True)
        class Derived:
            value: str = dataclasses.field(init=False, default="")


def test_model_objects_keep_their_equality_hash_repr_and_pickling() -> None:
    ref = StatementRef(policy="arn:aws:iam::111122223333:policy/p", index=0, sid="S", effect="Deny")
    cause = Cause(code="EXPLICIT_DENY", layer=Layer.BUCKET_POLICY, message="m", statement=ref)
    again = Cause(code="EXPLICIT_DENY", layer=Layer.BUCKET_POLICY, message="m", statement=ref)
    assert cause == again and hash(cause) == hash(again) and len({cause, again}) == 1
    assert cause != dataclasses.replace(cause, message="n")
    assert repr(cause).startswith("Cause(code='EXPLICIT_DENY', layer=<Layer.BUCKET_POLICY")
    assert pickle.loads(pickle.dumps(cause)) == cause
