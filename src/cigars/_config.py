"""Typed, frozen configuration classes parsed strictly from YAML.

Every component kind (a cosmology, an SSP grid, a selection function, ...) has one abstract
config base created with ``class XConfig(Component, kind="x")``; each implementation registers
itself with ``class YConfig(XConfig, name="y")`` and is chosen by the ``type:`` key in YAML.
Config classes are frozen dataclasses whose fields are the component's constructor arguments,
with real defaults; ``build()`` returns the component.

Parsing is strict: unknown keys, wrong types and out-of-range values raise :class:`ConfigError`
naming the file, the dotted key and what was expected. A YAML file may start from another
(``extends: BASE.yaml``, :func:`load_yaml`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

__all__ = [
    "Component",
    "Config",
    "ConfigError",
    "bounded",
    "from_dict",
    "load_yaml",
    "merge_mappings",
    "to_dict",
]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the file, the key and the expectation."""

    def __init__(self, message: str, *, file: str | Path | None = None, key: str = ""):
        self.file = None if file is None else str(file)
        self.key = key
        self.reason = message
        where = ": ".join(p for p in (self.file, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


def bounded(default: Any, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A dataclass field with a default and numeric bounds (ge/gt/le/lt) checked on parsing."""
    bounds = {k: v for k, v in dict(ge=ge, gt=gt, le=le, lt=lt).items() if v is not None}
    if isinstance(default, list | dict):
        raise TypeError("mutable defaults are not allowed in configs; use a tuple")
    return dataclasses.field(default=default, metadata={"bounds": bounds})


_OPS = {
    "ge": (lambda v, b: v >= b, ">="),
    "gt": (lambda v, b: v > b, ">"),
    "le": (lambda v, b: v <= b, "<="),
    "lt": (lambda v, b: v < b, "<"),
}


class Config:
    """Base class of all config classes (subclasses are made frozen dataclasses automatically)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__dataclass_fields__" not in cls.__dict__:
            dataclasses.dataclass(frozen=True, kw_only=True)(cls)

    def replace(self, **changes) -> Config:
        """A copy with some fields changed (validated like parsed input)."""
        return from_dict(type(self), {**to_dict(self), **changes})


class Component(Config):
    """A config whose ``type:`` key picks the implementation from its kind's registry."""

    kind: ClassVar[str] = ""
    type_name: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Component]]]

    def __init_subclass__(cls, *, kind: str | None = None, name: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if kind is not None:
            cls.kind = kind
            cls.registry = {}
        if name is not None:
            if name in cls.registry:
                raise TypeError(f"{cls.kind} type {name!r} registered twice")
            cls.type_name = name
            cls.registry[name] = cls

    def build(self) -> Any:
        """Construct the component this config describes."""
        raise NotImplementedError(f"{type(self).__name__}.build")


def _is_kind_base(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Component) and not tp.type_name


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin is dict:
        k, v = typing.get_args(tp)
        return f"a mapping of {_describe(k)} to {_describe(v)}"
    if tp is type(None):
        return "null"
    if _is_kind_base(tp):
        return f"a {tp.kind} (mapping with 'type': one of {sorted(tp.registry)})"
    if isinstance(tp, type) and issubclass(tp, Config):
        return f"a mapping ({tp.__name__})"
    return {float: "a number", int: "an integer", bool: "true/false", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _convert(tp: Any, value: Any, key: str, file) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert it (e.g. lists to tuples)."""

    def fail(extra: str = ""):
        raise ConfigError(f"expected {_describe(tp)}, got {value!r}{extra}", file=file, key=key)

    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in typing.get_args(tp):
            fail()
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            fail()
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:  # X | None: report X's own error (e.g. a nested unknown key)
            return _convert(non_none[0], value, key, file)
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, key, file)
            except ConfigError:
                continue
        fail()
    if origin is tuple:
        if not isinstance(value, list | tuple):
            fail()
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{key}[{i}]", file) for i, v in enumerate(value))
        if len(args) != len(value):
            fail(f" (need {len(args)} values)")
        return tuple(
            _convert(a, v, f"{key}[{i}]", file)
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        if not isinstance(value, Mapping):
            fail()
        kt, vt = typing.get_args(tp)
        return {
            _convert(kt, k, f"{key}", file): _convert(vt, v, f"{key}.{k}", file)
            for k, v in value.items()
        }
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            fail()
        return from_dict(tp, value, file=file, prefix=key)
    if tp is bool:
        if not isinstance(value, bool):
            fail()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            fail()
        return value
    raise TypeError(f"unsupported config annotation {tp!r} at {key}")


def from_dict(
    cls: type[Config], data: Mapping[str, Any] | None, *, file=None, prefix: str = ""
) -> Config:
    """Parse a mapping into ``cls`` (for a kind base: the class its ``type:`` key names).

    Raises:
        ConfigError: for an unknown key, a wrong type, a missing required key or a bad value.
    """
    data = dict(data or {})
    dotted = (prefix + ".") if prefix else ""
    if _is_kind_base(cls) or (isinstance(cls, type) and issubclass(cls, Component)):
        base = cls if _is_kind_base(cls) else next(b for b in cls.__mro__ if _is_kind_base(b))
        type_name = data.pop("type", cls.type_name or None)
        if type_name is None:
            raise ConfigError(
                f"missing 'type' (one of {sorted(base.registry)})", file=file, key=dotted + "type"
            )
        if type_name not in base.registry:
            raise ConfigError(
                f"unknown {base.kind} type {type_name!r}; expected one of {sorted(base.registry)}",
                file=file,
                key=dotted + "type",
            )
        cls = base.registry[type_name]
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}; expected one of {sorted(fields)}"
            + (" (YAML reads on/off/yes/no as true/false)" if isinstance(unknown[0], bool) else ""),
            file=file,
            key=dotted + str(unknown[0]),
        )
    kwargs = {}
    for name, f in fields.items():
        key = dotted + name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError("required key is missing", file=file, key=key)
            continue
        value = _convert(hints[name], data[name], key, file)
        for op, bound in f.metadata.get("bounds", {}).items():
            check, sym = _OPS[op]
            if value is not None and not check(value, bound):
                raise ConfigError(
                    f"expected a value {sym} {bound}, got {value!r}", file=file, key=key
                )
        kwargs[name] = value
    try:
        obj = cls(**kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err), file=file, key=prefix) from None
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except ValueError as err:
            raise ConfigError(str(err), file=file, key=prefix) from None
    return obj


def to_dict(cfg: Config) -> dict[str, Any]:
    """The fully resolved config as plain YAML-able data (with ``type:`` for components)."""

    def plain(v):
        if isinstance(v, Config):
            return to_dict(v)
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    out: dict[str, Any] = {}
    if isinstance(cfg, Component) and cfg.type_name:
        out["type"] = cfg.type_name
    for f in dataclasses.fields(cfg):
        out[f.name] = plain(getattr(cfg, f.name))
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, turning syntax errors into :class:`ConfigError`.

    A top-level ``extends: BASE.yaml`` (a path relative to the file) reads that file first and
    applies this one over it (:func:`merge_mappings`); the base may extend another.
    """
    return _load_extending(Path(path), ())


def _load_extending(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError("file not found", file=path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML: {err}", file=path) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"expected a mapping at the top level, got {type(data).__name__}", file=path
        )
    data = dict(data)
    if "extends" not in data:
        return data
    base = data.pop("extends")
    if not isinstance(base, str) or not base:
        raise ConfigError(
            f"expected the path of a config file (relative to this one), got {base!r}",
            file=path,
            key="extends",
        )
    base_path = path.parent / base
    chain = (*chain, path.resolve())
    if base_path.resolve() in chain:
        cycle = " -> ".join(str(p) for p in (*chain, base_path.resolve()))
        raise ConfigError(f"the files extend each other: {cycle}", file=path, key="extends")
    if not base_path.is_file():
        raise ConfigError(f"base config {base_path} not found", file=path, key="extends")
    return merge_mappings(_load_extending(base_path, chain), data)


def merge_mappings(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` applied over it.

    Each key of ``override`` replaces the base's value, except that two mappings merge key by
    key (recursively) unless ``override`` gives another ``type:`` (another component, whose
    settings start afresh). Lists replace. ``null`` removes the key, so its default applies
    (for a config field that may be null, the default is null) and an entry of a free mapping
    (a prior parameter, a truth value) is dropped.
    """
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
            continue
        old = out.get(key)
        same_kind = isinstance(old, Mapping) and isinstance(value, Mapping)
        if same_kind and value.get("type", old.get("type")) == old.get("type"):
            out[key] = merge_mappings(old, value)
        else:
            out[key] = value
    return out
