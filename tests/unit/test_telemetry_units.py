import datetime as dt
import threading

import pytest

from signage.audience import AudienceSnapshot, Face, StageTimes, TrackSummary
from signage.contributors import Contributions
from signage.playlist.player import PlayRecord
from signage.telemetry.metrics import Aggregator, play_message
from signage.telemetry.spool import Spool
from signage.wire.messages import Metrics, Play

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
ROOT = "signage/lab/kiosk-1"


def ended(dwell, looking, expression="happy", zone="mid"):
    return TrackSummary(dwell_s=dwell, looking_s=looking, expression=expression, zone=zone)


def face(track=1):
    return Face(box=(0.1, 0.1, 0.2, 0.3), score=0.9, expressions=None, looking=True, yaw=0, pitch=0,
                distance_m=2.5, zone="mid", track=track)


@pytest.mark.parametrize("passers,viewers", [(10, 1), (3, 2), (5, 0), (2, 2)])
def test_ratios_never_give_a_withheld_count_back(passers, viewers):
    """conversion = viewers / passers: published with min_group passers but fewer viewers,
    it would give the withheld viewers count back (x passers)."""
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    looked = tuple(ended(10, 5) for _ in range(viewers))
    passed = tuple(ended(10, 0.2, None) for _ in range(passers - viewers))
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=looked + passed))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert message["viewers"] is None
    assert message["conversion"] is None and message["attraction"] is None


def test_metrics_totals_ratios_and_histograms():
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_snapshot(AudienceSnapshot(t=1, faces=(face(1), face(2)), times=StageTimes(total=4.0)))
    aggregator.add_snapshot(AudienceSnapshot(t=2, ended=(ended(5, 4), ended(6, 3), ended(8, 4), ended(7, 0.2, None),
                                                           ended(9, 5, "happy")),
                                             times=StageTimes(total=6.0)))
    aggregator.add_play("welcome", crowd({1: 5.0, 2: 4.0, 3: 3.0}))
    aggregator.add_play("welcome", Contributions())
    aggregator.add_dropped_frames(3)
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    Metrics.model_validate(message)
    assert (message["passers"], message["viewers"]) == (5, 4)
    assert message["conversion"] == 0.8
    assert message["attraction"] == round((4 + 3 + 4 + 0.2 + 5) / (5 + 6 + 8 + 7 + 9), 3)
    assert message["peak_faces"] is None, "two faces at once is below min_group"
    assert message["frames"] == 2 and message["dropped_frames"] == 3
    assert message["distance"] == {"near": 0, "mid": 5, "far": 0}
    assert message["dwell"]["counts"] == [0, 0, 5, 0, 0, 0]
    assert message["attention"] == {"buckets": ["1-3", "3-10", "10-30", "30-60", "60+"], "counts": [0, 4, 0, 0, 0]}
    assert message["expressions"]["happy"] == 4 and message["expressions"]["neutral"] == 0
    assert message["impressions"] == {"welcome": {"plays": 2, "viewed": 1}}
    assert message["start"] == "2026-11-23T10:00:00Z" and message["end"] == "2026-11-23T10:01:00Z"
    assert message["inference_ms"] == {"p50": 4.0, "p95": 6.0}, "published with the passers"
    following = aggregator.flush(T0 + dt.timedelta(seconds=120), 120.0).payload()
    assert following["passers"] is None and following["id"] != message["id"]
    assert following["start"] == message["end"]


def test_an_expression_one_viewer_fills_suppresses_the_interval_mix():
    """Three viewers, one of them happy: `happy: 1` would be that viewer's face, which
    the plays' rule forbids (contributors.mix_publishable); the whole mix goes, or the
    cell would come back as the difference to the viewers."""
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4, "neutral"), ended(5, 4, "neutral"),
                                                          ended(5, 4, "neutral"), ended(5, 4, "happy"))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert message["viewers"] == 4 and message["expressions"] == {"suppressed": True}
    aggregator.add_snapshot(AudienceSnapshot(t=61, ended=tuple(ended(5, 4, "neutral") for _ in range(3))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=120), 120.0).payload()
    assert message["expressions"]["neutral"] == 3 and message["expressions"]["happy"] == 0, "no one's own cell"


@pytest.mark.parametrize("lone,suppressed", [
    (ended(45, 4), "dwell"),  # the one who stayed 30-60 s
    (ended(5, 4, "happy", "near"), "distance"),  # the one who came near
    (ended(8, 2), "attention"),  # the one who looked only 1-3 s
])
def test_a_histogram_cell_of_one_person_suppresses_it_whole(lone, suppressed):
    """Four passers, one of them alone in a cell: that cell is a figure about one person,
    and the rest of the breakdown would give it back as the difference to the total."""
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4), ended(6, 4), ended(7, 4), lone)))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert message["passers"] == 4 and message["viewers"] == 4, "the totals stay"
    assert message[suppressed] == {"suppressed": True}
    for key in {"distance", "dwell", "attention"} - {suppressed}:
        assert message[key] != {"suppressed": True}, f"{key} has no cell of one"
    Metrics.model_validate(message)


def test_histogram_cells_of_min_group_people_are_published():
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=tuple(ended(5, 2, "neutral", "near") for _ in range(3))
                                             + tuple(ended(40, 20, "neutral", "far") for _ in range(3))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert message["distance"] == {"near": 3, "mid": 0, "far": 3}
    assert message["dwell"]["counts"] == [0, 0, 3, 0, 3, 0]
    assert message["attention"]["counts"] == [3, 0, 3, 0, 0]


@pytest.mark.parametrize("dwell,looking", [
    ((62, 40, 40), (60, 1, 1)),  # one viewer's 60 s of the 62 looked: attraction would be theirs
    ((300, 5, 5, 5), (1, 2, 2, 2)),  # one passer's 300 s of the 315 spent there, hardly looking
])
def test_attraction_that_one_person_dominates_is_withheld(dwell, looking):
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=tuple(ended(d, v) for d, v in zip(dwell, looking))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert message["passers"] == len(dwell) and message["viewers"] == len(dwell)
    assert message["attraction"] is None
    Metrics.model_validate(message)


def test_breakdowns_from_too_few_people_are_suppressed_totals_kept():
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4), ended(3, 2))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert (message["passers"], message["viewers"]) == (None, None), "two people are below min_group"
    for key in ("distance", "dwell", "attention", "expressions"):
        assert message[key] == {"suppressed": True}
    assert message["conversion"] is None and message["attraction"] is None, "two people's attention is theirs"
    Metrics.model_validate(message)


def crowd(looking: dict[int, float], expression: str = "happy", present: dict[int, float] | None = None):
    """Who was in front of a play: seconds looking per track (in view as long, unless told)."""
    return Contributions(present=dict(present or looking), looking=dict(looking),
                         expressions={expression: dict(looking)})


PLAY = PlayRecord(creative="smile-back", rule="smiles", start="2026-11-23T10:00:00Z", end="2026-11-23T10:00:06Z",
                  seconds=6.0, ended="duration", peak_faces=1, mean_faces=1.0, peak_looking=1,
                  looking_seconds=5.5, expressions={"happy": 5.5}, audience=True, people=crowd({1: 5.5}))


@pytest.mark.parametrize("faces,looking", [(1, 1), (2, 2), (5, 1), (5, 2), (2, 0), (0, 0)])
def test_a_play_says_nothing_about_fewer_than_min_group_people(faces, looking):
    who = crowd({track: 5.5 for track in range(looking)}, present={track: 6.0 for track in range(faces)})
    record = PlayRecord(**{**PLAY.__dict__, "peak_faces": faces, "peak_looking": looking, "people": who})
    message = play_message(record, "lab", "kiosk-1", min_group=3).payload()
    Play.model_validate(message)
    assert message["seconds"] == 6.0 and message["start"] == PLAY.start, "the proof of play stays"
    assert message["rule"] == "audience", "the audience rule's name would say what the few people did"
    assert message["creative"] == "audience", "so would a creative that only that rule plays"
    assert message["expressions"] == {"suppressed": True}
    assert message["peak_viewers"] is None and message["looking_seconds"] is None and message["viewers"] is None
    assert "looking" in message["withheld"] and "expressions" in message["withheld"]
    if faces < 3:
        assert message["peak_faces"] is None and message["mean_faces"] is None and message["ots"] is None
    else:
        assert (message["peak_faces"], message["ots"]) == (faces, faces)


def test_a_play_before_a_crowd_is_published_in_full():
    who = crowd({1: 2.0, 2: 2.0, 3: 1.5}, present={1: 6.0, 2: 6.0, 3: 6.0, 4: 3.0})
    record = PlayRecord(**{**PLAY.__dict__, "peak_faces": 4, "peak_looking": 3, "people": who})
    message = play_message(record, "lab", "kiosk-1", 3).payload()
    Play.model_validate(message)
    assert (message["rule"], message["creative"], message["peak_viewers"], message["expressions"]) == \
        ("smiles", "smile-back", 3, {"happy": 5.5})
    assert (message["ots"], message["viewers"], message["withheld"]) == (4, 3, [])


def test_one_person_who_dominates_a_play_withholds_its_figures():
    """The issue's play: three people looked for 1 s, then one of them alone for 19 s,
    smiling. The peak was 3, but 19 of the 22 looking seconds are one person's smile:
    published, the figures would be that person's. Withheld, whoever the rule was."""
    who = crowd({1: 20.0, 2: 1.0, 3: 1.0}, present={1: 20.0, 2: 1.0, 3: 1.0})
    who.expressions = {"happy": {1: 19.0}, "neutral": {1: 1.0, 2: 1.0, 3: 1.0}}
    for rule, audience in (("default", False), ("smiles", True)):
        record = PlayRecord(**{**PLAY.__dict__, "rule": rule, "audience": audience, "seconds": 20.0,
                               "end": "2026-11-23T10:00:20Z", "peak_faces": 3, "mean_faces": 1.1, "peak_looking": 3,
                               "looking_seconds": 22.0, "expressions": {"happy": 19.0, "neutral": 3.0},
                               "people": who})
        message = play_message(record, "lab", "kiosk-1", 3).payload()
        Play.model_validate(message)
        for key in ("ots", "peak_faces", "mean_faces", "viewers", "peak_viewers", "looking_seconds"):
            assert message[key] is None, key
        assert message["expressions"] == {"suppressed": True}
        assert message["withheld"] == ["people", "looking", "expressions"]
        assert message["creative"] == ("audience" if audience else "smile-back")


def test_an_expression_one_person_fills_suppresses_the_mix():
    """Three viewers, evenly: the looking figures are theirs together; but only one of
    them was happy, and the mix would say so."""
    who = crowd({1: 4.0, 2: 4.0, 3: 4.0}, "neutral")
    who.expressions = {"neutral": {1: 4.0, 2: 4.0}, "happy": {3: 4.0}}
    record = PlayRecord(**{**PLAY.__dict__, "rule": "default", "audience": False, "peak_faces": 3, "mean_faces": 2.0,
                           "peak_looking": 3, "looking_seconds": 12.0, "expressions": {"neutral": 8.0, "happy": 4.0},
                           "people": who})
    message = play_message(record, "lab", "kiosk-1", 3).payload()
    assert (message["viewers"], message["looking_seconds"]) == (3, 12.0)
    assert message["expressions"] == {"suppressed": True} and message["withheld"] == ["expressions"]


@pytest.mark.parametrize("rule,audience,shown", [
    ("default", False, "default"),
    ("command", False, "command"),
    ("mornings", False, "mornings"),  # a daypart rule says nothing about people
    ("smiles", True, "audience"),
    ("command", True, "audience"),  # an audience rule that happens to be called `command`
])
def test_only_rules_without_audience_conditions_are_named_below_min_group(rule, audience, shown):
    record = PlayRecord(**{**PLAY.__dict__, "rule": rule, "audience": audience})
    message = play_message(record, "lab", "kiosk-1", 3).payload()
    assert message["rule"] == shown


def test_impressions_say_which_creative_was_viewed_only_for_enough_viewers():
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_play("smile-back", crowd({1: 4.0}))
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4),)))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert message["impressions"]["smile-back"] == {"plays": 1, "viewed": None}
    Metrics.model_validate(message)
    aggregator.add_play("smile-back", crowd({1: 4.0, 2: 3.0, 3: 2.0}))
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4), ended(4, 3), ended(6, 2))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=120), 120.0).payload()
    assert message["impressions"]["smile-back"] == {"plays": 1, "viewed": 1}


def test_a_creative_viewed_by_fewer_than_min_group_is_withheld_in_a_busy_interval():
    """The interval had three viewers, but the promo's one play was looked at by one of
    them (its play's viewers withheld): `viewed = 1` beside it would say that play had
    a viewer or two, and what they watched. Per creative, the same rule as per play."""
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_play("promo", crowd({1: 4.0}))
    aggregator.add_play("welcome", crowd({1: 2.0, 2: 3.0, 3: 3.0}))
    aggregator.add_play("welcome", crowd({2: 1.0, 3: 9.0}))  # over both plays, track 3 has 12 s of 18: dominant
    aggregator.add_play("lobby", crowd({1: 2.0, 2: 3.0, 3: 3.0}))
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4), ended(4, 3), ended(20, 15))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    Metrics.model_validate(message)
    assert message["viewers"] == 3
    assert message["impressions"]["promo"] == {"plays": 1, "viewed": None}
    assert message["impressions"]["welcome"] == {"plays": 2, "viewed": None}
    assert message["impressions"]["lobby"] == {"plays": 1, "viewed": 1}


def test_the_vision_figures_are_withheld_with_the_counts():
    """Analysis takes longer with more faces in view, so fewer frames are analysed and
    more are dropped once it is the bottleneck: an interval whose people are withheld
    withholds its inference time, frames and dropped frames too."""
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_snapshot(AudienceSnapshot(t=1, faces=(face(1), face(2)), ended=(ended(5, 4), ended(3, 2)),
                                             times=StageTimes(total=9.0)))
    aggregator.add_dropped_frames(4)
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    Metrics.model_validate(message)
    assert message["passers"] is None and message["inference_ms"] is None
    assert message["frames"] is None and message["dropped_frames"] is None
    aggregator.add_snapshot(AudienceSnapshot(t=61, ended=(ended(5, 4), ended(3, 2), ended(4, 1)),
                                             times=StageTimes(total=9.0)))
    aggregator.add_dropped_frames(4)
    message = aggregator.flush(T0 + dt.timedelta(seconds=120), 120.0).payload()
    assert message["passers"] == 3 and (message["frames"], message["dropped_frames"]) == (1, 4)


def test_spool_keeps_order_across_reopen_and_acks(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    rows = [spool.put("t", f"m{i}".encode()) for i in range(5)]
    spool.ack(rows[1])
    spool.close()
    again = Spool(tmp_path / "s.sqlite3")
    assert [m.payload for m in again.oldest(10)] == [b"m0", b"m2", b"m3", b"m4"]
    assert [m.payload for m in again.oldest(2, after=rows[2])] == [b"m3", b"m4"]


def test_a_full_spool_drops_the_oldest_and_counts_them(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3", max_bytes=1000)
    for i in range(100):
        spool.put("t", b"%03d" % i + b"x" * 47)
    remaining = [int(m.payload[:3]) for m in spool.oldest(1000)]
    assert remaining == list(range(100 - len(remaining), 100)), "the newest survive, in order"
    assert spool.dropped == 100 - len(remaining) > 0
    spool.close()
    assert Spool(tmp_path / "s.sqlite3").dropped == 100 - len(remaining), "the count survives a restart"


def test_spool_put_and_ack_from_two_threads(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    done = threading.Event()

    def acker():
        while not done.is_set() or spool.depth:
            for message in spool.oldest(50):
                spool.ack(message.row)

    thread = threading.Thread(target=acker)
    thread.start()
    for _ in range(2000):
        spool.put("t", b"x")
    done.set()
    thread.join(timeout=10)
    assert spool.depth == 0


def test_a_process_killed_mid_write_leaves_a_sound_spool(tmp_path):
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    path = tmp_path / "s.sqlite3"
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys\nfrom signage.telemetry.spool import Spool\ns = Spool(sys.argv[1])\ni = 0\n"
        "while True:\n    s.put('t', str(i).encode() * 50)\n    i += 1\n"), str(path)])
    time.sleep(1.5)
    writer.send_signal(signal.SIGKILL)  # as close to pulling the plug as a test gets
    writer.wait()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    spool = Spool(path)
    values = [int(m.payload[: len(m.payload) // 50]) for m in spool.oldest(10**6)]
    assert values and values == list(range(len(values))), "every committed message, in order"


@pytest.mark.parametrize("url,reason", [
    ("ftp://x", "use mqtt://host:port"), ("mqtt://h:70000", "1 to 65535"), ("mqtt://h:abc", "1 to 65535"),
    ("not a url at all", "is not a host name"), ("mqtt://", "is not a host name"),
])
def test_bad_broker_urls_are_a_config_error(url, reason, tmp_path):
    from signage.config import MqttConfig
    from signage.errors import ConfigError
    from signage.telemetry.mqtt import Telemetry

    with pytest.raises(ValueError):
        MqttConfig(url=url)  # the config refuses it first (signage check reports it) ...
    with pytest.raises(ConfigError, match=reason):  # ... and telemetry again, whoever builds it
        Telemetry(MqttConfig.model_construct(url=url), "lab", "kiosk-1", tmp_path / "s.sqlite3")


@pytest.mark.parametrize("where", ["under_a_file", "non_empty_directory"])
def test_an_unusable_spool_holds_in_memory_bounded_and_counted(where, tmp_path):
    from signage.config import MqttConfig
    from signage.telemetry.mqtt import Telemetry

    if where == "under_a_file":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "spool.sqlite3"
    else:
        path = tmp_path / "spool.sqlite3"
        path.mkdir()
        (path / "keep-me").write_text("someone's data")
    device = Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "kiosk-1", path, hold_max=10)
    for i in range(25):
        device.send("metrics", {"id": i})
    health = device.health()
    assert health.spool.startswith("unusable: ")
    assert str(path.parent if where == "under_a_file" else path) in health.spool
    assert (health.held, health.held_dropped, health.spool_dropped) == (10, 15, 15)
    assert health.problem.endswith("messages wait in memory; the oldest are being dropped")
    if where == "non_empty_directory":
        assert (path / "keep-me").read_text() == "someone's data", "a directory with files is left alone"
    device.stop(timeout=0.2)


def test_send_never_raises_even_for_a_message_json_cannot_encode(tmp_path, caplog):
    from signage.config import MqttConfig
    from signage.telemetry.mqtt import Telemetry

    device = Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "kiosk-1", tmp_path / "s.sqlite3")
    device.send("metrics", {"id": object()})
    assert "cannot be encoded" in caplog.text and device.health().held == 0
    device.stop(timeout=0.2)


def test_spool_writes_are_durable_and_grouped(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    assert spool._file.db.execute("PRAGMA synchronous").fetchone() == (2,), "FULL: fsync on every commit"
    changes = []
    spool._file.db.set_trace_callback(changes.append)
    rows = spool.put_many([("t", b"%d" % i, 1, False) for i in range(100)])
    spool.write([("t", b"more", 1, False)], acked=rows[:50])
    assert [c for c in changes if c == "COMMIT"] == ["COMMIT", "COMMIT"], "one transaction per call"
    assert spool.depth == 51 and [m.payload for m in spool.oldest(2)] == [b"50", b"51"]


def test_a_failed_write_changes_nothing(tmp_path):
    from signage.telemetry.spool import SpoolFault

    spool = Spool(tmp_path / "s.sqlite3")
    first = spool.put("t", b"a")
    with pytest.raises(SpoolFault):
        spool.write([("t", b"b", 1, False), ("t", None, 1, False)], acked=[first])  # NOT NULL fails mid-way
    assert spool.depth == 1 and [m.payload for m in spool.oldest(5)] == [b"a"]
    assert spool.put("t", b"c") > first


def test_missing_tls_files_are_a_config_error(tmp_path):
    from signage.config import MqttConfig, TlsConfig
    from signage.errors import ConfigError
    from signage.telemetry.mqtt import Telemetry

    with pytest.raises(ValueError):
        TlsConfig(ca="/nonexistent/ca.crt")  # the config refuses it first (signage check reports it) ...
    tls = TlsConfig.model_construct(ca="/nonexistent/ca.crt", cert=None, key=None, insecure=False)
    with pytest.raises(ConfigError, match="mqtt.tls: cannot load the certificate files .*nonexistent"):
        Telemetry(MqttConfig.model_construct(url="mqtts://127.0.0.1:8883", tls=tls, username=None, password=None,
                                             protocol="5", keepalive=30), "lab", "kiosk-1", tmp_path / "s.sqlite3")


def test_a_long_interval_keeps_a_bounded_sample_of_inference_times():
    from signage.telemetry.metrics import TIMING_SAMPLES

    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    frames = 3 * TIMING_SAMPLES
    for n in range(frames):  # 1 ms to 100 ms, evenly: p50 ~ 50, p95 ~ 95
        aggregator.add_snapshot(AudienceSnapshot(t=n, times=StageTimes(total=1 + 99 * n / frames)))
    aggregator.add_snapshot(AudienceSnapshot(t=frames, ended=tuple(ended(5, 0) for _ in range(3))))  # passers shown
    assert len(aggregator._interval.inference_ms.values) == TIMING_SAMPLES, "memory does not grow with the interval"
    message = aggregator.flush(T0 + dt.timedelta(hours=1), 3600.0).payload()
    assert message["frames"] == frames + 1
    assert abs(message["inference_ms"]["p50"] - 50) < 5 and abs(message["inference_ms"]["p95"] - 95) < 3
