"""The MQTT contract (signage/wire/): commands as the kiosk parses them, Home Assistant
discovery, the error envelope, and docs/mqtt.md generated from the message models."""

import pytest
from pydantic import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from signage.wire.commands import Command, CommandRejected, parse
from signage.wire.homeassistant import COMMON, REQUIRED, discovery

ROOT = "signage/lab/kiosk-1"


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

    from signage.wire.homeassistant import PAYLOAD_UNKNOWN

    messages = discovery(ROOT, "lab", "kiosk-1", "0.1.0")
    for field in ("passers", "viewers"):
        config = json.loads(messages[f"homeassistant/sensor/signage_lab_kiosk-1/{field}/config"])
        render = jinja2.Environment().from_string(config["value_template"]).render
        assert render(value_json={field: None}) == PAYLOAD_UNKNOWN == "None"
        assert render(value_json={field: 0}) == "0" and render(value_json={field: 7}) == "7"


def test_mqtt_docs_are_up_to_date():
    from signage.modelfiles import PROJECT_ROOT
    from signage.wire.docs import render

    assert (PROJECT_ROOT / "docs" / "mqtt.md").read_text() == render(), \
        "run: python -m signage.wire.docs > docs/mqtt.md"


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


def test_refusals_carry_the_envelope():
    from signage.wire.messages import Error

    Error.model_validate({"schema": 1, "site": "lab", "device": "kiosk-1", "topic": f"{ROOT}/privacy/set",
                          "error": "retained command ignored"})
    with pytest.raises(ValidationError):
        Error.model_validate({"topic": "x", "error": "no envelope"})
