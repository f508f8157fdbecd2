"""The hostile gallery: committed files (playlists/, configs/) plus the members that
must be generated (symlinks to system files, a FIFO, a 1 GiB sparse file, a real
48-megapixel PNG), made in a temporary copy by `build`."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
EXPECTED = yaml.safe_load((HERE / "expected.yaml").read_text())
OUTSIDE_SECRET = "SECRET-OUTSIDE-CONTENT-must-never-be-quoted"


def real_png(width: int, height: int) -> bytes:
    """A real, decodable black PNG (compressed rows of zeros: small on disk, huge decoded)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 3)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def build(tmp_path: Path) -> Path:
    """tmp_path/playlists: the committed playlist gallery and the generated members."""
    folder = tmp_path / "playlists"
    shutil.copytree(HERE / "playlists", folder, symlinks=True)
    outside = tmp_path / "outside.yaml"
    outside.write_text(f"creatives: [{OUTSIDE_SECRET}]\n")
    (folder / "link-etc-passwd.yaml").symlink_to("/etc/passwd")
    (folder / "link-etc-hostname.yaml").symlink_to("/etc/hostname")
    (folder / "link-dev-zero.yaml").symlink_to("/dev/zero")
    (folder / "link-relative-escape.yaml").symlink_to("../outside.yaml")
    (folder / "link-dangling.yaml").symlink_to("nowhere.yaml")
    (folder / "link-loop.yaml").symlink_to("link-loop.yaml")
    os.mkfifo(folder / "not-a-file-fifo.yaml")
    with (folder / "size-sparse-1gib.yaml").open("wb") as handle:
        handle.truncate(1 << 30)  # sparse: costs no disk, would cost 1 GiB read
    (folder / "creatives" / "real-48mp.png").write_bytes(real_png(8000, 6000))
    (folder / "image-real-48mp.yaml").write_text(
        "creatives:\n  - {id: real-48mp, type: image, media: creatives/real-48mp.png}\ndefault: [real-48mp]\n")
    return folder


def playlist_members() -> list[str]:
    return sorted(EXPECTED["playlists"])


def config_members() -> list[str]:
    return sorted(EXPECTED["configs"])
