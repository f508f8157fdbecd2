"""`signage fleet`: the central dashboard. Ingests the MQTT contract
(`signage/wire/messages.py`, docs/mqtt.md) into SQLite or PostgreSQL and serves
the fleet, screen and creative pages.

Never imports the kiosk (controller, vision, display, playlist): it only knows what the
devices publish.
"""
