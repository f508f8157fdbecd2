"""Validating what people edit, and explaining pydantic's errors in an operator's words.

`validate` turns a `Document` (signage/yamlread.py) into a model or raises
`ProblemsError` holding every `Problem`: file:line:col, the key path, what is wrong and
what is allowed (bounds, shapes and keys read from the model itself, the words for a
pattern from signage/patterns.py, a did-you-mean for an unknown key). `describe` words
one pydantic error item without a file (command-line options use it); `fields_at`
names the keys a model allows at a path.
"""

from __future__ import annotations

import difflib
import json
import logging
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from signage.patterns import PATTERN_HINTS
from signage.yamlread import Document, KeyPath, Problem, ProblemsError

Model = TypeVar("Model", bound=BaseModel)
logger = logging.getLogger(__name__)

# Words for what pydantic names by type: an error's kind (`int_parsing`), a bound's
# error kind, a fixed-length list's item type.
TYPE_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text",
              "list": "a list", "dict": "a mapping (key: value)", "model": "a mapping (key: value)"}
BOUND_SIGNS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
PLURAL_WORDS = {int: "whole numbers", float: "numbers", str: "texts", bool: "true/false values"}


def validate(model: type[Model], document: Document, context: dict | None = None) -> Model:
    """The document as `model`, or ProblemsError holding every problem at its position.
    Nothing a validator raises escapes as a traceback."""
    try:
        return model.model_validate(document.data, context=context)
    except ValidationError as exc:
        raise ProblemsError(problems(model, document, exc)) from exc
    except (RecursionError, MemoryError) as exc:  # last barrier; parse bounds nesting first
        raise ProblemsError([document.problem((), f"the file is too complex to check ({type(exc).__name__});"
                                              " simplify it")]) from None
    except Exception as exc:  # a validator's bug must not become the operator's traceback
        logger.debug("validation failed unexpectedly", exc_info=True)
        raise ProblemsError([document.problem((), f"the file could not be checked ({type(exc).__name__});"
                                              " this is a bug in signage, please report it")]) from None


def problems(model: type[BaseModel], document: Document, error: ValidationError) -> list[Problem]:
    """Each of pydantic's errors as a Problem at its key or value, sorted by position."""
    found = []
    for item in error.errors(include_url=False):
        path = tuple(item["loc"])
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(path[-1])
            allowed = sorted(fields_at(model, path[:-1]))
            guess = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean '{guess[0]}'?" if guess else ""
            found.append(document.problem(path, f"unknown key '{key}'{hint} (allowed: {', '.join(allowed)})",
                                          key=True))
            continue
        if kind == "missing" and path and isinstance(path[-1], int):  # a short fixed-length list
            shape = _shape(_field_at(model, path[:-1]))
            if shape:
                found.append(document.problem(path[:-1], f"must be {shape}; got {_value_count(path[-1])}"))
                continue
        if kind == "missing":
            found.append(document.problem(path[:-1], f"missing required key '{path[-1]}'"))
            continue
        found.append(document.problem(path, _allowed(model, path, item) or describe(item)))
    return sorted(set(found), key=lambda p: (p.file, p.line, p.column, p.message))


def _allowed(model: type[BaseModel], path: KeyPath, item: ErrorDetails) -> str | None:
    """The error worded with what the field at `path` allows (its bounds, its length and
    example, its keys), when the model says more than pydantic's error item does."""
    kind, shown = item["type"], _quote(item.get("input"))
    field = _field_at(model, path)
    if field is None:
        return None
    if kind in BOUND_SIGNS:
        bounds = _bounds(field.metadata)
        return f"must be {bounds}, got {shown}" if bounds else None
    if kind in ("tuple_type", "too_long", "too_short"):
        shape = _shape(field)
        if shape:
            got = _value_count(item["ctx"]["actual_length"]) if kind != "tuple_type" else shown
            return f"must be {shape}; got {got}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        keys = fields_at(model, path)
        if keys:
            return f"expected a mapping (key: value) of {', '.join(sorted(keys))}; got {shown}"
    if kind == "list_type":
        keys = fields_at(model, path + (0,))
        if keys:
            return f"expected a list of mappings (key: value) of {', '.join(sorted(keys))}; got {shown}"
    return None


def _value_count(count: int) -> str:
    return "1 value" if count == 1 else f"{count} values"


@dataclass(frozen=True)
class _Field:
    """What a model says about the value at one path: its type (Optional and Annotated
    removed), its constraints (annotated_types Ge, Le, ...) and its examples."""

    annotation: Any
    metadata: tuple
    examples: tuple


def _field_at(model: type[BaseModel], path: KeyPath) -> _Field | None:
    current: Any = model
    metadata: list = []
    examples: tuple = ()
    for part in path:
        current, _ = _strip(current)
        origin, args = typing.get_origin(current), typing.get_args(current)
        if isinstance(part, int):
            if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
                current = args[0]
            elif origin is tuple and part < len(args):
                current = args[part]
            elif origin in (list, set, frozenset) and args:
                current = args[0]
            else:
                return None
            metadata, examples = [], ()
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            info = current.model_fields[part]
            current, metadata, examples = info.annotation, list(info.metadata), tuple(info.examples or ())
        else:
            return None
    current, constraints = _strip(current)
    return _Field(current, tuple(metadata) + constraints, examples)


def _strip(annotation: Any) -> tuple[Any, tuple]:
    """The type inside Annotated[...] and Optional[...], with the constraints met on the way."""
    constraints: list = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                constraints += getattr(item, "metadata", None) or [item]
        elif origin in (typing.Union, types.UnionType):
            kept = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(kept) != 1:
                return annotation, tuple(constraints)
            annotation = kept[0]
        else:
            return annotation, tuple(constraints)


def _bounds(metadata: tuple) -> str:
    """'from 16 to 16384', '> 0 and <= 3600', ... from a field's constraints."""
    found = {name: getattr(m, name) for m in metadata for name in ("ge", "gt", "le", "lt")
             if getattr(m, name, None) is not None}
    if "ge" in found and "le" in found:
        return f"from {found['ge']} to {found['le']}"
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return " and ".join(f"{signs[name]} {value}" for name, value in found.items())


def _shape(field: _Field | None) -> str | None:
    """'2 whole numbers from 16 to 16384, e.g. [1920, 1080]' for a fixed-length tuple."""
    if field is None or typing.get_origin(field.annotation) is not tuple:
        return None
    items = [_strip(arg) for arg in typing.get_args(field.annotation)]
    if not items or Ellipsis in [kind for kind, _ in items] or len({kind for kind, _ in items}) != 1:
        return None
    kind, constraints = items[0]
    bounds = _bounds(constraints)
    shape = f"{len(items)} {PLURAL_WORDS.get(kind, 'values')}" + (f" {bounds}" if bounds else "")
    return shape + (f", e.g. {json.dumps(field.examples[0])}" if field.examples else "")


def describe(item: ErrorDetails) -> str:
    """What is wrong with one pydantic error item and what is allowed, in plain words."""
    kind, value, ctx = item["type"], item.get("input"), item.get("ctx") or {}
    shown = _quote(value)
    if kind == "literal_error":
        expected = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"{shown} is not one of {expected}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        expected = TYPE_WORDS.get(kind.split("_")[0], kind.split("_")[0])
        return f"expected {expected}, got {shown}"
    if kind in BOUND_SIGNS:
        sign = BOUND_SIGNS[kind]
        limit = next(iter(ctx.values()))
        return f"must be {sign} {limit}, got {shown}"
    if kind == "finite_number":
        return f"expected a finite number, got {shown}"
    if kind == "string_too_long":
        return f"is {len(value)} characters long; at most {ctx.get('max_length')} are allowed"
    if kind == "string_too_short":
        return f"is too short; at least {ctx.get('min_length')} character(s) are needed"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"allows at most {ctx.get('max_length')} item(s)"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        hint = PATTERN_HINTS.get(pattern) or f"text matching the pattern {pattern}"
        return f"{shown} is not {hint}"
    if kind == "value_error":
        return str(ctx.get("error", item["msg"]))
    return item["msg"]


def _quote(value: Any) -> str:
    """A short quote of the value, for the problem's message. A playlist's messages may
    reach status (its files are inside the playlist folder: the loader refuses symlinks
    that leave it); a config file's messages go to the log and `signage check` only:
    status names just file:line:col and the model's keys (kiosk/reload.py `where_only`)."""
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fields_at(model: type[BaseModel], path: KeyPath) -> set[str]:
    """Field names of the model found by walking `path` (list indices skipped)."""
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return set()
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return set()


def _unwrap(annotation: Any) -> Any:
    """The model inside Optional[...], list[...], Annotated[...] and unions."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (list, tuple, set, frozenset):
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
            others = [a for a in typing.get_args(annotation) if typing.get_origin(a) in (list, tuple)]
            if models:
                annotation = models[0]
            elif others:
                annotation = others[0]
            else:
                return annotation
        else:
            return annotation
