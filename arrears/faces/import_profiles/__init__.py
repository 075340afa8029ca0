"""Arrears' own API, /api/v1/import-profiles (partner-face conventions: camelCase, UUID strings,
{"data", "pagination"}, its error body): the column mappings an organisation confirmed for its
spreadsheet layouts (issue 21). Admins and managers list and delete them; they are saved by a
confirmed upload (`mapping` on POST /api/uploads, or the web UI's preview)."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Response

from arrears.db import isoz
from arrears.debtors import profiles
from arrears.debtors.models import ImportProfile
from arrears.faces.deps import SessionDep
from arrears.faces.own_api import ApiCaller
from arrears.faces.partner import views
from arrears.faces.partner.routing import partner_router
from arrears.partners.service import PAGES

router = partner_router("/api/v1", "Import profiles (saved column mappings)")


def profile_out(p: ImportProfile) -> dict[str, Any]:
    return {"id": str(p.id), "signature": p.signature,
            "columns": profiles.mapping_view(p), "sampleFilename": p.sample_filename,
            "createdAt": isoz(p.created_at), "updatedAt": isoz(p.updated_at)}


@router.get("/import-profiles", summary="List the organisation's saved column mappings",
            description="Scope: none for partner keys — user JWTs of admins and managers only (docs/contracts.md#partner-scopes).")
async def list_profiles(session: SessionDep, caller: ApiCaller, page: int = Query(1),
                        limit: int = Query(20)) -> dict[str, Any]:
    req = PAGES.check(page, limit)
    rows, total = await profiles.list_profiles(session, caller, offset=req.offset, limit=req.size)
    return views.page([profile_out(p) for p in rows], req.page, req.size, total)


@router.delete("/import-profiles/{profile_id}", status_code=204, summary="Delete a saved column mapping",
               description="Scope: none for partner keys — user JWTs of admins and managers only (docs/contracts.md#partner-scopes).")
async def delete_profile(profile_id: str, session: SessionDep, caller: ApiCaller) -> Response:
    await profiles.delete(session, caller, profile_id)
    return Response(status_code=204)


__all__ = ["router"]
