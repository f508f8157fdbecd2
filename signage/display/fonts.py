"""Fonts by script: every character drawn with a font that has it, Arabic and Hebrew
shaped right to left.

SDL_ttf draws a missing glyph as a box ("tofu") and pygame's default font covers
Latin only. We keep a chain of fonts (Debian's Noto: fonts-noto-core,
fonts-noto-cjk, fonts-noto-color-emoji), read each font's character map (the `cmap`
table, parsed here, no extra dependency) to know what it covers, split text into
runs by the first font of the chain that has each character, and let SDL_ttf's
HarfBuzz shape each run (`Font.set_script`, `Font.set_direction`; pygame-ce's wheels
build SDL_ttf with HarfBuzz). Paragraph direction follows the first strong character.

`missing_glyphs(text)` is what `signage check` asks: the characters no installed font
has. Rendering takes the `pygame` module as an argument: display/renderer.py stays
the only module that imports it.
"""

from __future__ import annotations

import bisect
import functools
import logging
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"))
# Tried first, in this order; then every other Noto regular face, by name.
PREFERRED = ("NotoSans-Regular.ttf", "NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf",
             "NotoSansCJK-Regular.ttc", "NotoColorEmoji.ttf", "NotoSansSymbols-Regular.ttf",
             "NotoSansSymbols2-Regular.ttf", "NotoSansMath-Regular.ttf")
# Characters that never need their own font: they join the run around them.
_JOINERS = {0x200C, 0x200D, 0xFE0E, 0xFE0F, 0x20E3}
_RTL_SCRIPTS = (((0x0590, 0x05FF), (0xFB1D, 0xFB4F)), "Hebr"), \
    (((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)), "Arab")
# Unicode character-name prefix -> ISO 15924 script, for HarfBuzz: complex scripts
# (Indic, Thai, Arabic...) are shaped only when their script is named.
_SCRIPTS = {"LATIN": "Latn", "GREEK": "Grek", "CYRILLIC": "Cyrl", "ARMENIAN": "Armn", "HEBREW": "Hebr",
            "ARABIC": "Arab", "SYRIAC": "Syrc", "THAANA": "Thaa", "DEVANAGARI": "Deva", "BENGALI": "Beng",
            "GURMUKHI": "Guru", "GUJARATI": "Gujr", "ORIYA": "Orya", "TAMIL": "Taml", "TELUGU": "Telu",
            "KANNADA": "Knda", "MALAYALAM": "Mlym", "SINHALA": "Sinh", "THAI": "Thai", "LAO": "Laoo",
            "TIBETAN": "Tibt", "MYANMAR": "Mymr", "GEORGIAN": "Geor", "HANGUL": "Hang", "ETHIOPIC": "Ethi",
            "KHMER": "Khmr", "MONGOLIAN": "Mong", "CJK": "Hani", "HIRAGANA": "Hira", "KATAKANA": "Kana"}
EMOJI_STRIKE = 109  # NotoColorEmoji is a bitmap font with one strike: drawn at it, then scaled


class Coverage:
    """The code points a font file maps to glyphs (from its cmap table)."""

    def __init__(self, path: Path):
        self.path = path
        self._starts: list[int] = []
        self._ends: list[int] = []
        try:
            ranges = sorted(_cmap_ranges(_read_cmap(path)))
        except (OSError, struct.error, ValueError) as exc:
            logger.warning("font %s unreadable, skipped: %s", path, exc)
            ranges = []
        for start, end in ranges:
            self._starts.append(start)
            self._ends.append(end)

    def __contains__(self, code: int) -> bool:
        index = bisect.bisect_right(self._starts, code) - 1
        return index >= 0 and code <= self._ends[index]


@functools.lru_cache(maxsize=1)
def font_files() -> tuple[Path, ...]:
    """The chain: preferred faces first, then every other regular Noto face."""
    found = {p.name: p for d in FONT_DIRS if d.is_dir() for p in sorted(d.iterdir())
             if p.suffix in (".ttf", ".otf", ".ttc")}
    chain = [found[name] for name in PREFERRED if name in found]
    chain += [p for name, p in sorted(found.items()) if name not in PREFERRED and "-Regular." in name
              and name.startswith("NotoSans")]
    if not chain:
        logger.warning("no Noto fonts in %s: only Latin text will render (install fonts-noto-core "
                       "fonts-noto-cjk fonts-noto-color-emoji)", ", ".join(map(str, FONT_DIRS)))
    bundled = _bundled_font()
    if bundled is not None:  # pygame's own FreeSans, last: Latin at least, always
        chain.append(bundled)
    return tuple(chain)


def _bundled_font() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("pygame")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "freesansbold.ttf"
    return path if path.exists() else None


@functools.cache
def _coverage(path: Path) -> Coverage:
    return Coverage(path)


@functools.lru_cache(maxsize=4096)
def font_for(char: str) -> Path | None:
    """The first font of the chain that has this character, None if none has it."""
    code = ord(char)
    for path in font_files():
        if code in _coverage(path):
            return path
    return None


def missing_glyphs(text: str) -> list[str]:
    """Characters of `text` that no installed font can draw (each once, in order);
    line breaks and tabs are layout, not glyphs."""
    missing: list[str] = []
    for char in text:
        if char in "\n\t\r" or ord(char) in _JOINERS or char in missing:
            continue
        if char == " " and font_files():
            continue
        if font_for(char) is None or unicodedata.category(char) == "Cc":  # controls draw nothing
            missing.append(char)
    return missing


@dataclass(frozen=True)
class Run:
    text: str
    font: Path | None  # None: no font has it; drawn with the first font (tofu)
    script: str | None  # ISO 15924 for HarfBuzz when right to left
    rtl: bool


def script_of(char: str) -> tuple[str | None, bool]:
    """(ISO 15924 script or None, right to left) of one character."""
    code = ord(char)
    for ranges, script in _RTL_SCRIPTS:
        if any(low <= code <= high for low, high in ranges):
            return script, True
    name = unicodedata.name(char, "")
    return _SCRIPTS.get(name.split(" ", 1)[0]), False


@functools.lru_cache(maxsize=8192)
def _classify(char: str) -> tuple[bool, Path | None, str | None, bool]:
    """(neutral, font, script, right to left) of one character."""
    neutral = char.isspace() or ord(char) in _JOINERS or _is_mark(char)
    font = font_for(char) if not char.isspace() else (font_files()[0] if font_files() else None)
    return (neutral, font, *script_of(char))


@functools.lru_cache(maxsize=1024)
def runs(text: str) -> tuple[Run, ...]:
    """Split one line into runs of one font and direction, in visual order."""
    pieces: list[list] = []
    for char in text:
        neutral, font, script, rtl = _classify(char)
        if pieces and neutral:
            pieces[-1][0] += char
            continue
        if (pieces and pieces[-1][1] == font and pieces[-1][3] == rtl
                and (script is None or pieces[-1][2] in (None, script))):
            pieces[-1][0] += char
            pieces[-1][2] = pieces[-1][2] or script
        else:
            pieces.append([char, font, script, rtl])
    result = [Run(t, f, s, r) for t, f, s, r in pieces]
    if result and _paragraph_rtl(text):
        result.reverse()
    return tuple(result)


def _paragraph_rtl(text: str) -> bool:
    for char in text:
        if char.isalpha():
            return script_of(char)[1]
    return False


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


class TextRenderer:
    """Measures and draws lines of mixed-script text at one size."""

    def __init__(self, pygame, size: int):
        self.pygame, self.size = pygame, max(1, int(size))
        self._fonts: dict = {}
        base = self._font(font_files()[0] if font_files() else None)
        self.line_height = base.get_linesize()
        self.ascent = base.get_ascent()

    def _font(self, path: Path | None):
        key = path
        if key not in self._fonts:
            if path is None or path == _bundled_font():
                self._fonts[key] = self.pygame.font.Font(None, self.size)
            elif _is_emoji(path):
                self._fonts[key] = self.pygame.font.Font(str(path), EMOJI_STRIKE)
            else:
                self._fonts[key] = self.pygame.font.Font(str(path), self.size)
        return self._fonts[key]

    def _prepared(self, run: Run):
        font = self._font(run.font if run.font is not None else (font_files()[0] if font_files() else None))
        if run.rtl and hasattr(font, "set_direction"):
            font.set_script(run.script or "Zyyy")
            font.set_direction(self.pygame.DIRECTION_RTL)
        elif hasattr(font, "set_direction"):
            font.set_script(run.script or "Zyyy")
            font.set_direction(self.pygame.DIRECTION_LTR)
        return font

    def _scale(self, run: Run, font) -> float:
        return self.line_height / font.get_height() if run.font is not None and _is_emoji(run.font) else 1.0

    def width(self, text: str) -> int:
        total = 0
        for run in runs(text):
            font = self._prepared(run)
            total += round(font.size(run.text)[0] * self._scale(run, font))
        return total

    def render(self, text: str, colour: tuple[int, int, int]):
        """One line as a surface with per-pixel alpha, runs side by side on one baseline."""
        pygame = self.pygame
        parts = []
        for run in runs(text):
            font = self._prepared(run)
            surface = font.render(run.text, True, colour)
            scale = self._scale(run, font)
            if scale != 1.0:
                size = (max(1, round(surface.get_width() * scale)), max(1, round(surface.get_height() * scale)))
                surface = pygame.transform.smoothscale(surface.convert_alpha() if pygame.display.get_surface()
                                                       else surface, size)
                parts.append((surface, 0))
            else:
                parts.append((surface, self.ascent - font.get_ascent()))
        width = sum(s.get_width() for s, _ in parts)
        height = max([self.line_height] + [s.get_height() + max(0, dy) for s, dy in parts])
        line = pygame.Surface((max(1, width), height), pygame.SRCALPHA)
        x = 0
        for surface, dy in parts:
            line.blit(surface, (x, dy))
            x += surface.get_width()
        return line


def _is_emoji(path: Path) -> bool:
    return "ColorEmoji" in path.name


# ----- the cmap table ---------------------------------------------------------------

def _read_cmap(path: Path) -> bytes:
    """Only the cmap table of a font file (first face of a collection): a CJK
    collection is 20 MB, its cmap a few hundred KB."""
    with open(path, "rb") as file:
        head = file.read(16)
        offset = struct.unpack_from(">I", head, 12)[0] if head[:4] == b"ttcf" else 0
        file.seek(offset)
        directory = file.read(12)
        tables = struct.unpack_from(">H", directory, 4)[0]
        records = file.read(16 * tables)
        for index in range(tables):
            tag, _, table_offset, length = struct.unpack_from(">4sIII", records, 16 * index)
            if tag == b"cmap":
                file.seek(table_offset)
                return file.read(min(length, 16 << 20))
    raise ValueError("no cmap table")


def _cmap_ranges(data: bytes) -> list[tuple[int, int]]:
    """(first, last) code point ranges a cmap table maps, from its best Unicode
    subtable (format 12, else 4)."""
    cmap = 0
    subtables = {}
    for index in range(struct.unpack_from(">H", data, cmap + 2)[0]):
        platform, encoding, sub = struct.unpack_from(">HHI", data, cmap + 4 + 8 * index)
        subtables[(platform, encoding)] = cmap + sub
    for key in ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0)):
        if key not in subtables:
            continue
        start = subtables[key]
        kind = struct.unpack_from(">H", data, start)[0]
        if kind == 12:
            groups = struct.unpack_from(">I", data, start + 12)[0]
            return [struct.unpack_from(">II", data, start + 16 + 12 * g)[:2] for g in range(groups)]
        if kind == 4:
            segments = struct.unpack_from(">H", data, start + 6)[0] // 2
            ends = struct.unpack_from(f">{segments}H", data, start + 14)
            starts = struct.unpack_from(f">{segments}H", data, start + 16 + 2 * segments)
            return [(s, e) for s, e in zip(starts, ends) if s != 0xFFFF]
    raise ValueError("no Unicode cmap subtable")
