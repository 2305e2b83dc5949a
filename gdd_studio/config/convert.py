"""Strict typed conversion: a JSON value or a command-line string into a setting's type.

Unknown keys are rejected rather than ignored, and a value of the wrong type is an error
that names its key: a typo in a config file must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from ..errors import ConfigError
from .versions import upgrade_config_dict

# What set_value and merge_dict change: a RunConfig, or any tree of dataclasses like it
# (they read its type hints, not its class; sections.py, which defines RunConfig, builds on
# this module, so this one does not name it).
ConfigTree = Any


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be an object, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown config key '{key}' (known: {', '.join(sorted(names))})")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f"{where}.{name}" if where else name)
    return cls(**kwargs)


_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")


def _convert(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):  # "a,b" from a command line
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported setting type {tp!r}")  # pragma: no cover


def _field_type(root: type, dotted: str) -> tuple[Any, list[str]]:
    parts = dotted.split(".")
    cls: Any = root
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(cls):
            raise ConfigError(f"unknown config key '{dotted}'")
        hints = typing.get_type_hints(cls)
        if part not in hints:
            known = ", ".join(sorted(hints))
            prefix = ".".join(parts[:i]) or "config"
            raise ConfigError(f"unknown config key '{dotted}' ({prefix} has: {known})")
        cls = hints[part]
    return cls, parts


def set_value(cfg: ConfigTree, key: str, raw: Any) -> None:
    """Set a dotted key (``distill.tau``) from a command-line string or a JSON value."""
    tp, parts = _field_type(type(cfg), key)
    if dataclasses.is_dataclass(tp):
        raise ConfigError(f"'{key}' is a section; set one of its keys, e.g. {key}.<name>=...")
    value = raw
    if isinstance(raw, str):
        text = raw.strip()
        is_union = typing.get_origin(tp) in (typing.Union, types.UnionType)
        args = typing.get_args(tp) if is_union else ()
        if type(None) in args and text.lower() in ("none", "null"):
            value = None
        elif tp is str or str in args:
            value = text
        else:
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = text
    converted = _convert(tp, value, key)
    target: Any = cfg
    for part in parts[:-1]:
        target = getattr(target, part)
    setattr(target, parts[-1], converted)


def merge_dict(cfg: ConfigTree, data: dict[str, Any], where: str = "") -> None:
    """Apply a (possibly partial) config dict on top of ``cfg``, strictly.

    At the top level the dict is a config file's, so it is upgraded first
    (``upgrade_config_dict``).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be an object")
    if not where:
        data = upgrade_config_dict(data)
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else key
        tp, _ = _field_type(type(cfg), dotted)
        if dataclasses.is_dataclass(tp):
            merge_dict(cfg, value, dotted)
        else:
            set_value(cfg, dotted, value)
