"""What every `signage bench` measures with: the spread of repeated ratios and a verdict,
process and per-thread CPU time, resident memory and glibc's heap, read from /proc,
`resource` and glibc."""

from __future__ import annotations

import ctypes
import os
import resource
import statistics
import tracemalloc
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spread:
    """min / median / max of one figure over the repeats of one run."""

    low: float
    median: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            raise ValueError("a spread needs at least one value")
        return cls(min(values), statistics.median(values), max(values))

    def format(self, fmt: str = ".2f") -> str:
        return " / ".join(format(v, fmt) for v in (self.low, self.median, self.high))


def verdict(met: bool) -> str:
    """One word per target, the same in every bench."""
    return "met" if met else "MISSED"


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_by_thread() -> dict[str, float]:
    """CPU seconds per thread group (a thread's name without its number), from /proc/self/task."""
    ticks = os.sysconf("SC_CLK_TCK")
    usage: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended while we read
        group = name.split("-")[0].rstrip("0123456789_") or name
        if group in ("signage", "python", "python3"):  # the main thread and unnamed library threads
            group = "main+libraries"
        usage[group] = usage.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return usage


def rss_mb() -> float:
    """Resident memory of this process now, in MiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576


class _MallInfo2(ctypes.Structure):  # glibc >= 2.33, struct mallinfo2
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                       "fsmblks", "uordblks", "fordblks", "keepcost")]


@dataclass(frozen=True)
class Malloc:
    """glibc's heap, all arenas: bytes handed out (in_use), and bytes it keeps free for
    later (free_held: holes and tops; pages malloc_trim gave back count here too, so it
    is what could be resident, not what is)."""

    in_use: int
    free_held: int
    mapped: int  # of in_use: the buffers glibc mapped on their own (freed: unmapped at once)


def malloc_now() -> Malloc | None:
    """glibc's mallinfo2(), or None where the C library has none (musl, glibc < 2.33)."""
    try:
        info = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    info.restype = _MallInfo2
    value = info()
    return Malloc(value.uordblks + value.hblkhd, value.fordblks, value.hblkhd)


def rss_parts_mb() -> tuple[float, float]:
    """Resident memory now as (anonymous: heaps, stacks, buffers; file-backed: the code of
    the libraries loaded), in MiB, from /proc/self/status."""
    parts = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("RssAnon:", "RssFile:")):
                parts[line.split(":")[0]] = int(line.split()[1]) / 1024
    return parts.get("RssAnon", 0.0), parts.get("RssFile", 0.0)


def open_files() -> int:
    """File descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    """OS threads of this process, named by us or not (FFmpeg's, XNNPACK's, Mesa's)."""
    return len(os.listdir("/proc/self/task"))


class PeakGrowth:
    """How far this process's memory rose above where it stood, at its highest, while a
    block ran: the resident high-water mark (VmHWM, reset by writing 5 to
    /proc/self/clear_refs) where the kernel allows it, else tracemalloc's peak (Python's
    own allocations only, and slower). `how` says which; `bytes` and `peak` (the
    high-water mark itself, 0 under tracemalloc) are set on exit."""

    def __init__(self) -> None:
        self.how = "rss"
        self.bytes = 0
        self.peak = 0
        self._base = 0

    def __enter__(self) -> PeakGrowth:
        _trim()  # what glibc holds free goes back first, or reusing it would not show as growth
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._base = _status_kb("VmRSS") * 1024
        except OSError:
            self.how = "tracemalloc"
            tracemalloc.start()
        return self

    def __exit__(self, *_) -> None:
        if self.how == "rss":
            self.peak = _status_kb("VmHWM") * 1024
            self.bytes = max(0, self.peak - self._base)
        else:
            self.bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _trim() -> None:
    """glibc's malloc_trim(0), where the C library has it."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
