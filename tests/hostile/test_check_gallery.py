"""`signage check` and the loaders over the hostile gallery: every member gives its
exact file:line:col message and what is allowed, `check` exits 1, nothing prints a
traceback, and nothing from outside the playlist folder is ever quoted."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from signage.config import load_config
from signage.display.videoinfo import video_length
from signage.modelfiles import PROJECT_ROOT
from signage.playlist.loader import load_playlist
from signage.yamlread import ProblemsError
from tests.hostile.gallery import EXPECTED, HERE, OUTSIDE_SECRET, build, config_members, playlist_members


@pytest.fixture(scope="module")
def playlists(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("hostile"))


def test_the_gallery_covers_every_class():
    names = playlist_members() + config_members()
    for kind in ("recursion-alias-cycle", "recursion-deep", "text-", "image-header", "link-", "size-", "mqtt-url",
                 "mqtt-tls", "paths-", "display-size", "value-"):
        assert sum(name.startswith(kind) for name in names) >= 3 or kind == "size-", kind
    committed = {p.name for p in (HERE / "playlists").glob("*.yaml")}
    assert committed <= set(playlist_members()), "every committed member has its expected message"
    assert {p.name for p in (HERE / "configs").glob("*.yaml")} == set(config_members())


@pytest.mark.parametrize("name", playlist_members())
def test_each_hostile_playlist_gives_its_exact_message(playlists, name):
    with pytest.raises(ProblemsError) as caught:
        load_playlist([playlists / name], base=playlists.parent, video_length=video_length)
    assert [str(p) for p in caught.value.problems] == EXPECTED["playlists"][name]


@pytest.mark.parametrize("name", config_members())
def test_each_hostile_config_gives_its_exact_message(monkeypatch, name):
    monkeypatch.chdir(HERE)
    with pytest.raises(ProblemsError) as caught:
        load_config(Path("configs") / name)
    assert [str(p) for p in caught.value.problems] == EXPECTED["configs"][name]


def test_a_1_gib_file_is_refused_without_reading_it(playlists):
    tracemalloc.start()
    try:
        with pytest.raises(ProblemsError, match="1024.0 MiB; at most 1 MiB"):
            load_playlist([playlists / "size-sparse-1gib.yaml"], base=playlists.parent, video_length=video_length)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak} bytes allocated to refuse it"


def check(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "signage.cli", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_check_over_the_whole_playlist_gallery_prints_every_problem(playlists):
    result = check(["playlists"], playlists.parent)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    expected = sorted(m for messages in EXPECTED["playlists"].values() for m in messages)
    assert sorted(result.stdout.splitlines()) == expected
    assert result.stderr.strip().endswith(f"{len(expected)} problem(s)")


def test_check_over_the_config_gallery_recognises_configs_by_content():
    result = check([f"configs/{name}" for name in config_members()], HERE)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    expected = sorted(m for messages in EXPECTED["configs"].values() for m in messages)
    assert sorted(result.stdout.splitlines()) == expected


def test_nothing_from_outside_the_folder_is_quoted(playlists):
    result = check(["playlists"], playlists.parent)
    output = result.stdout + result.stderr
    secrets = [OUTSIDE_SECRET]
    hostname = Path("/etc/hostname").read_text().strip()
    if len(hostname) >= 8:  # distinctive enough to be searched for
        secrets.append(hostname)
    secrets += [line.split(":")[0] + ":x:" for line in Path("/etc/passwd").read_text().splitlines()[:3]]
    for secret in secrets:
        assert secret not in output


def test_the_committed_images_are_what_make_media_writes():
    from tests.hostile.make_media import FILES

    for name, data in FILES.items():
        assert (HERE / "playlists" / "creatives" / name).read_bytes() == data, name


def test_check_over_the_broken_gallery_at_once_reports_each_files_problem():
    """All of tests/playlists/broken in one run: every file's own message is among the
    output (files that parse are also checked against each other), and no traceback."""
    import yaml

    broken = PROJECT_ROOT / "tests" / "playlists"
    expected = yaml.safe_load((broken / "broken.expected.yaml").read_text())
    result = check(["broken"], broken)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    lines = set(result.stdout.splitlines())
    # References across files wait until every file parses (the broken ones may define
    # the missing creative), and the other files have a default loop.
    across = {"18-unknown-default-creative.yaml", "19-unknown-rule-creative.yaml", "29-no-default-loop.yaml"}
    for name, messages in expected.items():
        if name in across:
            continue
        for message in messages:
            if "already defined at" in message or "already used at" in message:  # first one: maybe elsewhere
                where = message.split(": ")[0]
                assert any(line.startswith(f"broken/{where}: ") for line in lines), message
            else:
                assert f"broken/{message}" in lines, message
