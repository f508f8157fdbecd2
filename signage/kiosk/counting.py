"""What the kiosk counts and sends: the audience into the metrics aggregator, proof of
play and the interval's metrics out to telemetry, as payloads built from the message
models. Main thread only."""

from __future__ import annotations

from signage.audience import AudienceState
from signage.telemetry.metrics import play_message
from signage.wire.messages import Message


def count_audience(kiosk) -> AudienceState:
    """The snapshots vision handed over since the last call into the aggregator; the
    newest smoothed audience state for the rules."""
    state, snapshots = kiosk.handoff.take()
    for snapshot in snapshots:
        kiosk.aggregator.add_snapshot(snapshot)
    kiosk.aggregator.add_dropped_frames(kiosk.vision.dropped_since_last() + kiosk.handoff.take_lost())
    return state


def send_plays(kiosk) -> None:
    records, kiosk.player.records = kiosk.player.records, []
    config = kiosk.config
    for record in records:  # the proof of play first: a fault in counting must not lose it
        message = play_message(record, config.site, config.device, config.privacy.min_group)
        send(kiosk, "play", message)
        # Impressions count the creative under the name the play was published with: a
        # withheld audience play counts as "audience", never under its creative's name.
        kiosk.barrier.run("impressions", kiosk.aggregator.add_play, message.creative, record.peak_looking >= 1)


def send_metrics(kiosk) -> None:
    """The interval so far, as a metrics message; a new interval begins."""
    send(kiosk, "metrics", kiosk.aggregator.flush(kiosk.wall(), kiosk.clock()))


def send(kiosk, kind: str, message: Message) -> None:
    if kiosk.telemetry is not None:
        kiosk.telemetry.send(kind, message.payload())  # never raises: telemetry holds what it cannot spool
