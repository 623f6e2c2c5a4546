"""Typed fact models to and from their JSON form, so recorded facts load back as the models.

A model is a dataclass. Its JSON is an object of its fields, except where a field says
otherwise in its metadata: `key(...)` names a JSON key that is not a Python name, `opt()` is
left out while it is None, `when(pred)` is written (and required on load) only while `pred`
holds, `root()` makes the model's JSON that one field's value, and `raw()` keeps the whole
JSON object of a pass-through API answer, so unknown fields survive a round trip. A field of
type `JSON` holds plain data passed on as a source gave it (a YAML or JSON value): any JSON,
checked to be JSON. A union names all its arms when the value fits none of them.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Lock:
...     readable: bool
...     why: str | None = opt()
...     db: bool | None = when(lambda s: s.readable, key="database-in-use")
>>> lock = from_json(Lock, {"readable": True, "database-in-use": False})
>>> lock.db, to_json(lock)
(False, {'readable': True, 'database-in-use': False})
>>> to_json(from_json(Lock, {"readable": False, "why": "object storage"}))
{'readable': False, 'why': 'object storage'}
>>> from_json(Lock, {"readable": "yes"})
Traceback (most recent call last):
...
geopreflight.probes.codec.ShapeError: readable: expected bool, got str
>>> @dataclass(frozen=True)
... class Setting:
...     value: JSON
...     key: str | int | None = None
>>> from_json(Setting, {"value": {"hosts": ["a", 1, None], "tls": {"on": True}}}).value
{'hosts': ['a', 1, None], 'tls': {'on': True}}
>>> from_json(Setting, {"value": {"hosts": [{1, 2}]}})
Traceback (most recent call last):
...
geopreflight.probes.codec.ShapeError: value.hosts[0]: expected JSON data, got set
>>> from_json(Setting, {"value": 1, "key": 2.5})
Traceback (most recent call last):
...
geopreflight.probes.codec.ShapeError: key: expected str | int, got float
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

_KEY, _WHEN, _ROOT, _RAW, _JSON = ("geopreflight_key", "geopreflight_when", "geopreflight_root",
                                   "geopreflight_raw", "geopreflight_json")

# Plain JSON data, passed on as a source gave it (a setting copied from YAML, a GitLab answer):
# typed for readers as the recursive union, marked so `from_json` checks it as any JSON.
JSON = Annotated[None | bool | int | float | str | list["JSON"] | dict[str, "JSON"], _JSON]


class ShapeError(ValueError):
    """A JSON value does not fit its model; the message names the field, never the value."""

    def __init__(self, path: str, expected: str) -> None:
        super().__init__(f"{path or 'the value'}: {expected}")
        self.path, self.expected = path, expected


def _not_none(name: str) -> Callable[[Any], bool]:
    return lambda obj: getattr(obj, name) is not None


def opt(default: Any = None, *, key: str | None = None) -> Any:
    """A field left out of the JSON while it is None (the probe did not set it)."""
    return dataclasses.field(default=default, metadata={_KEY: key, _WHEN: None})


def when(pred: Callable[[Any], bool], *, key: str | None = None, default: Any = None) -> Any:
    """A field in the JSON exactly while `pred(model)` holds (a group of keys set together)."""
    return dataclasses.field(default=default, metadata={_KEY: key, _WHEN: pred})


def key(name: str, **kw: Any) -> Any:
    """A field whose JSON key is not a Python name (`database-in-use`)."""
    return dataclasses.field(metadata={_KEY: name}, **kw)


def root() -> Any:
    """The model's JSON is this one field's value (a list or a mapping with methods)."""
    return dataclasses.field(metadata={_ROOT: True})


def raw() -> Any:
    """The whole JSON object of a pass-through answer, written back as it came."""
    return dataclasses.field(default_factory=dict, metadata={_RAW: True}, repr=False,
                             compare=False)


@cache
def _fields(cls: type) -> list[tuple[dataclasses.Field[Any], Any, str]]:
    hints = typing.get_type_hints(cls, include_extras=True)  # keeps the `JSON` mark
    return [(f, hints[f.name], f.metadata.get(_KEY) or f.name) for f in dataclasses.fields(cls)]


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def from_json(tp: Any, data: Any, path: str = "") -> Any:
    """`data` (parsed JSON) as `tp`; ShapeError naming the field when it does not fit."""
    if tp is Any:
        return data
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated and _JSON in tp.__metadata__:
        return _plain(data, path)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        misses: list[ShapeError] = []
        for arm in arms:
            try:
                return from_json(arm, data, path)
            except ShapeError as exc:
                misses.append(exc)
        if len(arms) > 1 and all(m.path == path for m in misses):  # fits no arm at all
            raise ShapeError(path, f"expected {' | '.join(map(_name, arms))}, "
                                   f"got {type(data).__name__}")
        raise misses[-1]
    if origin is list:
        if not isinstance(data, list):
            raise ShapeError(path, f"expected a list, got {type(data).__name__}")
        return [from_json(args[0], v, f"{path}[{i}]") for i, v in enumerate(data)]
    if origin is dict:
        if not isinstance(data, dict):
            raise ShapeError(path, f"expected an object, got {type(data).__name__}")
        return {k: from_json(args[1], v, f"{path}.{k}" if path else str(k))
                for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        return _model(tp, data, path)
    if tp is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if tp is type(None) and data is None:
        return None
    if isinstance(tp, type) and isinstance(data, tp) and not (tp is int and
                                                               isinstance(data, bool)):
        return data
    raise ShapeError(path, f"expected {_name(tp)}, got {type(data).__name__}")


def _plain(data: Any, path: str) -> Any:
    """`data` itself when it is JSON (keys are not checked: once written they are strings)."""
    if isinstance(data, list):
        for i, v in enumerate(data):
            _plain(v, f"{path}[{i}]")
    elif isinstance(data, dict):
        for k, v in data.items():
            _plain(v, f"{path}.{k}" if path else str(k))
    elif data is not None and not isinstance(data, bool | int | float | str):
        raise ShapeError(path, f"expected JSON data, got {type(data).__name__}")
    return data


def _model(cls: type, data: Any, path: str) -> Any:
    fields = _fields(cls)
    rooted = [(f, tp) for f, tp, _ in fields if f.metadata.get(_ROOT)]
    if rooted:
        f, tp = rooted[0]
        return cls(**{f.name: from_json(tp, data, path)})
    if not isinstance(data, dict):
        raise ShapeError(path, f"expected an object, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    passthrough = False
    for f, tp, name in fields:
        where = f"{path}.{name}" if path else name
        if f.metadata.get(_RAW):
            kwargs[f.name], passthrough = dict(data), True
        elif name in data:
            kwargs[f.name] = from_json(tp, data[name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ShapeError(where, "missing")
    if not passthrough:
        known = {name for _, _, name in fields}
        extra = sorted(str(k) for k in data if k not in known)
        if extra:
            raise ShapeError(f"{path}.{extra[0]}" if path else extra[0], "not a known field")
    obj = cls(**kwargs)
    for f, _, name in fields:
        pred = f.metadata.get(_WHEN)
        if pred is not None and name not in data and pred(obj):
            raise ShapeError(f"{path}.{name}" if path else name, "missing")
    return obj


def to_json(value: Any) -> Any:
    """The JSON form of a model (or of plain JSON data, unchanged)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = _fields(type(value))
        rooted = [f for f, _, _ in fields if f.metadata.get(_ROOT)]
        if rooted:
            return to_json(getattr(value, rooted[0].name))
        raw_dict = next((getattr(value, f.name) for f, _, _ in fields if f.metadata.get(_RAW)),
                        None)
        out: dict[str, Any] = dict(raw_dict) if raw_dict is not None else {}
        for f, _, name in fields:
            if f.metadata.get(_RAW):
                continue
            item = getattr(value, f.name)
            if raw_dict is not None and name not in raw_dict and item is None:
                continue  # a pass-through answer without this field stays without it
            if _WHEN in f.metadata:
                pred = f.metadata[_WHEN] or _not_none(f.name)
                if not pred(value):
                    continue
            out[name] = to_json(item)
        return out
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
