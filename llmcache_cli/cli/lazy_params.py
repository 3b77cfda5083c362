"""Keep pydantic off the start-up path of options left at None (or given as plain text).

Typer 0.29 converts every option value through a pydantic ``TypeAdapter``, built the first
time the option is processed, even when the value is None (the option was not given): so any
command with an option that takes a value imported pydantic, about 0.1 s of start-up (a third of
``llmcache simulate``). ``install()`` makes the adapter wait for the first value that needs it:

- None is what Typer's own ``RuntimeParam.coerce`` returns for a missing value (``()`` for a
  multi-value option), before it looks at the adapter;
- a ``str`` for an option annotated plain ``str`` without a ``parser`` is returned as it is, as
  the adapter (``str(value)``) would;
- the option's own declared default, when it is a plain ``int``, ``float``, ``bool`` or enum
  member of the annotated type (``--top`` left at 10), is returned as it is;
- the strings of a ``list[str]`` argument (``invalidate AAPL MSFT``) come back as a list.

``tests/cli/test_lazy_params.py`` checks each of these against Typer's own converter.

Everything else goes to Typer's own runtime parameter, built as before. Without the Typer
internals this relies on (another Typer version), ``install()`` does nothing.
"""

from __future__ import annotations

import enum
from typing import Any, get_args, get_origin

_installed = False
_real_build: Any = None  # Typer's own builder, once installed (the tests compare against it)
_PLAIN = (int, float, bool)  # a declared default of one of these is returned as it is
_CONVERT = object()  # _as_is: this value needs Typer's own converter


def _as_is(value: Any, param: Any, descriptor: Any) -> Any:
    """What Typer's converter would make of ``value``, when that is plain to see; else
    ``_CONVERT``."""
    annotation = descriptor.annotation
    if getattr(descriptor.parameter_info, "parser", None) is not None or descriptor.file_annotation:
        return _CONVERT
    many = param.multiple or param.nargs == -1
    if many:
        if (
            get_origin(annotation) is list
            and get_args(annotation) == (str,)
            and isinstance(value, (tuple, list))
            and all(type(item) is str for item in value)
        ):
            return list(value)
        return _CONVERT
    if type(value) is not annotation:
        return _CONVERT
    if type(value) is str:
        return value
    if (type(value) in _PLAIN or isinstance(value, enum.Enum)) and value == param.default:
        return value
    return _CONVERT


class _Deferred:
    """Typer's runtime parameter for one option, built only when a value needs it."""

    __slots__ = ("_build", "_descriptor", "_real")

    def __init__(self, build: Any, descriptor: Any) -> None:
        self._build = build
        self._descriptor = descriptor
        self._real: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        plain = _as_is(value, param, self._descriptor)
        if plain is not _CONVERT:
            return plain
        if self._real is None:
            self._real = self._build(self._descriptor)
        return self._real.coerce(value, param=param, ctx=ctx)

    def __getattr__(self, name: str) -> Any:  # anything else Typer may ask of the real one
        if self._real is None:
            self._real = self._build(self._descriptor)
        return getattr(self._real, name)


def install() -> None:
    """Make Typer build its option converters lazily (see the module docstring); idempotent."""
    global _installed, _real_build
    if _installed:
        return
    _installed = True
    try:
        from typer import core
    except ImportError:  # pragma: no cover
        return
    build = getattr(core, "build_runtime_param", None)
    parameter = getattr(core, "_TyperParameter", None)
    if build is None or parameter is None or not hasattr(parameter, "get_runtime_param"):
        return  # pragma: no cover - another Typer: leave it as it is

    _real_build = build

    def deferred(descriptor: Any) -> Any:
        return _Deferred(build, descriptor)

    core.build_runtime_param = deferred  # type: ignore[attr-defined]
