"""The headers every answer carries: no framing, no sniffing, no referrer to other sites, a
content security policy that allows only the dashboard's own files, and no caching of
anything behind the login."""

from __future__ import annotations

from fastapi import Request

from signage.fleet.web.deps import public

SECURITY = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'",
}


async def security_headers(request: Request, call_next):
    response = await call_next(request)
    for name, value in SECURITY.items():
        response.headers.setdefault(name, value)
    if not public(request.url.path):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
