"""Windows that cross midnight, said in days: `days: [fri]` with `hours: 22:00-02:00` is
Friday 22:00 to Saturday 02:00 (a window belongs to the day it starts). `signage check`
and `signage simulate` print these notes, so nobody has to guess."""

from __future__ import annotations

from signage.playlist.rules import spans
from signage.playlist.fileformat import PlaylistFile
from signage.validation import validate
from signage.yamlread import Problem, load


def notes(files) -> list[Problem]:
    """One note per overnight window of the rules in these (valid) playlist files, at
    its place in the file: `rules[2]: hours 22:00-02:00 crosses midnight: fri 22:00 to
    sat 02:00`."""
    found = []
    for path in files:
        document = load(path)
        for i, rule in enumerate(validate(PlaylistFile, document).rules):
            for j, window in enumerate(rule.when.hours or ()):
                if window.crosses_midnight:
                    line, column = document.position(("rules", i, "when", "hours", j))
                    found.append(Problem(document.file, line, column, f"rules[{i}]",
                                         f"hours {window.start}-{window.end} crosses midnight: "
                                         f"{spans(window, rule.when)}"))
    return found
