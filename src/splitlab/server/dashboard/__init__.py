"""The dashboard: server-rendered pages (Jinja2), inline SVG charts, no CDN, no JS framework.

Pages need a session: ``/login`` takes an admin key once and sets a signed session cookie
(see :mod:`splitlab.server.auth`). Status changes are plain HTML forms posted to
``/experiments/{id}/actions`` with a CSRF token tied to the session, and go through the same
lifecycle function as the API, recorded with the admin key's name and the reason typed in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from splitlab.config import Status
from splitlab.errors import SplitlabError
from splitlab.evaluation.lifecycle import change_status, set_toggle
from splitlab.server.auth import SESSION_COOKIE, SESSION_SECONDS
from splitlab.server.context import ServerContext
from splitlab.server.dashboard import pages
from splitlab.server.deps import Ctx, ExperimentId
from splitlab.server.keys import ApiKey, KeyKind
from splitlab.store.registry import UnknownExperimentError

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


def mount_static(app: FastAPI) -> None:
    """Serve the dashboard's CSS and JavaScript from the package."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")


def _session(request: Request, ctx: ServerContext) -> ApiKey | None:
    return ctx.sessions.check(request.cookies.get(SESSION_COOKIE))


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str = "/", error: str = "") -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": error, "user": None}
    )


@router.post("/login")
async def login(request: Request, ctx: Ctx) -> Response:
    form = await _form(request)
    target = _safe_next(form.get("next"))
    key = ctx.keys.verify(form.get("key", "").strip())
    if key is None or key.kind is not KeyKind.ADMIN:
        message = "That is not a valid admin key." if key is None else "That is an SDK key; " \
            "the dashboard needs an admin key."  # fmt: skip
        return templates.TemplateResponse(
            request, "login.html", {"next": target, "error": message, "user": None},
            status_code=401,
        )  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, ctx.sessions.issue(key), max_age=SESSION_SECONDS,
        httponly=True, samesite="strict", path="/",
    )  # fmt: skip
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def experiments_page(request: Request, ctx: Ctx) -> Response:
    user = _session(request, ctx)
    if user is None:
        return _to_login(request)
    rows = pages.experiments_list(ctx)
    return templates.TemplateResponse(request, "experiments.html", {"rows": rows, "user": user})


def _not_found(request: Request, user: ApiKey, what: str) -> Response:
    return templates.TemplateResponse(
        request, "not_found.html", {"user": user, "what": what}, status_code=404
    )


@router.get("/experiments/{experiment_id}")
def experiment_page(experiment_id: ExperimentId, request: Request, ctx: Ctx) -> Response:
    user = _session(request, ctx)
    if user is None:
        return _to_login(request)
    try:
        data = pages.experiment_page(ctx, experiment_id)
    except UnknownExperimentError:
        return _not_found(request, user, f"There is no experiment {experiment_id!r}.")
    cookie = request.cookies.get(SESSION_COOKIE, "")
    data.update(user=user, csrf=ctx.sessions.csrf_token(cookie),
                flash=request.query_params.get("flash", ""),
                flash_error=request.query_params.get("error", ""))  # fmt: skip
    return templates.TemplateResponse(request, "experiment.html", data)


@router.get("/experiments/{experiment_id}/looks/{seq}")
def look_page(experiment_id: ExperimentId, seq: str, request: Request, ctx: Ctx) -> Response:
    """One past look from the ledger, as it was recorded."""
    user = _session(request, ctx)
    if user is None:
        return _to_login(request)
    try:
        data = (
            pages.look_page(ctx, experiment_id, int(seq))
            if seq.isascii() and seq.isdigit()
            else None
        )
    except UnknownExperimentError:
        return _not_found(request, user, f"There is no experiment {experiment_id!r}.")
    if data is None:
        return _not_found(request, user, f"Experiment {experiment_id!r} has no look {seq!r}.")
    data["user"] = user
    return templates.TemplateResponse(request, "look.html", data)


@router.post("/experiments/{experiment_id}/actions")
async def experiment_action(experiment_id: ExperimentId, request: Request, ctx: Ctx) -> Response:
    """A status change or toggle from the page's buttons (form post, CSRF-checked)."""
    user = _session(request, ctx)
    if user is None:
        return _to_login(request)
    form = await _form(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    page = f"/experiments/{experiment_id}"
    if not ctx.sessions.check_csrf(cookie, form.get("csrf", "")):
        return RedirectResponse(f"{page}?error={quote('The form expired; try again.')}", 303)
    reason = form.get("reason", "").strip()
    by = f"{user.principal} (dashboard)"
    try:
        if form.get("action") == "toggle":
            variant = form.get("variant") or None
            set_toggle(ctx.registry, experiment_id, variant, by=by, reason=reason)
            done = f"Toggle {'set to ' + variant if variant else 'cleared'}."
        else:
            target, _, variant = form.get("target", "").partition(":")
            status = Status(target)
            change_status(ctx.registry, experiment_id, status, by=by, reason=reason,
                          variant=variant or None)  # fmt: skip
            done = f"Status changed to {status.value}."
    except (SplitlabError, ValueError) as exc:
        message = str(exc).splitlines()[0]
        return RedirectResponse(f"{page}?error={quote(message)}", status_code=303)
    ctx.refresh()
    return RedirectResponse(f"{page}?flash={quote(done)}", status_code=303)


__all__ = ["mount_static", "router"]
