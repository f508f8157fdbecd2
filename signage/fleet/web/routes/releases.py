"""Content releases, read-only, for the kiosks: `/releases/latest`, `/releases/<version>/
manifest.json` and `manifest.sig`, `/releases/objects/<sha256>`, straight from the
releases folder `signage publish` writes (fleet config `releases:`).

No login: a kiosk has no session, and the files need none. What they hold is signed
(a kiosk trusts the publisher's key, not this server) and shown on public screens.
Only those four forms of path are answered, so nothing else of the folder (its lock,
a release being written) is served. Range requests are answered (Starlette's
FileResponse), so a kiosk resumes a download where it broke off.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from signage.fleet.web.deps import DashboardDep

router = APIRouter()

SERVED = re.compile(r"^(latest|[0-9]{1,16}/manifest\.(json|sig)|objects/[0-9a-f]{64})$")
TYPES = {"latest": "text/plain", "json": "application/json", "sig": "text/plain"}


@router.get("/releases/{path:path}")
def release_file(path: str, dash: DashboardDep):
    folder = dash.settings.releases
    if folder is None or not SERVED.match(path):
        raise HTTPException(404, "no such release file")
    target = Path(folder) / path
    if not target.is_file():
        raise HTTPException(404, "no such release file")
    kind = path.rsplit(".", 1)[-1] if "/manifest." in path else ("latest" if path == "latest" else "")
    cache = "no-cache" if kind in ("latest", "json", "sig") else "public, max-age=31536000, immutable"
    return FileResponse(target, media_type=TYPES.get(kind, "application/octet-stream"),
                        headers={"Cache-Control": cache})
