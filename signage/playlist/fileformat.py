"""The playlist file format (pydantic). Operators edit these files by hand: every
field has a description (it shows up in editors through `signage schema`), unknown
keys are errors, and shorthands (`play: promo`, `transition: fade`) are accepted."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from signage.audience import Expression
from signage.fields import Colour, DailyWindow, Id, Section, printable_text

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = get_args(Day)
DEFAULT_DURATION = 10.0


def _transition_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


class Transition(Section):
    type: Literal["cut", "fade"] = Field("cut", description="cut: at once; fade: crossfade from the previous creative.")
    seconds: float = Field(0.5, ge=0, le=10, description="Length of a fade.")


class Creative(Section):
    id: Id = Field(description="Name used by `default` and rules.")
    type: Literal["image", "video", "card"] = Field(description="image or video from `media`, or a text `card`.")
    media: str | None = Field(None, description="Image or video file, relative to the playlist's folder.")
    text: str | None = Field(None, max_length=500, description="Card text; a line break starts a new line.")
    background: Colour = Field("#000000", description="Card background colour.")
    color: Colour = Field("#ffffff", description="Card text colour.")
    font_size: int | None = Field(None, ge=8, le=1000,
                                  description="Card text size in pixels; omitted: as large as fits.")
    duration: float | None = Field(None, gt=0, le=86400, description=(
        f"Seconds on screen. Images and cards default to {DEFAULT_DURATION:g}; videos to their own length."))
    fit: Literal["contain", "cover", "stretch"] = Field(
        "contain", description="contain: whole image, bars around; cover: fill, crop edges; stretch: fill, distort.")
    transition: Annotated[Transition, BeforeValidator(
        _transition_shorthand, json_schema_input_type=Transition | Literal["cut", "fade"])] = Field(
        Transition(),
        description="How this creative replaces the previous one: cut, fade, or {type: fade, seconds: 1}.")

    _printable = field_validator("text")(printable_text)

    @model_validator(mode="after")
    def _fields_match_type(self) -> Creative:
        if self.type in ("image", "video"):
            if not self.media:
                raise ValueError(f"{'an' if self.type == 'image' else 'a'} {self.type} needs `media`: the file to show")
            if self.text is not None or self.font_size is not None:
                raise ValueError("`text` and `font_size` apply to cards only")
        else:
            if self.media is not None:
                raise ValueError("a card has no `media`; use an image creative for pictures")
            if not self.text or not self.text.strip():
                raise ValueError("a card needs `text`")
        return self

    @property
    def seconds(self) -> float | None:
        """On-screen time; None: a video without duration plays to its end."""
        if self.duration is not None:
            return self.duration
        return None if self.type == "video" else DEFAULT_DURATION


class _Range(Section):
    # min, max or both (each range declares its own with its unit)
    min: float | None
    max: float | None

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class CountRange(_Range):
    min: int | None = Field(None, ge=0, description="At least this many.")
    max: int | None = Field(None, ge=0, description="At most this many.")


class SecondsRange(_Range):
    min: float | None = Field(None, ge=0, description="At least this many seconds.")
    max: float | None = Field(None, ge=0, description="At most this many seconds.")


class ExpressionCondition(Section):
    dominant: Expression = Field(description="The most common expression among faces looking at the screen.")
    min_share: float = Field(0.5, gt=0, le=1, description="Share of looking faces showing it (0-1].")


class DateRange(Section):
    start: dt.date = Field(description="First day, YYYY-MM-DD.")
    end: dt.date = Field(description="Last day, inclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class When(Section):
    faces: CountRange | None = Field(None, description="People in view (confirmed faces).")
    looking: CountRange | None = Field(None, description="People looking at the screen.")
    expression: ExpressionCondition | None = Field(None, description="Dominant expression of those looking.")
    dwell: SecondsRange | None = Field(None, description="Seconds the longest-present person has been in view.")
    attention: SecondsRange | None = Field(None, description="Seconds the most attentive person has looked.")
    hold: float = Field(1.0, ge=0, le=60,
                        description="Seconds the audience conditions must hold before the rule triggers.")
    days: list[Day] | None = Field(None, min_length=1, description=(
        "Days of the week: mon ... sun. With `hours`, the day a window starts: fri with 22:00-02:00 is "
        "Friday 22:00 to Saturday 02:00."))
    hours: list[DailyWindow] | None = Field(None, min_length=1, description="Times of day.")
    dates: list[DateRange] | None = Field(None, min_length=1, description=(
        "Date ranges. With `hours`, the date a window starts (as for `days`)."))

    @cached_property
    def audience(self) -> bool:
        """True when the rule depends on who is in front of the screen."""
        return any(c is not None for c in (self.faces, self.looking, self.expression, self.dwell, self.attention))


def _play_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return [{"creative": value}]
    if isinstance(value, list):
        return [{"creative": item} if isinstance(item, str) else item for item in value]
    return value


class PlayItem(Section):
    creative: Id = Field(description="A creative id.")
    weight: float = Field(1.0, gt=0, le=1000, description="Relative chance with `order: random`.")


PlayList = Annotated[
    list[PlayItem],
    BeforeValidator(_play_shorthand, json_schema_input_type=Id | list[Id | PlayItem]),
    Field(min_length=1),
]


class Rule(Section):
    id: Id = Field(description="Name shown in logs, `simulate` and proof of play.")
    when: When = Field(When(), description="Conditions; all must hold. No conditions: always.")
    play: PlayList = Field(description="A creative id, or a list of them (or of {creative, weight}).")
    order: Literal["sequence", "random"] = Field("sequence", description="Play the list in order, or weighted random.")
    priority: int = Field(0, ge=-1000, le=1000, description="Higher wins; ties go to the rule declared first.")
    cooldown: float = Field(0.0, ge=0, le=86400, description="Seconds before this rule plays the same creative again.")
    max_per_hour: int | None = Field(None, ge=1, le=3600, description="Plays by this rule in any 60 minutes.")
    min_show: float = Field(5.0, ge=0, le=3600, description=(
        "Seconds this rule's creative stays before a higher-priority audience rule may interrupt it."))

    @model_validator(mode="after")
    def _weights_need_random(self) -> Rule:
        if self.order == "sequence" and any(item.weight != 1.0 for item in self.play):
            raise ValueError("`weight` only applies with `order: random`")
        return self


class PlaylistFile(Section):
    """One playlists/*.yaml file."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, title="signage playlist")

    creatives: list[Creative] = Field([], description="Everything that can be shown.")
    default: PlayList | None = Field(None, description="The loop played when no rule matches (in order).")
    default_min_show: float = Field(0.0, ge=0, le=3600, description=(
        "Seconds a default-loop creative stays before an audience rule may interrupt it."))
    rules: list[Rule] = Field([], description="Rules in any order; evaluated by priority, then declaration order.")

    @field_validator("creatives", "rules", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value
