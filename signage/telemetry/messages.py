"""The MQTT messages, as pydantic models: the single source of their JSON Schemas
(docs/mqtt.md is generated from them) and of the checks the tests make on every
payload published."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def payload(self) -> dict:
        """The message as it goes on the wire (JSON types, `schema` under its own name)."""
        return self.model_dump(mode="json", by_alias=True)


class Envelope(Message):
    """What every device message starts with."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: int = Field(SCHEMA_VERSION, alias="schema", description="Message format version.")
    site: str
    device: str


class Suppressed(Message):
    suppressed: Literal[True] = True


class Impressions(Message):
    plays: int = Field(ge=0, description="Times the creative started.")
    viewed: int | None = Field(ge=0, description="Plays with at least one viewer looking; null unless the "
                               "interval had at least min_group viewers.")


class Histogram(Message):
    buckets: list[str] = Field(description="Bucket labels in seconds, e.g. '0-1', '1-3', ..., '60+'.")
    counts: list[int] = Field(description="People per bucket.")


class InferenceMs(Message):
    p50: float
    p95: float


class Metrics(Envelope):
    """Topic <root>/<site>/<device>/metrics, QoS 1, every interval.

    No metrics message says anything about fewer than `privacy.min_group` people: the
    counts `passers`, `viewers` and `peak_faces` are null while they are below min_group
    (0 included, or null against 0 would still tell 1 or 2 people from nobody), the
    ratios and breakdowns drawn from them are null or `{"suppressed": true}`, and
    `impressions.viewed` is null below min_group viewers.
    """

    id: str = Field(description="Unique message id (UUID4): consumers deduplicate on it.")
    start: str = Field(description="Interval start, UTC ISO 8601.")
    end: str = Field(description="Interval end, UTC ISO 8601.")
    passers: int | None = Field(ge=0, description="Opportunity to see: confirmed tracks that ended in the interval; "
                                "null below min_group (including none), so that no interval tells that one or two "
                                "people passed.")
    viewers: int | None = Field(ge=0, description="Watchers: passers who looked at the screen for at least 1 s; "
                                "null below min_group (including none).")
    conversion: float | None = Field(description="viewers / passers; null unless both are published (min_group "
                                     "each): with passers, it would give a withheld viewers count back.")
    attraction: float | None = Field(description="Looking time / dwell time of the passers; null unless both "
                                     "passers and viewers are published.")
    peak_faces: int | None = Field(ge=0, description="Most people in view at once; null below min_group "
                                   "(including none).")
    distance: dict[str, int] | Suppressed = Field(description="Passers by nearest zone: near (<2 m), mid, far.")
    dwell: Histogram | Suppressed = Field(description="Passers by dwell time.")
    attention: Histogram | Suppressed = Field(description="Viewers by looking time.")
    expressions: dict[str, int] | Suppressed = Field(description="Viewers by dominant expression while looking.")
    impressions: dict[str, Impressions] = Field(description="Per creative id as published in the play messages "
                                                "('audience' for withheld audience plays).")
    frames: int = Field(ge=0, description="Frames analysed.")
    dropped_frames: int = Field(ge=0, description="Camera frames skipped because analysis was busy.")
    inference_ms: InferenceMs | None = Field(description="Vision time per analysed frame; null without frames.")


class Play(Envelope):
    """Topic <root>/<site>/<device>/play, QoS 1: proof of play, one per creative shown.

    Its start, end, length and how it ended are always published: that is the proof of
    play. What a play says about the people in front of the screen is
    published only when enough of them were there, so that no play record tells
    anything about fewer than `privacy.min_group` people:

    - `peak_faces`, `mean_faces`: null unless at least min_group people were in view at once;
    - `peak_viewers`, `looking_seconds`: null, and `expressions` suppressed, unless at
      least min_group people looked at the screen at once;
    - `rule` and `creative`: the id of a rule with audience conditions (faces, looking,
      dwell, attention, expression), and the creative it chose, are both replaced by
      `"audience"` unless both hold, because the rule's conditions describe the people
      who triggered it, and a creative that only that rule plays says the same. Plays
      chosen without audience conditions (the default loop, dayparts, commands) are
      always named. What remains of a withheld audience play is that the screen played
      something its audience chose, and when.
    """

    id: str = Field(description="Unique message id (UUID4): consumers deduplicate on it.")
    creative: str = Field(description="The creative id, or 'audience' for a creative an audience rule chose "
                          "while fewer than min_group people were there.")
    rule: str = Field(description="The rule that chose it, 'default', 'command', or 'audience' (an audience "
                      "rule, withheld because fewer than min_group people were there).")
    start: str
    end: str
    seconds: float
    ended: Literal["duration", "interrupted", "error", "removed", "stopped"]
    peak_faces: int | None = Field(description="Most people in view at once; null below min_group.")
    mean_faces: float | None = Field(description="Mean people in view; null when peak_faces is.")
    peak_viewers: int | None = Field(description="Most people looking at once; null below min_group.")
    looking_seconds: float | None = Field(description="Person-seconds of looking; null when peak_viewers is.")
    expressions: dict[str, float] | Suppressed = Field(
        description="Person-seconds of looking by expression; suppressed unless min_group people looked at once.")


class Status(Envelope):
    """Topic <root>/<site>/<device>/status, retained, QoS 1."""

    version: str
    lock: str | None = Field(None, pattern=r"^[0-9a-f]{12}$", description="Short sha256 of the uv.lock the kiosk was "
                             "installed from (`signage --version` prints it); null when not installed by `make`.")
    uptime_s: int
    playing: str | None = Field(description="The creative the schedule (default loop, dayparts, commands) has on "
                                "screen; null for the fallback card. Content an audience rule chose is never "
                                "shown: the field keeps its value meanwhile, since a change the moment such a "
                                "rule fires would tell that someone is in front of the screen.")
    camera: str = Field(description="ok, retrying, gone, ended, stalled (no inference result for "
                        "vision.inference_timeout), off (privacy) or error.")
    camera_format: str | None = Field(None, description="What the camera negotiated, e.g. '1280x720 MJPG at "
                                      "30 fps'; null for files or before the camera opened.")
    edgetpu: str | None = Field(None, description="'in use (...)' or 'not in use: <why>' when "
                                "vision.delegate is edgetpu; null otherwise.")
    playlist: str = Field(description="'ok', or 'rejected: <messages>' while a broken edit is ignored.")
    privacy: bool
    display: str = Field(description="ok, off (power schedule), lost (display gone) or starting.")
    broker: str = Field(description="connected, connecting, or why not; stopped (clean exit) or disconnected "
                        "(unclean exit) in the final status.")
    spool: str = Field("ok", description="The on-disk spool: ok; 'disk full' or 'error: <why>' (messages are held in "
                       "memory meanwhile); 'unusable: <why>' (it cannot be opened); 'recovered: <what>' (a damaged "
                       "file was moved aside and its readable messages kept).")
    spool_depth: int = Field(ge=0, description="Messages in the spool, waiting for the broker.")
    spool_held: int = Field(0, ge=0, description="Messages held in memory, not yet in the spool.")
    spool_dropped: int = Field(ge=0, description="Messages dropped, oldest first, because the spool reached its size "
                               "cap or the memory hold overflowed while the spool could not be written.")
    last_error: str | None = Field(description="The newest problem that is still going on, or null.")
    problems: list[str] = Field([], description="Every problem going on now, oldest first.")
    faults: int = Field(0, description="Unexpected faults survived since start (logged with a traceback).")


class Error(Envelope):
    """Topic <root>/<site>/<device>/error, QoS 1, not retained: a command that was refused
    (it changed nothing)."""

    topic: str = Field(description="The command topic (at most 200 characters).")
    error: str = Field(description="Why it was refused and what is allowed; a retained command is always refused: "
                       "commands act once.")


MESSAGES = {"metrics": Metrics, "play": Play, "status": Status, "error": Error}
