"""A damaged spool whose rebuild cannot finish, and a storage that keeps damaging spools:
the readable rows of every damaged file end up in a spool (once, in order), the files kept
for forensics are bounded, and repeated damage is rebuilt with a growing gap, never in a loop.
Real files on a real full disk (a tmpfs of its own, `small_disk`)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from signage.config import MqttConfig
from signage.telemetry import mqtt
from signage.telemetry.mqtt import Telemetry
from signage.telemetry.spool import MAX_ASIDE, PENDING, Spool, SpoolUnavailable
from tests.hostile import spools
from tests.integration.test_telemetry_faults import fill

PAGE = spools.PAGE


def damaged_spool(path: Path, count: int = 300) -> list[str]:
    """A spool of `count` messages with a page of garbage in its middle; the ids it held."""
    written = spools.good_spool(path, count=count)
    data = bytearray(path.read_bytes())
    start = (len(data) // PAGE // 2) * PAGE
    data[start:start + PAGE] = b"\xa5" * PAGE
    path.write_bytes(bytes(data))
    return written


def ids_in(spool: Spool) -> list[str]:
    return [json.loads(m.payload)["id"] for m in spool.oldest(100_000)]


def aside_files(folder: Path, pending: bool) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".corrupt-" in p.name and p.name.endswith(PENDING) == pending
                  and not p.name.endswith(("-wal", "-shm", "-journal")))


class DiskFillsDuringTheRebuild(Spool):
    """The disk fills between moving the damaged file aside and creating the new spool (the
    original must open for its damage to be seen, so the full disk is simulated at that step)."""

    def _connect(self):
        if any(".corrupt-" in p.name for p in Path(self.path).parent.iterdir()):
            raise sqlite3.OperationalError("database or disk is full")
        super()._connect()


def test_a_rebuild_that_cannot_make_a_new_spool_copies_the_rows_at_the_next_open(tmp_path):
    path = tmp_path / "spool.sqlite3"
    written = damaged_spool(path)
    damaged = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(SpoolUnavailable, match="copied once a new spool can be made"):
        DiskFillsDuringTheRebuild(path)
    [pending] = aside_files(tmp_path, pending=True)
    assert hashlib.sha256(pending.read_bytes()).hexdigest() == damaged, "the damaged file is kept as it was"
    assert not path.exists()

    spool = Spool(path)  # space again: the next open copies what the failed rebuild could not
    try:
        ids = ids_in(spool)
        assert len(ids) >= 0.9 * len(written), "all but the damaged page"
        assert ids == [i for i in written if i in set(ids)], "in their order, nothing invented"
        assert spool.recovery is not None and spool.recovery.recovered == len(ids)
        assert not aside_files(tmp_path, pending=True)
        [kept] = aside_files(tmp_path, pending=False)
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == damaged
    finally:
        spool.close()
    again = Spool(path)  # nothing pending any more: nothing copied twice
    try:
        assert ids_in(again) == ids and again.recovery is None
    finally:
        again.close()


def test_a_damaged_spool_on_a_full_disk_waits_and_is_recovered_when_space_returns(small_disk):
    path = small_disk / "spool.sqlite3"
    written = damaged_spool(path, count=120)  # small: the copy and its WAL must fit on the small disk later
    assert sorted(p.name for p in small_disk.iterdir()) == ["spool.sqlite3"], "checkpointed"
    damaged = hashlib.sha256(path.read_bytes()).hexdigest()
    filler = fill(small_disk)
    with pytest.raises(SpoolUnavailable, match="cannot open the spool"):
        Spool(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == damaged and not aside_files(small_disk, pending=True)
    filler.unlink()
    spool = Spool(path)
    try:
        ids = ids_in(spool)
        assert len(ids) >= 0.85 * len(written) and ids == [i for i in written if i in set(ids)]
    finally:
        spool.close()


def test_a_copy_interrupted_after_its_commit_is_not_copied_twice(tmp_path):
    path = tmp_path / "spool.sqlite3"
    damaged_spool(path)
    spool = Spool(path)  # rebuilt: rows copied, the damaged file renamed
    [kept] = aside_files(tmp_path, pending=False)
    ids = ids_in(spool)
    spool.put("signage/lab/kiosk-1/metrics", json.dumps({"id": "new"}).encode())
    spool.close()
    # The power went between the copy's commit and the rename: the file is still pending.
    shutil.copy(kept, kept.with_name(kept.name.replace(".corrupt-", ".corrupt-0") + PENDING))
    reopened = Spool(path)
    try:
        assert ids_in(reopened) == ids + ["new"], "rows already there are skipped, new rows keep their place"
        assert not aside_files(tmp_path, pending=True)
    finally:
        reopened.close()


def test_the_rows_of_a_pending_file_that_collide_with_new_rows_are_kept(tmp_path):
    """The new spool was made and used before the pending file could be copied (e.g. by an
    older version): salvaged rows whose numbers are taken by other messages get new numbers."""
    aside = tmp_path / "elsewhere.sqlite3"
    written = spools.good_spool(aside, count=50)
    path = tmp_path / "spool.sqlite3"
    fresh = Spool(path)
    fresh.put_many([("t", json.dumps({"id": f"fresh-{i}"}).encode(), 1, False) for i in range(20)])
    fresh.close()
    aside.rename(tmp_path / f"spool.sqlite3.corrupt-20260101T000000Z{PENDING}")
    spool = Spool(path)
    try:
        ids = ids_in(spool)
        assert sorted(ids) == sorted(written + [f"fresh-{i}" for i in range(20)]), "every message once"
    finally:
        spool.close()


def test_damaged_files_kept_for_forensics_are_bounded(tmp_path, caplog):
    path = tmp_path / "spool.sqlite3"
    (tmp_path / "spool.sqlite3.corrupt-20200101T000000Z").mkdir()  # someone's directory: never deleted
    for _ in range(MAX_ASIDE + 2):
        damaged_spool(path, count=40)
        Spool(path).close()
    kept = aside_files(tmp_path, pending=False)
    files = [p for p in kept if p.is_file()]
    assert len(files) == MAX_ASIDE and any(p.is_dir() for p in kept)
    assert sum("removed the oldest damaged spool" in r.message for r in caplog.records) == 2


class AlwaysDamaged(Spool):
    """A spool on storage that damages every file: each write fails as corrupt."""

    rebuilds = 0

    def write(self, messages=(), acked=()):
        raise sqlite3.DatabaseError("database disk image is malformed")

    def rebuild(self, reason):
        AlwaysDamaged.rebuilds += 1
        return super().rebuild(reason)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_storage_that_keeps_damaging_spools_is_rebuilt_with_a_growing_gap(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    spool = AlwaysDamaged(tmp_path / "spool.sqlite3")
    device = Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "kiosk-1", spool, clock=clock)
    for i in range(50):
        device.send("metrics", {"schema": 1, "id": f"m-{i}"})
    rebuild_times = []
    for _ in range(2 * 3600):  # two hours of pump steps, one per simulated second
        before = AlwaysDamaged.rebuilds
        device._step()
        if AlwaysDamaged.rebuilds > before:
            rebuild_times.append(clock.now)
        clock.now += 1.0
    gaps = [b - a for a, b in zip(rebuild_times, rebuild_times[1:])]
    first, most = mqtt.REBUILD_GAP_S
    assert gaps[0] >= first and all(b >= min(most, 2 * a) for a, b in zip(gaps, gaps[1:])), gaps
    assert len(rebuild_times) <= 8, "not a rebuild per step"
    health = device.health()
    assert health.spool.startswith("error: damaged again") and health.problem
    assert device.health().held == 50, "every message is still held in memory"
    files = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name and p.is_file()
             and not p.name.endswith(("-wal", "-shm"))]
    assert len(files) <= MAX_ASIDE, "the damaged files do not fill the disk"
    assert sum("damaged again" in r.message for r in caplog.records) <= len(rebuild_times), "one line per episode"
