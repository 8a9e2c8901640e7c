"""Configuration: YAML files -> frozen dataclasses -> constructor arguments.

The YAML files shipped here are package data; :func:`path` finds them. :func:`load` reads one file into
a frozen dataclass and checks it strictly: an unknown or misspelled key, a value of the wrong type or a
missing file raises :class:`ConfigError` with one line naming the file and the key. Every class that
takes a config can also be built from plain constructor arguments; no config object travels into models.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

__all__ = ["ConfigError", "path", "load", "from_dict", "to_dict", "read_charset"]

ROOT = Path(__file__).resolve().parent
T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or value that cannot be used; the message is one line naming file and key."""


def path(name: str) -> Path:
    """Path of a shipped config, e.g. ``path("synth/default.yaml")`` or ``path("charsets/default.txt")``."""
    p = ROOT / name
    if not p.is_file():
        raise ConfigError(f"{name}: no such shipped config (looked in {ROOT})")
    return p


def load(file: str | Path, cls: type[T], base: str | Path | None = None) -> T:
    """Read a YAML file into the frozen dataclass ``cls``; keys missing from the file keep their defaults:
    the dataclass's, or with ``base`` (another YAML file, e.g. the shipped settings) that file's, mapping by
    mapping (``file`` naming only ``recognizer: {beam_width: 1}`` keeps every other setting of ``base``)."""
    data = _read(file)
    if base is not None:
        data = _merged(_read(base), data)
    return from_dict(data, cls, source=str(file))


def _read(file: str | Path) -> dict:
    file = Path(file)
    if not file.is_file():
        raise ConfigError(f"{file}: config file not found")
    try:
        with open(file, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{file}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{file}: top level must be a mapping, got {type(data).__name__}")
    return data or {}


def _merged(base: dict, over: dict) -> dict:
    """``over`` laid over ``base``: mappings in both are merged key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def from_dict(data: Any, cls: type[T], source: str = "<dict>", prefix: str = "") -> T:
    """Build ``cls`` from a mapping with the same strict checks as :func:`load`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix or 'top level'} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"{source}: unknown key '{dotted}'{hint}")
        kwargs[key] = _convert(value, hints[key], source, dotted)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'top level'}: {exc}") from None


def _convert(value: Any, tp: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, source, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{source}: key '{key}' has a value of the wrong type: {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{source}: key '{key}' must be one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(value, tp, source, prefix=f"{key}.")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: key '{key}' must be a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{source}: key '{key}' must have {len(args)} items, got {len(value)}")
            items = [_convert(v, a, source, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            inner = args[0] if args else Any
            items = [_convert(v, inner, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key '{key}' must be a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return {_convert(k, kt, source, key): _convert(v, vt, source, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: key '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: key '{key}' must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: key '{key}' must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: key '{key}' must be a string, got {value!r}")
        return value
    raise ConfigError(f"{source}: key '{key}' has an unsupported type {tp!r}")  # pragma: no cover


def to_dict(obj: Any) -> dict:
    """Plain-dict view of a config dataclass (tuples become lists), e.g. to store in a weight file."""
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(obj)


def read_charset(file: str | Path = "charsets/default.txt") -> str:
    """Characters of a charset file, in file order, without duplicates.

    Format: UTF-8, one character per line; the line ``<space>`` stands for the space character; blank
    lines and lines starting with ``#`` (followed by a space) are skipped, so ``#`` itself is one line.
    """
    file = Path(file)
    if not file.is_absolute() and not file.is_file():
        file = path(str(file))
    if not file.is_file():
        raise ConfigError(f"{file}: charset file not found")
    chars: dict[str, None] = {}                   # ordered, and a set (a Chinese charset has ~7 000)
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("# "):
            continue
        ch = " " if line == "<space>" else line
        if len(ch) != 1:
            raise ConfigError(f"{file}: line {n} must hold one character, got {line!r}")
        if ch in chars:
            raise ConfigError(f"{file}: line {n}: character {ch!r} is listed twice")
        chars[ch] = None
    return "".join(chars)
