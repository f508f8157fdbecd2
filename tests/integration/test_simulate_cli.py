"""`signage simulate`, `check` and `schema` on the shipped demo files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from signage.cli import main
from signage.modelfiles import PROJECT_ROOT
from signage.cli.schema import SCHEMAS, schema_text


def run(capsys, *argv) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def test_demo_schedule_reacts_to_the_scripted_audience(capsys):
    code, lines = run(capsys, "simulate", str(PROJECT_ROOT / "playlists"),
                      "--audience", str(PROJECT_ROOT / "scenarios" / "demo.yaml"))
    assert code == 0
    rows = [line.split(None, 5) for line in lines[1:-1]]  # time, day, local time, creative, rule, reason
    starts = {(row[3], row[4]) for row in rows}
    assert ("look-here", "someone-looking") in starts
    assert ("smile-back", "smiles") in starts
    assert ("group-offer", "crowd") in starts
    assert ("morning-coffee", "breakfast") in starts and ("welcome", "default") in starts
    first_look = next(row for row in rows if row[3] == "look-here")
    assert first_look[:3] == ["0:00:19", "mon", "10:58:19"] and first_look[5].startswith("interrupts breakfast")
    assert lines[-1].startswith("plays: ")


def test_same_seed_same_schedule(capsys):
    args = ("simulate", str(PROJECT_ROOT / "playlists"), "--audience", str(PROJECT_ROOT / "scenarios" / "demo.yaml"))
    assert run(capsys, *args) == run(capsys, *args)


def test_simulate_leaves_the_callers_log_levels_alone(capsys):
    """It quiets the engine for its own schedule only: a kiosk or a later test in the process still hears it."""
    engine = logging.getLogger("signage.playlist")
    before = engine.level
    run(capsys, "simulate", str(PROJECT_ROOT / "playlists"),
        "--audience", str(PROJECT_ROOT / "scenarios" / "demo.yaml"))
    assert engine.level == before


def test_check_accepts_the_demo_and_lists_every_problem(capsys, tmp_path):
    code, lines = run(capsys, "check", str(PROJECT_ROOT / "playlists"))
    assert code == 0 and lines == ["ok: 8 creatives, 5 rules, default loop of 3 in 1 file(s)"]
    broken = PROJECT_ROOT / "tests" / "playlists" / "broken"
    code, lines = run(capsys, "check", str(broken / "08-unknown-creative-key.yaml"),
                      str(broken / "22-unknown-expression.yaml"))
    assert code == 1 and len(lines) == 2


def test_committed_schemas_are_up_to_date(tmp_path, capsys):
    for name, model in SCHEMAS.items():
        committed = (PROJECT_ROOT / "schemas" / name).read_text()
        assert committed == schema_text(model), f"run `signage schema` to refresh schemas/{name}"
    code, lines = run(capsys, "schema", "--out", str(tmp_path))
    assert code == 0 and len(lines) == len(SCHEMAS)
    schema = json.loads((tmp_path / "playlist.schema.json").read_text())
    assert schema["additionalProperties"] is False and "rules" in schema["properties"]


def test_demo_playlist_carries_the_editor_modeline():
    first = (PROJECT_ROOT / "playlists" / "default.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/playlist.schema.json"
    assert (PROJECT_ROOT / "playlists" / Path("../schemas/playlist.schema.json")).is_file()
