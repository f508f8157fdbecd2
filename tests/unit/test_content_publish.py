"""Publishing (content/layers.py, checks.py, release.py, cli/publish.py): the layers
merge by relative path, every target is checked by the device's own loader before
anything is written, and releases are signed, deduplicated and kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.cli import main
from signage.content import signing
from signage.content.layers import layered
from signage.content.release import OBJECTS, PublishRefused, publish, republish, versions
from signage.content.verify import accept

PROJECT = Path(__file__).resolve().parents[2]
PNG = PROJECT / "playlists" / "creatives" / "welcome.png"
NOW = 1_800_000_000


def card_playlist(text: str, image: str | None = None) -> str:
    creatives = [f"  - id: hello\n    type: card\n    text: {text}\n"]
    default = ["hello"]
    if image:
        creatives.append(f"  - id: picture\n    type: image\n    media: {image}\n")
        default.append("picture")
    return "creatives:\n" + "".join(creatives) + f"default: [{', '.join(default)}]\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "content"
    write(root / "fleet" / "lobby.yaml", card_playlist("Welcome", "media/logo.png"))
    (root / "fleet" / "media").mkdir()
    shutil.copy(PNG, root / "fleet" / "media" / "logo.png")
    write(root / "sites" / "hq" / "lobby.yaml", card_playlist("Welcome to HQ", "media/logo.png"))
    write(root / "screens" / "hq" / "door" / "extra.yaml", "creatives:\n  - id: door\n    type: card\n"
          "    text: Door\n")
    return root


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def no_video(path: Path) -> float | None:
    return None


def test_layers_override_by_relative_path(repo):
    found = layered(repo)
    assert not found.problems
    assert set(found.targets) == {"fleet", "site/hq", "screen/hq/door"}
    assert found.targets["site/hq"]["lobby.yaml"] == repo / "sites/hq/lobby.yaml"
    assert found.targets["site/hq"]["media/logo.png"] == repo / "fleet/media/logo.png"
    door = found.targets["screen/hq/door"]
    assert door["lobby.yaml"] == repo / "sites/hq/lobby.yaml" and door["extra.yaml"].parent.name == "door"


def test_links_odd_names_and_stray_folders_are_refused_by_name(repo, tmp_path):
    (repo / "fleet" / "media" / "link.png").symlink_to(PNG)
    (repo / "sites" / "bad name").mkdir()
    (repo / "other").mkdir()
    (repo / "fleet" / ".DS_Store").write_text("x")  # hidden: not published, not a problem
    problems = [str(p) for p in layered(repo).problems]
    assert any("fleet/media/link.png" in p and "symbolic link" in p for p in problems), problems
    assert any("sites/bad name" in p and "not a site or device name" in p for p in problems), problems
    assert any(p.endswith("content repository, which holds fleet/, sites/<site>/ and screens/<site>/<device>/")
               for p in problems), problems
    assert len(problems) == 3


def test_a_release_any_target_would_reject_is_refused_naming_target_file_line_and_column(repo, tmp_path, key):
    write(repo / "sites" / "hq" / "lobby.yaml", "creatives:\n  - id: hello\n    type: card\n    text: Hi\n"
          "default: [hello, gone]\n")
    releases = tmp_path / "releases"
    with pytest.raises(PublishRefused) as refused:
        publish(repo, releases, key, video_length=no_video, simulate_days=0, now=NOW)
    assert refused.value.lines == [
        "targets site/hq, screen/hq/door: sites/hq/lobby.yaml:5:18: default[1]: unknown creative 'gone'"]
    assert versions(releases) == []


def test_missing_media_is_named_in_the_layer_that_names_it(repo, tmp_path, key):
    write(repo / "screens" / "hq" / "door" / "extra.yaml", "creatives:\n  - id: door\n    type: image\n"
          "    media: door.png\n")
    with pytest.raises(PublishRefused, match=r"target screen/hq/door: screens/hq/door/extra.yaml:4:12: "
                                             r"creatives\[0\].media: media file 'door.png' does not exist"):
        publish(repo, tmp_path / "releases", key, video_length=no_video, simulate_days=0, now=NOW)


def test_a_release_is_signed_deduplicated_and_versioned(repo, tmp_path, key):
    releases = tmp_path / "releases"
    first = publish(repo, releases, key, video_length=no_video, simulate_days=1, now=NOW)
    assert first.version == 1 and first.warnings == []
    objects = sorted(p.name for p in (releases / OBJECTS).iterdir())
    assert len(objects) == 4  # fleet lobby, hq lobby, the logo once, the door's extra
    second = publish(repo, releases, key, video_length=no_video, simulate_days=0, now=NOW + 10)
    assert second.version == 2 and second.new_bytes == 0
    assert (releases / "latest").read_text() == "2\n"
    data, sig = (releases / "2" / "manifest.json").read_bytes(), (releases / "2" / "manifest.sig").read_bytes()
    accepted = accept(data, sig, key.public_key(), site="hq", device="door", active=1, now=NOW + 20)
    assert accepted.target == "screen/hq/door"
    assert set(accepted.files.files) == {"lobby.yaml", "media/logo.png", "extra.yaml"}


def test_rollback_publishes_an_earlier_release_as_a_new_version(repo, tmp_path, key):
    releases = tmp_path / "releases"
    publish(repo, releases, key, video_length=no_video, simulate_days=0, now=NOW)
    write(repo / "fleet" / "lobby.yaml", card_playlist("Changed"))
    publish(repo, releases, key, video_length=no_video, simulate_days=0, now=NOW)
    again = republish(releases, 1, key, now=NOW + 5)
    assert again.version == 3
    one = json.loads((releases / "1" / "manifest.json").read_bytes())
    three = json.loads((releases / "3" / "manifest.json").read_bytes())
    assert one["targets"] == three["targets"] and three["version"] == 3
    with pytest.raises(PublishRefused, match="no release 9 here"):
        republish(releases, 9, key)
    with pytest.raises(PublishRefused, match="bad signature"):
        republish(releases, 1, Ed25519PrivateKey.generate())


def test_a_lost_releases_folder_starts_above_the_screens_version_with_after(repo, tmp_path, key, capsys):
    """Screens refuse a version not above their own: a releases folder made anew would
    start at 1, which every screen on version 7 refuses. --after 7 starts it at 8."""
    releases = tmp_path / "releases-restored"
    made = publish(repo, releases, key, video_length=no_video, simulate_days=0, now=NOW, after=7)
    assert made.version == 8
    data, sig = (releases / "8" / "manifest.json").read_bytes(), (releases / "8" / "manifest.sig").read_bytes()
    assert accept(data, sig, key.public_key(), site="hq", device="door", active=7, now=NOW + 1).manifest.version == 8
    assert publish(repo, releases, key, video_length=no_video, simulate_days=0, now=NOW, after=3).version == 9
    assert republish(releases, 8, key, now=NOW, after=20).version == 21
    pem = tmp_path / "release.pem"
    assert main(["keygen", "--key", str(pem)]) == 0
    cli = tmp_path / "releases-cli"
    assert main(["publish", str(repo), "--key", str(pem), "--releases", str(cli), "--no-simulate",
                 "--after", "41"]) == 0
    assert "published version 42" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["publish", str(repo), "--key", str(pem), "--releases", str(cli), "--after", "-1"])
    assert refused.value.code == 2 and "--after: -1 is out of range" in capsys.readouterr().err


def test_the_cli_makes_a_key_publishes_and_refuses(repo, tmp_path, capsys):
    pem, releases = tmp_path / "keys" / "release.pem", tmp_path / "releases"
    assert main(["keygen", "--key", str(pem)]) == 0
    printed = capsys.readouterr().out
    public = printed.split("public_key: ")[1].strip()
    assert public == signing.public_text(signing.load_private(pem).public_key())
    assert main(["keygen", "--key", str(pem)]) == 2  # never overwritten
    assert main(["publish", str(repo), "--key", str(pem), "--releases", str(releases), "--no-simulate"]) == 0
    assert "published version 1" in capsys.readouterr().out
    write(repo / "fleet" / "lobby.yaml", "creatives: [\n")
    assert main(["publish", str(repo), "--key", str(pem), "--releases", str(releases), "--no-simulate"]) == 1
    out = capsys.readouterr().out
    assert "target fleet: fleet/lobby.yaml:2:1: YAML syntax" in out  # hq's screens have their own lobby.yaml
    assert out.strip().endswith("nothing was published") and versions(releases) == [1]
    assert main(["publish", "--again", "1", "--key", str(pem), "--releases", str(releases)]) == 0
    assert versions(releases) == [1, 2]
    assert main(["publish", "--key", str(pem), "--releases", str(releases)]) == 2
