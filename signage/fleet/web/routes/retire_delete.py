"""Forgetting screens from the pages (forget.py): retiring those not seen for some days,
from the fleet page, and deleting one with everything it reported, from its page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from signage.fleet import params, queries
from signage.fleet.web.deps import CsrfChecked, DashboardDep, current_session

router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/retire", response_class=HTMLResponse)
def retire_form(request: Request, dash: DashboardDep, days: str | None = None):
    n = params.retire_days(days or str(dash.settings.retire_after_days or 30))
    return dash.pages.render(request, "retire.html", days=n, count=queries.unseen(dash.reader, n))


@router.post("/retire")
def retire(dash: DashboardDep, session: CsrfChecked, days: str = Form("")):
    n = params.retire_days(days)
    retired = dash.writes.retire(n)
    session.flashes.append(("ok", f"Retired {retired} screens not seen for {n} days; their reports stay."))
    return RedirectResponse("/", status_code=303)


@router.get("/screen/{site}/{device}/delete", response_class=HTMLResponse)
def delete_form(request: Request, dash: DashboardDep, site: str, device: str):
    if queries.screen(dash.reader, site, device) is None:
        return dash.pages.render(request, "message.html", status=404, title="Unknown screen",
                                 message=f"There is no screen {site}/{device} to delete.")
    return dash.pages.render(request, "delete.html", site=site, device=device,
                             reported=queries.reported(dash.reader, site, device))


@router.post("/screen/{site}/{device}/delete")
def delete(dash: DashboardDep, session: CsrfChecked, site: str, device: str, confirm: str = Form("")):
    if confirm.strip() != f"{site}/{device}":
        session.flashes.append(("error", f"Not deleted: type {site}/{device} to confirm."))
        return RedirectResponse(f"/screen/{site}/{device}/delete", status_code=303)
    deleted = dash.writes.delete(site, device)
    session.flashes.append(("ok", f"Deleted {site}/{device} and everything it reported."
                            if deleted else f"{site}/{device} was already gone."))
    return RedirectResponse("/", status_code=303)
