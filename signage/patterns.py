"""The text patterns an operator can meet in what they edit (config.yaml, playlists,
command-line options), each with the words a refusal uses for it.

Declared here once, so the error explainer (signage/validation.py) and the option
parser (cli/options.py) word a mismatch the same way, and a field cannot use a pattern
that has no words: `PATTERN_HINTS` lists them all, and a test checks every pattern of
the config and playlist models against it."""

from __future__ import annotations

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
COLOUR_PATTERN = r"^#[0-9a-fA-F]{6}$"
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
TOPIC_PATTERN = r"^[^#+/][^#+]*$"
EDGETPU_DEVICE_PATTERN = r"^(auto|usb|pci)(:[0-9]+)?$"

PATTERN_HINTS: dict[str, str] = {
    ID_PATTERN: "an id (letters, digits, '-', '_' and '.', at most 64 characters)",
    NAME_PATTERN: "a name of 1 to 64 letters, digits, '-' and '_'",
    COLOUR_PATTERN: "a colour written #rrggbb",
    CLOCK_PATTERN: "a time of day written HH:MM (00:00 to 24:00)",
    EDGETPU_DEVICE_PATTERN: "auto, usb, pci, or usb:N / pci:N (the N-th device of that kind)",
    TOPIC_PATTERN: "an MQTT topic prefix without '#' or '+' that does not start with '/'",
}
