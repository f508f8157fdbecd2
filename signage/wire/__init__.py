"""The MQTT contract that the kiosk and the fleet both speak: the messages and their
bounds (messages.py), the commands (commands.py) and the fleet's seal on them
(envelope.py), the one place an MQTT client is made (client.py), Home Assistant
discovery (homeassistant.py), and docs/mqtt.md generated from the models (docs.py).

It sits above the foundations and below everything that uses it: the kiosk's uplink
(`signage.telemetry`) and the fleet dashboard (`signage.fleet`) import it, and it
imports neither of them, so the two ends cannot drift apart.
"""
