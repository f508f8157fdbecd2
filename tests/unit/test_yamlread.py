import os

import pytest

from signage import yamlread
from signage.yamlread import ProblemsError, parse


def test_positions_are_one_based_for_keys_and_values():
    document = parse("a: 1\nrules:\n  - id: x\n    when: {looking: {min: 1}}\n", "f.yaml")
    assert document.values[("rules", 0, "id")] == (3, 9)
    assert document.keys[("rules", 0, "when")] == (4, 5)
    assert document.values[("rules", 0, "when", "looking", "min")] == (4, 27)
    assert document.position(("rules", 0, "when", "faces")) == (4, 11)  # nearest ancestor


def test_merge_keys_work_and_explicit_keys_win():
    document = parse("base: &b {duration: 5, fit: cover}\nitem:\n  <<: *b\n  fit: contain\n", "f.yaml")
    assert document.data["item"] == {"duration": 5, "fit": "contain"}
    assert document.values[("item",)] == (3, 3)


def test_only_safe_plain_values():
    with pytest.raises(ProblemsError, match="f.yaml:1:4: a: cannot read this value"):
        parse("a: !!python/name:os.system x\n", "f.yaml")
    with pytest.raises(ProblemsError, match="tag !custom is not allowed"):
        parse("a: !custom {b: 1}\n", "f.yaml")


def test_complex_keys_are_refused():
    with pytest.raises(ProblemsError, match="keys must be plain text"):
        parse("? [a, b]\n: 1\n", "f.yaml")


RECURSION = {  # one member per way of nesting without end, or too deep to compose
    "alias cycle via a list": ("creatives: &x [*x]\n", "1:12", "an alias to itself"),
    "alias cycle via a mapping": ("a: &x {b: *x}\n", "1:4", "an alias to itself"),
    "alias cycle via a merge key": ("a: &x {<<: *x}\n", "1:4", "an alias to itself"),
    "alias cycle via a merge list": ("a: &x\n  b: 1\n  <<: [*x]\n", "1:4", "an alias to itself"),
    "deep flow lists": ("a: " + "[" * 500 + "]" * 500 + "\n", "1:43", "nested more than 40 levels"),
    "deep flow mappings": ("{a: " * 5000 + "1" + "}" * 5000, "1:161", "nested more than 40 levels"),
    "deep block mappings": ("".join("  " * i + "a:\n" for i in range(3000)), "41:81", "nested more than 40"),
    "deep mixed": ("[{a: " * 2000 + "1" + "}]" * 2000, "1:101", "nested more than 40 levels"),
    "deep by aliases": ("a0: &a0 [[[[[[[[[[1]]]]]]]]]]\n" + "".join(
        f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]\n" for i in range(1, 6)), "1:18", "(aliases expanded)"),
}


@pytest.mark.parametrize("name", RECURSION)
def test_every_kind_of_endless_or_deep_nesting_is_a_problem(name):
    text, where, message = RECURSION[name]
    with pytest.raises(ProblemsError) as caught:
        parse(text, "f.yaml")
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"f.yaml:{where}:") and message in str(problem)


def test_aliases_to_values_outside_are_fine():
    document = parse("base: &b {type: card}\nitems:\n  - *b\n  - {<<: *b, text: hi}\n  - [*b, *b]\n", "f.yaml")
    assert document.data["items"] == [{"type": "card"}, {"type": "card", "text": "hi"}, [{"type": "card"}] * 2]


def test_forty_levels_are_allowed():
    depth = yamlread.MAX_DEPTH
    assert parse("[" * depth + "]" * depth, "f.yaml").data is not None


def test_the_last_barrier_turns_recursion_into_a_problem(monkeypatch):
    """If the depth bound were gone, RecursionError still becomes a Problem, not a crash."""
    monkeypatch.setattr(yamlread, "MAX_DEPTH", 10**9)
    with pytest.raises(ProblemsError, match=r"f.yaml:1:1: the file is too deeply nested or too large to read"
                                            r" \(RecursionError\)"):
        parse("[" * 5000 + "]" * 5000, "f.yaml")


def test_syntax_errors_quote_no_snippet_of_the_file():
    with pytest.raises(ProblemsError) as caught:
        parse("secret: [password-hunter2\nnext: {", "f.yaml")
    assert "hunter2" not in str(caught.value)


def test_reads_are_bounded_and_only_of_regular_files(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ProblemsError, match="not a regular file"):
        yamlread.load(fifo)  # would block forever if opened for a plain read
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(yamlread.MAX_BYTES + 1)
    with pytest.raises(ProblemsError, match="1.0 MiB; at most 1 MiB"):
        yamlread.load(big)
    with pytest.raises(ValueError, match="at most 1 MiB"):
        yamlread.read_bounded(big)


def test_a_file_checked_as_plain_cannot_be_a_link_when_opened(tmp_path):
    target = tmp_path / "target.yaml"
    target.write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to(target)
    assert yamlread.read_bounded(tmp_path / "link.yaml") == b"a: 1\n"
    with pytest.raises(ProblemsError, match="link.yaml:1:1: cannot read the file"):
        yamlread.load(tmp_path / "link.yaml", follow=False)
