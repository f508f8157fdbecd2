"""YAML loading that remembers where every value came from.

Operators edit YAML by hand, so every message names file:line:col (1-based). We
compose PyYAML's node graph with the safe loader, then build plain Python values
ourselves, recording the position of each key and value. On the way we refuse what
PyYAML would let through: duplicate keys, files too large, and alias expansion that
explodes (the "billion laughs" bomb).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from signage.errors import ConfigError

MAX_BYTES = 1 << 20  # 1 MiB: far more than any playlist needs
MAX_NODES = 100_000  # values after alias expansion

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
    return text


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

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._error(node, path, f"more than {MAX_NODES} values after expanding aliases;"
                              " anchors and aliases may not be used to blow the file up")
        self.document.values[path] = _mark(node)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
            raise self._error(node, path, f"the tag {node.tag} is not allowed; write plain YAML values")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        try:
            return self.scalars.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise self._error(node, path, f"cannot read this value: {exc.problem}") from exc

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
            key = self.scalars.construct_object(key_node)
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


def parse(text: str, file: str) -> Document:
    """Parse one YAML document; raises ProblemsError with positions."""
    document = Document(file=file, data=None)
    if not text.strip():
        raise ProblemsError([Problem(file, 1, 1, "", "the file is empty")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.composer.ComposerError as exc:
        raise ProblemsError([_yaml_problem(file, exc)]) from exc
    except yaml.YAMLError as exc:
        raise ProblemsError([_yaml_problem(file, exc)]) from exc
    if node is None:
        raise ProblemsError([Problem(file, 1, 1, "", "the file holds only comments")])
    document.data = _Builder(document).build(node, ())
    return document


def load(path: Path, display_name: str | None = None) -> Document:
    """Read and parse a file, refusing files that are unreadable or too large."""
    name = display_name or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ProblemsError([Problem(name, 1, 1, "", f"the file is {size / 1048576:.1f} MiB;"
                                         f" at most {MAX_BYTES // 1048576} MiB is accepted")])
        raw = path.read_bytes()
    except OSError as exc:
        raise ProblemsError([Problem(name, 1, 1, "", f"cannot read the file: {exc.strerror}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ProblemsError([Problem(name, line, 1, "", "the file is not UTF-8 text")]) from exc
    return parse(text, name)


def _yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc)
    if "'\\t'" in problem or "\t" in problem:
        problem = "a tab character; YAML indents with spaces only"
    elif "expected a single document" in str(exc):
        problem = "more than one YAML document (---); put everything in one"
    else:
        context = getattr(exc, "context", None)
        problem = f"YAML syntax: {problem}" + (f" ({context})" if context else "")
    return Problem(file, line, column, "", problem)
