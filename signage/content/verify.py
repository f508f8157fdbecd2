"""What a kiosk accepts of a release, before it downloads a single media file.

In this order, each refusal saying why (ReleaseRefused): the manifest's size, the
signature over its exact bytes (nothing is parsed before it holds), its form and bounds
(manifest.py), the key id, a version higher than the one playing (an older release
replayed is refused, Rollback, which the updater reports without remembering it: rollback
means publishing the earlier content again, as a new version), not expired, not issued
implausibly far ahead of this screen's clock, a target naming this screen, and a size
within the disk budget. These are the attacks
The Update Framework (TUF) names: arbitrary content, rollback, freeze (an expired
release playing is reported in status by the updater, `expired`).
"""

from __future__ import annotations

from dataclasses import dataclass

from signage.content.manifest import MAX_MANIFEST_BYTES, Manifest, ManifestError, Target, parse
from signage.content.signing import PublicKey, SignatureRefused, check, key_id

MAX_AHEAD_S = 86400  # issued later than this ahead of the kiosk's clock: the clock is not set


class ReleaseRefused(Exception):
    """A release this screen will not play; the message says why (it goes to status and <root>/error).
    `final`: the same release will never pass here; not final: it may once this screen's clock is set."""

    def __init__(self, reason: str, final: bool = True):
        super().__init__(reason)
        self.final = final


class Rollback(ReleaseRefused):
    """A signed release not newer than the one playing: refused, but not remembered, since the
    server may serve the real newer one at its next look."""

    def __init__(self, offered: int, active: int):
        super().__init__(rollback_reason(offered, active))
        self.offered, self.active = offered, active


def rollback_reason(offered: int, active: int) -> str:
    older = "older than" if offered < active else "not newer than"
    return (f"the server offers version {offered}, {older} the active {active}: refused (rollback; to roll back, "
            "publish the earlier content as a new version)")


@dataclass(frozen=True)
class Accepted:
    manifest: Manifest
    target: str  # which of its targets this screen plays
    data: bytes  # the manifest's bytes, as signed (kept with the installed release)

    @property
    def files(self) -> Target:
        return self.manifest.targets[self.target]


def accept(data: bytes, signature: bytes, key: PublicKey, *, site: str, device: str, active: int | None,
           now: float, budget_bytes: int | None = None) -> Accepted:
    """The release, or ReleaseRefused. `active`: the version playing (None: none yet);
    `now`: the kiosk's wall clock (Unix seconds)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ReleaseRefused(f"manifest of {len(data)} bytes; at most {MAX_MANIFEST_BYTES}")
    try:
        check(key, data, signature)
    except SignatureRefused as exc:
        raise ReleaseRefused(str(exc)) from None
    try:
        manifest = parse(data)
    except ManifestError as exc:
        raise ReleaseRefused(f"signed but malformed manifest: {exc}") from None
    if manifest.key_id != key_id(key):
        raise ReleaseRefused(f"the manifest names key {manifest.key_id}, but it verifies with {key_id(key)}")
    if active is not None and manifest.version <= active:
        raise Rollback(manifest.version, active)
    if manifest.expires <= now:
        raise ReleaseRefused(f"version {manifest.version} expired {now - manifest.expires:.0f} s ago; publish "
                             "it again to renew it")
    if manifest.issued > now + MAX_AHEAD_S:
        raise ReleaseRefused(f"version {manifest.version} was issued {manifest.issued - now:.0f} s ahead of this "
                             "screen's clock; is its clock set (NTP)?", final=False)
    target = manifest.target_for(site, device)
    if target is None:
        raise ReleaseRefused(f"version {manifest.version} has no target for {site}/{device} (neither "
                             f"screen/{site}/{device}, site/{site} nor fleet)")
    total = manifest.targets[target].total_bytes
    if budget_bytes is not None and total > budget_bytes:
        raise ReleaseRefused(f"version {manifest.version} ({target}) needs {total / 1e6:.1f} MB; the content budget "
                             f"is {budget_bytes / 1e6:.1f} MB (content.budget_mb)")
    return Accepted(manifest, target, data)


def expired(manifest: Manifest, now: float) -> bool:
    return manifest.expires <= now
