"""Operator-edited playlists: schema, loading with line-accurate errors, the rules engine."""
