"""Content from the fleet: releases of playlists and media, signed by the publisher,
checked before they reach a screen and again on it, and swapped in atomically.

manifest.py (the release's form and bounds), signing.py (the Ed25519 key and seal),
verify.py (what a kiosk accepts), layers.py (a content repository's targets), checks.py
(every target checked as its screens will), release.py (publishing), fetch.py
(downloading), install.py (staging and the swap), updater.py (the kiosk's thread).
docs/content.md is the operator's walk-through.
"""
