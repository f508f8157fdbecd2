"""A command from a screen's page: checked, recorded, then sent (commands.Outbox); the
page says what was sent, or why not."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from signage.fleet import queries
from signage.fleet.outbox import CommandRefused
from signage.fleet.web.deps import CsrfChecked, DashboardDep, current_session

logger = logging.getLogger(__name__)

router = APIRouter(dependencies=[Depends(current_session)])


@router.post("/screen/{site}/{device}/command")
def command(request: Request, dash: DashboardDep, session: CsrfChecked, site: str, device: str,
            feature: str = Form(""), value: str = Form("")):
    try:
        sent = dash.outbox.send(site, device, feature, value)
    except CommandRefused as exc:
        logger.info("command refused: %s/%s %s=%r: %s", site[:64], device[:64], feature[:40], value[:64], exc)
        if queries.screen(dash.reader, site, device) is None:
            return dash.pages.render(request, "message.html", status=400, title="Command refused", message=str(exc))
        session.flashes.append(("error", f"Command refused: {exc}"))
        return RedirectResponse(f"/screen/{site}/{device}", status_code=303)
    session.flashes.append(("ok", f"Sent {feature} {sent} to {site}/{device}; waiting for the screen to answer."))
    return RedirectResponse(f"/screen/{site}/{device}", status_code=303)
