"""Hostile command lines, one real `signage` process each: dates out of range, paths that
cannot be written (a missing folder, a folder, a device, a full disk), numbers out of
bounds, names that do not exist, across the verbs. Each answers with what is wrong and
what is allowed, exit 2, and never a traceback. Behind the verbs' own checks, the
barrier in cli/__init__.py turns anything unforeseen into one line and a hint."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signage.cli import main
from signage.modelfiles import PROJECT_ROOT

PLAYLISTS = str(PROJECT_ROOT / "playlists")


def scenario(folder: Path, start: str) -> str:
    path = folder / f"scenario-{start[:4]}.yaml"
    path.write_text(f"start: {start}\nduration: 7200\ntimeline:\n  - {{at: 0, faces: 0}}\n")
    return str(path)


def full(folder: Path) -> Path:
    """`folder` (a small filesystem of its own) filled to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return folder


# (verb and arguments, with {tmp} for a scratch folder; what the answer must say)
GALLERY = {
    "simulate in year 9999": (["simulate", PLAYLISTS, "--audience", "{scenario-9999}"],
                              "9999-12-31T23:00:00 is out of range; give a time from 1900-01-01 to 9998-12-31"),
    "simulate in year 1": (["simulate", PLAYLISTS, "--audience", "{scenario-0001}"],
                           "0001-01-01T00:30:00 is out of range; give a time from 1900-01-01"),
    "simulate a device as scenario": (["simulate", PLAYLISTS, "--audience", "/dev/full"],
                                      "/dev/full:1:1: it is not a regular file"),
    "preview into a missing folder": (["preview", PLAYLISTS, "--screenshot", "{tmp}/missing/shot.png"],
                                      "the folder {tmp}/missing does not exist; create it, or give a file in an"
                                      " existing folder"),
    "preview onto a folder": (["preview", PLAYLISTS, "--screenshot", "{tmp}/folder.png"],
                              "it exists and is not a regular file (a folder or a device)"),
    "preview onto /dev/full": (["preview", PLAYLISTS, "--screenshot", "/dev/full"],
                               "--screenshot /dev/full: give a file name ending in .png"),
    "preview through a link to /dev/full": (["preview", PLAYLISTS, "--screenshot", "{tmp}/link.png"],
                                            "it exists and is not a regular file (a folder or a device)"),
    "schema into a device": (["schema", "--out", "/dev/full"],
                             "--out /dev/full: it exists and is not a folder; give a folder (made if missing)"),
    "schema onto a file": (["schema", "--out", "{tmp}/file.txt"], "it exists and is not a folder"),
    "vision with no threads": (["vision", "--source", "samples", "--threads", "0"],
                               "--threads (threads): must be >= 1, got 0"),
    "vision on an unknown TPU": (["vision", "--source", "samples", "--edgetpu-device", "bogus"],
                                 "--edgetpu-device (edgetpu_device): 'bogus' is not auto, usb, pci"),
    "run for NaN seconds": (["run", "--duration", "nan"], "'nan': give a number of seconds above 0"),
    "run on a config that is not there": (["run", "--config", "{tmp}/typo.yaml"], "--config {tmp}/typo.yaml: no such"
                                                                                   " file"),
    "doctor for a stranger": (["doctor", "--user", "no-such-user-here"],
                              "--user no-such-user-here: no such user on this machine"),
    "monitor for minus one second": (["monitor", "--duration", "-1"], "'-1': give a number of seconds above 0"),
    "monitor a wildcard site": (["monitor", "--site", "lobby/#"],
                                "'lobby/#' is not a name of 1 to 64 letters, digits, '-' and '_'"),
    "monitor an FTP server": (["monitor", "--broker", "ftp://x"],
                              "'ftp://x': the scheme 'ftp://' is not a broker's; use mqtt://host:port"),
    "fleet on a broker port 70000": (["fleet", "migrate", "--config", "{tmp}/fleet.yaml", "--broker", "mqtt://b:70000"],
                                     "the port '70000' is not a number from 1 to 65535"),
    "fleet with a password in the broker URL": (["fleet", "migrate", "--config", "{tmp}/fleet.yaml", "--broker",
                                                 "mqtt://fleet:hunter2@broker"], "a broker URL with a user name or "
                                                                                 "password"),
    "bench telemetry on a topic": (["bench", "telemetry", "--broker", "mqtt://broker/signage"],
                                   "a broker address has no path"),
    "fleet under a wildcard root": (["fleet", "migrate", "--config", "{tmp}/fleet.yaml", "--root", "#"],
                                    "'#' is not an MQTT topic prefix without '#' or '+'"),
    "fleet on port 99999": (["fleet", "migrate", "--config", "{tmp}/fleet.yaml", "--port", "99999"],
                            "--port (port): must be <= 65535, got 99999"),
    "fleet on an unknown database": (["fleet", "migrate", "--config", "{tmp}/fleet.yaml", "--db", "bogus://x"],
                                     "--db: the database cannot be opened"),
    "fleet with a device as settings": (["fleet", "migrate", "--config", "/dev/full"],
                                        "--config /dev/full: it is not a regular file"),
    "bench fleet on screens abc": (["bench", "fleet", "--screens", "abc"], "'abc' is not a whole number"),
    "bench fleet's export of 10 plays": (["bench", "fleet", "--only", "export", "--plays", "10"],
                                         "10 is out of range; give 1000 to 100000000"),
    "bench an unknown store": (["bench", "fleet", "--stores", "sqlite,oracle"],
                               "'oracle' is not one of sqlite, postgresql"),
    "bench postgresql without one": (["bench", "fleet", "--stores", "postgresql"],
                                     "bench fleet on postgresql: give --db postgresql://"),
    "bench a sqlite file as the postgresql": (["bench", "fleet", "--db", "{tmp}/fleet.sqlite3"],
                                              "give --db postgresql://user:pass@host/db, an empty database"),
    "bench for minus a second": (["bench", "display", "--seconds", "-1", "--rounds", "0"],
                                 "give a number of seconds above 0"),
    "keygen into a device": (["keygen", "--key", "/dev/full"], "--key /dev/full already exists; a release key is "
                                                               "never overwritten"),
    "keygen into a missing root": (["keygen", "--key", "/proc/nope/release.pem"], "--key /proc/nope/release.pem: "
                                                                                   "cannot write it"),
    "publish with no key": (["publish", "{tmp}/repo", "--key", "{tmp}/none.pem", "--releases", "{tmp}/releases"],
                            "cannot read the release key (No such file or directory); make one with `signage keygen"),
    "publish with a key others read": (["publish", "{tmp}/repo", "--key", "{tmp}/open.pem", "--releases",
                                        "{tmp}/releases"], "the release key is readable by others (mode 644)"),
    "publish into a file": (["publish", "{tmp}/repo", "--key", "{tmp}/release.pem", "--releases", "{tmp}/file.txt"],
                            "--releases {tmp}/file.txt: it exists and is not a folder"),
    "publish nothing": (["publish", "--key", "{tmp}/release.pem", "--releases", "{tmp}/releases"],
                        "give the content repository, or --again VERSION"),
    "publish for ten years": (["publish", "{tmp}/repo", "--key", "{tmp}/release.pem", "--releases", "{tmp}/releases",
                               "--expires", "inf"], "'inf': give a number of days above 0, at most 3650"),
}


@pytest.fixture
def scratch(tmp_path) -> dict[str, str]:
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "file.txt").write_text("not a folder")
    (tmp_path / "link.png").symlink_to("/dev/full")
    from signage.content import signing

    signing.generate(tmp_path / "release.pem")
    signing.generate(tmp_path / "open.pem")
    (tmp_path / "open.pem").chmod(0o644)
    return {"{tmp}": str(tmp_path), "{scenario-9999}": scenario(tmp_path, "9999-12-31T23:00:00"),
            "{scenario-0001}": scenario(tmp_path, "0001-01-01T00:30:00")}


def filled(text: str, scratch: dict[str, str]) -> str:
    for key, value in scratch.items():
        text = text.replace(key, value)
    return text


def signage(*argv: str, home: Path) -> subprocess.CompletedProcess:
    """`signage` in a process of its own; its output never holds a traceback."""
    home.mkdir(exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "signage.cli", *argv], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=120, env=dict(os.environ, SDL_VIDEODRIVER="dummy", HOME=str(home),
                                                             PYTHONPATH=str(PROJECT_ROOT)))
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


@pytest.mark.parametrize("name", GALLERY)
def test_a_hostile_command_line_gets_a_clear_answer(name, scratch, tmp_path):
    argv, expected = GALLERY[name]
    result = signage(*(filled(a, scratch) for a in argv), home=tmp_path / "home")
    assert result.returncode == 2, result.stdout + result.stderr
    assert filled(expected, scratch) in result.stderr, result.stderr
    assert not (tmp_path / "missing").exists(), "nothing made on the way"


def test_a_screenshot_onto_a_full_disk_says_so_and_leaves_nothing(small_disk, tmp_path):
    result = signage("preview", PLAYLISTS, "--screenshot", str(full(small_disk) / "shot.png"), home=tmp_path / "home")
    assert result.returncode == 2
    assert f"--screenshot {small_disk}/shot.png: cannot be written (No space left on device)" in result.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"], "no empty PNG, no temporary file"


def test_the_barrier_turns_the_unforeseen_into_one_line_and_a_hint(monkeypatch, caplog, tmp_path):
    from signage.cli import schema

    def broken(folder):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(schema, "write_schemas", broken)
    caplog.set_level(logging.DEBUG, logger="signage")
    assert main(["schema", "--out", str(tmp_path)]) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors][0] == "signage schema: OverflowError: date value out of range"
    assert errors[1].getMessage().startswith("hint: check the paths, dates and numbers given")
    assert not any(r.exc_info for r in errors), "no traceback above DEBUG"
    assert any(r.exc_info and r.levelno == logging.DEBUG for r in caplog.records), "the traceback, for DEBUG"


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """`signage vision --json | head -1`: the pipe closes under a streaming command."""
    process = subprocess.Popen([sys.executable, "-m", "signage.cli", "vision", "--source",
                                "samples/WolfgangLanger_Pexels.mp4", "--json"], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)))
    assert process.stdout.readline().startswith('{"frame": 0')
    process.stdout.close()  # as head does once it has its line
    _, errors = process.communicate(timeout=120)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert process.returncode == 1
