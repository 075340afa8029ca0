"""Sign in (the same accounts and lockout as the API), sign out, and switching organisation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from arrears.errors import Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from arrears.faces.deps import SessionDep, client_ip
from arrears.identity import service as identity
from arrears.identity import web_sessions
from arrears.web.context import CtxDep, safe_next
from arrears.web.forms import FormState, text
from arrears.web.render import redirect, render_html
from arrears.web.session import get_session

router = APIRouter()


@router.get("/login")
async def login_form(request: Request) -> Response:
    session = get_session(request)
    nxt = safe_next(request.query_params.get("next"))
    if session.authenticated:
        return redirect(request, nxt)
    return render_html(request, "login.html", {"form": FormState({"username": "", "next": nxt})})


@router.post("/login")
async def login(request: Request, db: SessionDep) -> Response:
    form = await request.form()
    state = FormState({"username": text(form, "username"), "next": safe_next(text(form, "next"))})
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    if not state.values["username"]:
        state.add("username", "Enter your username.")
    if not password:
        state.add("password", "Enter your password.")
    status = 400
    headers: dict[str, str] = {}
    if state.ok:
        try:
            user, _tokens = await identity.login(db, state.values["username"], password, client_ip(request))
        except RateLimited as exc:
            state.add("__all__", exc.message)
            status, headers = 429, exc.headers or {}
        except Unauthorized as exc:
            state.add("__all__", exc.message)
            status = 401
        except ValidationFailed as exc:  # a username or password past its length
            state.add("__all__", exc.message)
        else:
            try:
                caller = await identity.caller_for_user(db, user.id)
            except Forbidden as exc:  # a waiting account: signed in, but it may see nothing
                state.add("__all__", exc.message)
                status = 403
            else:
                session = get_session(request)
                session.sign_in(user.id, caller.org_id)
                await web_sessions.start(db, user.id, session.sid)  # ended by sign-out
                return redirect(request, state.values["next"])
    return render_html(request, "login.html", {"form": state}, status=status, headers=headers)


@router.post("/logout")
async def logout(request: Request, db: SessionDep) -> Response:
    session = get_session(request)
    await web_sessions.end(db, session.sid)  # a copy of the cookie stops working now
    session.sign_out()
    session.flash("You are signed out.", "success")
    return redirect(request, "/app/login")


@router.post("/org")
async def switch_org(ctx: CtxDep) -> Response:
    form = await ctx.form()
    raw = text(form, "org_id")
    if not raw.isdigit() or int(raw) not in ctx.caller.memberships:
        raise NotFound("Organisation not found")
    ctx.session.switch_org(int(raw))
    org = await identity.get_org(ctx.db, int(raw))
    ctx.flash(f"You are now working in {org.name}.")
    return redirect(ctx.request, "/app/")
