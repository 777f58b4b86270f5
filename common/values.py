"""A tiny base for immutable value objects that costs nothing at import.

Why not ``dataclasses`` and ``enum``: the client is started once per compile, and on this
class of machine ``import dataclasses`` costs ~14 ms and ``import enum`` ~4 ms, against a
whole per-job budget of ~15 ms (see docs/benchmarks.md).  Modules on the client's hot path
(``common.*``, ``client.*``) therefore use ``Value`` subclasses with ``__slots__`` and
string constants, and import ``typing`` only under ``TYPE_CHECKING``.  A test
(tests/common/test_import_cost.py) keeps it that way.

A ``Value`` subclass lists its fields in ``__slots__`` and sets them in ``__init__`` with
``_init``; afterwards assignment raises, equality and hashing go by field values.
"""

from __future__ import annotations

# ``from typing import TYPE_CHECKING`` costs the import of typing (~8 ms here).  mypy treats
# any name TYPE_CHECKING as true, so hot-path modules import this one instead.
TYPE_CHECKING = False


class Value:
    __slots__: tuple[str, ...] = ()

    def _init(self, **fields: object) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (setting {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (deleting {name!r})")

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._fields()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes: object) -> Value:
        """A copy with some fields changed (like ``dataclasses.replace``)."""
        new = object.__new__(type(self))
        for name in self.__slots__:
            object.__setattr__(new, name, changes.pop(name, getattr(self, name)))
        if changes:
            raise TypeError(f"unknown fields for {type(self).__name__}: {sorted(changes)}")
        return new
