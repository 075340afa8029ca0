"""The AAMA face (shared/specs/age-analysis-messaging-api.md): uploads, accounts, summary and
selection under /api/uploads…; the messaging routes (/api/messaging/…) join `router` later."""

from fastapi import APIRouter

from arrears.faces.age_analysis.uploads import router as uploads_router

router = APIRouter()
router.include_router(uploads_router)
router.include_router(__import__("arrears.faces.age_analysis.messaging", fromlist=["router"]).router)

__all__ = ["router"]
