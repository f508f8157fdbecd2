"""Reading what people edit: YAML that remembers where every value came from.

`load` (a file) and `parse` (text) give a `Document`: plain Python values and the
1-based line:col of each key and value, so every message can name file:line:col. What
cannot be read raises `ProblemsError` holding `Problem`s at their positions.
`read_bounded` reads a regular file no larger than a limit; `dump` writes YAML. Checking
a Document against a model is signage/validation.py's job. The one module that imports
PyYAML: every file signage reads or writes as YAML goes through here.

We compose PyYAML's node graph with the safe loader, then build the values ourselves,
recording positions. On the way we refuse what PyYAML would let through: duplicate
keys, files too large (checked by `stat` and by a bounded read, never by reading
first), anything but a regular file, nesting deeper than MAX_DEPTH (PyYAML's composer
and our builder recurse once per level), aliases that contain themselves, and alias
expansion that explodes (the "billion laughs" bomb). A last barrier turns
RecursionError/MemoryError into a Problem, so no input file can take a thread down.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from signage.errors import ConfigError

MAX_BYTES = 1 << 20  # 1 MiB: far more than any playlist needs
MAX_NODES = 100_000  # values after alias expansion
MAX_DEPTH = 40  # nesting levels, aliases expanded; a playlist needs about 6

KeyPath = tuple[str | int, ...]  # keys and list indexes from the document's root
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


def format_path(path: KeyPath) -> str:
    """The key path as an operator writes it (rules[2].when.expression), cut short."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class Document:
    """A parsed YAML document and the 1-based (line, column) of each value and key."""

    file: str
    data: Any
    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: KeyPath, key: bool = False) -> tuple[int, int]:
        """Where `path` is, or its nearest ancestor that exists in the file."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            prefix = tuple(path[:end])
            if prefix in table:
                return table[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)

    def problem(self, path: KeyPath, message: str, key: bool = False) -> Problem:
        line, column = self.position(path, key)
        return Problem(self.file, line, column, format_path(path), message)


class _ValueBuilder:
    """Plain values from PyYAML's nodes, each position recorded and every bound enforced."""

    def __init__(self, document: Document):
        self.document = document
        self.nodes = 0
        self.scalars = SafeConstructor()
        self.open: set[int] = set()  # ids of the collections being built: an alias to one is a cycle
        self.depth = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._error(node, path, f"more than {MAX_NODES} values after expanding aliases;"
                              " anchors and aliases may not be used to blow the file up")
        self.document.values[path] = _position(node)
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

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
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

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict:
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
            self.document.keys[path + (key,)] = _position(key_node)
            result[key] = self.build(value_node, path + (key,))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _error(self, node: yaml.Node, path: KeyPath, message: str) -> ProblemsError:
        line, column = _position(node)
        return ProblemsError([Problem(self.document.file, line, column, format_path(path), message)])


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _BoundedLoader(yaml.SafeLoader):
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
        loader = _BoundedLoader(text)  # the reader checks every character here
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None:
            if empty_ok:
                return document
            raise ProblemsError([Problem(file, 1, 1, "", "the file holds only comments")])
        document.data = _ValueBuilder(document).build(node, ())
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
