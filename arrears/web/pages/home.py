"""Home: the debtor book at a glance, with every figure linking to the list behind it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from arrears.web.context import CtxDep
from arrears.web.pages import dashboard
from arrears.web.render import page

router = APIRouter()


@router.get("/")
async def home(ctx: CtxDep) -> Response:
    return page(ctx, "home.html", sections=await dashboard.sections(ctx))
