"""What people edit, read and checked: YAML that remembers where every value came from,
validated with pydantic into problems an operator can act on.

Public surface: `load` (a file) and `parse` (text) give a `Document`; `validate` turns it
into a model or raises `ProblemsError` holding every `Problem` (file:line:col, the key
path, what is wrong and what is allowed, with a did-you-mean for unknown keys);
`describe` words one pydantic error; `PATTERN_HINTS` names the patterns fields use;
`read_bounded` reads a regular file no larger than a limit; `dump` writes YAML. The one
module that imports PyYAML: every file signage reads or writes as YAML goes through here.

Reading. Operators edit YAML by hand, so every message names file:line:col (1-based). We
compose PyYAML's node graph with the safe loader, then build plain Python values
ourselves, recording the position of each key and value. On the way we refuse what
PyYAML would let through: duplicate keys, files too large (checked by `stat` and by a
bounded read, never by reading first), anything but a regular file, nesting deeper
than MAX_DEPTH (PyYAML's composer and our builder recurse once per level), aliases
that contain themselves, and alias expansion that explodes (the "billion laughs"
bomb). A last barrier turns RecursionError/MemoryError into a Problem, so no input
file can take a thread down.

Validating. Pydantic's errors carry a location tuple; each becomes file:line:col, the key
path, what is wrong and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import SafeConstructor

from signage.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)
logger = logging.getLogger(__name__)

MAX_BYTES = 1 << 20  # 1 MiB: far more than any playlist needs
MAX_NODES = 100_000  # values after alias expansion
MAX_DEPTH = 40  # nesting levels, aliases expanded; a playlist needs about 6

Path_ = tuple[str | int, ...]
_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


@dataclass(frozen=True)
class Problem:
    """One operator-facing problem: where, which key, what is wrong."""

    file: str
    line: int
    column: int
    path: str  # e.g. rules[2].when.expression, "" for the whole document
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ProblemsError(ConfigError):
    """One or more problems, all reported at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class Document:
    """A parsed YAML document and the 1-based (line, column) of each value and key."""

    file: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path_, key: bool = False) -> tuple[int, int]:
        """Where `path` is, or its nearest ancestor that exists in the file."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            prefix = tuple(path[:end])
            if prefix in table:
                return table[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)

    def problem(self, path: Path_, message: str, key: bool = False) -> Problem:
        line, column = self.position(path, key)
        return Problem(self.file, line, column, format_path(path), message)


class _Builder:
    def __init__(self, document: Document):
        self.document = document
        self.nodes = 0
        self.scalars = SafeConstructor()
        self.open: set[int] = set()  # ids of the collections being built: an alias to one is a cycle
        self.depth = 0

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._error(node, path, f"more than {MAX_NODES} values after expanding aliases;"
                              " anchors and aliases may not be used to blow the file up")
        self.document.values[path] = _mark(node)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            raise self._error(node, path, f"the tag {node.tag} is not allowed; write plain YAML values")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.open:
            raise self._error(node, path, "this value holds an alias to itself (an endless loop);"
                              " an alias (*name) may only repeat a value defined before and outside it")
        if self.depth >= MAX_DEPTH:
            raise self._error(node, path, f"nested more than {MAX_DEPTH} levels deep (aliases expanded);"
                              " playlists and configs need only a few levels")
        self.open.add(id(node))
        self.depth += 1
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        finally:
            self.depth -= 1
            self.open.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        try:
            return self.scalars.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            reason = exc.problem
        except Exception as exc:  # PyYAML's constructors fail in many ways on bad (tagged) text
            kind = node.tag.rsplit(":", 1)[-1]
            if kind == "timestamp":  # 2026-02-30: "day is out of range for month"
                detail = f" ({exc})" if isinstance(exc, ValueError) else ""
                reason = f"not a date that exists{detail}; write YYYY-MM-DD"
            else:
                reason = f"it is not a valid {kind}"
        raise self._error(node, path, f"cannot read this value: {reason}")

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict:
        result: dict = {}
        merged: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    own_position = self.document.values[path]
                    value = self.build(source, path)
                    self.document.values[path] = own_position
                    if not isinstance(value, dict):
                        raise self._error(source, path, "`<<` can only merge a mapping")
                    merged.update({k: v for k, v in value.items() if k not in merged})
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._error(key_node, path, "keys must be plain text, not lists or mappings")
            key = self._scalar(key_node, path)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise self._error(key_node, path, f"key {key!r} is not plain text")
            key = str(key)
            if key in result:
                first = self.document.keys[path + (key,)]
                raise self._error(key_node, path + (key,),
                                  f"duplicate key '{key}' (first defined at line {first[0]})")
            self.document.keys[path + (key,)] = _mark(key_node)
            result[key] = self.build(value_node, path + (key,))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _error(self, node: yaml.Node, path: Path_, message: str) -> ProblemsError:
        line, column = _mark(node)
        return ProblemsError([Problem(self.document.file, line, column, format_path(path), message)])


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Loader(yaml.SafeLoader):
    """The safe loader with its composer's recursion bounded: one level per nesting."""

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = 0

    def compose_node(self, parent, index):
        # Counted here, uncounted when the collection is complete (below).
        if not self.check_event(yaml.AliasEvent, yaml.ScalarEvent):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def compose_sequence_node(self, anchor):
        try:
            return super().compose_sequence_node(anchor)
        finally:
            self.depth -= 1

    def compose_mapping_node(self, anchor):
        try:
            return super().compose_mapping_node(anchor)
        finally:
            self.depth -= 1


class _TooDeep(Exception):
    def __init__(self, mark):
        super().__init__("too deep")
        self.mark = mark


def parse(text: str, file: str, empty_ok: bool = False) -> Document:
    """Parse one YAML document; raises ProblemsError with positions. `empty_ok`: a file
    with no value (empty, or comments only) is a Document whose data is None."""
    document = Document(file=file, data=None)
    if not text.strip():
        if empty_ok:
            return document
        raise ProblemsError([Problem(file, 1, 1, "", "the file is empty")])
    try:
        loader = _Loader(text)  # the reader checks every character here
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None:
            if empty_ok:
                return document
            raise ProblemsError([Problem(file, 1, 1, "", "the file holds only comments")])
        document.data = _Builder(document).build(node, ())
    except _TooDeep as exc:
        raise ProblemsError([Problem(file, exc.mark.line + 1, exc.mark.column + 1, "",
                                     f"nested more than {MAX_DEPTH} levels deep; playlists and configs need"
                                     " only a few levels")]) from None
    except yaml.reader.ReaderError as exc:
        before = text[:exc.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise ProblemsError([Problem(file, line, column, "", f"the character U+{exc.character:04X} is not allowed"
                                     " in YAML (a control character); remove it")]) from None
    except yaml.YAMLError as exc:
        raise ProblemsError([_yaml_problem(file, exc)]) from None
    except (RecursionError, MemoryError) as exc:
        # Last barrier: the bounds above should make this unreachable.
        raise ProblemsError([Problem(file, 1, 1, "", "the file is too deeply nested or too large to read"
                                     f" ({type(exc).__name__}); simplify it")]) from None
    except ProblemsError:
        raise
    except Exception as exc:  # no input may escape as a traceback
        raise ProblemsError([Problem(file, 1, 1, "", f"the file cannot be read ({type(exc).__name__}: {exc})")]) \
            from None
    return document


def read_bounded(path: Path, limit: int = MAX_BYTES, follow: bool = True) -> bytes:
    """A regular file's bytes, refusing anything larger than `limit` without reading it.

    Raises OSError for unreadable files and ValueError (with an operator message) for
    files too large or not regular (a FIFO would block the reader forever, a device
    never ends). `follow=False`: a symlink in the last place is refused (ELOOP), so a file
    checked as a plain file cannot be swapped for a link before it is opened."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("it is not a regular file (a folder, device or pipe); give a .yaml file")
        if info.st_size > limit:
            raise ValueError(f"the file is {info.st_size / 1048576:.1f} MiB; at most {_mib(limit)} is accepted")
        data = handle.read(limit + 1)  # the file may have grown since fstat
    if len(data) > limit:
        raise ValueError(f"the file is larger than {_mib(limit)}; at most {_mib(limit)} is accepted")
    return data


def _mib(size: int) -> str:
    return f"{size / 1048576:g} MiB"


def load(path: Path, display_name: str | None = None, follow: bool = True, empty_ok: bool = False) -> Document:
    """Read and parse a file, refusing files that are unreadable, too large or not regular."""
    name = display_name or str(path)
    try:
        raw = read_bounded(path, follow=follow)
    except ValueError as exc:
        raise ProblemsError([Problem(name, 1, 1, "", str(exc))]) from None
    except OSError as exc:
        raise ProblemsError([Problem(name, 1, 1, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ProblemsError([Problem(name, line, 1, "", "the file is not UTF-8 text")]) from None
    return parse(text, name, empty_ok)


def dump(data: Any) -> str:
    """`data` (plain values) as YAML that `load` reads back, keys in their given order."""
    return yaml.safe_dump(data, sort_keys=False)


def _yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    # Only the parser's own words: str(exc) would quote a snippet of the file.
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    context = getattr(exc, "context", None)
    if "'\\t'" in problem or "\t" in problem:
        problem = "a tab character; YAML indents with spaces only"
    elif context and "expected a single document" in context:
        problem = "more than one YAML document (---); put everything in one"
    else:
        problem = f"YAML syntax: {problem}" + (f" ({context})" if context else "")
    return Problem(file, line, column, "", problem)


# ----- validation ------------------------------------------------------------------------

# Readable names for the regular expressions fields use; schema modules add theirs.
PATTERN_HINTS: dict[str, str] = {}

KIND = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text",
        "list": "a list", "dict": "a mapping (key: value)", "model": "a mapping (key: value)"}


def validate(model: type[Model], document: Document, context: dict | None = None) -> Model:
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
                found.append(document.problem(path[:-1], f"must be {shape}; got {_values(path[-1])}"))
                continue
        if kind == "missing":
            found.append(document.problem(path[:-1], f"missing required key '{path[-1]}'"))
            continue
        found.append(document.problem(path, _allowed(model, path, item) or describe(item)))
    return sorted(set(found), key=lambda p: (p.file, p.line, p.column, p.message))


def _allowed(model: type[BaseModel], path: tuple, item: dict) -> str | None:
    """The error worded with what the field at `path` allows (its bounds, its length and
    example, its keys), when the model says more than pydantic's error item does."""
    kind, shown = item["type"], _show(item.get("input"))
    field = _field_at(model, path)
    if field is None:
        return None
    if kind in BOUND_ERRORS:
        bounds = _bounds(field.metadata)
        return f"must be {bounds}, got {shown}" if bounds else None
    if kind in ("tuple_type", "too_long", "too_short"):
        shape = _shape(field)
        if shape:
            got = _values(item["ctx"]["actual_length"]) if kind != "tuple_type" else shown
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


def _values(count: int) -> str:
    return "1 value" if count == 1 else f"{count} values"


BOUND_ERRORS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
NOUNS = {int: "whole numbers", float: "numbers", str: "texts", bool: "true/false values"}


@dataclass(frozen=True)
class _Field:
    """What a model says about the value at one path: its type (Optional and Annotated
    removed), its constraints (annotated_types Ge, Le, ...) and its examples."""

    annotation: Any
    metadata: tuple
    examples: tuple


def _field_at(model: type[BaseModel], path: tuple) -> _Field | None:
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
    shape = f"{len(items)} {NOUNS.get(kind, 'values')}" + (f" {bounds}" if bounds else "")
    return shape + (f", e.g. {json.dumps(field.examples[0])}" if field.examples else "")


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
    """A short quote of the value, for the problem's message. A playlist's messages may
    reach status (its files are inside the playlist folder: the loader refuses symlinks
    that leave it); a config file's messages go to the log and `signage check` only:
    status names just file:line:col and the model's keys (kiosk/reload.py `where_only`)."""
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
