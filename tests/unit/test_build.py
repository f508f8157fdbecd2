"""Which build runs where: the version and the lock the environment was installed from."""

import hashlib
import subprocess
import sys

from signage import __version__, build


def test_record_then_describe_names_the_lock_s_short_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert build.describe() == f"{__version__} (lock unknown)"
    lock = tmp_path / "uv.lock"
    lock.write_text("version = 1\n")
    build.record(lock)
    assert build.lock_hash() == hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    assert build.describe() == f"{__version__} (lock {build.lock_hash()})"


def test_a_damaged_record_is_unknown_never_shown_raw(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    (tmp_path / build.RECORD).write_text("<script>not a hash</script>")
    assert build.lock_hash() is None


def test_signage_version_prints_both():
    printed = subprocess.run([sys.executable, "-m", "signage.cli", "--version"], capture_output=True, text=True)
    assert printed.returncode == 0
    assert printed.stdout.startswith(f"signage {__version__} (lock ") and printed.stdout.strip().endswith(")")
