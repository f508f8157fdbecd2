"""A gallery of broken playlists: each gives its exact message, none crashes the
loader, and none replaces the last good playlist."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from signage.display.videoinfo import video_length
from signage.playlist.loader import load_playlist
from signage.playlist.watcher import PlaylistAccepted, PlaylistRejected, PlaylistWatcher
from signage.yamlread import ProblemsError

HERE = Path(__file__).resolve().parents[1] / "playlists"
BROKEN = HERE / "broken"
EXPECTED = yaml.safe_load((HERE / "broken.expected.yaml").read_text())
CASES = sorted(p.name for p in BROKEN.glob("*.yaml"))


def test_the_gallery_is_complete():
    assert len(CASES) >= 25
    assert sorted(EXPECTED) == CASES


@pytest.mark.parametrize("name", CASES)
def test_each_broken_playlist_gives_its_exact_message(name):
    with pytest.raises(ProblemsError) as caught:
        load_playlist([BROKEN / name], base=BROKEN, video_length=video_length)
    assert [str(p) for p in caught.value.problems] == EXPECTED[name]


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_text("creatives:\n" + "  - {id: x, type: card, text: 'padding padding padding'}\n" * 40000)
    with pytest.raises(ProblemsError, match=r"huge.yaml:1:1: the file is 2.\d MiB; at most 1 MiB is accepted"):
        load_playlist([huge], base=tmp_path, video_length=video_length)


def test_every_problem_in_every_file_is_reported(tmp_path):
    for name in ("08-unknown-creative-key.yaml", "22-unknown-expression.yaml", "33-not-utf8.yaml"):
        shutil.copy(BROKEN / name, tmp_path / name)
    (tmp_path / "creatives").mkdir()
    shutil.copy(BROKEN / "creatives" / "ok.png", tmp_path / "creatives" / "ok.png")
    with pytest.raises(ProblemsError) as caught:
        load_playlist([tmp_path], base=tmp_path, video_length=video_length)
    files = [p.file for p in caught.value.problems]
    assert files == ["08-unknown-creative-key.yaml", "22-unknown-expression.yaml", "33-not-utf8.yaml"]


@pytest.mark.parametrize("name", CASES)
def test_no_broken_edit_replaces_the_last_good_playlist(tmp_path, name):
    shutil.copytree(HERE / "good", tmp_path, dirs_exist_ok=True)
    shutil.copy(BROKEN / "creatives" / "ok.png", tmp_path / "creatives" / "ok.png")
    # settle=0: read after two looks alike (settling has its own tests)
    watcher = PlaylistWatcher([tmp_path], base=tmp_path, video_length=video_length, settle=0)
    assert watcher.boot().source == "files"
    shutil.copy(BROKEN / name, tmp_path / "lobby.yaml")
    assert watcher.poll() is None and watcher.poll() is None
    events = [watcher.events.get_nowait() for _ in range(watcher.events.qsize())]
    assert not any(isinstance(e, PlaylistAccepted) for e in events)
    assert len(events) == 1 and isinstance(events[0], PlaylistRejected) and "lobby.yaml:" in events[0].problems


def test_a_syntax_error_does_not_hide_problems_in_the_other_files(tmp_path):
    shutil.copy(BROKEN / "01-unclosed-bracket.yaml", tmp_path / "a.yaml")
    shutil.copy(BROKEN / "14-media-missing.yaml", tmp_path / "b.yaml")
    shutil.copy(BROKEN / "25-bad-colour.yaml", tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("creatives:\n  - {id: solo, type: card, text: Hi}\ndefault: [solo, nobody]\n")
    with pytest.raises(ProblemsError) as caught:
        load_playlist([tmp_path], base=tmp_path, video_length=video_length)
    assert [str(p) for p in caught.value.problems] == [
        "a.yaml:6:1: YAML syntax: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)",
        "b.yaml:4:12: creatives[0].media: media file 'creatives/nothere.png' does not exist (paths are relative"
        " to the playlist's folder)",
        "c.yaml:5:17: creatives[0].background: 'red' is not a colour written #rrggbb",
    ], "unknown ids wait until every file parses: the broken one may define 'nobody'"


def test_symlinks_inside_the_folder_are_fine(tmp_path):
    shutil.copytree(HERE / "good", tmp_path / "p")
    (tmp_path / "p" / "shared").mkdir()
    (tmp_path / "p" / "lobby.yaml").rename(tmp_path / "p" / "shared" / "lobby.yaml")
    (tmp_path / "p" / "lobby.yaml").symlink_to("shared/lobby.yaml")
    assert "red" in load_playlist([tmp_path / "p"], base=tmp_path, video_length=video_length).creatives
