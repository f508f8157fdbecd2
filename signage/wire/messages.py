"""The MQTT messages, as pydantic models: the single source of their JSON Schemas
(docs/mqtt.md is generated from them) and of the checks the tests make on every
payload published.

Every field is bounded: numbers are finite, counts and durations non-negative and below
a plausible maximum, texts and lists short, timestamps ISO 8601 with `end >= start`, and
figures that depend on each other consistent. The fleet refuses at parse whatever falls
outside; the kiosk builds its messages with `fit` and `clamp` (and `fitted`), so that
what it publishes is always inside. Whether a timestamp is plausible depends on the
receiver's clock: it is checked only when a validation context carries `now`
(`received_at`), as the fleet's parse does, never on the kiosk, whose clock may not be
set yet.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from signage.fields import ID_PATTERN  # creative and rule ids, as playlists write them
from signage.wire.bounds import bound_of, clamp, fit, printable, received_at, utc  # noqa: F401 - the contract's

SCHEMA_VERSION = 1

MAX_MESSAGE_BYTES = 64 * 1024  # a payload, as JSON; a metrics message is a few kB
# People in view at once: beyond any camera's field of view at a face size the detector sees.
MAX_IN_VIEW = 1_000
# People in one interval or one histogram bucket (an interval is at most a day).
MAX_PEOPLE = 1_000_000
# Frames, spool counts, faults: what fits a SQL INTEGER on every database.
MAX_COUNT = 2**31 - 1
# One play: a month (a creative lasts at most a day; a stalled screen is reported, clamped).
MAX_PLAY_SECONDS = 31 * 86400.0
# The plays that started in a period (a day at most) and their last one's end: two days.
MAX_TOTAL_SECONDS = 2 * 86400.0
MAX_UPTIME_SECONDS = 20 * 365 * 86400  # twenty years without a restart
MAX_INFERENCE_MS = 3_600_000.0  # an hour for one frame: a stalled inference, clamped
MAX_IMPRESSIONS = 100  # creatives per interval; the kiosk folds the least played into OTHERS
MAX_LABELS = 16  # keys of a breakdown (zones, expressions), buckets of a histogram
MAX_PROBLEMS = 8
STATUS_CREATIVES = 256  # creative ids a status lists at most (the fleet's "Play now" choices)
# Texts are bounded in characters so that the largest status, every text in the characters
# JSON escapes the most (12 bytes each), still fits MAX_MESSAGE_BYTES.
MAX_ERROR_CHARS = 300
# The window of time a receiver accepts: a kiosk spools for days while its broker is down,
# so old is fine up to a year (past the fleet's retention, such a message is counted as
# expired, not stored); the future only within a clock's plausible skew. A clock that
# never synced (1970, or a year 9999 typed by hand) is refused.
MAX_AGE = dt.timedelta(days=366)
MAX_SKEW = dt.timedelta(hours=1)
# Rounding slack for the consistency checks: the kiosk rounds seconds to 0.001 and
# person-seconds to 0.01.
SLACK = 0.011

OTHERS = "(others)"  # impressions of the creatives beyond MAX_IMPRESSIONS (not a valid creative id)
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"  # a topic level the fleet accepts
LABEL_PATTERN = r"^[A-Za-z0-9_.+-]{1,32}$"  # zone, expression, histogram bucket
IMPRESSION_PATTERN = ID_PATTERN + r"|^\(others\)$"


Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Label = Annotated[str, StringConstraints(pattern=LABEL_PATTERN)]
Timestamp = Annotated[str, StringConstraints(max_length=40), Field(description="UTC ISO 8601.")]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
People = Annotated[int, Field(ge=0, le=MAX_PEOPLE)]
InView = Annotated[int, Field(ge=0, le=MAX_IN_VIEW)]
Ratio = Annotated[float, Field(ge=0, le=1)]


def text(limit: int, **field: Any) -> Any:
    """A text field of at most `limit` characters (`fit` shortens to it)."""
    return Field(max_length=limit, **field)


class TimeError(ValueError):
    """A timestamp that is unreadable, out of order or outside the window of time."""


class Inconsistent(ValueError):
    """Figures that cannot all be true together."""


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    _printable = field_validator("*")(printable)

    def payload(self) -> dict:
        """The message as it goes on the wire (JSON types, `schema` under its own name)."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def fitted(cls, **values: Any):
        """The message a device publishes from values that may exceed the bounds (a long
        error text, a huge count): texts made printable and shortened, whole numbers
        clamped, lists of text cut, each to its field's bound. For the flat fields of
        Status and Error; the builders of plays and intervals clamp explicitly."""
        fields = {field.alias or name: field for name, field in cls.model_fields.items()}
        for key, value in values.items():
            field = fields[key]
            limit = bound_of(field.metadata)
            if isinstance(value, str) and limit is not None:
                values[key] = fit(value, limit)
            elif isinstance(value, int) and not isinstance(value, bool) and limit is not None:
                values[key] = clamp(value, limit)
            elif isinstance(value, list) and limit is not None:  # the newest `limit` (lists are oldest first)
                item_limit = bound_of(getattr(get_args(field.annotation)[0], "__metadata__", ()))
                values[key] = [fit(item, item_limit) for item in value[-limit:]]
        return cls(**values)


class Envelope(Message):
    """What every device message starts with."""

    model_config = ConfigDict(populate_by_name=True)  # added to Message's

    schema_: int = Field(SCHEMA_VERSION, ge=1, le=1000, alias="schema", description="Message format version.")
    site: Name
    device: Name


class Interval(Envelope):
    """A message about a span of time: `end >= start`, both inside the receiver's window."""

    if TYPE_CHECKING:  # each message declares them, with its own place in its schema
        start: Timestamp
        end: Timestamp

    @model_validator(mode="after")
    def _times_in_order_and_window(self, info: ValidationInfo):
        try:
            start, end = utc(self.start), utc(self.end)
        except ValueError as exc:
            raise TimeError(f"start/end are not ISO 8601 timestamps: {exc}") from None
        if end < start:
            raise TimeError(f"end {self.end} is before start {self.start}")
        now = (info.context or {}).get("now")
        if now is not None:
            if start < now - MAX_AGE:
                raise TimeError(f"start {self.start} is more than {MAX_AGE.days} days ago")
            if end > now + MAX_SKEW:
                raise TimeError(f"end {self.end} is more than {MAX_SKEW} in the future")
        return self


class Suppressed(Message):
    suppressed: Literal[True] = True


class Impressions(Message):
    plays: People = Field(description="Times the creative started.")
    viewed: People | None = Field(description="Plays with at least one viewer looking; null unless the "
                                  "interval had at least min_group viewers.")

    @model_validator(mode="after")
    def _viewed_among_plays(self):
        if self.viewed is not None and self.viewed > self.plays:
            raise Inconsistent(f"viewed {self.viewed} exceeds plays {self.plays}")
        return self


class Histogram(Message):
    buckets: list[Annotated[str, StringConstraints(max_length=16, pattern=LABEL_PATTERN)]] = Field(
        max_length=MAX_LABELS, description="Bucket labels in seconds, e.g. '0-1', '1-3', ..., '60+'.")
    counts: list[People] = Field(max_length=MAX_LABELS, description="People per bucket.")

    @model_validator(mode="after")
    def _one_count_per_bucket(self):
        if len(self.buckets) != len(self.counts):
            raise Inconsistent(f"{len(self.buckets)} buckets but {len(self.counts)} counts")
        return self


class InferenceMs(Message):
    p50: float = Field(ge=0, le=MAX_INFERENCE_MS)
    p95: float = Field(ge=0, le=MAX_INFERENCE_MS)


class Metrics(Interval):
    """Topic <root>/<site>/<device>/metrics, QoS 1, every interval.

    No metrics message says anything about fewer than `privacy.min_group` people: the
    counts `passers`, `viewers` and `peak_faces` are null while they are below min_group
    (0 included, or null against 0 would still tell 1 or 2 people from nobody), the
    ratios and breakdowns drawn from them are null or `{"suppressed": true}` (a breakdown
    as a whole, as soon as one of its non-empty cells has fewer than min_group people),
    `impressions.viewed` is null below min_group viewers, and the vision's own figures
    (`frames`, `dropped_frames`, `inference_ms`), which move with the faces in view, are
    null unless `passers` is published.
    """

    id: Id = Field(description="Unique message id (UUID4): consumers deduplicate on it.")
    start: Timestamp = Field(description="Interval start, UTC ISO 8601.")
    end: Timestamp = Field(description="Interval end, UTC ISO 8601; not before start.")
    passers: People | None = Field(description="Opportunity to see: confirmed tracks that ended in the interval; "
                                   "null below min_group (including none), so that no interval tells that one or "
                                   "two people passed.")
    viewers: People | None = Field(description="Watchers: passers who looked at the screen for at least 1 s; "
                                   "null below min_group (including none); never more than passers.")
    conversion: Ratio | None = Field(description="viewers / passers; null unless both are published (min_group "
                                     "each): with passers, it would give a withheld viewers count back.")
    attraction: Ratio | None = Field(description="Looking time / dwell time of the passers; null unless both "
                                     "passers and viewers are published and no passer has more than half of the "
                                     "looking time or of the dwell time.")
    peak_faces: InView | None = Field(description="Most people in view at once; null below min_group "
                                      "(including none).")
    distance: Annotated[dict[Label, People], Field(max_length=MAX_LABELS)] | Suppressed = Field(
        description="Passers by nearest zone: near (<2 m), mid, far; suppressed unless every zone with someone in "
        "it has at least min_group passers.")
    dwell: Histogram | Suppressed = Field(description="Passers by dwell time; suppressed unless every non-empty "
                                          "bucket has at least min_group passers (a bucket of one is that person's "
                                          "dwell).")
    attention: Histogram | Suppressed = Field(description="Viewers by looking time; suppressed unless every "
                                              "non-empty bucket has at least min_group viewers.")
    expressions: Annotated[dict[Label, People], Field(max_length=MAX_LABELS)] | Suppressed = Field(
        description="Viewers by dominant expression while looking; suppressed unless every expression in it "
        "has at least min_group viewers (one viewer's cell would be that viewer's face).")
    impressions: dict[Annotated[str, StringConstraints(pattern=IMPRESSION_PATTERN)], Impressions] = Field(
        max_length=MAX_IMPRESSIONS, description=f"Per creative id as published in the play messages ('audience' for "
        f"withheld audience plays); at most {MAX_IMPRESSIONS}: the least played of any more are added up under "
        f"'{OTHERS}'.")
    frames: Count | None = Field(description="Frames analysed; null unless passers is published (analysis takes "
                                 "longer with each face in view, so fewer frames are analysed).")
    dropped_frames: Count | None = Field(description="Camera frames skipped because analysis was busy; null unless "
                                         "passers is published (more faces, more frames skipped).")
    inference_ms: InferenceMs | None = Field(description="Vision time per analysed frame; null without frames, and "
                                             "unless passers is published (it grows with each face in view).")

    @model_validator(mode="after")
    def _viewers_among_passers(self):
        if self.passers is not None and self.viewers is not None and self.viewers > self.passers:
            raise Inconsistent(f"viewers {self.viewers} exceed passers {self.passers}")
        return self


class Play(Interval):
    """Topic <root>/<site>/<device>/play, QoS 1: proof of play, one per creative shown.

    Its start, end, length and how it ended are always published: that is the proof of
    play. A figure about the people in front of the screen is published only when at
    least `privacy.min_group` distinct people (tracks) contributed to it and no one of
    them contributed more than half of it (the dominance rule of statistical offices),
    so that no play record tells anything about fewer than min_group people:

    - people in view (`ots`, `peak_faces`, `mean_faces`): over the seconds each person was in view;
    - looking (`viewers`, `peak_viewers`, `looking_seconds`): at least min_group viewers
      (people who looked 1 s or more), over the seconds each person looked;
    - `expressions`: every expression in the mix passes the rule on its own;
    - `withheld` names the groups that were withheld, never why: whether too few people
      or one dominant person is itself a fact about the few;
    - `rule` and `creative`: the id of a rule with audience conditions (faces, looking,
      dwell, attention, expression), and the creative it chose, are both replaced by
      `"audience"` unless the people and looking groups are published, because the
      rule's conditions describe the people who triggered it.

    The audience figures are consistent: mean_faces at most peak_faces, looking_seconds
    at most peak_viewers x seconds, the expressions' seconds at most looking_seconds.
    """

    id: Id = Field(description="Unique message id (UUID4): consumers deduplicate on it.")
    creative: Id = Field(description="The creative id, or 'audience' for a creative an audience rule chose "
                         "while fewer than min_group people were there.")
    rule: Id = Field(description="The rule that chose it, 'default', 'command', or 'audience' (an audience "
                     "rule, withheld because fewer than min_group people were there).")
    start: Timestamp
    end: Timestamp = Field(description="UTC ISO 8601; not before start.")
    seconds: float = Field(ge=0, le=MAX_PLAY_SECONDS, description="Time on screen.")
    ended: Literal["duration", "interrupted", "error", "removed", "stopped"]
    ots: People | None = Field(None, description="Opportunities to see: distinct people in view during the play; "
                               "null when the people in view are withheld.")
    peak_faces: InView | None = Field(description="Most people in view at once; null when the people in view are "
                                      "withheld.")
    mean_faces: float | None = Field(ge=0, le=MAX_IN_VIEW, description="Mean people in view; null when "
                                     "peak_faces is.")
    viewers: People | None = Field(None, description="Distinct people who looked at the screen for at least 1 s "
                                   "during the play; null when the looking figures are withheld.")
    peak_viewers: InView | None = Field(description="Most people looking at once; null when the looking figures "
                                        "are withheld.")
    looking_seconds: float | None = Field(ge=0, le=MAX_IN_VIEW * MAX_PLAY_SECONDS,
                                          description="Person-seconds of looking; null when peak_viewers is.")
    expressions: Annotated[dict[Label, Annotated[float, Field(ge=0, le=MAX_IN_VIEW * MAX_PLAY_SECONDS)]],
                           Field(max_length=MAX_LABELS)] | Suppressed = Field(
        description="Person-seconds of looking by expression; suppressed unless each expression in it has "
                    "min_group people and none above half of it.")
    withheld: list[Literal["people", "looking", "expressions"]] = Field(
        [], max_length=3, description="The groups of audience figures withheld: fewer than min_group people "
        "contributed, or one of them more than half (not told apart).")

    @model_validator(mode="after")
    def _audience_consistent(self):
        if self.viewers is not None and self.ots is not None and self.viewers > self.ots:
            raise Inconsistent(f"viewers {self.viewers} exceed ots {self.ots}")
        if self.mean_faces is not None and self.peak_faces is not None and self.mean_faces > self.peak_faces + SLACK:
            raise Inconsistent(f"mean_faces {self.mean_faces} exceeds peak_faces {self.peak_faces}")
        if self.looking_seconds is not None and self.peak_viewers is not None:
            most = self.peak_viewers * (self.seconds + SLACK) + SLACK
            if self.looking_seconds > most:
                raise Inconsistent(f"looking_seconds {self.looking_seconds} exceeds peak_viewers x seconds "
                                   f"({self.peak_viewers} x {self.seconds})")
        if isinstance(self.expressions, dict):
            total = sum(self.expressions.values())
            if total > (self.looking_seconds or 0.0) * (1 + 1e-9) + SLACK * (len(self.expressions) + 1):
                raise Inconsistent(f"the expressions add up to {total:g} s of looking, more than looking_seconds "
                                   f"{self.looking_seconds}")
        return self


RolloutState = Literal["none", "pending", "downloading", "active", "expired", "refused"]
MAX_CONTENT_VERSION = 2**53  # a release's version (signage/content/manifest.py), exact in every JSON reader


class ContentState(Message):
    """A screen's content from the fleet (docs/content.md), in its status."""

    version: int | None = Field(None, ge=1, le=MAX_CONTENT_VERSION, description="The release playing; null: none "
                                "yet (local playlists).")
    target: str | None = text(140, default=None, description="Which of its targets: fleet, site/<site> or "
                              "screen/<site>/<device>.")
    state: RolloutState = Field(description="none, pending (a newer release is known, not downloading yet: "
                                           "see reason), downloading, active, expired (the release playing is "
                                           "past its expiry: publish again), refused (the newest release was not "
                                           "taken; see reason: a download that broke off is resumed at the next "
                                           "try, anything else is refused for good).")
    next_version: int | None = Field(None, ge=1, le=MAX_CONTENT_VERSION, description="The release being fetched "
                                     "or refused.")
    done_bytes: int = Field(0, ge=0, le=1 << 44, description="Bytes of next_version downloaded.")
    total_bytes: int = Field(0, ge=0, le=1 << 44, description="Bytes of next_version to download.")
    reason: str | None = text(MAX_ERROR_CHARS, default=None, description="Why the newest release was refused, or "
                              "why it is not downloaded yet; with state active, the older release the server "
                              "offers, refused (rollback).")


class Total(Message):
    plays: People | None = Field(description="Plays that started in the period; null under 'audience'.")
    seconds: float = Field(ge=0, le=MAX_TOTAL_SECONDS, description="Seconds on screen of those plays.")


class PlayTotals(Interval):
    """Topic <root>/<site>/<device>/totals, QoS 1: proof of play of the plays that depended
    on fewer than `privacy.min_group` people, released in aggregate.

    A play an audience rule chose, a schedule play it cut short or that resumed after it,
    and the slots such plays leave in the schedule are records of the moment someone was
    there. So the kiosk releases every play of an hour that had one, and every play of an
    hour with fewer than min_group passers, per creative for the smallest period in which
    at least min_group people passed: the hour, else the day; a day with fewer than
    min_group passers releases only the seconds, under "audience" (its plays would count
    what its audience rules did). An hour's plays come one by one or in its totals, never
    both. Together with the play messages, every second on screen is attributed once.
    """

    id: Id = Field(description="Unique message id (UUID4): consumers deduplicate on it.")
    period: Literal["hour", "day"] = Field(description="The period released: a UTC hour or day, or the part "
                                           "of it the kiosk ran (it stopped, or its playlist changed).")
    start: Timestamp = Field(description="Period start, UTC ISO 8601.")
    end: Timestamp = Field(description="Period end, UTC ISO 8601; not before start.")
    creatives: dict[Annotated[str, StringConstraints(pattern=IMPRESSION_PATTERN)], Total] = Field(
        min_length=1, max_length=MAX_IMPRESSIONS, description=f"Per creative id, or 'audience' (only the seconds of "
        f"a day with fewer than min_group passers); at most {MAX_IMPRESSIONS}: the least played of any more are "
        f"added up under '{OTHERS}'.")

    @model_validator(mode="after")
    def _seconds_fit_the_period(self):
        try:
            length = (utc(self.end) - utc(self.start)).total_seconds()
        except ValueError:
            return self  # the interval's own check says why
        total = sum(item.seconds for item in self.creatives.values())
        if total > length + MAX_TOTAL_SECONDS / 2 + SLACK:
            raise Inconsistent(f"{total:g} s of plays in a period of {length:g} s")
        return self


class Status(Envelope):
    """Topic <root>/<site>/<device>/status, retained, QoS 1."""

    version: str = text(64)
    lock: str | None = Field(None, pattern=r"^[0-9a-f]{12}$", description="Short sha256 of the uv.lock the kiosk was "
                             "installed from (`signage --version` prints it); null when not installed by `make`.")
    uptime_s: int = Field(ge=0, le=MAX_UPTIME_SECONDS)
    playing: Id | None = Field(description="The creative the schedule (default loop, dayparts, commands) puts "
                               "on screen; null for the fallback card. While content an audience rule chose "
                               "covers it, this still names the schedule's creative, not what is on screen: a "
                               "change the moment such a rule fires would tell that someone is in front of the "
                               "screen. What audience rules played is in the hour's or day's `totals`.")
    camera: str = text(32, description="ok, retrying, gone, ended, stalled (no inference result for "
                       "vision.inference_timeout), off (privacy) or error.")
    camera_format: str | None = text(100, default=None, description="What the camera negotiated, e.g. '1280x720 "
                                     "MJPG at 30 fps'; null for files or before the camera opened.")
    edgetpu: str | None = text(200, default=None, description="'in use (...)' or 'not in use: <why>' when "
                               "vision.delegate is edgetpu; null otherwise.")
    playlist: str = text(600, description="'ok', or 'rejected: <messages>' while a broken edit is ignored.")
    creatives: list[Id] = Field([], max_length=STATUS_CREATIVES, description="The creative ids of the running "
                                f"playlist, sorted, the first {STATUS_CREATIVES}: what a `creative/set` command may "
                                "play.")
    privacy: bool
    display: str = text(32, description="ok, off (power schedule), lost (display gone) or starting.")
    broker: str = text(200, description="connected, connecting, or why not; stopped (clean exit) or disconnected "
                       "(unclean exit) in the final status.")
    spool: str = text(200, default="ok", description="The on-disk spool: ok; 'disk full' or 'error: <why>' (messages "
                      "are held in memory meanwhile); 'unusable: <why>' (it cannot be opened); 'recovered: <what>' "
                      "(a damaged file was moved aside and its readable messages kept).")
    spool_depth: int = Field(ge=0, le=MAX_COUNT, description="Messages in the spool, waiting for the broker.")
    spool_held: int = Field(0, ge=0, le=MAX_COUNT, description="Messages held in memory, not yet in the spool.")
    spool_dropped: int = Field(ge=0, le=MAX_COUNT, description="Messages dropped, oldest first, because the spool "
                               "reached its size cap or the memory hold overflowed while the spool could not be "
                               "written.")
    last_error: str | None = text(MAX_ERROR_CHARS, description="The newest problem that is still going on, or null.")
    problems: list[Annotated[str, Field(max_length=MAX_ERROR_CHARS)]] = Field(
        [], max_length=MAX_PROBLEMS, description=f"Problems going on now, oldest first: the newest {MAX_PROBLEMS} "
        "(the newest of all is last_error).")
    faults: int = Field(0, ge=0, le=MAX_COUNT, description="Unexpected faults survived since start (logged with a "
                        "traceback).")
    content: ContentState | None = Field(None, description="Releases from the fleet; null when content.url is not "
                                         "set.")


class Error(Envelope):
    """Topic <root>/<site>/<device>/error, QoS 1, not retained: a command that was refused
    (it changed nothing)."""

    topic: str = text(200, description="The command topic (at most 200 characters).")
    error: str = text(500, description="Why it was refused and what is allowed; a retained command is always "
                      "refused: commands act once.")


MESSAGES: dict[str, type[Envelope]] = {"metrics": Metrics, "play": Play, "totals": PlayTotals, "status": Status,
                                     "error": Error}
