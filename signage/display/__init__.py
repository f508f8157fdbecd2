"""The screen: a pygame window that shows creatives and is never black.

Takes `Content` (what to show, from the controller) and never sees the audience.
"""
