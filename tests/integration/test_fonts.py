"""Cards in every script: real glyphs, not tofu; Arabic joined and right to left.
Rendered by SDL_ttf in a real window (Xvfb) and compared as pixels."""

from __future__ import annotations

import numpy as np
import pytest

from signage.display.content import Content
from tests.support.renderers import settle

SAMPLES = {"cjk": ("世界", "界世"), "emoji": ("😀🚀", "🚀😀"), "arabic": ("سلام", "مالس"),
           "hebrew": ("שלום", "םולש"), "devanagari": ("नमस्ते", "तेस्मन"), "greek": ("Γειά", "άιεΓ")}


@pytest.fixture
def pygame_window(xvfb):
    from tests.support.renderers import make_renderer

    renderer = make_renderer()
    from signage.display import renderer as module

    yield module.pygame, renderer
    renderer.close()


def card_pixels(renderer, text: str) -> np.ndarray:
    renderer.show(Content(id=text, type="card", text=text, font_size=60, background="#000000"))
    return settle(renderer, text).copy()


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_distinct_characters_draw_distinct_glyphs_not_tofu(pygame_window, script):
    """With a font lacking the script, both strings render as identical boxes: with
    fonts by script they differ, and differ from what the Latin font alone draws."""
    pygame, renderer = pygame_window
    first, second = (card_pixels(renderer, text) for text in SAMPLES[script])
    assert (first != 0).any(), "something is drawn"
    assert not np.array_equal(first, second), "the two strings look the same: tofu"

    from signage.display.fonts import font_files

    latin = pygame.font.Font(str(font_files()[0]), 60)  # NotoSans: no glyphs for these
    tofu_a, tofu_b = (pygame.surfarray.array3d(latin.render(t, True, (255, 255, 255))) for t in SAMPLES[script])
    if script != "greek":  # NotoSans has Greek itself
        assert np.array_equal(tofu_a, tofu_b), "control: the Latin font alone draws boxes"


def test_arabic_is_shaped_into_joined_forms(pygame_window):
    pygame, _ = pygame_window
    from signage.display.fonts import TextRenderer

    text = "سلام"
    fonts = TextRenderer(pygame, 60)
    joined = fonts.render(text, (255, 255, 255))
    isolated = [fonts.render(letter, (255, 255, 255)) for letter in text]
    assert joined.get_width() < sum(s.get_width() for s in isolated) * 0.9, "joined forms are narrower"
    # right to left: the paragraph starts at the right; an Arabic line then Latin
    # digits keep the Arabic run rightmost
    from signage.display.fonts import runs

    order = [run.text for run in runs("سلام 123")]
    assert order[-1].startswith("سلام") and order[0].strip() == "123"


def test_missing_glyphs_for_check():
    from signage.display.fonts import missing_glyphs

    assert missing_glyphs("Hello 世界 😀 سلام שלום नमस्ते Γειά\n\tok") == []
    assert missing_glyphs("a\U000F0000b\U000F0000") == ["\U000F0000"]  # private use: no font
    assert missing_glyphs("bad\0text") == ["\0"]


def test_check_warns_about_characters_no_font_draws(tmp_path):
    import subprocess
    import sys

    from signage.modelfiles import PROJECT_ROOT

    (tmp_path / "p.yaml").write_text('creatives:\n  - {id: odd, type: card, text: "Hello \\ue000 \\u4f60\\u597d"}\n'
                                     'default: [odd]\n')
    result = subprocess.run([sys.executable, "-m", "signage.cli", "check", str(tmp_path)], capture_output=True,
                            text=True, cwd=PROJECT_ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr  # a warning, not a problem
    assert "warning: creative odd: no installed font draws U+E000" in result.stdout
    assert "U+4F60" not in result.stdout, "CJK is covered by the Noto fonts"
