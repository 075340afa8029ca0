"""The RepaySync face (shared/specs/repaysync-api.md): trailing slashes, integer ids."""

from fastapi import APIRouter

from arrears.faces.repaysync import auth, customers, interactions, loans

router = APIRouter()
router.include_router(auth.router)
router.include_router(customers.router)
router.include_router(loans.router)
router.include_router(interactions.router)
