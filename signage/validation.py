"""Pydantic validation of a YAML document, with messages operators can act on.

Pydantic's errors carry a location tuple; we turn each into file:line:col, the key
path, what is wrong and what is allowed (with a did-you-mean for unknown keys).
"""

from __future__ import annotations

import difflib
import logging
import types
import typing
import unicodedata
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from signage.yamlfile import Document, Problem, ProblemsError

Model = TypeVar("Model", bound=BaseModel)
logger = logging.getLogger(__name__)

# Readable names for the regular expressions fields use; schema modules add theirs.
PATTERN_HINTS: dict[str, str] = {}

KIND = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text",
        "list": "a list", "dict": "a mapping (key: value)", "model": "a mapping (key: value)"}


def validate(model: type[Model], document: Document, context: dict | None = None) -> Model:
    try:
        return model.model_validate(document.data, context=context)
    except ValidationError as exc:
        raise ProblemsError(problems(model, document, exc)) from exc
    except (RecursionError, MemoryError) as exc:  # last barrier; yamlfile bounds nesting first
        raise ProblemsError([document.problem((), f"the file is too complex to check ({type(exc).__name__});"
                                              " simplify it")]) from None
    except Exception as exc:  # a validator's bug must not become the operator's traceback
        logger.debug("validation failed unexpectedly", exc_info=True)
        raise ProblemsError([document.problem((), f"the file could not be checked ({type(exc).__name__});"
                                              " this is a bug in signage, please report it")]) from None


ALLOWED_CONTROLS = {"\n", "\t"}


def printable_text(value: str | None) -> str | None:
    """Text drawn on screen: refuse control characters (NUL, terminal escapes, C0/C1)
    that font renderers reject or show as boxes; line breaks and tabs are fine."""
    if value is None:
        return value
    for index, char in enumerate(value):
        if char not in ALLOWED_CONTROLS and unicodedata.category(char) in ("Cc", "Cs"):
            raise ValueError(f"character {index + 1} is U+{ord(char):04X}, a control character;"
                             " only printable text, line breaks and tabs are allowed")
    return value


def no_control_characters(value: Any) -> Any:
    """Every text an operator writes (paths, names, argv): NUL and other control
    characters are refused here, not met later as `ValueError: embedded null byte`."""
    if isinstance(value, str):
        printable_text(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, str):
                printable_text(item)
    return value


def problems(model: type[BaseModel], document: Document, error: ValidationError) -> list[Problem]:
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
        if kind == "missing":
            found.append(document.problem(path[:-1], f"missing required key '{path[-1]}'"))
            continue
        found.append(document.problem(path, describe(item)))
    return sorted(set(found), key=lambda p: (p.file, p.line, p.column, p.message))


def describe(item: dict) -> str:
    """What is wrong with one pydantic error item and what is allowed, in plain words."""
    kind, value, ctx = item["type"], item.get("input"), item.get("ctx") or {}
    shown = _show(value)
    if kind == "literal_error":
        expected = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"{shown} is not one of {expected}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        expected = KIND.get(kind.split("_")[0], kind.split("_")[0])
        return f"expected {expected}, got {shown}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
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


def _show(value: Any) -> str:
    """A short quote of the value (only ever from a file inside the checked folder: the
    loader refuses symlinks that leave it, so nothing from elsewhere is quoted)."""
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fields_at(model: type[BaseModel], path: tuple) -> set[str]:
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
