import json
import re
import shutil
import subprocess
import sys

from signage.cli import main


def test_json_on_an_image_folder_names_each_file(tmp_path, models_dir, samples, capsys):
    for name in ("multi_face.jpg", "single_face.jpg"):
        shutil.copy(samples / name, tmp_path / name)
    assert main(["vision", "--source", str(tmp_path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    frames, summary = records[:-1], records[-1]
    assert [r["file"] for r in frames] == ["multi_face.jpg", "single_face.jpg"]
    assert [len(r["faces"]) for r in frames] == [5, 1]
    face = frames[1]["faces"][0]
    assert set(face) == {"box", "score", "expressions", "expression", "looking", "yaw", "pitch",
                         "distance_m", "zone", "confirmed", "dwell_s"}
    assert all(0 <= face["box"][k] <= 1 for k in "xywh")
    assert abs(sum(face["expressions"].values()) - 1) < 0.01 and face["expression"] == "happy"
    assert summary == {"summary": {"frames": 2, "passers": 0, "viewers": 0}}


def test_human_output_ends_with_a_summary(models_dir, samples, capsys):
    assert main(["vision", "--source", str(samples / "single_face.mp4"), "--fast"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "done: 72 frames, 1 passers, 1 viewers"
    assert re.match(r"faces 1 confirmed 1 looking 1 \| [a-z]+:1 \| +[0-9.]+ fps \| detect [0-9.]+ ms", out[-2])


def test_missing_models_is_one_clear_error(tmp_path, samples):
    result = subprocess.run(
        [sys.executable, "-m", "signage.cli", "vision", "--source", str(samples / "single_face.jpg")],
        env={"SIGNAGE_MODELS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert result.returncode == 2
    assert "face_detection_full_range.tflite is missing: run `signage models fetch`" in result.stderr


def test_json_lists_the_tracks_still_open_when_the_source_ends(models_dir, samples, capsys):
    """single_face.mp4's person is still in view when the video ends: every passer the
    summary counts is listed in some record's `ended`, the last ones in `end_of_source`."""
    assert main(["vision", "--source", str(samples / "single_face.mp4"), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = records[-1]["summary"]
    listed = sum(len(r.get("ended", [])) for r in records[:-1])
    assert summary["passers"] == listed == 1
    assert records[-2]["end_of_source"] is True and len(records[-2]["ended"]) == 1
