import pytest

from signage.yamlfile import ProblemsError, parse


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
