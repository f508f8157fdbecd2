"""The quarantine: identities the fleet never provisioned that published under its root
(identities.py), for a person to provision or to find."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from signage.fleet.web.deps import DashboardDep, current_session

router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine_page(request: Request, dash: DashboardDep):
    return dash.pages.render(request, "quarantine.html", identities=dash.settings.identities)
