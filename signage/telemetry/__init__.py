"""Aggregate metrics and proof of play over MQTT, spooled on disk until acknowledged.

Never imports `signage.vision`: it receives AudienceSnapshot values and play records.
"""
