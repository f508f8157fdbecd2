"""A damaged spool whose rebuild cannot finish, and a storage that keeps damaging spools:
the readable rows of every damaged file end up in a spool (once, in order), the files kept
for forensics are bounded, and repeated damage is rebuilt with a growing gap, never in a loop.
Real files on a real full disk (a tmpfs of its own, `small_disk`)."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import types
from pathlib import Path

import pytest

from signage.config import MqttConfig
from signage.telemetry import keeper
from signage.telemetry.mqtt import Telemetry
from signage.telemetry.spool import MAX_ASIDE, PENDING, Spool, SpoolDamaged, SpoolFull, SpoolUnavailable, damaged
from signage.telemetry.spool import salvage as salvage_module
from signage.wire.client import PUBLISHED
from tests.disks import fill
from tests.fakes import FakeClock
from tests.hostile import spools

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

    def write(self, messages=(), acked=(), held=None):
        raise SpoolDamaged("database disk image is malformed")

    def rebuild(self, reason):
        AlwaysDamaged.rebuilds += 1
        return super().rebuild(reason)


def test_storage_that_keeps_damaging_spools_is_rebuilt_with_a_growing_gap(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    spool = AlwaysDamaged(tmp_path / "spool.sqlite3")
    device = Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "kiosk-1", spool, clock=clock)
    for i in range(50):
        device.send("metrics", {"schema": 1, "id": f"m-{i}"})
    rebuild_times = []
    step = 0.7
    start = clock.now
    while clock.now - start < 6 * 3600:  # six hours of pump steps, 0.7 simulated seconds apart
        before = AlwaysDamaged.rebuilds
        device._pump.step()
        if AlwaysDamaged.rebuilds > before:
            rebuild_times.append(clock.now)
        clock.now += step
    gaps = [b - a for a, b in zip(rebuild_times, rebuild_times[1:])]
    first, most = keeper.REBUILD_GAP_S
    # a rebuild comes at the first step after its gap: measured gaps carry up to a step
    assert gaps[0] >= first and all(b >= min(most, 2 * a) - 2 * step for a, b in zip(gaps, gaps[1:])), str(gaps)
    assert all(b >= a - step for a, b in zip(gaps, gaps[1:])), \
        f"the gap never goes back down while damage comes: {gaps}"
    assert sum(gap >= most for gap in gaps) >= 3, f"it stays at the most once there: {gaps}"
    assert len(rebuild_times) <= 14, "not a rebuild per step"
    health = device.health()
    assert health.spool.startswith("error: damaged again") and health.problem
    assert device.health().held == 50, "every message is still held in memory"
    files = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name and p.is_file()
             and not p.name.endswith(("-wal", "-shm"))]
    assert len(files) <= MAX_ASIDE, "the damaged files do not fill the disk"
    assert sum("damaged again" in r.message for r in caplog.records) <= len(rebuild_times), "one line per episode"


# ----- the environment fails during a rebuild or a salvage ---------------------------------------


def damaged_writes(monkeypatch) -> None:
    """Writes to a Spool object marked `damaged` fail as a damaged file would (a mark on the
    object, not its id: a new object may reuse a dead one's id)."""
    real_write, real_rebuild = Spool.write, Spool.rebuild

    def write(self, messages=(), acked=(), held=None):
        if getattr(self, "damaged", False):
            raise SpoolDamaged("database disk image is malformed")
        return real_write(self, messages, acked)

    def rebuild(self, reason):
        self.damaged = False  # a new file
        return real_rebuild(self, reason)

    monkeypatch.setattr(Spool, "write", write)
    monkeypatch.setattr(Spool, "rebuild", rebuild)


@pytest.mark.parametrize("error", [errno.EIO, errno.EACCES, errno.EROFS])
@pytest.mark.parametrize("where", ["move aside", "list the damaged files"])
def test_an_os_error_during_a_rebuild_leaves_a_spool_that_is_opened_again(error, where, tmp_path, monkeypatch,
                                                                          caplog):
    clock = FakeClock()
    path = tmp_path / "spool.sqlite3"
    device = Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "kiosk-1", path, clock=clock)
    damaged_writes(monkeypatch)
    failing = [True]
    real_move, real_list = damaged.move_aside, damaged.files

    def move_aside(target):
        if failing[0]:
            raise OSError(error, os.strerror(error), str(target))
        return real_move(target)

    def list_aside(path, pending):
        if failing[0]:
            raise OSError(error, os.strerror(error), str(tmp_path))
        return real_list(path, pending)

    if where == "move aside":
        monkeypatch.setattr(damaged, "move_aside", move_aside)
    else:  # the folder cannot be listed once the rows are copied
        monkeypatch.setattr(damaged, "files", list_aside)
    first = device.spool
    first.damaged = True
    for i in range(20):
        device.send("metrics", {"schema": 1, "id": f"m-{i}"})
    device._pump.step()  # the write finds damage, the rebuild meets the OSError
    health = device.health()
    assert device.spool is None and health.spool.startswith("unusable"), health
    assert health.held == 20
    failing[0] = False
    clock.now += keeper.REOPEN_S
    device._pump.step()  # opened again, the hold written into it
    assert device.spool is not None and device.spool is not first
    assert device.health().spool in ("ok",) or device.health().spool.startswith("recovered"), device.health()
    assert device.health().held == 0
    assert [json.loads(m.payload)["id"] for m in device.spool.oldest(100)][-20:] == [f"m-{i}" for i in range(20)]
    device.spool.close()


class FillsTheDiskBeforeTheCopy(Spool):
    """The disk fills between starting the new spool and reading the damaged file (a real
    full disk: the repaired copy of a file with a damaged header cannot be written)."""

    disk: Path

    def _adopt(self, aside, reason):
        self.filler = fill(self.disk)
        return super()._adopt(aside, reason)


def garbage_header_spool(path: Path, count: int) -> list[str]:
    written = spools.good_spool(path, count=count)
    data = bytearray(path.read_bytes())
    data[:100] = b"\x5a" * 100
    path.write_bytes(bytes(data))
    return written


@pytest.mark.parametrize("failure", ["disk full while copying", "no temporary file (EIO)",
                                     "no temporary file (ENOSPC)"])
def test_a_damaged_file_that_could_not_be_read_for_lack_of_room_stays_pending(failure, small_disk, monkeypatch):
    path = small_disk / "spool.sqlite3"
    written = garbage_header_spool(path, count=60)
    damaged = hashlib.sha256(path.read_bytes()).hexdigest()
    if failure == "disk full while copying":
        FillsTheDiskBeforeTheCopy.disk = small_disk
        spool = FillsTheDiskBeforeTheCopy(path)
        free_space = spool.filler.unlink
    else:
        code = errno.EIO if "EIO" in failure else errno.ENOSPC

        def mkstemp(*args, **kwargs):
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(salvage_module.tempfile, "mkstemp", mkstemp)
        spool = Spool(path)
        free_space = monkeypatch.undo
    try:
        assert spool.recovery is not None and spool.recovery.blocked, spool.recovery
        assert "read again at the next open" in spool.recovery.describe()
        [pending] = aside_files(small_disk, pending=True)
        assert hashlib.sha256(pending.read_bytes()).hexdigest() == damaged, "kept as it was"
        assert not aside_files(small_disk, pending=False), "not counted as copied"
    finally:
        spool.close()
    free_space()
    again = Spool(path)  # room again: the next open reads it
    try:
        ids = ids_in(again)
        assert ids == written, "every row, in order"
        assert not aside_files(small_disk, pending=True) and len(aside_files(small_disk, pending=False)) == 1
    finally:
        again.close()


class FakeInfo:
    def __init__(self, mid):
        self.mid, self.rc = mid, PUBLISHED


class FakePaho:
    """paho at its boundary: takes publishes and numbers them; the test plays the broker."""

    def __init__(self):
        self.published: list[tuple[int, bytes]] = []

    def publish(self, topic, payload, qos=0, retain=False):
        info = FakeInfo(len(self.published) + 1)
        self.published.append((info.mid, bytes(payload) if isinstance(payload, bytes) else payload.encode()))
        return info


PUBACK = types.SimpleNamespace(is_failure=False)


def test_late_acknowledgements_never_delete_messages_of_a_new_spool(tmp_path, monkeypatch):
    """Rows 1-5 are handed to the broker; the file is damaged and its rows cannot be copied
    (twice); a new file takes new messages; the broker's late PUBACKs for rows 1-5 must not
    delete them."""
    clock = FakeClock()
    path = tmp_path / "spool.sqlite3"
    device = Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "kiosk-1", path, clock=clock)
    device._link.client = paho = FakePaho()
    device._link._set_state(True, None)
    damaged_writes(monkeypatch)
    for i in range(5):
        device.send("metrics", {"schema": 1, "id": f"old-{i}"})
    device._pump.step()
    assert [mid for mid, _ in paho.published] == [1, 2, 3, 4, 5] and device.spool.depth == 5
    device.spool.damaged = True

    real_adopt = Spool._adopt

    def cannot_copy(self, aside, reason, older=False):
        raise SpoolUnavailable(f"cannot copy the readable messages of {aside}: disk I/O error")

    monkeypatch.setattr(Spool, "_adopt", cannot_copy)
    device.send("metrics", {"schema": 1, "id": "new-0"})
    device._pump.step()  # damaged: the rebuild cannot copy the old rows
    assert device.spool is None
    clock.now += keeper.REOPEN_S
    device._pump.step()  # a new file; the pending file cannot be copied either; new-0 goes in and out
    assert device.spool is not None and device.spool.depth == 1
    [new_row] = device.spool.oldest(10)
    assert new_row.row > 5, "a row number the broker has not seen"
    assert json.loads(paho.published[-1][1])["id"] == "new-0"
    for mid in range(1, 6):  # the broker acknowledges the old rows, late
        device._link._on_publish(paho, None, mid, PUBACK, None)
    device._pump.step()
    assert [json.loads(m.payload)["id"] for m in device.spool.oldest(10)] == ["new-0"], "not deleted"

    # The new file is damaged in its turn, and this time the old file's rows can be copied:
    # they come in below the rows already handed out, and are handed out again.
    monkeypatch.setattr(Spool, "_adopt", real_adopt)
    device.spool.damaged = True
    clock.now += 4 * keeper.REBUILD_GAP_S[0]
    device.send("metrics", {"schema": 1, "id": "new-1"})
    handed = len(paho.published)
    device._pump.step()  # rebuilt in place; the pending file's rows copied in
    device._pump.step()
    again = [json.loads(payload)["id"] for _, payload in paho.published[handed:]]
    assert [i for i in again if i.startswith("old-")] == [f"old-{i}" for i in range(5)], again
    assert "new-1" in again
    device.spool.close()


def test_a_stop_within_the_rebuild_gap_makes_one_more_spool_for_the_hold(tmp_path, caplog):
    class DamagedUntilRebuiltTwice(Spool):
        rebuilds = 0

        def write(self, messages=(), acked=(), held=None):
            if DamagedUntilRebuiltTwice.rebuilds < 2:
                raise SpoolDamaged("database disk image is malformed")
            return super().write(messages, acked, held)

        def rebuild(self, reason):
            DamagedUntilRebuiltTwice.rebuilds += 1
            return super().rebuild(reason)

    clock = TickingClock()
    path = tmp_path / "spool.sqlite3"
    device = Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "kiosk-1", DamagedUntilRebuiltTwice(path),
                       clock=clock)
    for i in range(30):
        device.send("metrics", {"schema": 1, "id": f"m-{i}"})
    device._pump.step()  # damaged: rebuilt once
    device._pump.step()  # damaged again at once: within the gap, held in memory
    assert DamagedUntilRebuiltTwice.rebuilds == 1 and device.health().spool.startswith("error: damaged again")
    device.stop(timeout=5)  # the broker is away: a last fresh spool keeps the hold
    assert DamagedUntilRebuiltTwice.rebuilds == 2
    assert "are lost" not in caplog.text
    saved = Spool(path)
    try:
        assert ids_in(saved)[-30:] == [f"m-{i}" for i in range(30)]
    finally:
        saved.close()


class TickingClock(FakeClock):
    """Moves on a little at every reading: loops bounded by the clock end."""

    def __call__(self):
        self.now += 0.01
        return self.now


# ----- the damaged files kept aside: order and bounds -------------------------------------------


def test_aside_files_are_ordered_by_stamp_then_number(tmp_path):
    path = tmp_path / "spool.sqlite3"
    stamp = "20200101T000000Z"
    for number in ("", "-1", "-2", "-9", "-10", "-11"):
        (tmp_path / f"spool.sqlite3.corrupt-{stamp}{number}").write_bytes(b"kept")
    damaged_spool(path, count=40)
    Spool(path).close()  # rebuilt: one more aside file, today's; the oldest go
    kept = [p.name for p in aside_files(tmp_path, pending=False)]
    assert len(kept) == MAX_ASIDE
    assert f"spool.sqlite3.corrupt-{stamp}-10" in kept and f"spool.sqlite3.corrupt-{stamp}-11" in kept
    assert f"spool.sqlite3.corrupt-{stamp}-9" not in kept and f"spool.sqlite3.corrupt-{stamp}-2" not in kept


def test_every_pending_file_is_copied_at_one_open_oldest_first(tmp_path):
    path = tmp_path / "spool.sqlite3"
    expected = []
    for n in range(MAX_ASIDE + 3):
        source = tmp_path / f"source-{n}.sqlite3"
        spool = Spool(source)
        ids = [f"file{n}-{i}" for i in range(5)]
        spool.put_many([("t", json.dumps({"id": i}).encode(), 1, False) for i in ids])
        spool.close()
        source.rename(tmp_path / f"spool.sqlite3.corrupt-20260101T000000Z-{n}{PENDING}")
        expected += ids
    spool = Spool(path)
    try:
        assert sorted(ids_in(spool)) == sorted(expected) and len(ids_in(spool)) == len(expected)
        assert not aside_files(tmp_path, pending=True)
    finally:
        spool.close()


# ----- a reload replaces the link -----------------------------------------------------------------


class DiskFull(Spool):
    def write(self, messages=(), acked=(), held=None):
        raise SpoolFull("database or disk is full")


def link(spool, clock, **kwargs) -> Telemetry:
    return Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "kiosk-1", spool, clock=clock, **kwargs)


@pytest.mark.parametrize("new_path", ["same file", "another file"])
def test_a_reload_hands_what_the_old_link_holds_to_the_new_one(new_path, tmp_path, caplog):
    clock = TickingClock()
    old_path = tmp_path / "spool.sqlite3"
    old = link(DiskFull(old_path), clock)
    for i in range(25):
        old.send("metrics", {"schema": 1, "id": f"m-{i}"})
    old._pump.step()
    assert old.health().spool == "disk full" and old.health().held == 25
    new = link(old_path if new_path == "same file" else tmp_path / "elsewhere" / "spool.sqlite3", clock,
               open_spool=False)
    old.hand_over_to(new)
    old.stop(timeout=0.2)
    assert "are lost" not in caplog.text and "go to the new link" in caplog.text
    assert new.health().held == 25
    new._pump.step()  # the new link's pump: opens its spool, writes the hold
    assert new.health().held == 0
    assert [json.loads(m.payload)["id"] for m in new.spool.oldest(100)] == [f"m-{i}" for i in range(25)]
    new.spool.close()


def test_a_reload_that_moves_the_spool_copies_the_unsent_rows(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    clock = TickingClock()
    old_path, new_path = tmp_path / "spool.sqlite3", tmp_path / "moved" / "spool.sqlite3"
    old = link(old_path, clock)
    for i in range(40):  # the broker is away: spooled, unsent
        old.send("metrics", {"schema": 1, "id": f"old-{i}"})
    old._pump.step()
    assert old.spool.depth == 40
    new = link(new_path, clock, open_spool=False)
    old.hand_over_to(new)
    old.stop(timeout=1)
    new.send("metrics", {"schema": 1, "id": "new-0"})
    new._pump.step()
    ids = [json.loads(m.payload)["id"] for m in new.spool.oldest(100)]
    assert ids == [f"old-{i}" for i in range(40)] + ["new-0"], "the old rows first, each once"
    assert "copied 40 unsent messages from the previous spool" in caplog.text
    new._pump.step()
    assert new.spool.depth == 41, "copied once"
    new.spool.close()
    left = Spool(old_path)
    try:
        assert left.depth == 0, "moved, not copied: going back to the old path sends nothing twice"
    finally:
        left.close()


def test_rows_of_a_previous_spool_that_cannot_be_read_yet_are_copied_later(tmp_path, caplog):
    clock = FakeClock()
    old_path, new_path = tmp_path / "old" / "spool.sqlite3", tmp_path / "new.sqlite3"
    spools.good_spool(old_path, count=10)
    new = link(new_path, clock)
    hidden = old_path.with_name("hidden.sqlite3")
    old_path.rename(hidden)
    old_path.mkdir()  # someone's folder is in the way: the old spool cannot be opened now
    (old_path / "theirs.txt").write_text("not ours")
    new.adopt_spool_rows(str(old_path))
    new._pump.step()
    assert new.spool.depth == 0 and "cannot be copied" in caplog.text
    shutil.rmtree(old_path)
    hidden.rename(old_path)
    new._pump.step()
    assert new.spool.depth == 0, "not before REOPEN_S"
    clock.now += keeper.REOPEN_S
    new._pump.step()
    assert new.spool.depth == 10
    new.spool.close()


def test_how_long_the_spool_failed_is_told_on_the_injected_clock(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    device = link(tmp_path / "spool.sqlite3", clock)
    full = [True]
    real_write = Spool.write

    def write(self, messages=(), acked=(), held=None):
        if full[0]:
            raise SpoolFull("database or disk is full")
        return real_write(self, messages, acked)

    monkeypatch.setattr(Spool, "write", write)
    device.send("metrics", {"schema": 1, "id": "m-0"})
    device._pump.step()
    assert device.health().spool == "disk full"
    clock.now += 3600
    full[0] = False
    device._pump.step()
    assert device.health().spool == "ok" and "the spool accepts messages again after 3600 s" in caplog.text
    device.spool.close()


def test_the_rebuild_gap_resets_after_an_hour_without_damage(tmp_path):
    class DamagedWhileFailing(Spool):
        failing = True
        rebuilt_at: list[float] = []

        def write(self, messages=(), acked=(), held=None):
            if DamagedWhileFailing.failing:
                raise SpoolDamaged("database disk image is malformed")
            return super().write(messages, acked, held)

        def rebuild(self, reason):
            DamagedWhileFailing.rebuilt_at.append(clock.now)
            return super().rebuild(reason)

    clock = FakeClock()
    device = link(DamagedWhileFailing(tmp_path / "spool.sqlite3"), clock)

    def run(seconds: float, step: float = 0.7):
        end = clock.now + seconds
        while clock.now < end:
            device.send("metrics", {"schema": 1, "id": f"m-{clock.now}"})
            device._pump.step()
            clock.now += step

    run(500)  # failing storage: rebuilds 30, 60, 120 s... apart
    growing = DamagedWhileFailing.rebuilt_at[:]
    assert len(growing) >= 4 and growing[3] - growing[2] > 2 * keeper.REBUILD_GAP_S[0]
    DamagedWhileFailing.failing = False
    run(max(keeper.REBUILD_GAP_S[1], 2 * growing[-1]) + 60, step=5.0)  # well past the gap, then a calm hour
    assert device.health().problem is None and device.health().held == 0, device.health()
    DamagedWhileFailing.failing = True
    before = len(DamagedWhileFailing.rebuilt_at)
    run(120)
    again = DamagedWhileFailing.rebuilt_at[before:]
    assert len(again) >= 2 and again[1] - again[0] < 2 * keeper.REBUILD_GAP_S[0] + 1, "back to the first gap"
    device.spool.close()
