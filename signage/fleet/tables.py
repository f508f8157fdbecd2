"""The database tables (SQLAlchemy Core). Changes go with a migration in migrations/versions.

Raw rows (metrics, plays, status history) are kept for `retention_days`; the rollups
(per screen per hour, per creative per screen per day) are kept for good and are what
reports read. Timestamps are naive UTC.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID = sa.String(64)  # message ids are UUID4 text; bounded so a hostile id cannot bloat an index
NAME = sa.String(64)

screens = sa.Table(
    "screens", metadata,
    sa.Column("site", NAME, primary_key=True),
    sa.Column("device", NAME, primary_key=True),
    sa.Column("availability", sa.String(16)),  # online / stopped / offline, None until heard
    sa.Column("availability_since", sa.DateTime),
    sa.Column("last_seen", sa.DateTime),
    sa.Column("version", sa.String(32)),
    sa.Column("lock", sa.String(16)),  # the short hash of the uv.lock the kiosk was installed from
    sa.Column("uptime_s", sa.Integer),
    sa.Column("playing", NAME),
    sa.Column("camera", sa.String(32)),
    sa.Column("display", sa.String(32)),
    sa.Column("broker", sa.String(200)),
    sa.Column("playlist", sa.Text),
    sa.Column("creatives", sa.Text),  # JSON list: the creative ids of the current playlist, from the status
    sa.Column("content", sa.Text),  # JSON: the status's content rollout (wire/messages.py ContentState)
    sa.Column("privacy", sa.Boolean),
    sa.Column("spool_depth", sa.Integer),
    sa.Column("spool_dropped", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("status_at", sa.DateTime),
    sa.Column("refusal", sa.Text),  # the device's last refused command
    sa.Column("refusal_topic", sa.String(200)),
    sa.Column("refusal_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, index=True),  # what the live page polls
)

screen_states = sa.Table(
    "screen_states", metadata,
    sa.Column("site", NAME, primary_key=True),
    sa.Column("device", NAME, primary_key=True),
    sa.Column("feature", sa.String(32), primary_key=True),
    sa.Column("value", NAME, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

status_history = sa.Table(
    "status_history", metadata,
    sa.Column("row", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", NAME, nullable=False),
    sa.Column("device", NAME, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_status_history_screen", "site", "device", "at"),
)

metrics = sa.Table(
    "metrics", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("site", NAME, nullable=False),
    sa.Column("device", NAME, nullable=False),
    sa.Column("start", sa.DateTime, nullable=False),
    sa.Column("end", sa.DateTime, nullable=False),
    # NULL when the kiosk withheld them: fewer than privacy.min_group people (docs/mqtt.md, metrics)
    sa.Column("passers", sa.Integer),
    sa.Column("viewers", sa.Integer),
    sa.Column("peak_faces", sa.Integer),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Index("ix_metrics_screen_start", "site", "device", "start"),
    sa.Index("ix_metrics_start", "start"),
)

plays = sa.Table(
    "plays", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("site", NAME, nullable=False),
    sa.Column("device", NAME, nullable=False),
    sa.Column("creative", NAME, nullable=False),
    sa.Column("rule", sa.String(128), nullable=False),
    sa.Column("start", sa.DateTime, nullable=False),
    sa.Column("end", sa.DateTime, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("ended", sa.String(16), nullable=False),
    # NULL when the kiosk withheld them: fewer than privacy.min_group people (docs/mqtt.md, play)
    sa.Column("peak_faces", sa.Integer),
    sa.Column("mean_faces", sa.Float),
    sa.Column("peak_viewers", sa.Integer),
    sa.Column("looking_seconds", sa.Float),
    sa.Column("expressions", sa.Text),  # JSON person-seconds by expression; NULL when suppressed
    sa.Column("ots", sa.Integer),  # distinct people in view; NULL when withheld or sent before revision 0011
    sa.Column("viewers", sa.Integer),  # distinct people who looked 1 s or more; likewise
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Index("ix_plays_screen_start", "site", "device", "start"),
    sa.Index("ix_plays_start", "start"),
)

# Proof of play released in aggregate (the kiosk's `totals` message): one row per creative
# of a message, for the plays that depended on fewer than min_group people.
play_totals = sa.Table(
    "play_totals", metadata,
    sa.Column("id", ID, primary_key=True),  # the message id
    sa.Column("creative", NAME, primary_key=True),  # or "audience": only seconds, of a day with too few passers
    sa.Column("site", NAME, nullable=False),
    sa.Column("device", NAME, nullable=False),
    sa.Column("period", sa.String(8), nullable=False),  # hour or day
    sa.Column("start", sa.DateTime, nullable=False),
    sa.Column("end", sa.DateTime, nullable=False),
    sa.Column("plays", sa.Integer),  # NULL under "audience"
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Index("ix_play_totals_screen_start", "site", "device", "start"),
    sa.Index("ix_play_totals_end", "end"),
    sa.Index("ix_play_totals_creative_start", "creative", "start"),  # a creative's, or the quiet days'
)

screen_hours = sa.Table(
    "screen_hours", metadata,
    sa.Column("site", NAME, primary_key=True),
    sa.Column("device", NAME, primary_key=True),
    sa.Column("hour", sa.DateTime, primary_key=True),
    sa.Column("intervals", sa.Integer, nullable=False, server_default="0"),
    # intervals whose passers were withheld (fewer than min_group, including none): never summed
    sa.Column("withheld_intervals", sa.Integer, nullable=False, server_default="0"),
    # intervals whose viewers were withheld (fewer than min_group): their viewers are not in `viewers`
    sa.Column("viewers_withheld_intervals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("passers", sa.Integer, nullable=False, server_default="0"),
    sa.Column("viewers", sa.Integer, nullable=False, server_default="0"),
    # viewers of intervals whose expression breakdown was suppressed (fewer than min_group)
    sa.Column("viewers_unbroken", sa.Integer, nullable=False, server_default="0"),
    sa.Column("peak_faces", sa.Integer, nullable=False, server_default="0"),
    # frames of the intervals whose passers were published: the others withheld theirs too
    sa.Column("frames", sa.Integer, nullable=False, server_default="0"),
    sa.Column("dropped_frames", sa.Integer, nullable=False, server_default="0"),
    sa.Column("plays", sa.Integer, nullable=False, server_default="0"),
    sa.Column("play_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("looking_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Index("ix_screen_hours_hour", "hour"),
)

screen_hour_expressions = sa.Table(
    "screen_hour_expressions", metadata,
    sa.Column("site", NAME, primary_key=True),
    sa.Column("device", NAME, primary_key=True),
    sa.Column("hour", sa.DateTime, primary_key=True),
    sa.Column("expression", sa.String(32), primary_key=True),
    sa.Column("viewers", sa.Integer, nullable=False, server_default="0"),
)

creative_days = sa.Table(
    "creative_days", metadata,
    sa.Column("site", NAME, primary_key=True),
    sa.Column("device", NAME, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("creative", NAME, primary_key=True),
    sa.Column("plays", sa.Integer, nullable=False, server_default="0"),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("viewed_plays", sa.Integer, nullable=False, server_default="0"),
    sa.Column("peak_viewers", sa.Integer, nullable=False, server_default="0"),  # summed over plays
    sa.Column("looking_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("looking_squares", sa.Float, nullable=False, server_default="0"),  # for the CI
    # plays whose expression mix was not published (audience withheld, mix withheld, or released in aggregate)
    sa.Column("suppressed_plays", sa.Integer, nullable=False, server_default="0"),
    # plays whose looking figures were published: what looking_seconds is summed over (attention's denominator)
    sa.Column("measured_plays", sa.Integer, nullable=False, server_default="0"),
    # looking seconds of the plays whose expression breakdown was published
    sa.Column("expressed_seconds", sa.Float, nullable=False, server_default="0"),
    # impressions: per-play OTS (distinct people in view) summed over the plays that published it
    sa.Column("impressions", sa.Integer, nullable=False, server_default="0"),
    sa.Column("ots_plays", sa.Integer, nullable=False, server_default="0"),
    # viewed impressions: per-play viewers (distinct, looked 1 s or more) summed likewise
    sa.Column("viewed_impressions", sa.Integer, nullable=False, server_default="0"),
    sa.Column("viewer_plays", sa.Integer, nullable=False, server_default="0"),
    # plays released in aggregate (the kiosk's totals): no audience figure (revision 0014)
    sa.Column("released_plays", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_creative_days_day", "day", "creative"),
)

creative_day_expressions = sa.Table(
    "creative_day_expressions", metadata,
    sa.Column("site", NAME, primary_key=True),
    sa.Column("device", NAME, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("creative", NAME, primary_key=True),
    sa.Column("expression", sa.String(32), primary_key=True),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
)

# The same per creative per *site* per day: what fleet-wide and per-site reports read, so a
# 30-day report over 500 screens sums thousands of rows, not hundreds of thousands.
creative_site_days = sa.Table(
    "creative_site_days", metadata,
    sa.Column("site", NAME, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("creative", NAME, primary_key=True),
    *[sa.Column(c.name, c.type, nullable=False, server_default="0") for c in creative_days.columns
      if not c.primary_key],
    sa.Index("ix_creative_site_days_day", "day", "creative"),
)

creative_site_day_expressions = sa.Table(
    "creative_site_day_expressions", metadata,
    sa.Column("site", NAME, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("creative", NAME, primary_key=True),
    sa.Column("expression", sa.String(32), primary_key=True),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
)

commands = sa.Table(
    "commands", metadata,
    sa.Column("row", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", NAME, nullable=False),
    sa.Column("device", NAME, nullable=False),
    sa.Column("feature", sa.String(32), nullable=False),
    sa.Column("value", NAME, nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
    # recorded before it is published: sending, then sent or "not sent" (with the error)
    sa.Column("state", sa.String(16), nullable=False, server_default="sent"),
    sa.Column("error", sa.Text),
    sa.Index("ix_commands_screen", "site", "device", "sent_at"),
)

counters = sa.Table(
    "counters", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False, server_default="0"),
)

# Valid messages the database would not store (a fault of ours, or of a database limit the
# message models do not know): kept with the reason so nothing is lost silently, and
# acknowledged so that they never block the ingest. Purged with the raw rows; at most
# DEAD_LETTER_ROWS kept, each payload cut to DEAD_LETTER_PAYLOAD characters.
dead_letters = sa.Table(
    "dead_letters", metadata,
    sa.Column("row", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("site", NAME, nullable=False),
    sa.Column("device", NAME, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),  # bytes as received; the payload kept may be cut
    sa.Column("payload", sa.Text, nullable=False),
    sa.Index("ix_dead_letters_received_at", "received_at"),
)

# What the availability report reads: each change of a screen's availability (online,
# stopped, offline), display and camera, with the time the fleet heard it. Written at
# ingest, only on a change; kept `retention_days`, but always the newest per screen and
# feature (the state a report starts from). Stays when a screen retires (it is a report).
screen_transitions = sa.Table(
    "screen_transitions", metadata,
    sa.Column("row", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", NAME, nullable=False),
    sa.Column("device", NAME, nullable=False),
    sa.Column("feature", sa.String(16), nullable=False),  # availability, display, camera
    sa.Column("value", sa.String(32), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_screen_transitions_screen", "site", "device", "at"),
    sa.Index("ix_screen_transitions_at", "at"),
)

# Alerts (alerter.py): one row per alert of a screen and rule, open until its
# condition ends (recovered_at). `notified`: the alert was sent (not within the quiet
# period of the one before); `delivery`: how its notices went, channel by channel.
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("row", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", NAME, nullable=False),
    sa.Column("device", NAME, nullable=False),
    sa.Column("rule", sa.String(16), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("recovered_at", sa.DateTime),
    sa.Column("notified_at", sa.DateTime),
    sa.Column("delivery", sa.String(500), nullable=False, server_default=""),
    sa.Index("ix_alerts_screen_rule", "site", "device", "rule", "started_at"),
    sa.Index("ix_alerts_started_at", "started_at"),
)

# Leases (lease.py): work that must run once per database, however many `signage fleet`
# processes share it (the alerts' evaluations): who holds each, and until when.
leases = sa.Table(
    "leases", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("holder", sa.String(100), nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)
