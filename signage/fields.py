"""Building blocks of what people edit (config.yaml and playlists): the base model,
the typed fields both share (their patterns and words are in signage/patterns.py), the
rule for text (no control characters), the one time-of-day window, and the media kinds
accepted. One place each, so a value valid in a playlist is valid in the config too."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import unicodedata
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from signage.patterns import CLOCK_PATTERN, COLOUR_PATTERN, ID_PATTERN

Id = Annotated[str, Field(pattern=ID_PATTERN, description="Letters, digits, '-', '_' and '.', at most 64 characters.")]
Colour = Annotated[str, Field(pattern=COLOUR_PATTERN, description="#rrggbb")]
ClockTime = Annotated[str, Field(pattern=CLOCK_PATTERN, description="HH:MM, 24-hour (24:00 is the end of the day)")]

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



IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


class Section(BaseModel):
    """Every edited mapping: unknown keys are errors (a typo never passes silently),
    values are frozen, NaN and infinity are refused, and so are control characters."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    _plain_text = field_validator("*")(no_control_characters)


class DailyWindow(Section):
    """A time-of-day window, [start, end); it crosses midnight when end is earlier than
    start, and then an occurrence belongs to the day it starts (Friday 22:00 to
    Saturday 02:00 is Friday's)."""

    start: ClockTime = Field(description="HH:MM, inclusive.")
    end: ClockTime = Field(description="HH:MM, exclusive; earlier than start means the window crosses midnight.")

    @property
    def crosses_midnight(self) -> bool:
        return _seconds_of_day(self.end) < _seconds_of_day(self.start)

    def contains(self, moment: dt.time | dt.datetime) -> bool:
        now = moment.hour * 3600 + moment.minute * 60 + moment.second
        start, end = _seconds_of_day(self.start), _seconds_of_day(self.end)
        if start <= end:
            return start <= now < end
        return now >= start or now < end

    def started_on(self, moment: dt.datetime) -> dt.date | None:
        """The day the occurrence holding `moment` started (the day before, in the small
        hours of a window that crosses midnight); None when `moment` is outside."""
        if not self.contains(moment):
            return None
        after_midnight = self.crosses_midnight and moment.hour * 3600 + moment.minute * 60 + moment.second \
            < _seconds_of_day(self.end)
        return moment.date() - dt.timedelta(days=1) if after_midnight else moment.date()


def within(windows: list[DailyWindow], moment: dt.time | dt.datetime) -> bool:
    """Whether a moment's time of day falls in any of the windows."""
    return any(window.contains(moment) for window in windows)


def _seconds_of_day(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def ed25519_public_bytes(text: str, printed_by: str = "signage fleet provision") -> bytes:
    """The 32 raw bytes of an Ed25519 public key written as `printed_by` prints it
    (base64); ValueError saying what is wrong."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"not base64; paste the public_key line `{printed_by}` printed") from None
    if len(raw) != 32:
        raise ValueError(f"{len(raw)} bytes; an Ed25519 public key is 32 bytes (44 base64 characters), as "
                         f"`{printed_by}` prints it")
    return raw
