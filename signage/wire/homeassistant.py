"""Home Assistant MQTT discovery: the device appears with its sensors and a privacy switch.

https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery - one retained config
message per entity under <prefix>/<component>/<node_id>/<object_id>/config.
"""

from __future__ import annotations

import json
import re

# Fields Home Assistant requires per component (beyond the topic), as documented for
# its MQTT sensor, binary_sensor and switch platforms; unique_id and device are what
# put the entities on one device card.
REQUIRED = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "switch": {"command_topic"},
}
COMMON = {"name", "unique_id", "device"}
AVAILABILITY_TEMPLATE = "{{ 'online' if value == 'online' else 'offline' }}"
# A count below privacy.min_group is null on the wire. Home Assistant's MQTT sensor
# reads the rendered payload "None" as unknown (its PAYLOAD_NONE), which a numeric
# sensor can show; "<3" it cannot (a measurement must be a number).
PAYLOAD_UNKNOWN = "None"


def count_template(field: str) -> str:
    """The value template of a count that may be null: the number, else unknown."""
    return (f"{{{{ value_json.{field} if value_json.{field} is not none "
            f"else '{PAYLOAD_UNKNOWN}' }}}}")


def node_id(site: str, device: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", f"signage_{site}_{device}")


def discovery(root: str, site: str, device: str, version: str, prefix: str = "homeassistant",
              switch: bool = True) -> dict[str, bytes]:
    """Topic -> retained config payload for every entity. switch=False (the device acts
    only on commands the fleet signed, which Home Assistant cannot sign): privacy is a
    binary sensor, and the switch an earlier version announced is removed (an empty
    retained config is Home Assistant's way to delete an entity)."""
    node = node_id(site, device)
    device_block = {"identifiers": [node], "name": f"signage {site}/{device}", "manufacturer": "signage",
                    "model": "signage controller", "sw_version": version}
    # <root>/available says online, stopped (clean exit) or offline (last will): the
    # template folds the three into the two Home Assistant knows.
    availability = {"availability_topic": f"{root}/available", "availability_template": AVAILABILITY_TEMPLATE,
                    "payload_available": "online", "payload_not_available": "offline"}
    entities: dict[tuple[str, str], dict[str, object]] = {
        ("sensor", "viewers"): {"name": "Viewers", "state_topic": f"{root}/metrics",
                                "value_template": count_template("viewers"), "unit_of_measurement": "people",
                                "state_class": "measurement", "icon": "mdi:eye", **availability},
        ("sensor", "passers"): {"name": "Passers", "state_topic": f"{root}/metrics",
                                "value_template": count_template("passers"), "unit_of_measurement": "people",
                                "state_class": "measurement", "icon": "mdi:walk", **availability},
        ("sensor", "playing"): {"name": "Playing", "state_topic": f"{root}/status",
                                "value_template": "{{ value_json.playing }}", "icon": "mdi:television-play",
                                **availability},
        ("sensor", "spool_depth"): {"name": "Spool depth", "state_topic": f"{root}/status",
                                    "value_template": "{{ value_json.spool_depth }}", "unit_of_measurement": "messages",
                                    "state_class": "measurement", "entity_category": "diagnostic", **availability},
        ("binary_sensor", "online"): {"name": "Online", "state_topic": f"{root}/available",
                                      "value_template": AVAILABILITY_TEMPLATE, "payload_on": "online",
                                      "payload_off": "offline", "device_class": "connectivity",
                                      "entity_category": "diagnostic"},
        ("switch", "privacy"): {"name": "Privacy mode", "command_topic": f"{root}/privacy/set",
                                "state_topic": f"{root}/privacy/state", "payload_on": "ON", "payload_off": "OFF",
                                "state_on": "ON", "state_off": "OFF", "icon": "mdi:eye-off", **availability},
    }
    if not switch:
        switch_config = entities.pop(("switch", "privacy"))
        entities[("binary_sensor", "privacy")] = {
            key: value for key, value in switch_config.items() if key not in ("command_topic", "state_on", "state_off")
        } | {"payload_on": "ON", "payload_off": "OFF"}
    messages = {}
    for (component, object_id), config in entities.items():
        config = {**config, "unique_id": f"{node}_{object_id}", "object_id": f"{node}_{object_id}",
                  "device": device_block}
        messages[f"{prefix}/{component}/{node}/{object_id}/config"] = json.dumps(config).encode()
    if not switch:
        messages[f"{prefix}/switch/{node}/privacy/config"] = b""
    return messages
