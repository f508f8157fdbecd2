import datetime as dt
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signage.audience import AudienceSnapshot, Face, StageTimes, TrackSummary
from signage.playlist.player import PlayRecord
from signage.telemetry.commands import Command, CommandRejected, parse
from signage.telemetry.homeassistant import COMMON, REQUIRED, discovery
from signage.telemetry.messages import Metrics, Play
from signage.telemetry.metrics import Aggregator, play_message
from signage.telemetry.spool import Spool

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
    aggregator.add_snapshot(AudienceSnapshot(t=2, ended=(ended(5, 4), ended(2, 1.5, "neutral"), ended(12, 0.2, None),
                                                           ended(40, 20, "happy", "near")),
                                             times=StageTimes(total=6.0)))
    aggregator.add_play("welcome", viewed=True)
    aggregator.add_play("welcome", viewed=False)
    aggregator.add_dropped_frames(3)
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    Metrics.model_validate(message)
    assert (message["passers"], message["viewers"]) == (4, 3)
    assert message["conversion"] == 0.75
    assert message["attraction"] == round((4 + 1.5 + 0.2 + 20) / (5 + 2 + 12 + 40), 3)
    assert message["peak_faces"] is None, "two faces at once is below min_group"
    assert message["frames"] == 2 and message["dropped_frames"] == 3
    assert message["distance"] == {"near": 1, "mid": 3, "far": 0}
    assert message["dwell"]["counts"] == [0, 1, 1, 1, 1, 0]
    assert message["attention"] == {"buckets": ["1-3", "3-10", "10-30", "30-60", "60+"], "counts": [1, 1, 1, 0, 0]}
    assert message["expressions"]["happy"] == 2 and message["expressions"]["neutral"] == 1
    assert message["impressions"] == {"welcome": {"plays": 2, "viewed": 1}}
    assert message["start"] == "2026-11-23T10:00:00Z" and message["end"] == "2026-11-23T10:01:00Z"
    assert message["inference_ms"] == {"p50": 4.0, "p95": 6.0}
    following = aggregator.flush(T0 + dt.timedelta(seconds=120), 120.0).payload()
    assert following["passers"] is None and following["id"] != message["id"]
    assert following["start"] == message["end"]


def test_breakdowns_from_too_few_people_are_suppressed_totals_kept():
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=0.0)
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4), ended(3, 2))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert (message["passers"], message["viewers"]) == (None, None), "two people are below min_group"
    for key in ("distance", "dwell", "attention", "expressions"):
        assert message[key] == {"suppressed": True}
    assert message["conversion"] is None and message["attraction"] is None, "two people's attention is theirs"
    Metrics.model_validate(message)


PLAY = PlayRecord(creative="smile-back", rule="smiles", start="2026-11-23T10:00:00Z", end="2026-11-23T10:00:06Z",
                  seconds=6.0, ended="duration", peak_faces=1, mean_faces=1.0, peak_looking=1,
                  looking_seconds=5.5, expressions={"happy": 5.5}, audience=True)


@pytest.mark.parametrize("faces,looking", [(1, 1), (2, 2), (5, 1), (5, 2), (2, 0), (0, 0)])
def test_a_play_says_nothing_about_fewer_than_min_group_people(faces, looking):
    record = PlayRecord(**{**PLAY.__dict__, "peak_faces": faces, "peak_looking": looking})
    message = play_message(record, "lab", "kiosk-1", min_group=3).payload()
    Play.model_validate(message)
    assert message["seconds"] == 6.0 and message["start"] == PLAY.start, "the proof of play stays"
    assert message["rule"] == "audience", "the audience rule's name would say what the few people did"
    assert message["creative"] == "audience", "so would a creative that only that rule plays"
    assert message["expressions"] == {"suppressed": True}
    assert message["peak_viewers"] is None and message["looking_seconds"] is None
    if faces < 3:
        assert message["peak_faces"] is None and message["mean_faces"] is None
    else:
        assert message["peak_faces"] == faces


def test_a_play_before_a_crowd_is_published_in_full():
    record = PlayRecord(**{**PLAY.__dict__, "peak_faces": 4, "peak_looking": 3})
    message = play_message(record, "lab", "kiosk-1", 3).payload()
    Play.model_validate(message)
    assert (message["rule"], message["creative"], message["peak_viewers"], message["expressions"]) == \
        ("smiles", "smile-back", 3, {"happy": 5.5})


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
    aggregator.add_play("smile-back", viewed=True)
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4),)))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    assert message["impressions"]["smile-back"] == {"plays": 1, "viewed": None}
    Metrics.model_validate(message)
    aggregator.add_play("smile-back", viewed=True)
    aggregator.add_snapshot(AudienceSnapshot(t=1, ended=(ended(5, 4), ended(4, 3), ended(6, 2))))
    message = aggregator.flush(T0 + dt.timedelta(seconds=120), 120.0).payload()
    assert message["impressions"]["smile-back"] == {"plays": 1, "viewed": 1}


@pytest.mark.parametrize("topic,payload,expected", [
    ("privacy/set", b"ON", Command("privacy", "ON")),
    ("privacy/set", b' {"value": "OFF"} ', Command("privacy", "OFF")),
    ("privacy/set", b'"ON"', Command("privacy", "ON")),
    ("playlist/set", b"RELOAD", Command("playlist", "RELOAD")),
    ("creative/set", b"smile-back", Command("creative", "smile-back")),
])
def test_valid_commands(topic, payload, expected):
    assert parse(ROOT, f"{ROOT}/{topic}", payload) == expected


@pytest.mark.parametrize("topic,payload,reason", [
    ("bogus/set", b"ON", "unknown feature 'bogus'; allowed: privacy, playlist, creative"),
    ("privacy/set", b"on", "privacy: 'on' is not valid; send ON or OFF"),
    ("privacy/set", b"\xff", "payload is not UTF-8 text"),
    ("privacy/set", b"{oops", "payload is not valid JSON"),
    ("privacy/set", b'{"value": true}', "privacy: 'True' is not valid; send ON or OFF"),
    ("playlist/set", b"X" * 300, "payload of 300 bytes; at most 256"),
    ("creative/set", b"../../etc/passwd", "creative: '../../etc/passwd' is not valid; send a creative id"),
])
def test_invalid_commands_say_why(topic, payload, reason):
    with pytest.raises(CommandRejected, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse(ROOT, f"{ROOT}/{topic}", payload)


@settings(max_examples=300)
@given(st.sampled_from(["privacy", "playlist", "creative", "x", ""]), st.binary(max_size=300))
def test_any_payload_is_a_command_or_a_refusal(feature, payload):
    try:
        command = parse(ROOT, f"{ROOT}/{feature}/set", payload)
    except CommandRejected:
        return
    assert command.feature in ("privacy", "playlist", "creative")


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
    for i in range(2000):
        spool.put("t", b"x")
    done.set()
    thread.join(timeout=10)
    assert spool.depth == 0


def test_discovery_payloads_have_what_home_assistant_requires():
    import json

    messages = discovery(ROOT, "lab", "kiosk-1", "0.1.0")
    assert len(messages) == 6
    for topic, payload in messages.items():
        prefix, component, node, object_id, leaf = topic.split("/")
        config = json.loads(payload)
        assert (prefix, node, leaf) == ("homeassistant", "signage_lab_kiosk-1", "config")
        assert REQUIRED[component] | COMMON <= set(config)
        for key, value in config.items():
            if key.endswith("_topic"):
                assert value.startswith(ROOT + "/") and "#" not in value and "+" not in value
    switch = json.loads(messages["homeassistant/switch/signage_lab_kiosk-1/privacy/config"])
    assert switch["command_topic"] == f"{ROOT}/privacy/set" and switch["state_topic"] == f"{ROOT}/privacy/state"


def test_a_kiosk_that_takes_only_signed_commands_shows_privacy_without_a_switch():
    """Home Assistant cannot sign: its switch would only be refused. A binary sensor shows
    the state, and the switch an earlier version announced is deleted (empty retained)."""
    import json

    messages = discovery(ROOT, "lab", "kiosk-1", "0.1.0", switch=False)
    assert messages["homeassistant/switch/signage_lab_kiosk-1/privacy/config"] == b""
    sensor = json.loads(messages["homeassistant/binary_sensor/signage_lab_kiosk-1/privacy/config"])
    assert "command_topic" not in sensor and sensor["state_topic"] == f"{ROOT}/privacy/state"
    assert (sensor["payload_on"], sensor["payload_off"]) == ("ON", "OFF")
    assert not any(b"/set" in payload for payload in messages.values())


def test_home_assistant_shows_a_count_below_min_group_as_unknown():
    """passers and viewers are null below min_group: HA's sensor reads "None" as unknown."""
    import json

    import jinja2

    from signage.telemetry.homeassistant import PAYLOAD_UNKNOWN

    messages = discovery(ROOT, "lab", "kiosk-1", "0.1.0")
    for field in ("passers", "viewers"):
        config = json.loads(messages[f"homeassistant/sensor/signage_lab_kiosk-1/{field}/config"])
        render = jinja2.Environment().from_string(config["value_template"]).render
        assert render(value_json={field: None}) == PAYLOAD_UNKNOWN == "None"
        assert render(value_json={field: 0}) == "0" and render(value_json={field: 7}) == "7"


def test_mqtt_docs_are_up_to_date():
    from signage.modelfiles import PROJECT_ROOT
    from signage.telemetry.docs import render

    assert (PROJECT_ROOT / "docs" / "mqtt.md").read_text() == render(), \
        "run: python -m signage.telemetry.docs > docs/mqtt.md"


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


def test_home_assistant_availability_maps_online_stopped_and_offline():
    import json

    import jinja2

    messages = discovery(ROOT, "lab", "kiosk-1", "0.1.0")
    environment = jinja2.Environment()
    checked = 0
    for topic, payload in messages.items():
        config = json.loads(payload)
        if "availability_topic" in config:
            template, available, unavailable = (config["availability_template"], config["payload_available"],
                                                config["payload_not_available"])
        elif config.get("state_topic") == f"{ROOT}/available":  # the connectivity sensor
            template, available, unavailable = config["value_template"], config["payload_on"], config["payload_off"]
        else:
            raise AssertionError(f"{topic}: no availability")
        render = environment.from_string(template).render
        assert render(value="online") == available
        assert render(value="stopped") == unavailable and render(value="offline") == unavailable
        assert render(value="anything else") == unavailable
        checked += 1
    assert checked == 6


@pytest.mark.parametrize("url,reason", [
    ("ftp://x", "use mqtt://host:port"), ("mqtt://h:70000", "1 to 65535"), ("mqtt://h:abc", "1 to 65535"),
    ("not a url at all", "no host name"), ("mqtt://", "no host name"),
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
    assert spool._db.execute("PRAGMA synchronous").fetchone() == (2,), "FULL: fsync on every commit"
    changes = []
    spool._db.set_trace_callback(changes.append)
    rows = spool.put_many([("t", b"%d" % i, 1, False) for i in range(100)])
    spool.write([("t", b"more", 1, False)], acked=rows[:50])
    assert [c for c in changes if c == "COMMIT"] == ["COMMIT", "COMMIT"], "one transaction per call"
    assert spool.depth == 51 and [m.payload for m in spool.oldest(2)] == [b"50", b"51"]


def test_a_failed_write_changes_nothing(tmp_path):
    import sqlite3

    spool = Spool(tmp_path / "s.sqlite3")
    first = spool.put("t", b"a")
    with pytest.raises(sqlite3.Error):
        spool.write([("t", b"b", 1, False), ("t", None, 1, False)], acked=[first])  # NOT NULL fails mid-way
    assert spool.depth == 1 and [m.payload for m in spool.oldest(5)] == [b"a"]
    assert spool.put("t", b"c") > first


def test_refusals_carry_the_envelope():
    from signage.telemetry.messages import Error

    Error.model_validate({"schema": 1, "site": "lab", "device": "kiosk-1", "topic": f"{ROOT}/privacy/set",
                          "error": "retained command ignored"})
    with pytest.raises(Exception):
        Error.model_validate({"topic": "x", "error": "no envelope"})


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
    assert len(aggregator._interval.inference_ms.values) == TIMING_SAMPLES, "memory does not grow with the interval"
    message = aggregator.flush(T0 + dt.timedelta(hours=1), 3600.0).payload()
    assert message["frames"] == frames
    assert abs(message["inference_ms"]["p50"] - 50) < 5 and abs(message["inference_ms"]["p95"] - 95) < 3
