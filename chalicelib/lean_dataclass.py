"""`dataclass`: the standard library's, with `__repr__`, `__eq__` and `__hash__` made from
closures rather than compiled from generated source.

`dataclasses.dataclass` compiles each method it adds from source text. Over the hundred model
classes a command imports, that was half the imports of a run and a third of its start-up (the
full-findings batch of issue 15: 55-69 ms of 121-139 ms in process, of which 18 ms these three
methods). Here they come from closures over the class's fields, with the same behaviour:
`repr` shows `Name(field=value, ...)` of the fields with `repr=True` (a recursive one `...`),
`==` compares the fields with `compare=True` of two objects of the same class (else
NotImplemented), and `hash` hashes those fields as the standard library's rules say (a frozen
class with eq; `__hash__ = None` for a mutable one; a `__hash__` of the class's own kept). A
method the class body defines is kept, as `dataclasses` keeps it. `__init__` and a frozen
class's `__setattr__` and `__delattr__` are still generated: the first is on every object's
path, the others are what makes a class frozen.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def dataclass(cls: type[T], /) -> type[T]: ...


@overload
def dataclass(
    *,
    frozen: bool = False,
    slots: bool = False,
    kw_only: bool = False,
    eq: bool = True,
    repr: bool = True,
) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def dataclass(
    cls: type[T] | None = None,
    /,
    *,
    frozen: bool = False,
    slots: bool = False,
    kw_only: bool = False,
    eq: bool = True,
    repr: bool = True,
) -> Any:
    """`dataclasses.dataclass(cls, frozen=..., slots=..., kw_only=..., eq=..., repr=...)`."""

    def wrap(cls: type[T]) -> type[T]:
        own = cls.__dict__
        own_hash = own.get("__hash__", dataclasses.MISSING)
        explicit_hash = not (
            own_hash is dataclasses.MISSING or (own_hash is None and "__eq__" in own)
        )
        keep_repr, keep_eq = "__repr__" in own, "__eq__" in own
        made = dataclasses.dataclass(
            cls, frozen=frozen, slots=slots, kw_only=kw_only, eq=False, repr=False
        )
        fields = dataclasses.fields(made)  # type: ignore[arg-type]
        if repr and not keep_repr:
            made.__repr__ = _repr_of([f.name for f in fields if f.repr])  # type: ignore[assignment]
        if eq:
            compared = _values_of([f.name for f in fields if f.compare])
            if not keep_eq:
                made.__eq__ = _eq_of(compared)  # type: ignore[assignment]
            if not explicit_hash:
                if frozen:
                    hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
                    made.__hash__ = _hash_of(_values_of(hashed))  # type: ignore[assignment]
                else:
                    made.__hash__ = None  # type: ignore[assignment]
        return made

    return wrap if cls is None else wrap(cls)


def _values_of(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of an object's values of `names`, in order."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)


def _repr_of(names: list[str]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return reprlib.recursive_repr()(__repr__)


def _eq_of(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash_of(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__
