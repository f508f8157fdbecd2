"""Whatever text an operator (or an attacker) puts in a YAML file, and whatever bytes
in an image, the readers answer with Problems or ImageError: never another exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signage.config import Config
from signage.imageinfo import ImageError, image_size
from signage.playlist.fileformat import PlaylistFile
from signage.validation import validate
from signage.yamlread import ProblemsError, parse

TOKENS = list("[]{}:,-&*!<>|'\"#\n\t ?%@`abc01.\\") + [
    "\0", "\x85", "\u2028", "\ufeff", "\x1b", "!!int ", "!!float ", "!!bool ", "!!binary ", "!!timestamp ",
    "!!set ", "!!omap ", "!!python/tuple ", "<<: ", "&a ", "*a ", "&b ", "*b ", "---\n", "...\n", "%YAML 1.1\n",
    "creatives:\n", "- {id: x, type: card, text: ", "default: [x]\n", "rules:\n", "  - ", "when: ", ".nan", ".inf",
    "2026-02-30", "0x1F", "1e400", "site: ", "mqtt: {url: ", "paths: {spool: ", "display: {size: [",
]
yaml_text = st.lists(st.sampled_from(TOKENS), max_size=120).map("".join)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(yaml_text)
def test_any_text_gives_a_document_or_problems(text):
    try:
        document = parse(text, "f.yaml")
    except ProblemsError as exc:
        assert exc.problems and all(str(p).startswith("f.yaml:") for p in exc.problems)
        return
    for model in (PlaylistFile, Config):
        try:
            validate(model, document)
        except ProblemsError as exc:
            assert exc.problems and all(str(p).startswith("f.yaml:") for p in exc.problems)


HEADERS = [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\xff\xd8", b"\xff\xd8\xff\xc0\x00\x11\x08",
           b"RIFF\x00\x00\x00\x00WEBP",
           b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\x00\x00\x00\x00WEBPVP8L", b"RIFF\x00\x00\x00\x00WEBPVP8X", b"BM",
           b"GIF89a", b""]


@SETTINGS
@given(st.sampled_from(HEADERS), st.binary(max_size=64))
def test_any_bytes_give_a_size_or_an_image_error(tmp_path_factory, header, rest):
    path = tmp_path_factory.mktemp("img") / "x"
    path.write_bytes(header + rest)
    try:
        width, height = image_size(path)
    except ImageError:
        return
    assert 0 < width <= 65535 and 0 < height <= 65535
