"""`dataclass`: the standard library's slotted dataclass, its methods made without compiling
most of them.

`dataclasses.dataclass` compiles every method it adds from generated source: over the hundred
model classes a command imports, that was half of a run's imports (55-69 ms of a 121-139 ms
full-findings start, issue 15). Here the standard library finds the fields and makes the
slots, and compiles nothing; `__repr__`, `__eq__`, `__hash__` and a frozen class's
`__setattr__`, `__delattr__`, `__getstate__` and `__setstate__` are closures over the fields;
`__init__` alone is compiled, when first looked up, from a shorter source that sets each field
through its slot (a frozen object's is also built faster: 0.51 against 0.88 µs for five
fields); the docstring of a class without one is also written then.

What a user of a class sees is the standard library's: `Name(field=value, ...)` of the fields
with `repr=True` (`...` for a recursive one); `==` on the fields with `compare=True` of two
objects of the same class (else NotImplemented); a frozen class with eq hashes those fields
(`hash=` of a field as `dataclasses` reads it), a mutable one is unhashable, and a `__hash__`,
`__eq__` or `__repr__` of the class body is kept; a frozen object refuses every assignment
and deletion (FrozenInstanceError) and pickles; `__init__` takes the same parameters, defaults
and default factories; `dataclasses.fields`, `replace` and `asdict` work. What it does not
make (`__post_init__`, `field(init=False)`, a class without slots) is refused at import; it
takes no `order`, `unsafe_hash` nor `InitVar`. The same on Python 3.11 to 3.13 (the test, and
the unit suite on 3.13).
"""

from __future__ import annotations

import dataclasses
import inspect
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
    """`dataclasses.dataclass(cls, frozen=..., slots=True, kw_only=..., eq=..., repr=...)`."""

    def wrap(cls: type[T]) -> type[T]:
        if not slots:
            raise TypeError(f"{cls.__qualname__}: lean_dataclass makes slotted classes only")
        own = cls.__dict__  # read before `dataclasses` adds its attributes
        if "__post_init__" in own:
            raise TypeError(f"{cls.__qualname__}: lean_dataclass makes no __post_init__ call")
        make_repr = repr and "__repr__" not in own
        make_eq = eq and "__eq__" not in own
        own_hash = own.get("__hash__", dataclasses.MISSING)  # None when the body has __eq__
        make_hash = eq and (
            own_hash is dataclasses.MISSING or (own_hash is None and "__eq__" in own)
        )
        undocumented = not cls.__doc__
        if undocumented:
            cls.__doc__ = "-"  # `_LazyDoc` below, once the class is made
        made: Any = dataclasses.dataclass(
            cls, init=False, repr=False, eq=False, slots=True, kw_only=kw_only
        )
        fields = dataclasses.fields(made)
        made.__init__ = _init_of(made, fields)
        if frozen:
            _frozen(made, fields)
        if make_repr:
            _set(made, "__repr__", _repr_of([f.name for f in fields if f.repr]))
        if make_eq:
            _set(made, "__eq__", _eq_of(_values_of([f.name for f in fields if f.compare])))
        if make_hash and frozen:
            hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
            _set(made, "__hash__", _hash_of(_values_of(hashed)))
        elif make_hash:
            made.__hash__ = None  # mutable, compared by value: unhashable
        if undocumented:
            made.__doc__ = _LazyDoc(made)
        return made  # type: ignore[no-any-return]

    return wrap if cls is None else wrap(cls)


def _set(cls: type, name: str, method: Callable[..., Any]) -> None:
    method.__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, name, method)


class _Factory:
    """The default of a parameter whose field has a default factory: none given."""

    def __repr__(self) -> str:
        return "<factory>"  # as `dataclasses` shows it in the signature


_FACTORY = _Factory()


def _init_of(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> _LazyInit:
    """`__init__`, compiled when first looked up: its parameters as `dataclasses` writes them
    (the keyword-only fields after a `*`), each field set through its slot's descriptor. The
    names the source adds are `dataclasses`' own kind (`__dataclass_...__`), which no field is
    called. What the standard library refuses is refused here, at import."""
    names: dict[str, Any] = {"__dataclass_factory__": _FACTORY}
    self_name = "__dataclass_self__" if "self" in (f.name for f in fields) else "self"
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    defaulted = False
    for at, f in enumerate(fields):
        if not f.init:
            raise TypeError(f"{cls.__qualname__}.{f.name}: lean_dataclass has no init=False")
        setter = f"__dataclass_set_{at}__"
        names[setter] = getattr(cls, f.name).__set__
        value = f.name
        if f.default_factory is not dataclasses.MISSING:
            names[f"__dataclass_factory_{at}__"] = f.default_factory
            param = f"{f.name}=__dataclass_factory__"
            value = (
                f"__dataclass_factory_{at}__() if {f.name} is __dataclass_factory__ else {f.name}"
            )
        elif f.default is not dataclasses.MISSING:
            names[f"__dataclass_default_{at}__"] = f.default
            param = f"{f.name}=__dataclass_default_{at}__"
        else:
            param = f.name
        if f.kw_only:
            keyword.append(param)
        else:
            if param == f.name and defaulted:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            defaulted = defaulted or param != f.name
            positional.append(param)
        body.append(f"  {setter}({self_name}, {value})")
    params = ", ".join([self_name, *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({params}):\n" + ("\n".join(body) or "  pass")
    annotations = {f.name: f.type for f in fields} | {"return": None}
    return _LazyInit(cls, source, names, annotations)


class _LazyInit:
    """A class's `__init__` until it is first looked up (an object made, `inspect.signature`):
    then compiled and put in its place. A batch of full findings makes objects of 63 of the 95
    classes it imports; the others' took 4 ms of its start (issue 15)."""

    __slots__ = ("annotations", "cls", "names", "source")

    def __init__(
        self, cls: type, source: str, names: dict[str, Any], annotations: dict[str, Any]
    ) -> None:
        self.cls, self.source, self.names, self.annotations = cls, source, names, annotations

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        exec(self.source, self.names)
        init: Callable[..., None] = self.names["__init__"]
        init.__annotations__ = self.annotations
        _set(self.cls, "__init__", init)
        return init.__get__(obj, owner)


class _LazyDoc:
    """The docstring `dataclasses` gives a class without one, `Name(field: type, ...)`, made
    when first read (it needs `__init__`'s signature) and put in its place."""

    __slots__ = ("cls",)

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __get__(self, obj: object, owner: type | None = None) -> str:
        cls = self.cls
        cls.__doc__ = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
        return cls.__doc__


def _frozen(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> None:
    """A frozen class's methods: assignment and deletion refused, pickling through the
    fields' slots (as `dataclasses` adds them to a frozen slotted class)."""
    slots = [getattr(cls, f.name) for f in fields]

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self: Any) -> list[Any]:
        return [slot.__get__(self) for slot in slots]

    def __setstate__(self: Any, state: list[Any]) -> None:
        for slot, value in zip(slots, state, strict=True):
            slot.__set__(self, value)

    for method in (__setattr__, __delattr__, __getstate__, __setstate__):
        _set(cls, method.__name__, method)


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
