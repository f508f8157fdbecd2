"""The kiosk's uplink: aggregate metrics and proof of play (metrics.py) sent over MQTT
by `Telemetry` (mqtt.py), spooled on disk (spool/) until the broker acknowledges them,
and the commands that come back admitted (inbox.py) and dispatched (dispatcher.py).

Speaks the contract in `signage.wire`; never imports `signage.vision`: it receives
AudienceSnapshot values and play records.
"""
