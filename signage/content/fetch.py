"""Downloading a release's files over HTTP(S): resumable, rate-capped, verified.

A file comes into `partial/<sha256>`; a download that breaks off (a truncated answer,
a server that dies mid-file, a timeout) keeps what arrived, and the next attempt asks
for the rest with `Range: bytes=<have>-` (a server that answers 200 instead sends it
all again). Only a file of exactly the manifest's size whose sha256 matches becomes
an object; anything else is deleted and refused. The rate cap keeps the download from
taking the CPU and the SD card's bandwidth the screen's video needs. Disk full
(ENOSPC) is a refusal that says so, and the partial file is removed to give the space
back.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from signage import __version__

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
TIMEOUT_S = 30.0


class FetchFailed(Exception):
    """A download did not complete; the message says why. `final`: trying again cannot help
    (the bytes are not the signed ones, or the disk is full). `missing`: the server answered
    404, it has no such file."""

    def __init__(self, reason: str, final: bool = False, missing: bool = False):
        super().__init__(reason)
        self.final, self.missing = final, missing


class BrokeOff(FetchFailed):
    """A file's download ended short: the bytes that arrived are kept, and the next
    attempt asks for the rest from byte `have` (Range)."""

    def __init__(self, path: str, have: int, size: int, what: str):
        super().__init__(f"{path}: {have} of {size} bytes arrived: {what}")
        self.have, self.size = have, size


class Stopped(Exception):
    """The kiosk is stopping: the download ends where it is (and resumes next time)."""


class Fetcher:
    def __init__(self, base_url: str, rate_bytes_s: float, stop: threading.Event | None = None,
                 timeout: float = TIMEOUT_S, clock: Callable[[], float] = time.monotonic):
        self.base_url, self.rate, self.timeout = base_url.rstrip("/"), rate_bytes_s, timeout
        self._stop = stop or threading.Event()
        self._clock = clock

    def _open(self, path: str, headers: dict[str, str]):
        request = urllib.request.Request(f"{self.base_url}/{path}",
                                         headers={"User-Agent": f"signage/{__version__}", **headers})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310 - http(s) only (config)
        except urllib.error.HTTPError as exc:
            raise FetchFailed(f"{path}: the server answered {exc.code} {exc.reason}", missing=exc.code == 404) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise FetchFailed(f"{path}: cannot reach {self.base_url} ({reason})") from None

    def small(self, path: str, limit: int) -> bytes:
        """A small file (the latest version, a manifest, its signature), at most `limit` bytes."""
        with self._open(path, {}) as answer:
            try:
                data = answer.read(limit + 1)
            except (OSError, http.client.HTTPException) as exc:
                raise FetchFailed(f"{path}: the download broke off ({exc})") from None
        if len(data) > limit:
            raise FetchFailed(f"{path}: more than {limit} bytes; refused")
        return data

    def file(self, path: str, partial: Path, size: int, sha256: str, progress: Callable[[int], None]) -> None:
        """`partial` completed to `size` bytes with this sha256 (FetchFailed otherwise);
        `progress(bytes)` after every chunk."""
        have = partial.stat().st_size if partial.exists() else 0
        if have > size:
            partial.unlink()
            have = 0
        digest = hashlib.sha256()
        if have:
            with partial.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        if have < size:
            digest = self._download(path, partial, have, size, digest, progress)
        if digest.hexdigest() != sha256:
            partial.unlink(missing_ok=True)
            raise FetchFailed(f"{path}: its sha256 is not the one the signed manifest names: the file on the "
                              "server was changed or damaged", final=True)

    def _download(self, path: str, partial: Path, have: int, size: int, digest, progress):
        """The digest over `partial`, now `size` bytes long (BrokeOff when fewer came)."""
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._open(path, headers) as answer:
            resumed = answer.status == 206 and (answer.headers.get("Content-Range") or "").startswith(f"bytes {have}-")
            if have and not resumed:  # the server ignores Range (or answers another one): it all comes again
                if answer.status == 206:  # not the part asked for: start afresh next time
                    partial.unlink(missing_ok=True)
                    raise FetchFailed(f"{path}: the server answered another range than bytes={have}-")
                have, digest = 0, hashlib.sha256()
            self._receive(answer, path, partial, have, size, digest, progress, "ab" if have else "wb")
            return digest

    def _receive(self, answer, path: str, partial: Path, have: int, size: int, digest, progress, mode: str) -> None:
        """The answer's body appended to `partial`; BrokeOff (what arrived kept) when it ends short."""
        started, sent, why = self._clock(), 0, ""
        try:
            with partial.open(mode) as out:
                while have < size:
                    if self._stop.is_set():
                        raise Stopped()
                    try:
                        chunk = answer.read(min(CHUNK, size - have))
                    except (OSError, http.client.HTTPException) as exc:  # reset, timeout, IncompleteRead
                        why = _broke_off(exc, self.timeout)
                        break
                    if not chunk:  # http.client reads b"" when the connection closes early, too
                        why = _ended(answer)
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    have += len(chunk)
                    sent += len(chunk)
                    progress(len(chunk))
                    self._pace(started, sent)
                if have == size and answer.read(1):
                    raise FetchFailed(f"{path}: the server sent more than the manifest's {size} bytes", final=True)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                partial.unlink(missing_ok=True)
                raise FetchFailed(f"{path}: the disk is full ({exc.strerror}); free space or lower "
                                  "content.budget_mb", final=True) from None
            raise
        if have < size:
            logger.info("%s broke off at %d of %d bytes: %s", path, have, size, why)
            raise BrokeOff(path, have, size, why)

    def _pace(self, started: float, sent: int) -> None:
        """Sleep as long as the bytes sent are ahead of the rate cap (the stop event wakes it)."""
        ahead = sent / self.rate - (self._clock() - started)
        if ahead > 0:
            self._stop.wait(ahead)


def _broke_off(exc: BaseException, timeout: float) -> str:
    """What the server did, in words, from the exception a read raised."""
    if isinstance(exc, http.client.IncompleteRead):
        return "the server closed the connection in the middle of the file"
    if isinstance(exc, TimeoutError):
        return f"the server sent nothing for {timeout:g} s"
    return f"the connection broke off ({exc.strerror or exc})" if isinstance(exc, OSError) else \
        f"the connection broke off ({type(exc).__name__})"


def _ended(answer) -> str:
    """Why an answer's body ended: the connection closed before its Content-Length, or
    the Content-Length itself was short of the file."""
    if answer.length:  # bytes of its Content-Length that never came
        return "the server closed the connection in the middle of the file"
    length = answer.headers.get("Content-Length")
    return f"the server ended its answer there (it announced Content-Length: {length})" if length else \
        "the server closed the connection (it announced no Content-Length)"
