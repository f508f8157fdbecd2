"""The release format and what a kiosk accepts of it (content/manifest.py, signing.py,
verify.py): a hostile gallery, each case refused with its reason."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.config import Config
from signage.contentconfig import ContentConfig
from signage.content import signing
from signage.content.manifest import MAX_FILES, MAX_MANIFEST_BYTES, Manifest, canonical, path_problem, parse
from signage.content.verify import ReleaseRefused, Rollback, accept

NOW = 1_800_000_000
DAY = 86400


def entry(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def document(key: Ed25519PrivateKey, version: int = 2, **changes) -> dict:
    base = {"format": 1, "version": version, "issued": NOW - 60, "expires": NOW + 30 * DAY,
            "key_id": signing.key_id(key.public_key()),
            "targets": {"fleet": {"files": {"lobby.yaml": entry(b"default: [a]\n"), "media/a.png": entry(b"png")}},
                        "site/hq": {"files": {"lobby.yaml": entry(b"default: [b]\n")}}}}
    base.update(changes)
    return base


def sealed(key: Ed25519PrivateKey, doc: dict) -> tuple[bytes, bytes]:
    data = canonical(doc)
    return data, signing.sign(key, data)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def take(key, data, sig, active=1, now=NOW, site="hq", device="kiosk-1", budget=None):
    return accept(data, sig, key.public_key(), site=site, device=device, active=active, now=now,
                  budget_bytes=budget)


def test_a_signed_newer_release_is_accepted_with_the_most_specific_target(key):
    data, sig = sealed(key, document(key))
    accepted = take(key, data, sig)
    assert accepted.target == "site/hq" and accepted.manifest.version == 2
    assert take(key, data, sig, site="lab").target == "fleet"
    assert Manifest.model_validate(json.loads(data)).canonical() == data  # one byte form


def test_a_changed_byte_breaks_the_signature(key):
    data, sig = sealed(key, document(key))
    tampered = data.replace(b'"version":2', b'"version":9')
    with pytest.raises(ReleaseRefused, match="bad signature"):
        take(key, tampered, sig)


def test_a_tampered_file_hash_in_the_manifest_breaks_the_signature(key):
    data, sig = sealed(key, document(key))
    digest = hashlib.sha256(b"png").hexdigest()
    with pytest.raises(ReleaseRefused, match="bad signature"):
        take(key, data.replace(digest.encode(), hashlib.sha256(b"evil").hexdigest().encode()), sig)


def test_another_key_is_refused(key):
    other = Ed25519PrivateKey.generate()
    data, sig = sealed(other, document(other))
    with pytest.raises(ReleaseRefused, match="bad signature"):
        take(key, data, sig)


@pytest.mark.parametrize("signature, reason", [(b"", "no signature"), (b"  \n", "no signature"),
                                               (b"abc", "is 3 characters"), (b"!" * 86, "bad signature")])
def test_a_missing_or_garbled_signature_is_refused(key, signature, reason):
    data, _ = sealed(key, document(key))
    with pytest.raises(ReleaseRefused, match=reason):
        take(key, data, signature)


def test_a_signature_over_the_right_bytes_but_naming_another_key_id_is_refused(key):
    data, sig = sealed(key, document(key, key_id="0" * 16))
    with pytest.raises(ReleaseRefused, match="names key 0000000000000000"):
        take(key, data, sig)


@pytest.mark.parametrize("version", [1, 0])
def test_an_older_or_equal_version_is_refused(key, version):
    doc = document(key, version=max(version, 1))
    data, sig = sealed(key, doc)
    with pytest.raises(Rollback, match=r"version 1, not newer than the active 1: refused \(rollback"):
        take(key, data, sig, active=1)


def test_the_first_release_is_taken_at_any_version(key):
    data, sig = sealed(key, document(key, version=1))
    assert take(key, data, sig, active=None).manifest.version == 1


def test_an_expired_release_is_refused(key):
    data, sig = sealed(key, document(key, expires=NOW - 10))
    with pytest.raises(ReleaseRefused, match="expired 10 s ago"):
        take(key, data, sig)


def test_a_release_from_far_ahead_of_the_clock_says_to_set_the_clock(key):
    data, sig = sealed(key, document(key, issued=NOW + 3 * DAY, expires=NOW + 30 * DAY))
    with pytest.raises(ReleaseRefused, match="NTP"):
        take(key, data, sig)


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a/../../b", "media\\x.png", "C:/x", "a//b",
                                  "a/", ".hidden", "a/./b", "x" * 201, "a\x00b", "a\nb", "/".join("a" * 9)])
def test_a_path_leaving_the_content_folder_is_refused_even_when_signed(key, path):
    doc = document(key)
    doc["targets"]["fleet"]["files"][path] = entry(b"x")
    data, sig = sealed(key, doc)
    with pytest.raises(ReleaseRefused, match="signed but malformed manifest: targets.fleet.files"):
        take(key, data, sig)


def test_a_path_that_is_file_and_folder_is_refused(key):
    doc = document(key)
    doc["targets"]["fleet"]["files"]["media"] = entry(b"x")
    data, sig = sealed(key, doc)
    with pytest.raises(ReleaseRefused, match="both a file and a folder"):
        take(key, data, sig)


def test_too_many_files_are_refused(key):
    doc = document(key)
    doc["targets"]["fleet"]["files"] = {f"m/{i}.png": entry(b"x") for i in range(MAX_FILES + 1)}
    data, sig = sealed(key, doc)
    with pytest.raises(ReleaseRefused, match=f"at most {MAX_FILES}"):
        take(key, data, sig)


def test_an_oversized_manifest_is_refused_before_its_signature_is_checked(key):
    with pytest.raises(ReleaseRefused, match=f"at most {MAX_MANIFEST_BYTES}"):
        take(key, b" " * (MAX_MANIFEST_BYTES + 1), b"x")


@pytest.mark.parametrize("change, reason", [
    ({"version": -1}, "version"), ({"version": "3"}, "version"), ({"expires": 1.5}, "expires"),
    ({"format": 2}, "format"), ({"extra": 1}, "extra"), ({"targets": {}}, "targets"),
    ({"targets": {"site/../x": {"files": {}}}}, "is not fleet, site/<site>"),
])
def test_malformed_fields_are_refused(key, change, reason):
    data, sig = sealed(key, document(key, **change))
    with pytest.raises(ReleaseRefused, match=reason):
        take(key, data, sig)


def test_a_negative_or_huge_size_is_refused(key):
    doc = document(key)
    doc["targets"]["fleet"]["files"]["big.mp4"] = {"sha256": "0" * 64, "size": 1 << 50}
    data, sig = sealed(key, doc)
    with pytest.raises(ReleaseRefused, match="size"):
        take(key, data, sig)


def test_a_release_larger_than_the_disk_budget_is_refused_before_downloading(key):
    data, sig = sealed(key, document(key))
    with pytest.raises(ReleaseRefused, match="content.budget_mb"):
        take(key, data, sig, site="lab", budget=5)


def test_a_release_without_a_target_for_this_screen_is_refused(key):
    doc = document(key, targets={"site/hq": {"files": {"a.yaml": entry(b"x")}}})
    data, sig = sealed(key, doc)
    with pytest.raises(ReleaseRefused, match="no target for lab/kiosk-1"):
        take(key, data, sig, site="lab")


def test_not_json_after_a_valid_signature_is_refused(key):
    data = b"\xff\xfe not json"
    with pytest.raises(ReleaseRefused, match="not JSON"):
        take(key, data, signing.sign(key, data))


@pytest.mark.parametrize("path", ["lobby.yaml", "media/a b (1).png", "a/b/c/d.mp4", "é.png"])
def test_ordinary_paths_pass(path):
    assert path_problem(path) is None


def test_parse_names_the_field():
    with pytest.raises(ValueError, match="version"):
        parse(b'{"format":1}')


# ----- the key --------------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "release.pem"
    key = signing.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing.key_id(signing.load_private(path).public_key()) == signing.key_id(key.public_key())
    with pytest.raises(ValueError, match="never overwritten"):
        signing.generate(path)
    os.chmod(path, 0o644)
    with pytest.raises(ValueError, match="readable by others"):
        signing.load_private(path)


def test_a_missing_or_foreign_key_file_is_explained(tmp_path):
    with pytest.raises(ValueError, match="signage keygen"):
        signing.load_private(tmp_path / "none.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    junk.chmod(0o600)
    with pytest.raises(ValueError, match="not an unencrypted PEM"):
        signing.load_private(junk)


def test_the_config_takes_the_printed_public_key_and_checks_the_content_folder(tmp_path):
    key = Ed25519PrivateKey.generate()
    text = signing.public_text(key.public_key())
    folder = tmp_path / "content"
    config = Config(playlists=str(folder / "current"),
                    content=ContentConfig(url="http://fleet:8080/releases", public_key=text, folder=str(folder)))
    assert config.content_folder == folder
    with pytest.raises(ValueError, match=f"set playlists: {folder / 'current'}"):
        Config(content=ContentConfig(url="http://fleet/releases", public_key=text, folder=str(folder)))
    with pytest.raises(ValueError, match="url is set but public_key is not"):
        Config(playlists=str(folder / "current"), content=ContentConfig(url="http://fleet/r", folder=str(folder)))
    for url in ("ftp://fleet/r", "http://user:pw@fleet/r", "http:///r", "http://fleet:99999/r", "http://f/r?x=1"):
        with pytest.raises(ValueError, match="content URL|use http"):
            ContentConfig(url=url)


@pytest.mark.parametrize("url", ["ftp://cdn/x", "http://user:pw@cdn/x", "http://cdn/x?y=1", "x" * 400])
def test_an_objects_url_that_is_not_a_plain_http_base_is_refused(key, url):
    data, sig = sealed(key, document(key, objects_url=url))
    with pytest.raises(ReleaseRefused, match="objects_url"):
        take(key, data, sig)
